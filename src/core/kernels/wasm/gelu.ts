/**
 * Exact GELU and its gradient, one pass each (reference: `gelu` in model/ops.ts, 5 kernels
 * forward and 7 backward). Elementwise on any shape:
 *   forward   y = x·Φ(x),             Φ(x) = ½(1 + erf(x/√2))
 *   backward  dx = dy·(Φ(x) + x·φ(x)), φ(x) = exp(−x²/2)/√(2π)
 * Φ is recomputed in the backward pass rather than saved: one erf per element is cheaper than a
 * second tensor's allocation and memory traffic.
 */
import type { ArrayKernel } from '../array-kernel.ts';
import { erf, exp } from './erf.ts';

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** inputs: x → y, same shape. */
export const geluKernel: ArrayKernel = {
  name: 'LMLabGelu',
  inputs: ['x'],
  outputShapes: ([x]) => [x],
  run([x], [y]) {
    for (let i = 0; i < x.length; i++) y[i] = 0.5 * x[i] * (1 + erf(x[i] * SQRT1_2));
  },
};

/** inputs: x, dy (same shape) → dx. */
export const geluGradKernel: ArrayKernel = {
  name: 'LMLabGeluGrad',
  inputs: ['x', 'dy'],
  outputShapes: ([x]) => [x],
  run([x, dy], [dx]) {
    for (let i = 0; i < x.length; i++) {
      const xi = x[i];
      const cdf = 0.5 * (1 + erf(xi * SQRT1_2));
      dx[i] = dy[i] * (cdf + xi * exp(-0.5 * xi * xi) * INV_SQRT_2PI);
    }
  },
};
