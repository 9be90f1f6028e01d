/**
 * Batched sampling with a key/value cache: one forward pass per new token for every unfinished
 * row, over that token alone, with each layer's keys and values of the earlier tokens kept.
 *
 * Why: without a cache every new token reruns the whole window (T tokens) through the model, so
 * n new tokens cost O(n·T) token-passes; with one they cost O(T + n). RL spends most of its time
 * here, and the sample panel, the CLI `sample`, the report card and the side-by-side answers all
 * use this one path.
 *
 * Rows of different lengths are left-padded: row b holds pad_b slots before its first token, with
 * position ids counted from its own first token, and an additive mask of −1e9 (as in ops.ts's
 * causal mask) hides the padding from every query. exp(−1e9 − max) is exactly 0 in float32, so
 * each row gets the logits it would get alone, and `sampleBatch` equals decoding each prompt on
 * its own, token for token.
 *
 * Past the block size the window slides: the position table has blockSize rows and every position
 * of the window shifts by one with each new token, so no cached key stays valid. When any row
 * would pass the block, the cache is rebuilt from the last blockSize tokens of every row (exactly
 * what the uncached path feeds), and from then on each token costs a full window, as it would
 * without a cache.
 *
 * Every read from the backend is `await data()`, never dataSync() (see sample.ts: WebGPU).
 */
import * as tf from '@tensorflow/tfjs';
import type { GPT } from './model.ts';
import { embedding, gelu, groupedMatMul, layerNorm } from './ops.ts';
import { Random } from '../random.ts';

export interface DecodeOptions {
  maxNewTokens: number;
  /** 0 = greedy (argmax). */
  temperature: number;
  /** Keep only the k most likely tokens; 0 = all. */
  topK: number;
  /** Row b draws from its own generator seeded with seed + b: row 0 is what `generate` gives. */
  seed: number;
  /** A row stops as soon as it produces this token (it is included in the output). */
  stopToken?: number;
  /**
   * Stop each row, unended, when prompt + new tokens reach blockSize + 1 (the longest sequence one
   * forward pass scores, inputs and targets), instead of sliding the window; a prompt that long
   * already gets no tokens. RL needs this: every token it samples must be scoreable in training.
   */
  capAtBlock?: boolean;
  /**
   * Called after each new token of a row that has not stopped, with the row's index and its new
   * tokens so far; returning false stops the row there, unended. A checker that already knows a
   * reply cannot be right uses it so that nobody pays for the rest of that reply.
   */
  keepGoing?: (row: number, ids: readonly number[]) => boolean;
  /**
   * Also report, for each new token, this many of the most likely tokens with their probabilities
   * (see topAlternatives), read from the logits the step already has: no extra forward pass, and
   * the draws do not change. 0 or absent: off, so RL and the report card pay nothing.
   */
  alternatives?: number;
  /**
   * Called with each new token of a row as soon as it is drawn, with its log p and (when asked)
   * its alternatives: the chat shows a reply as it is written. It cannot travel to another thread.
   */
  onToken?: (row: number, token: number, logProb: number, alternatives: Alternative[] | undefined) => void;
}

/** One of the tokens the model could have written, with its probability under softmax(logits). */
export interface Alternative {
  token: number;
  prob: number;
}

/** What sampleBatch returns, per prompt. */
export interface Decoded {
  /** New token ids of each row, its stop token included when it produced one. */
  ids: number[][];
  /** Whether each row produced the stop token. */
  ended: boolean[];
  /** log p of each new token under the distribution it was drawn from (see sampleToken). */
  logProbs: number[][];
  /** Entropy (nats) of that distribution at each new token. */
  entropies: number[][];
  /** [row][new token][rank]: the model's most likely tokens at each step; only when `alternatives` asks. */
  alternatives?: Alternative[][][];
}

