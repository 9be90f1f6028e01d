/**
 * Batched sampling of completions for RL, and the log-probability and entropy of every sampled
 * token under the distribution it was drawn from.
 *
 * All prompts advance together, one forward pass per new token for the rows still open; a row
 * closes when it samples <|end|> or reaches maxNewTokens. Each row is left-aligned and
 * right-padded; causal attention means the padding after a row's last token cannot change that
 * token's logits. This is the one place RL, its report card and its sample table generate text.
 *
 * At temperature 1 with no top-k the sampling distribution is the policy itself, so the recorded
 * log-probs are log π(oₜ): what the k1 estimator of the KL needs, with no second forward pass.
 */
import * as tf from '@tensorflow/tfjs';
import type { GPT } from '../model/model.ts';
import { Random } from '../random.ts';

export interface Completion {
  /** Sampled token ids, the closing <|end|> included when the row ended its turn. */
  ids: number[];
  ended: boolean;
  /** log p(oₜ) under the sampling distribution, one per id. */
  logProbs: number[];
  /** Entropy (nats) of the sampling distribution at each position, one per id. */
  entropies: number[];
}

export interface SampleCompletionsOptions {
  maxNewTokens: number;
  /** 1 samples the policy; 0 decodes greedily. */
  temperature: number;
  seed: number;
  endId: number;
  batchSize?: number;
}

/** Log-softmax of logits / temperature, and the entropy of that distribution. */
function distribution(logits: Float32Array, temperature: number): { logp: Float64Array; entropy: number } {
  const t = temperature > 0 ? temperature : 1;
  let max = -Infinity;
  for (const x of logits) max = Math.max(max, x / t);
  let z = 0;
  for (const x of logits) z += Math.exp(x / t - max);
  const logZ = max + Math.log(z);
  const logp = Float64Array.from(logits, (x) => x / t - logZ);
  let entropy = 0;
  for (const lp of logp) entropy -= Math.exp(lp) * lp;
  return { logp, entropy };
}

function draw(logp: Float64Array, rng: Random): number {
  let r = rng.next();
  for (let i = 0; i < logp.length; i++) {
    r -= Math.exp(logp[i]);
    if (r <= 0) return i;
  }
  return logp.length - 1;
}

function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/**
 * Completes every prompt once, each by at most maxNewTokens and never past the block size (a row
 * that fills the context stops unended, so no window slides). Same model, prompts and seed → same
 * completions.
 */
export async function sampleCompletions(model: GPT, prompts: readonly Int32Array[], opts: SampleCompletionsOptions): Promise<Completion[]> {
  const { maxNewTokens, temperature, endId } = opts;
  const batchSize = opts.batchSize ?? 64;
  const V = model.config.vocabSize;
  const block = model.config.blockSize;
  const rng = new Random(opts.seed);
  const out: Completion[] = prompts.map(() => ({ ids: [], ended: false, logProbs: [], entropies: [] }));
  for (let start = 0; start < prompts.length; start += batchSize) {
    const seqs = prompts.slice(start, start + batchSize).map((p) => Array.from(p));
    let active = seqs.map((_, i) => i);
    for (let step = 0; step < maxNewTokens && active.length > 0; step++) {
      const B = active.length;
      const windows = active.map((i) => seqs[i].slice(-block));
      const T = Math.max(...windows.map((w) => w.length));
      const ids = new Int32Array(T * B).fill(endId); // [T, B] time-major
      windows.forEach((w, b) => w.forEach((id, t) => (ids[t * B + b] = id)));
      const rows = Int32Array.from(windows, (w, b) => (w.length - 1) * B + b); // each row's last position
      const lastT = tf.tidy(() => tf.gather(model.forwardTimeMajor(tf.tensor2d(ids, [T, B], 'int32')), tf.tensor1d(rows, 'int32'))); // [B, V]
      const logits = (await lastT.data()) as Float32Array; // never dataSync: see model/sample.ts
      lastT.dispose();
      active = active.filter((i, b) => {
        const row = logits.subarray(b * V, (b + 1) * V);
        const { logp, entropy } = distribution(row, temperature);
        const next = temperature > 0 ? draw(logp, rng) : argmax(row);
        const c = out[start + i];
        c.ids.push(next);
        c.logProbs.push(logp[next]);
        c.entropies.push(entropy);
        seqs[i].push(next);
        if (next === endId) {
          c.ended = true;
          return false;
        }
        return seqs[i].length < block; // a row that fills the context stops: the window never slides
      });
    }
  }
  return out;
}

/** The completion's text ids: without the closing <|end|>. */
export function replyIds(c: Completion, endId: number): number[] {
  return c.ended && c.ids[c.ids.length - 1] === endId ? c.ids.slice(0, -1) : c.ids;
}
