/**
 * Every layer's and head's attention pattern over a prompt, computed on request from the model's
 * own weights (forward.ts's reference pass; nothing is kept while training).
 *
 * weights[l][h][i][j] = softmax_j(qᵢ · kⱼ / √hs), j ≤ i, and 0 for j > i (Vaswani et al. 2017,
 * "Attention Is All You Need", eq. 1, with GPT's causal mask): how much query position i of head h
 * in layer l reads from key position j. Each row sums to 1.
 */
import * as tf from '@tensorflow/tfjs';
import type { GPT } from '../model/model.ts';
import { checkIds, inspectForward } from './forward.ts';

/** Attention probabilities as [layer][head][query][key] for one sequence (T ≤ blockSize token ids). */
export async function attentionWeights(model: GPT, ids: ArrayLike<number>): Promise<number[][][][]> {
  const attention = tf.tidy(() => {
    const { attention: a, residual, logits } = inspectForward(model, ids);
    tf.dispose([residual, logits]);
    return a; // [L, nh, T, T]
  });
  try {
    return (await attention.array()) as number[][][][];
  } finally {
    attention.dispose();
  }
}

/**
 * The largest |Δ| between the reference pass's logits and `model.forward`'s on the same ids: the
 * evidence that the attention shown is the attention the model computes (float32 rounding of a
 * different order of operations, ~1e-6, and nothing more).
 */
export async function referenceGap(model: GPT, ids: ArrayLike<number>): Promise<number> {
  const idx = checkIds(model, ids);
  const gap = tf.tidy(() => {
    const ours = inspectForward(model, idx);
    const theirs = model.forward(tf.tensor2d(idx, [1, idx.length], 'int32')).reshape([idx.length, -1]); // [1, T, V] → [T, V]
    return tf.max(tf.abs(tf.sub(ours.logits, theirs)));
  });
  try {
    return (await gap.data())[0];
  } finally {
    gap.dispose();
  }
}
