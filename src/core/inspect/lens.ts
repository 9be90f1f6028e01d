/**
 * The logit lens (nostalgebraist 2020, "interpreting GPT: the logit lens"): the residual stream
 * read as a next-token prediction after every layer, through the model's own final LayerNorm and
 * tied head, as if the blocks above it were not there:
 *   pₗ(· | x≤t) = softmax(ln_f(xₗ,ₜ) · wteᵀ)
 * At the last layer this is the model's own prediction; lower layers show when it formed.
 */
import * as tf from '@tensorflow/tfjs';
import type { GPT } from '../model/model.ts';
import { inspectForward, readOut } from './forward.ts';

/** One of a layer's most likely next tokens at one position. */
export interface LensGuess {
  token: number;
  prob: number;
}

export interface LogitLens {
  /**
   * [layer][position][rank]: the k most likely next tokens, most likely first. Layer 0 reads the
   * embeddings (before any block), layer l the stream after block l; layer nLayer is the model's
   * own prediction.
   */
  top: LensGuess[][][];
  /** [layer][position]: the probability each layer gives the token that actually comes next (T − 1 positions). */
  actual: number[][];
}

/** The logit lens over one sequence (T ≤ blockSize token ids), the k most likely tokens per layer and position. */
export async function logitLens(model: GPT, ids: ArrayLike<number>, k = 1): Promise<LogitLens> {
  const { nLayer: L, nEmbd: C, vocabSize: V } = model.config;
  if (!Number.isInteger(k) || k < 1 || k > V) throw new Error(`lens: k must be an integer from 1 to ${V}, got ${k}`);
  const T = ids.length;
  const [values, indices, actual] = tf.tidy(() => {
    const { attention, residual, logits } = inspectForward(model, ids);
    tf.dispose([attention, logits]);
    const probs = tf.softmax(readOut(model, residual.reshape([(L + 1) * T, C]) as tf.Tensor2D)); // [(L+1)·T, C] → [(L+1)·T, V]
    const { values: topP, indices: topIds } = tf.topk(probs, k); // [(L+1)·T, k]
    const next = Int32Array.from({ length: (L + 1) * (T - 1) }, (_, i) => Math.floor(i / (T - 1)) * T * V + (i % (T - 1)) * V + ids[(i % (T - 1)) + 1]);
    const onNext = tf.gather(probs.reshape([-1]), tf.tensor1d(next, 'int32')); // [(L+1)·T·V] flat → [(L+1)·(T−1)]
    return [topP, topIds, onNext];
  });
  try {
    const [p, id, a] = await Promise.all([values.data(), indices.data(), actual.data()]);
    const top = Array.from({ length: L + 1 }, (_, l) =>
      Array.from({ length: T }, (_, t) => Array.from({ length: k }, (_, r) => ({ token: id[(l * T + t) * k + r], prob: p[(l * T + t) * k + r] }))),
    );
    return { top, actual: Array.from({ length: L + 1 }, (_, l) => Array.from(a.subarray(l * (T - 1), (l + 1) * (T - 1)))) };
  } finally {
    tf.dispose([values, indices, actual]);
  }
}