/** One decoding step: logits [B·V] of the next token of each row, the rows given in batch order. */
interface Stepper {
  /**
   * seqs: the rows still going, each one token longer than at the previous call; kept: the
   * positions, in the previous call's batch, of those rows (ascending).
   */
  next(seqs: readonly number[][], kept: readonly number[]): Promise<Float32Array>;
  dispose(): void;
}

/** Continues each prompt (token ids) by up to maxNewTokens; rows stop at stopToken (included). */
export async function sampleBatch(model: GPT, prompts: readonly Int32Array[], opts: DecodeOptions): Promise<Decoded> {
  return decode(prompts, opts, model.config.blockSize, () => new CachedStepper(model));
}

/**
 * The same decoding without a cache: every step reruns each row's whole window (its last
 * blockSize tokens, right-padded; causal attention means the padding after a row's last token
 * cannot change that token's logits). The reference `sampleBatch` is measured and tested against.
 */
export async function sampleBatchUncached(model: GPT, prompts: readonly Int32Array[], opts: DecodeOptions): Promise<Decoded> {
  return decode(prompts, opts, model.config.blockSize, () => new WindowStepper(model));
}

function validate(prompts: readonly Int32Array[], opts: DecodeOptions): void {
  if (!Number.isInteger(opts.maxNewTokens) || opts.maxNewTokens < 0) throw new Error(`sample: maxNewTokens must be a non-negative integer, got ${opts.maxNewTokens}`);
  if (!(opts.temperature >= 0)) throw new Error(`sample: temperature must be 0 or more, got ${opts.temperature}`);
  if (!Number.isInteger(opts.topK) || opts.topK < 0) throw new Error(`sample: topK must be a non-negative integer, got ${opts.topK}`);
  if (opts.alternatives !== undefined && (!Number.isInteger(opts.alternatives) || opts.alternatives < 0)) throw new Error(`sample: alternatives must be a non-negative integer, got ${opts.alternatives}`);
  if (!Number.isFinite(opts.seed)) throw new Error(`sample: seed must be a number, got ${opts.seed}`);
  const empty = prompts.findIndex((p) => p.length === 0);
  if (empty >= 0) throw new Error(`sample: prompt ${empty} is empty; a prompt must have at least one token`);
}

/** The loop both paths share: pick a token per row, drop the rows that stopped, step again. */
async function decode(prompts: readonly Int32Array[], opts: DecodeOptions, blockSize: number, makeStepper: () => Stepper): Promise<Decoded> {
  validate(prompts, opts);
  const ids: number[][] = prompts.map(() => []);
  const logProbs: number[][] = prompts.map(() => []);
  const entropies: number[][] = prompts.map(() => []);
  const alternatives: Alternative[][][] | null = opts.alternatives ? prompts.map(() => []) : null;
  const ended = prompts.map(() => false);
  const seqs = prompts.map((p) => Array.from(p));
  const rngs = prompts.map((_, i) => new Random(opts.seed + i));
  const limits = prompts.map((p) => (opts.capAtBlock ? Math.min(opts.maxNewTokens, blockSize + 1 - p.length) : opts.maxNewTokens));
  let active = prompts.map((_, i) => i).filter((i) => limits[i] > 0); // prompt index of each row of the batch
  let kept = active; // positions in the previous batch of the rows still going
  const stepper = makeStepper();
  try {
    for (let step = 0; step < opts.maxNewTokens && active.length > 0; step++) {
      const logits = await stepper.next(active.map((i) => seqs[i]), kept);
      const V = logits.length / active.length;
      const going: number[] = [];
      kept = [];
      active.forEach((i, b) => {
        const row = logits.subarray(b * V, (b + 1) * V);
        const { token: next, logProb, entropy } = sampleToken(row, opts.temperature, opts.topK, rngs[i]);
        seqs[i].push(next);
        ids[i].push(next);
        logProbs[i].push(logProb);
        entropies[i].push(entropy);
        if (alternatives) alternatives[i].push(topAlternatives(row, opts.alternatives!));
        opts.onToken?.(i, next, logProb, alternatives?.[i].at(-1));
        if (next === opts.stopToken) ended[i] = true;
        else if (ids[i].length < limits[i] && (opts.keepGoing?.(i, ids[i]) ?? true)) {
          going.push(i);
          kept.push(b);
        }
      });
      active = going;
    }
  } finally {
    stepper.dispose();
  }
  return alternatives ? { ids, ended, logProbs, entropies, alternatives } : { ids, ended, logProbs, entropies };
}

