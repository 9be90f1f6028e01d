/**
 * Data parallelism: one step's batch split by rows between this thread and helpers on other
 * cores, each computing the gradient of its rows at the same weights.
 *
 * The language-modelling objective is the mean masked cross-entropy over the batch's counted
 * tokens. If slice i has C_i counted tokens and mean loss L_i = S_i / C_i (S_i the summed token
 * losses), the batch's loss is
 *   L = Σ_i S_i / Σ_i C_i = Σ_i C_i · L_i / Σ_i C_i,   and so   ∇L = Σ_i C_i · ∇L_i / Σ_i C_i.
 * The same weights hold for PaLM's z-loss term (also a mean over the counted tokens), and for the
 * masked-token accuracy (hits over scored tokens). So the combined step is the one-thread step up
 * to float rounding, whichever rows the slices get: SFT's chat rows and story rows count
 * differently, and the weights keep that exact. RL's policy-gradient loss is a sum over rows
 * divided by the whole batch's row count (objective.ts), so each slice's loss is its term of that
 * sum, and the slices' losses and gradients add up.
 *
 * RL spends most of a step before the update: sampling completions and scoring them under the KL
 * reference. Both are row by row too, so the helpers take a share of those rows as well (decode,
 * logProbs). Row i of a decode draws from its own generator seeded with seed + i, wherever it runs,
 * so a row's tokens do not depend on which thread drew them.
 *
 * Why: Node's wasm backend runs on one thread (tfjs turns threads off there), and the step's time
 * is proportional to its rows, so two slices on two cores take about half the time. The helpers get
 * the current weights with every job, so anything that changes the weights between steps (a
 * rollback, a loaded checkpoint) cannot leave them behind, and one helper serves the policy and
 * its frozen reference alike.
 */
import * as tf from '@tensorflow/tfjs';
import type { GPTConfig } from '../model/config.ts';
import { type Decoded, type DecodeOptions, sampleBatch } from '../model/decode.ts';
import { GPT } from '../model/model.ts';
import { type Objective, objectiveLoss, sequenceLogProbs, type TrainBatch } from './objective.ts';

/** A slice's rows, with the loss mask made explicit (its sum weights the slice). */
export interface SliceBatch extends TrainBatch {
  mask: Float32Array;
}

/** What a helper is asked: the weights, flat in `names` order, and the rows to differentiate. */
export interface SliceJob {
  weights: Float32Array;
  batch: SliceBatch;
  objective: Objective;
}

/** A share of a decode's prompts, to continue with the weights sent (a checker function cannot travel to another thread). */
export interface DecodeJob {
  weights: Float32Array;
  prompts: Int32Array[];
  options: Omit<DecodeOptions, 'keepGoing' | 'onToken'>;
}

/** A share of a batch's rows, to score under the weights sent: each row's summed masked log-probability. */
export interface LogProbJob {
  weights: Float32Array;
  batch: SliceBatch;
}

/** A slice's mean loss and gradient (flat, in the same order as the weights) and the counts that weight them. */
export interface SliceResult {
  loss: number;
  grad: Float32Array;
  /** Counted tokens (the loss mask's sum). */
  count: number;
  /** Tokens predicted exactly, and tokens scored, when the batch has an accuracy mask. */
  hits: number;
  scored: number;
}

/**
 * Works on a share of a batch's rows somewhere else (another thread): the Trainer asks each helper
 * for one slice's gradient, and RL for a share of its samples and of its reference log-probs.
 */
export interface GradientHelper {
  gradient(job: SliceJob): Promise<SliceResult>;
  decode(job: DecodeJob): Promise<Decoded>;
  logProbs(job: LogProbJob): Promise<Float32Array>;
  close(): Promise<void>;
}

/**
 * The fewest tokens a slice may have. Below it the helpers' messages and weight copies cost more
 * than the rows they take: measured on Node wasm, a micro step (4 × 16 tokens) is slower shared by
 * two threads than alone, a tiny one (16 × 64) faster (docs/results/speed.md, "Data parallelism").
 */
export const MIN_SLICE_TOKENS = 256;

/** How many slices a batch of `rows` × `seqLen` tokens is cut into with `helpers` helpers: as many as pay. */
export function sliceCount(rows: number, seqLen: number, helpers: number): number {
  return Math.max(1, Math.min(helpers + 1, rows, Math.floor((rows * seqLen) / MIN_SLICE_TOKENS)));
}

