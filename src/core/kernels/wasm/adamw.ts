/**
 * The whole AdamW update with gradient clipping in one pass (reference: AdamW.apply in
 * train/adamw.ts, ~100 tfjs kernels: ten elementwise ops on the flat vectors, a split, and a
 * reshape, decay and subtraction per parameter). For every entry i, with s the clipping scale:
 *   g = s·gᵢ,  m ← β1·m + (1−β1)·g,  v ← β2·v + (1−β2)·g²
 *   θ ← θ·(1 − lr·λ·decayₚ) − lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε)
 * Inputs: g, m, v flat [P]; then the parameters θₚ in the flat order (any shapes, sizes sum to P).
 * Outputs: m, v [P]; then each θₚ, same shape as its input.
 */
import type { ArrayKernel } from '../array-kernel.ts';

export interface AdamWAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  bc1: number; // 1 − β1ᵗ
  bc2: number; // 1 − β2ᵗ
  gradScale: number;
  weightDecay: number;
  /** Per parameter: whether it decays. */
  decay: boolean[];
}

export const adamwKernel: ArrayKernel<AdamWAttrs> = {
  name: 'LMLabAdamW',
  outputShapes: (shapes) => shapes.slice(1), // m, v, then the parameters
  run([g, m, v, ...params], [mOut, vOut, ...paramsOut], _shapes, a) {
    const { beta1, beta2, eps, gradScale } = a;
    const keepM = 1 - beta1;
    const keepV = 1 - beta2;
    const stepSize = a.lr / a.bc1;
    const invBc2 = 1 / a.bc2;
    // Plain loops with locals: a closure over a running offset ran 3× slower on tiny's parameters
    // (measured: docs/results/speed.md).
    let offset = 0;
    for (let p = 0; p < params.length; p++) {
      const theta = params[p];
      const out = paramsOut[p];
      const n = theta.length;
      const keep = a.decay[p] ? 1 - a.lr * a.weightDecay : 1;
      for (let j = 0; j < n; j++) {
        const i = offset + j;
        const gi = g[i] * gradScale;
        const mi = beta1 * m[i] + keepM * gi;
        const vi = beta2 * v[i] + keepV * gi * gi;
        mOut[i] = mi;
        vOut[i] = vi;
        out[j] = theta[j] * keep - (stepSize * mi) / (Math.sqrt(vi * invBc2) + eps);
      }
      offset += n;
    }
  },
};