/**
 * The k most likely tokens of softmax(logits), most likely first (ties by id, as `candidates`),
 * with their probabilities: the model's own distribution, at temperature 1 and over the whole
 * vocabulary, whatever temperature and top-k the draw used, so the alternatives shown for a token
 * are what the model thought, not what the sampler allowed. One pass for the normaliser and k
 * passes to select: O(k·V) for a small k, no sort of the vocabulary.
 */
export function topAlternatives(logits: Float32Array, k: number): Alternative[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  let total = 0;
  for (let i = 0; i < logits.length; i++) total += Math.exp(logits[i] - max);
  const taken = new Set<number>();
  const out: Alternative[] = [];
  for (let r = 0; r < Math.min(k, logits.length); r++) {
    let best = -1;
    for (let i = 0; i < logits.length; i++) if (!taken.has(i) && (best < 0 || logits[i] > logits[best])) best = i;
    taken.add(best);
    out.push({ token: best, prob: Math.exp(logits[best] - max) / total });
  }
  return out;
}

/** The token ids pickToken draws among, most likely first: the top k (ties by id), or all when topK is 0. */
function candidates(logits: Float32Array, topK: number): number[] {
  const order = [...logits.keys()].sort((a, b) => logits[b] - logits[a]);
  return topK > 0 ? order.slice(0, topK) : order;
}

/** Picks a token id from logits with temperature and top-k (a pure function of its inputs). */
export function pickToken(logits: Float32Array, temperature: number, topK: number, rng: Random): number {
  return sampleToken(logits, temperature, topK, rng).token;
}

/**
 * pickToken's choice, with log p(token) and the entropy H = −Σ p log p (nats) of the distribution
 * it was drawn from: p = softmax(logits / temperature) over the top-k tokens (all when topK is 0).
 * Greedy decoding (temperature 0) takes the mode of the model's own softmax(logits) and reports
 * that distribution. At temperature 1 without top-k these are the policy's log π(token) and its
 * entropy, which RL's KL estimates need.
 */
export function sampleToken(logits: Float32Array, temperature: number, topK: number, rng: Random): { token: number; logProb: number; entropy: number } {
  const greedy = temperature <= 0;
  const t = greedy ? 1 : temperature;
  const kept = greedy ? [...logits.keys()] : candidates(logits, topK);
  let max = -Infinity;
  for (const i of kept) max = Math.max(max, logits[i]);
  const weights = kept.map((i) => Math.exp((logits[i] - max) / t));
  const total = weights.reduce((a, b) => a + b, 0);
  let j = greedy ? kept.indexOf(argmax(logits)) : kept.length - 1;
  if (!greedy) {
    let r = rng.next() * total;
    for (let k = 0; k < kept.length; k++) {
      r -= weights[k];
      if (r <= 0) {
        j = k;
        break;
      }
    }
  }
  const logTotal = Math.log(total);
  const logp = (k: number) => (logits[kept[k]] - max) / t - logTotal;
  let entropy = 0;
  for (let k = 0; k < kept.length; k++) if (weights[k] > 0) entropy -= (weights[k] / total) * logp(k);
  return { token: kept[j], logProb: logp(j), entropy };
}

function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** The uncached step: the whole window of every row through GPT.forwardTimeMajor. */
class WindowStepper implements Stepper {
  constructor(private readonly model: GPT) {}