/** Contiguous shares of n rows for `parts` threads, as [from, to) (the first shares take the remainder). */
function shares(n: number, parts: number): [number, number][] {
  const k = Math.max(1, Math.min(parts, n));
  const out: [number, number][] = [];
  for (let i = 0, from = 0; i < k; i++) {
    const to = from + Math.floor(n / k) + (i < n % k ? 1 : 0);
    out.push([from, to]);
    from = to;
  }
  return out;
}

/** The batch's rows in `parts` contiguous slices of near-equal size (the first slices take the remainder). */
export function splitRows(batch: TrainBatch, parts: number): SliceBatch[] {
  const { batchSize: B, seqLen: T, accuracyMask, advantages } = batch;
  const mask = batch.mask ?? new Float32Array(B * T).fill(1);
  return shares(B, parts).map(([from, to]) => ({
    x: batch.x.slice(from * T, to * T),
    y: batch.y.slice(from * T, to * T),
    mask: mask.slice(from * T, to * T),
    ...(accuracyMask ? { accuracyMask: accuracyMask.slice(from * T, to * T) } : {}),
    ...(advantages ? { advantages: advantages.slice(from, to) } : {}),
    batchSize: to - from,
    seqLen: T,
  }));
}

/**
 * The whole batch's loss, gradient and accuracy from its slices' (the formulas at the top): a mean
 * weighted by counted tokens for the lm objective, a sum for the policy objective.
 */
export function combineSlices(results: readonly SliceResult[], kind: Objective['kind'] = 'lm'): { loss: number; grad: Float32Array; accuracy: number } {
  const count = results.reduce((a, r) => a + r.count, 0);
  const scored = results.reduce((a, r) => a + r.scored, 0);
  const grad = new Float32Array(results[0].grad.length);
  let loss = 0;
  for (const r of results) {
    if (r.grad.length !== grad.length) throw new Error(`data parallel: a slice's gradient has ${r.grad.length} values, expected ${grad.length}`);
    // A batch with no counted token has loss 0 and gradient 0, as maskedCrossEntropy gives.
    const w = kind === 'policy' ? 1 : count > 0 ? r.count / count : 0;
    loss += w * r.loss;
    for (let j = 0; j < grad.length; j++) grad[j] += w * r.grad[j];
  }
  return { loss, grad, accuracy: scored > 0 ? results.reduce((a, r) => a + r.hits, 0) / scored : 0 };
}

/** One slice's loss and flat gradient (in `names` order) at the model's current weights. */
export async function sliceGradient(model: GPT, names: readonly string[], batch: SliceBatch, objective: Objective): Promise<SliceResult> {
  let hits: tf.Scalar | undefined;
  const vars = names.map((n) => model.params.get(n)!);
  const { value, grads } = tf.variableGrads(() => {
    const out = objectiveLoss(model, batch, objective);
    if (out.hits) hits = tf.keep(out.hits);
    return out.loss;
  }, vars);
  const flat = tf.tidy(() => tf.concat(vars.map((v) => (grads[v.name] ? tf.reshape(grads[v.name], [-1]) : tf.zeros([v.size])))));
  tf.dispose(Object.values(grads));
  const [grad, loss, hitCount] = await Promise.all([flat.data() as Promise<Float32Array>, value.data(), hits ? hits.data() : Promise.resolve([0])]);
  tf.dispose([flat, value, ...(hits ? [hits] : [])]);
  const sum = (a?: Float32Array) => (a ? a.reduce((s, v) => s + v, 0) : 0);
  return { loss: loss[0], grad, count: sum(batch.mask), hits: hitCount[0], scored: sum(batch.accuracyMask) };
}

/** The model's weights as one vector in `names` order (what a helper needs for a job). */
export async function flatWeights(model: GPT, names: readonly string[]): Promise<Float32Array> {
  const flat = tf.tidy(() => tf.concat(names.map((n) => tf.reshape(model.params.get(n)!, [-1]))));
  const values = (await flat.data()) as Float32Array;
  flat.dispose();
  return values;
}

/** Writes a flat weight vector (`names` order) into the model's variables. */
export function assignFlatWeights(model: GPT, names: readonly string[], weights: Float32Array): void {
  let offset = 0;
  for (const n of names) {
    const v = model.params.get(n)!;
    if (offset + v.size > weights.length) throw new Error(`data parallel: ${weights.length} weights are too few for this model`);
    tf.tidy(() => v.assign(tf.tensor(weights.subarray(offset, offset + v.size), v.shape)));
    offset += v.size;
  }
  if (offset !== weights.length) throw new Error(`data parallel: ${weights.length} weights for a model of ${offset}`);
}

