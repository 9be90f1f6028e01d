/**
 * Data parallelism: one step's batch split by rows between this thread and helpers on other
 * cores, each computing the gradient of its rows at the same weights.
 *
 * The objective is the mean masked cross-entropy over the batch's counted tokens. If slice i has
 * C_i counted tokens and mean loss L_i = S_i / C_i (S_i the summed token losses), the batch's loss is
 *   L = Σ_i S_i / Σ_i C_i = Σ_i C_i · L_i / Σ_i C_i,   and so   ∇L = Σ_i C_i · ∇L_i / Σ_i C_i.
 * The same weights hold for PaLM's z-loss term (also a mean over the counted tokens), and for the
 * masked-token accuracy (hits over scored tokens). So the combined step is the one-thread step up
 * to float rounding, whichever rows the slices get: SFT's chat rows and story rows count
 * differently, and the weights keep that exact.
 *
 * Why: Node's wasm backend runs on one thread (tfjs turns threads off there), and the step's time
 * is proportional to its rows, so two slices on two cores take about half the time. The helpers get
 * the current weights with every job, so anything that changes the weights between steps (a
 * rollback, a loaded checkpoint) cannot leave them behind.
 */
import * as tf from '@tensorflow/tfjs';
import type { GPTConfig } from '../model/config.ts';
import { GPT } from '../model/model.ts';
import { maskedObjective, type TrainBatch } from './objective.ts';

/** A slice's rows, with the loss mask made explicit (its sum weights the slice). */
export interface SliceBatch extends TrainBatch {
  mask: Float32Array;
}

/** What a helper is asked: the weights, flat in `names` order, and the rows to differentiate. */
export interface SliceJob {
  weights: Float32Array;
  batch: SliceBatch;
  zLoss: number;
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

/** Computes slice gradients somewhere else (another thread); the Trainer asks each helper for one slice. */
export interface GradientHelper {
  gradient(job: SliceJob): Promise<SliceResult>;
  close(): Promise<void>;
}

/**
 * The fewest tokens a slice may have. Below it the helpers' messages and weight copies cost more
 * than the rows they take: measured on Node wasm, micro (4 × 16 tokens) steps in 5.8 ms alone and
 * 7.0 ms shared by two threads, tiny (16 × 64) in 72.5 ms alone and 51.3 ms shared.
 */
export const MIN_SLICE_TOKENS = 256;

/** How many slices a batch of `rows` × `seqLen` tokens is cut into with `helpers` helpers: as many as pay. */
export function sliceCount(rows: number, seqLen: number, helpers: number): number {
  return Math.max(1, Math.min(helpers + 1, rows, Math.floor((rows * seqLen) / MIN_SLICE_TOKENS)));
}

/** The batch's rows in `parts` contiguous slices of near-equal size (the first slices take the remainder). */
export function splitRows(batch: TrainBatch, parts: number): SliceBatch[] {
  const { batchSize: B, seqLen: T } = batch;
  const n = Math.max(1, Math.min(parts, B));
  const mask = batch.mask ?? new Float32Array(B * T).fill(1);
  const { accuracyMask } = batch;
  const slices: SliceBatch[] = [];
  let row = 0;
  for (let i = 0; i < n; i++) {
    const rows = Math.floor(B / n) + (i < B % n ? 1 : 0);
    const [from, to] = [row * T, (row + rows) * T];
    slices.push({
      x: batch.x.slice(from, to),
      y: batch.y.slice(from, to),
      mask: mask.slice(from, to),
      ...(accuracyMask ? { accuracyMask: accuracyMask.slice(from, to) } : {}),
      batchSize: rows,
      seqLen: T,
    });
    row += rows;
  }
  return slices;
}

/** The whole batch's loss, gradient and accuracy from its slices' (the formulas at the top). */
export function combineSlices(results: readonly SliceResult[]): { loss: number; grad: Float32Array; accuracy: number } {
  const count = results.reduce((a, r) => a + r.count, 0);
  const scored = results.reduce((a, r) => a + r.scored, 0);
  const grad = new Float32Array(results[0].grad.length);
  let loss = 0;
  for (const r of results) {
    if (r.grad.length !== grad.length) throw new Error(`data parallel: a slice's gradient has ${r.grad.length} values, expected ${grad.length}`);
    // A batch with no counted token has loss 0 and gradient 0, as maskedCrossEntropy gives.
    const w = count > 0 ? r.count / count : 0;
    loss += w * r.loss;
    for (let j = 0; j < grad.length; j++) grad[j] += w * r.grad[j];
  }
  return { loss, grad, accuracy: scored > 0 ? results.reduce((a, r) => a + r.hits, 0) / scored : 0 };
}

/** One slice's loss and flat gradient (in `names` order) at the model's current weights. */
export async function sliceGradient(model: GPT, names: readonly string[], batch: SliceBatch, zLoss: number): Promise<SliceResult> {
  let hits: tf.Scalar | undefined;
  const vars = names.map((n) => model.params.get(n)!);
  const { value, grads } = tf.variableGrads(() => {
    const out = maskedObjective(model, batch, zLoss);
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
export async function parallelGradient(model: GPT, names: readonly string[], helpers: readonly GradientHelper[], batch: TrainBatch, zLoss: number) {
  const slices = splitRows(batch, helpers.length + 1);
  const weights = await flatWeights(model, names);
  const remote = slices.slice(1).map((s, i) => helpers[i].gradient({ weights, batch: s, zLoss }));
  const local = await sliceGradient(model, names, slices[0], zLoss);
  return combineSlices([local, ...(await Promise.all(remote))]);
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
    return sliceGradient(this.model, this.names, job.batch, job.zLoss);
  }

  async close(): Promise<void> {
    this.model.dispose();
  }
}