  async next(seqs: readonly number[][]): Promise<Float32Array> {
    const block = this.model.config.blockSize;
    const B = seqs.length;
    const windows = seqs.map((s) => s.slice(-block));
    const T = Math.max(...windows.map((w) => w.length));
    const ids = new Int32Array(T * B); // [T, B] time-major, right-padded with token 0
    windows.forEach((w, b) => w.forEach((id, t) => (ids[t * B + b] = id)));
    const rows = Int32Array.from(windows, (w, b) => (w.length - 1) * B + b); // each row's last position
    const logits = tf.tidy(() => tf.gather(this.model.forwardTimeMajor(tf.tensor2d(ids, [T, B], 'int32')), tf.tensor1d(rows, 'int32'))); // [B, V]
    const values = (await logits.data()) as Float32Array;
    logits.dispose();
    return values;
  }

  dispose(): void {}
}

/** One layer's cache: keys stored transposed, as attention multiplies them. */
interface LayerCache {
  kT: tf.Tensor3D; // [hs, G, S]
  v: tf.Tensor3D; // [S, G, hs]
}

/**
 * The cached step. The cache holds S slots per row (pad_b of them padding); a step feeds each
 * row's newest token at position len_b − 1 and appends its key and value. Linear weights are
 * transposed once per call of sampleBatch, not once per token: XNNPACK keys its packed operator on
 * the right-hand tensor, so the same tensor every step is packed once.
 */
class CachedStepper implements Stepper {
  /** The model's parameters, with every Linear weight transposed to [in, out]. */
  private readonly w = new Map<string, tf.Tensor>();
  private readonly transposed: tf.Tensor[] = [];
  private readonly headT: tf.Tensor2D; // wteᵀ [C, V]: the tied LM head
  private cache: LayerCache[] | null = null;
  private S = 0; // slots in the cache
  private B = 0; // rows in the cache, finished ones included
  private rows: number[] = []; // the cache row of each row still going, in the caller's order

  constructor(private readonly model: GPT) {
    const transpose = (t: tf.Tensor) => {
      const out = tf.transpose(t);
      this.transposed.push(out);
      return out;
    };
    for (const [name, v] of model.params) this.w.set(name, /^transformer\.h\.\d+\..*c_(attn|proj|fc)\.weight$/.test(name) ? transpose(v) : v);
    this.headT = transpose(model.params.get('transformer.wte.weight')!) as tf.Tensor2D;
  }

  async next(seqs: readonly number[][], kept: readonly number[]): Promise<Float32Array> {
    const block = this.model.config.blockSize;
    if (!this.cache || seqs.some((s) => s.length > block)) return this.prefill(seqs);
    // Rows that finished stay in the cache, fed a dummy token whose logits nobody reads, until a
    // quarter of the cache is finished: dropping rows copies the whole cache (a gather), which on
    // wasm costs more than a few steps of the dead rows' arithmetic.
    this.rows = kept.map((k) => this.rows[k]);
    if (this.B - this.rows.length > this.B / 4) this.keepRows(this.rows);
    const live = new Map(this.rows.map((r, b) => [r, seqs[b]]));
    const padding = (r: number) => {
      const s = live.get(r);
      return s ? this.S - (s.length - 1) : 0; // the cache holds every token but the newest
    };
    this.dropLeadingPadding(Math.min(...this.rows.map(padding)));
    const all = Array.from({ length: this.B }, (_, r) => r);
    const ids = Int32Array.from(all, (r) => live.get(r)?.at(-1) ?? 0); // [1, B]: a finished row gets token 0 at position 0
    const positions = Int32Array.from(all, (r) => (live.get(r)?.length ?? 1) - 1);
    const logits = await this.extend(ids, positions, all.map(padding), 1, this.B);
    if (this.rows.length === this.B) return logits;
    const V = logits.length / this.B;
    const out = new Float32Array(this.rows.length * V);
    this.rows.forEach((r, b) => out.set(logits.subarray(r * V, (r + 1) * V), b * V));
    return out;
  }

