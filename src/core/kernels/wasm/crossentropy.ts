/**
 * Masked softmax cross-entropy, forward and backward in one pass each (reference:
 * `maskedCrossEntropy` in model/ops.ts: a one-hot, a logSoftmax and six more kernels forward,
 * five backward). logits: [N, V], targets: int32 [N], mask: [N]:
 *   forward   logZₙ = log Σᵥ exp(logitsₙᵥ),  loss = Σₙ maskₙ·(logZₙ − logitsₙ[targetₙ]) / max(Σ mask, 1)
 *   backward  dlogitsₙᵥ = dloss · (exp(logitsₙᵥ − logZₙ) − [v = targetₙ]) · maskₙ / max(Σ mask, 1)
 * The forward pass returns logZ ([N]) for the backward one. The max(…, 1) makes an all-zero mask
 * give loss 0, not NaN. A target outside [0, V) adds no loss, as the reference's all-zero one-hot row.
 */
import type { ArrayKernel } from '../array-kernel.ts';

function maskTotal(mask: Float32Array | Int32Array): number {
  let s = 0;
  for (let n = 0; n < mask.length; n++) s += mask[n];
  return Math.max(s, 1);
}

/** inputs: logits [N, V], targets int32 [N], mask [N] → loss [], logZ [N]. */
export const crossEntropyKernel: ArrayKernel = {
  name: 'LMLabCrossEntropy',
  inputs: ['logits', 'targets', 'mask'],
  outputShapes: ([logits]) => [[], [logits[0]]],
  run([logits, targets, mask], [loss, logZ], [[N, V]]) {
    let total = 0;
    for (let n = 0; n < N; n++) {
      const o = n * V;
      let max = -Infinity;
      for (let v = 0; v < V; v++) if (logits[o + v] > max) max = logits[o + v];
      let s = 0;
      for (let v = 0; v < V; v++) s += Math.exp(logits[o + v] - max);
      const lz = max + Math.log(s);
      logZ[n] = lz;
      const t = targets[n];
      if (mask[n] !== 0 && t >= 0 && t < V) total += mask[n] * (lz - logits[o + t]);
    }
    loss[0] = total / maskTotal(mask);
  },
};

/** inputs: dloss [], logits [N, V], targets int32 [N], mask [N], logZ [N] → dlogits [N, V]. */
export const crossEntropyGradKernel: ArrayKernel = {
  name: 'LMLabCrossEntropyGrad',
  inputs: ['dy', 'logits', 'targets', 'mask', 'logZ'],
  outputShapes: ([, logits]) => [logits],
  run([dy, logits, targets, mask, logZ], [dlogits], [, [N, V]]) {
    const scale = dy[0] / maskTotal(mask);
    for (let n = 0; n < N; n++) {
      const w = mask[n] * scale;
      if (w === 0) continue; // the output starts zeroed
      const o = n * V;
      const lz = logZ[n];
      for (let v = 0; v < V; v++) dlogits[o + v] = Math.exp(logits[o + v] - lz) * w;
      const t = targets[n];
      if (t >= 0 && t < V) dlogits[o + t] -= w;
    }
  },
};
