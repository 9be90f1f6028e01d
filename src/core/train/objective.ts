/**
 * The objectives a batch of rows is trained on: the language-modelling objective that pretraining
 * and SFT minimise (the mean cross-entropy of the next token over the positions a mask counts: all
 * of them when pretraining, the assistant's tokens in SFT, optionally with PaLM's z-loss), and
 * RL's policy-gradient loss over sampled completions. Both are what a thread computes for its share
 * of a batch's rows (parallel.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { Batch } from './data.ts';
import type { GPT } from '../model/model.ts';
import { maskedCrossEntropy, targetLogProbs } from '../model/ops.ts';
import { policyGradientLoss } from '../rl/advantages.ts';

/**
 * A batch of token windows with an optional loss mask (1 where a token counts; SFT uses it) and an
 * optional accuracy mask: the tokens whose masked-token accuracy is scored (SFT's chat tokens).
 * For the policy objective, `advantages` holds each row's advantage.
 */
export interface TrainBatch extends Batch {
  mask?: Float32Array;
  accuracyMask?: Float32Array;
  advantages?: Float32Array;
}

/**
 * What a batch is differentiated for:
 *   lm      the mean masked cross-entropy (+ zLoss · the z-loss): pretraining, SFT;
 *   policy  −(1/rows) Σᵢ Âᵢ · Σₜ log π(oᵢₜ), each row's completion tokens masked in and its
 *           advantage Âᵢ in `batch.advantages` (rl/advantages.ts). `rows` is the size of the batch
 *           the rows were taken from: rows with no advantage can be left out at no cost to the
 *           loss, and a thread's share of the rows gives its share of the sum.
 */
export type Objective = { kind: 'lm'; zLoss: number } | { kind: 'policy'; rows: number };

/** The loss of `batch` under `objective` (and the masked-token hits, for an lm batch with an accuracy mask). */
export function objectiveLoss(model: GPT, batch: TrainBatch, objective: Objective): { loss: tf.Scalar; hits?: tf.Scalar } {
  if (objective.kind === 'lm') return maskedObjective(model, batch, objective.zLoss);
  if (!batch.mask || !batch.advantages) throw new Error('policy objective: the batch needs a mask and an advantage per row');
  const { mask, advantages } = batch;
  return { loss: tf.tidy(() => policyGradientLoss(sequenceLogProbs(model, { ...batch, mask }), advantages, objective.rows)) };
}

/** Reorders a [B, T] row-major array to [T, B], the model's time-major row order. */
export function toTimeMajor<A extends Int32Array | Float32Array>(values: A, B: number, T: number): A {
  const out = new (values.constructor as { new (n: number): A })(values.length);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) out[t * B + b] = values[b * T + t];
  return out;
}

/**
 * Mean masked cross-entropy of a batch. With `zLoss` > 0 the PaLM z-loss is added (Chowdhery et
 * al. 2022, §5): zLoss · mean over counted tokens of log²Z, Z = Σ_v exp(logit_v) the softmax
 * normaliser, which keeps log Z near 0 and the logits from drifting to sizes where float32 softmax
 * loses precision. PaLM uses zLoss = 1e-4. When the batch has an accuracy mask, `hits` counts the
 * scored tokens whose most likely prediction is the target.
 */
export function maskedObjective(model: GPT, batch: TrainBatch, zLoss = 0): { loss: tf.Scalar; hits?: tf.Scalar } {
  const { batchSize: B, seqLen: T } = batch;
  return tf.tidy(() => {
    const x = tf.tensor2d(toTimeMajor(batch.x, B, T), [T, B], 'int32');
    const y = tf.tensor1d(toTimeMajor(batch.y, B, T), 'int32');
    const mask = (batch.mask ? tf.tensor1d(toTimeMajor(batch.mask, B, T)) : tf.ones([B * T])) as tf.Tensor1D;
    const logits = model.forwardTimeMajor(x); // [N, V]
    const ce = maskedCrossEntropy(logits, y, mask);
    const loss = zLoss === 0 ? ce : (tf.add(ce, tf.mul(zLoss, zLossTerm(logits, mask))) as tf.Scalar);
    if (!batch.accuracyMask) return { loss };
    const scored = tf.tensor1d(toTimeMajor(batch.accuracyMask, B, T));
    return { loss, hits: tf.sum(tf.mul(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'float32'), scored)) as tf.Scalar };
  });
}

/** The objective's loss alone: the pretraining and SFT loss. */
export function batchLoss(model: GPT, batch: TrainBatch, zLoss = 0): tf.Scalar {
  return maskedObjective(model, batch, zLoss).loss;
}

/** mean over counted rows of (log Σ_v exp(logits[n, v]))², logits: [N, V], mask: [N]; 0 for an empty mask. */
export function zLossTerm(logits: tf.Tensor2D, mask: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const logZ = tf.logSumExp(logits, 1); // [N]
    return tf.div(tf.sum(tf.mul(tf.square(logZ), mask)), tf.maximum(tf.sum(mask), 1)) as tf.Scalar;
  });
}

/**
 * Σₜ maskₜ · log p(yₜ | x≤ₜ) for every row of a batch: [B]. What DPO, the reward model's LM term
 * and RL score sequences by. Differentiable (the policy's use); the caller owns the result.
 */
export function sequenceLogProbs(model: GPT, batch: TrainBatch & { mask: Float32Array }): tf.Tensor1D {
  const { batchSize: B, seqLen: T } = batch;
  return tf.tidy(() => {
    const x = tf.tensor2d(toTimeMajor(batch.x, B, T), [T, B], 'int32'); // [T, B]
    const y = tf.tensor1d(toTimeMajor(batch.y, B, T), 'int32'); // [T·B]
    const mask = tf.tensor2d(toTimeMajor(batch.mask, B, T), [T, B]); // [T, B]
    const logps = targetLogProbs(model.forwardTimeMajor(x), y).reshape([T, B]); // [T, B]
    return tf.sum(tf.mul(logps, mask), 0) as tf.Tensor1D; // [B]
  });
}