  /** Builds the cache from scratch: each row's last blockSize tokens, left-padded to the longest. */
  private prefill(seqs: readonly number[][]): Promise<Float32Array> {
    this.disposeCache();
    this.S = 0;
    const windows = seqs.map((s) => s.slice(-this.model.config.blockSize));
    const B = windows.length;
    const T = Math.max(...windows.map((w) => w.length));
    const pads = windows.map((w) => T - w.length);
    const ids = new Int32Array(T * B); // [T, B] time-major; padding slots hold token 0 at position 0
    const positions = new Int32Array(T * B);
    windows.forEach((w, b) => {
      for (let t = pads[b]; t < T; t++) {
        ids[t * B + b] = w[t - pads[b]];
        positions[t * B + b] = t - pads[b];
      }
    });
    this.B = B;
    this.rows = windows.map((_, b) => b);
    return this.extend(ids, positions, pads, T, B);
  }

  /** Keeps only the given cache rows, in that order (rows that finished leave it). */
  private keepRows(rows: readonly number[]): void {
    const nh = this.model.config.nHead;
    const groups = tf.tensor1d(rows.flatMap((r) => Array.from({ length: nh }, (_, h) => r * nh + h)), 'int32'); // group g = r·nh + h
    this.replaceCache(this.cache!.map(({ kT, v }) => ({ kT: tf.gather(kT, groups, 1), v: tf.gather(v, groups, 1) })));
    groups.dispose();
    this.B = rows.length;
    this.rows = rows.map((_, b) => b);
  }

  /** Drops the first n slots when every row has at least n of padding there. */
  private dropLeadingPadding(n: number): void {
    if (n <= 0) return;
    const [hs, G] = this.cache![0].kT.shape;
    this.replaceCache(this.cache!.map(({ kT, v }) => ({ kT: tf.slice(kT, [0, 0, n], [hs, G, this.S - n]), v: tf.slice(v, [n, 0, 0], [this.S - n, G, hs]) })));
    this.S -= n;
  }

