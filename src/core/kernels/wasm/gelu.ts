/**
 * Exact GELU with its slope, one pass (reference: `gelu` in model/ops.ts, 5 kernels forward and 7
 * backward). Elementwise on any shape:
 *   y     = x·Φ(x),            Φ(x) = ½(1 + erf(x/√2))
 *   slope = Φ(x) + x·φ(x),     φ(x) = exp(−x²/2)/√(2π)      (= dy/dx)
 * The slope is written in the forward pass, where Φ is at hand, and saved for the backward pass,
 * which is then one multiply, dx = dy·slope. Recomputing erf and exp there instead cost many times
 * the multiply per [1024, 256] call (measured: docs/results/speed.md), for 1 MB more memory per layer
 * (the slope is saved in place of x, which nothing else keeps).
 *
 * y and the slope are read from tables on [−8, 8] at 1/1024 steps, interpolated linearly: an
 * error of at most h²/8 · max|f''| = 2⁻²³ · 0.8 ≈ 1e-7 (y'' = φ(x)(2 − x²) peaks at 2φ(0) ≈ 0.8,
 * the slope's second derivative at 3φ(√3)·√3 ≈ 0.46 nearby), the size of float32's own rounding.
 * Beyond ±8, Φ is 0 or 1 to float32 (1 − Φ(8) = 6e-16): y is 0 or x, the slope 0 or 1. Computing
 * erf and exp per element instead took about three times as long (measured: docs/results/speed.md).
 * A NaN stays NaN (the spike detector looks for it).
 *
 * On the heap, the same loop runs compiled (../wasm-simd/gelu.ts) from a copy of the table in the
 * heap: the same float64 operations in the same order, so bit-identical, and 1.7× faster.
 */
import type { ArrayKernel } from '../array-kernel.ts';
import { erf } from './erf.ts';

const RANGE = 8;
const PER_UNIT = 1024;

let table: Float64Array | null = null;

/**
 * For each step i of the grid x = −RANGE + i/PER_UNIT: y, its rise to the next step, the slope and
 * its rise, side by side, from float64 erf and exp. One cache line holds what an element needs,
 * and the rises are not recomputed per element: 22% faster than two tables of values (measured).
 */
function geluTable(): Float64Array {
  if (table) return table;
  const steps = 2 * RANGE * PER_UNIT;
  const at = (i: number) => {
    const x = -RANGE + i / PER_UNIT;
    const cdf = 0.5 * (1 + erf(x * Math.SQRT1_2));
    return [x * cdf, cdf + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI)];
  };
  table = new Float64Array(4 * steps);
  let [y, slope] = at(0);
  for (let i = 0; i < steps; i++) {
    const [yNext, slopeNext] = at(i + 1);
    table.set([y, yNext - y, slope, slopeNext - slope], 4 * i);
    [y, slope] = [yNext, slopeNext];
  }
  return table;
}

/** inputs: x → y, slope (both the shape of x). */
export const geluSlopeKernel: ArrayKernel = {
  name: 'LMLabGeluSlope',
  inputs: ['x'],
  outputShapes: ([x]) => [x, x],
  run([x], [y, slope]) {
    const T = geluTable();
    for (let i = 0; i < x.length; i++) {
      const xi = x[i];
      if (xi >= RANGE) {
        y[i] = xi;
        slope[i] = 1;
      } else if (xi <= -RANGE) {
        y[i] = 0;
        slope[i] = 0;
      } else {
        const t = (xi + RANGE) * PER_UNIT;
        const j = t | 0; // t ≥ 0 here, so this is floor (and 0 for NaN, whose f keeps the result NaN)
        const f = t - j;
        const o = j << 2;
        y[i] = T[o] + f * T[o + 1];
        slope[i] = T[o + 2] + f * T[o + 3];
      }
    }
  },
  inHeap({ kernels, table }, [x], [y, slope], [shape]) {
    kernels.geluSlope(shape.reduce((p, d) => p * d, 1), x, y, slope, table('gelu', geluTable), RANGE, PER_UNIT);
    return true;
  },
};
