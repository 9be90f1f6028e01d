/**
 * LayerNorm over the last axis, forward and backward in one pass each (reference: `layerNorm`
 * in model/ops.ts, ~9 kernels forward and ~14 backward). x: [N, C], w, b: [C], eps 1e-5,
 * biased variance as PyTorch's:
 *   forward   μ = mean(x), rstd = 1/√(var(x) + eps), x̂ = (x − μ)·rstd, y = x̂·w + b
 *   backward  g = dy·w,  dx = (g − mean(g) − x̂·mean(g·x̂))·rstd,  dw = Σₙ dy·x̂,  db = Σₙ dy
 * The forward pass returns μ and rstd ([N]) for the backward one, which recomputes x̂ from them.
 *
 * On the heap, both run in WebAssembly SIMD (../wasm-simd/layernorm.ts) when C is a multiple of 4
 * (every preset's): 6–10× faster than these loops, which state the computation and take any C.
 * The SIMD sums a row in float32 over four lanes where these loops sum in float64, so the two agree
 * to float32 rounding, not bit for bit.
 */
import type { ArrayKernel } from '../array-kernel.ts';

const EPS = 1e-5;

/** inputs: x [N, C], w [C], b [C] → y [N, C], mean [N], rstd [N]. */
export const layerNormKernel: ArrayKernel = {
  name: 'LMLabLayerNorm',
  inputs: ['x', 'w', 'b'],
  outputShapes: ([x]) => [x, [x[0]], [x[0]]],
  run([x, w, b], [y, mean, rstd], [[N, C]]) {
    for (let n = 0; n < N; n++) {
      const o = n * C;
      let s = 0;
      for (let c = 0; c < C; c++) s += x[o + c];
      const mu = s / C;
      let ss = 0;
      for (let c = 0; c < C; c++) {
        const d = x[o + c] - mu;
        ss += d * d;
      }
      const r = 1 / Math.sqrt(ss / C + EPS);
      for (let c = 0; c < C; c++) y[o + c] = (x[o + c] - mu) * r * w[c] + b[c];
      mean[n] = mu;
      rstd[n] = r;
    }
  },
  inHeap({ kernels }, [x, w, b], [y, mean, rstd], [[N, C]]) {
    if (C % 4 !== 0) return false;
    kernels.layerNorm(N, C, x, w, b, y, mean, rstd);
    return true;
  },
};

/** inputs: dy [N, C], x [N, C], w [C], mean [N], rstd [N] → dx [N, C], dw [C], db [C]. */
export const layerNormGradKernel: ArrayKernel = {
  name: 'LMLabLayerNormGrad',
  inputs: ['dy', 'x', 'w', 'mean', 'rstd'],
  outputShapes: ([dy, , w]) => [dy, w, w],
  run([dy, x, w, mean, rstd], [dx, dw, db], [[N, C]]) {
    for (let n = 0; n < N; n++) {
      const o = n * C;
      const mu = mean[n];
      const r = rstd[n];
      let gSum = 0;
      let gxSum = 0;
      for (let c = 0; c < C; c++) {
        const xh = (x[o + c] - mu) * r;
        const g = dy[o + c] * w[c];
        gSum += g;
        gxSum += g * xh;
        dw[c] += dy[o + c] * xh;
        db[c] += dy[o + c];
      }
      const gMean = gSum / C;
      const gxMean = gxSum / C;
      for (let c = 0; c < C; c++) {
        const xh = (x[o + c] - mu) * r;
        dx[o + c] = (dy[o + c] * w[c] - gMean - xh * gxMean) * r;
      }
    }
  },
  inHeap({ kernels }, [dy, x, w, mean, rstd], [dx, dw, db], [[N, C]]) {
    if (C % 4 !== 0) return false;
    kernels.layerNormGrad(N, C, dy, x, w, mean, rstd, dx, dw, db);
    return true;
  },
};