  /**
   * Runs T new tokens per row (ids and positions [T, B] time-major) through the model over the
   * cache, appends their keys and values, and returns the logits after each row's last new token.
   * Slot s of row b is visible to new token t iff pad_b ≤ s ≤ S_past + t.
   */
  private async extend(ids: Int32Array, positions: Int32Array, pads: readonly number[], T: number, B: number): Promise<Float32Array> {
    const { nEmbd: C, nLayer } = this.model.config;
    const past = this.S;
    const S = past + T;
    const mask = new Float32Array(T * B * S); // [T, B, 1, S]
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        const row = (t * B + b) * S;
        mask.fill(-1e9, row, row + pads[b]);
        mask.fill(-1e9, row + past + t + 1, row + S);
      }
    }
    const [logits, ...kv] = tf.tidy(() => {
      const maskT = tf.tensor4d(mask, [T, B, 1, S]);
      // ops.ts's embedding, a one-hot matmul: on wasm it is faster than a gather, and exact.
      const tok = embedding(tf.tensor1d(ids, 'int32'), this.w.get('transformer.wte.weight') as tf.Tensor2D); // [N, C], N = T·B
      const pos = embedding(tf.tensor1d(positions, 'int32'), this.w.get('transformer.wpe.weight') as tf.Tensor2D); // [N, C]
      let x = tf.add(tok, pos) as tf.Tensor2D;
      const cache: LayerCache[] = [];
      for (let i = 0; i < nLayer; i++) {
        const h = `transformer.h.${i}`;
        const [y, layer] = this.attention(this.ln(x, `${h}.ln_1`), h, T, B, maskT, this.cache?.[i]);
        x = tf.add(x, y);
        const hidden = gelu(this.linear(this.ln(x, `${h}.ln_2`), `${h}.mlp.c_fc`)); // [N, 4C]
        x = tf.add(x, this.linear(hidden, `${h}.mlp.c_proj`));
        cache.push(layer);
      }
      const last = tf.slice(x, [(T - 1) * B, 0], [B, C]); // each row's last new token: [B, C]
      const logits = tf.matMul(this.ln(last, 'transformer.ln_f'), this.headT); // [B, V]
      return [logits, ...cache.flatMap((c) => [c.kT, c.v])];
    });
    this.replaceCache(Array.from({ length: nLayer }, (_, i) => ({ kT: kv[2 * i] as tf.Tensor3D, v: kv[2 * i + 1] as tf.Tensor3D })));
    this.S = S;
    const values = (await logits.data()) as Float32Array;
    logits.dispose();
    return values;
  }

  /**
   * Causal self-attention of the new tokens over the cache, the forward pass of ops.ts's
   * causalAttention with the padding mask added:
   *   S = q Kᵀ / √hs + mask,  P = softmax(S),  y = P V
   */
  private attention(x: tf.Tensor2D, h: string, T: number, B: number, mask: tf.Tensor4D, past: LayerCache | undefined): [tf.Tensor2D, LayerCache] {
    const { nHead: nh, nEmbd: C } = this.model.config;
    const hs = C / nh;
    const G = B * nh;
    const qkv = this.linear(x, `${h}.attn.c_attn`); // [N, 3C]
    let [q, k, v] = tf.split(qkv, 3, 1).map((t) => t.reshape([T, G, hs]) as tf.Tensor3D); // each [T, G, hs]
    if (this.model.config.qkLayerNorm) {
      q = this.ln(q.reshape([T * G, hs]) as tf.Tensor2D, `${h}.attn.q_ln`).reshape([T, G, hs]);
      k = this.ln(k.reshape([T * G, hs]) as tf.Tensor2D, `${h}.attn.k_ln`).reshape([T, G, hs]);
    }
    const kTnew = tf.transpose(k, [2, 1, 0]); // [hs, G, T]
    const kT = past ? (tf.concat([past.kT, kTnew], 2) as tf.Tensor3D) : kTnew; // [hs, G, S]
    const vAll = past ? (tf.concat([past.v, v], 0) as tf.Tensor3D) : v; // [S, G, hs]
    const S = vAll.shape[0];
    const scores = tf.mul(groupedMatMul(tf.transpose(q, [0, 2, 1]), kT), 1 / Math.sqrt(hs)); // [T, hs, G] · [hs, G, S] → [T, G, S]
    const masked = tf.add(scores.reshape([T, B, nh, S]), mask).reshape([T, G, S]) as tf.Tensor3D; // group g = b·nh + h
    const probs = tf.softmax(masked) as tf.Tensor3D;
    const y = groupedMatMul(tf.transpose(probs, [0, 2, 1]), vAll).reshape([T * B, C]) as tf.Tensor2D; // [T, S, G] · [S, G, hs] → [T, G, hs] → [N, C]
    return [this.linear(y, `${h}.attn.c_proj`), { kT, v: vAll }];
  }

  /** y = x Wᵀ + b (ops.ts's linear, with Wᵀ made once). */
  private linear(x: tf.Tensor2D, name: string): tf.Tensor2D {
    return tf.fused.matMul({ a: x, b: this.w.get(`${name}.weight`) as tf.Tensor2D, bias: this.w.get(`${name}.bias`) }) as tf.Tensor2D;
  }

  private ln(x: tf.Tensor2D, name: string): tf.Tensor2D {
    return layerNorm(x, this.w.get(`${name}.weight`) as tf.Tensor1D, this.w.get(`${name}.bias`) as tf.Tensor1D);
  }

  private replaceCache(next: LayerCache[]): void {
    this.disposeCache();
    this.cache = next;
  }

  private disposeCache(): void {
    for (const { kT, v } of this.cache ?? []) tf.dispose([kT, v]);
    this.cache = null;
  }

  dispose(): void {
    this.disposeCache();
    tf.dispose(this.transposed);
    this.w.clear();
  }
}