/**
 * The data-parallel gradient of a batch: slices for the helpers are posted first, so they run
 * while this thread works through its own slice, then all are combined.
 */
export async function parallelGradient(model: GPT, names: readonly string[], helpers: readonly GradientHelper[], batch: TrainBatch, objective: Objective) {
  const slices = splitRows(batch, helpers.length + 1);
  const weights = await flatWeights(model, names);
  const remote = slices.slice(1).map((s, i) => helpers[i].gradient({ weights, batch: s, objective }));
  const local = await sliceGradient(model, names, slices[0], objective);
  return combineSlices([local, ...(await Promise.all(remote))], objective.kind);
}

/**
 * sampleBatch over this thread and the helpers, each continuing a contiguous share of the prompts
 * with the model's current weights. A share starting at row a decodes with seed + a, so every row
 * draws from the generator it would draw from in one decode of all the prompts.
 */
export async function parallelDecode(model: GPT, names: readonly string[], helpers: readonly GradientHelper[], prompts: readonly Int32Array[], options: Omit<DecodeOptions, 'keepGoing' | 'onToken'>): Promise<Decoded> {
  const parts = shares(prompts.length, sliceCount(prompts.length, model.config.blockSize, helpers.length));
  if (parts.length === 1) return sampleBatch(model, prompts, options);
  const weights = await flatWeights(model, names);
  const [mine, ...theirs] = parts.map(([from, to]) => ({ prompts: prompts.slice(from, to), options: { ...options, seed: options.seed + from } }));
  const remote = theirs.map((job, i) => helpers[i].decode({ weights, ...job }));
  const local = await sampleBatch(model, mine.prompts, mine.options);
  const all = [local, ...(await Promise.all(remote))];
  const joined: Decoded = { ids: all.flatMap((d) => d.ids), ended: all.flatMap((d) => d.ended), logProbs: all.flatMap((d) => d.logProbs), entropies: all.flatMap((d) => d.entropies) };
  // Every share was asked for the same alternatives, so each carries them when asked.
  return options.alternatives ? { ...joined, alternatives: all.flatMap((d) => d.alternatives ?? d.ids.map(() => [])) } : joined;
}

/** sequenceLogProbs of a batch over this thread and the helpers, read back: [B]. */
export async function parallelLogProbs(model: GPT, names: readonly string[], helpers: readonly GradientHelper[], batch: TrainBatch & { mask: Float32Array }): Promise<Float32Array> {
  const slices = splitRows(batch, sliceCount(batch.batchSize, batch.seqLen, helpers.length));
  const weights = slices.length > 1 ? await flatWeights(model, names) : new Float32Array(0);
  const remote = slices.slice(1).map((s, i) => helpers[i].logProbs({ weights, batch: s }));
  const local = await readLogProbs(model, slices[0]);
  const all = [local, ...(await Promise.all(remote))];
  const out = new Float32Array(batch.batchSize);
  let row = 0;
  for (const part of all) {
    out.set(part, row);
    row += part.length;
  }
  return out;
}

async function readLogProbs(model: GPT, batch: SliceBatch): Promise<Float32Array> {
  const t = sequenceLogProbs(model, batch);
  const values = (await t.data()) as Float32Array;
  t.dispose();
  return values;
}

/**
 * A helper's side of the work: its own copy of the model, given the weights of every job. Node's
 * worker threads (cli/gradient-thread.ts) and the browser's helper workers both run one.
 */
export class SliceWorker implements GradientHelper {
  private readonly model: GPT;

  constructor(config: GPTConfig, private readonly names: readonly string[]) {
    this.model = GPT.init(config, 0); // its weights are replaced by every job's
  }

  gradient(job: SliceJob): Promise<SliceResult> {
    assignFlatWeights(this.model, this.names, job.weights);
    return sliceGradient(this.model, this.names, job.batch, job.objective);
  }

  decode(job: DecodeJob): Promise<Decoded> {
    assignFlatWeights(this.model, this.names, job.weights);
    return sampleBatch(this.model, job.prompts, job.options);
  }

  logProbs(job: LogProbJob): Promise<Float32Array> {
    assignFlatWeights(this.model, this.names, job.weights);
    return readLogProbs(this.model, job.batch);
  }

  async close(): Promise<void> {
    this.model.dispose();
  }
}
