/**
 * LayerNorm forward and backward on WebGPU; the contract and formula of kernels/wasm/layernorm.ts
 * (reference: `layerNorm` in model/ops.ts). x: [N, C]:
 *   forward   μₙ, rstdₙ = 1/√(varₙ + 1e-5)  (one invocation per row each),  y = (x − μ)·rstd·w + b  (per element)
 *   backward  dx = (g − mean(g) − x̂·mean(g·x̂))·rstd, g = dy·w  (per row),  dw = Σₙ dy·x̂, db = Σₙ dy  (per column)
 * A tfjs WebGPU program has one output, so each output is its own dispatch: 3 forward, 3 backward
 * (the reference takes ~25).
 */
import { runProgram, type WebGPUKernel } from './program.ts';

export const layerNormWebGPU: WebGPUKernel = {
  name: 'LMLabLayerNorm',
  inputs: ['x', 'w', 'b'],
  run(backend, [x, w, b]) {
    const [N, C] = x.shape;
    const mean = runProgram(backend, {
      key: `ln_mean_${C}`, outputShape: [N], threads: N, inputs: [['X', x]],
      body: `var s = 0.0; for (var c = 0; c < ${C}; c++) { s += X[index * ${C} + c]; } result[index] = s / f32(${C});`,
    });
    const rstd = runProgram(backend, {
      key: `ln_rstd_${C}`, outputShape: [N], threads: N, inputs: [['X', x], ['M', mean]],
      body: `let mu = M[index]; var s = 0.0;
        for (var c = 0; c < ${C}; c++) { let d = X[index * ${C} + c] - mu; s += d * d; }
        result[index] = inverseSqrt(s / f32(${C}) + 1e-5);`,
    });
    const y = runProgram(backend, {
      key: `ln_y_${C}`, outputShape: [N, C], threads: N * C, inputs: [['X', x], ['W', w], ['B', b], ['M', mean], ['R', rstd]],
      body: `let n = index / ${C}; let c = index % ${C}; result[index] = (X[index] - M[n]) * R[n] * W[c] + B[c];`,
    });
    return [y, mean, rstd];
  },
};

export const layerNormGradWebGPU: WebGPUKernel = {
  name: 'LMLabLayerNormGrad',
  inputs: ['dy', 'x', 'w', 'mean', 'rstd'],
  run(backend, [dy, x, w, mean, rstd]) {
    const [N, C] = x.shape;
    const inputs: [string, typeof dy][] = [['DY', dy], ['X', x], ['W', w], ['M', mean], ['R', rstd]];
    const dx = runProgram(backend, {
      key: `ln_dx_${C}`, outputShape: [N, C], threads: N, inputs,
      body: `let o = index * ${C}; let mu = M[index]; let r = R[index];
        var gs = 0.0; var gx = 0.0;
        for (var c = 0; c < ${C}; c++) { let g = DY[o + c] * W[c]; gs += g; gx += g * (X[o + c] - mu) * r; }
        let gm = gs / f32(${C}); let gxm = gx / f32(${C});
        for (var c = 0; c < ${C}; c++) { result[o + c] = (DY[o + c] * W[c] - gm - (X[o + c] - mu) * r * gxm) * r; }`,
    });
    const dw = runProgram(backend, {
      key: `ln_dw_${N}_${C}`, outputShape: [C], threads: C, inputs: [['DY', dy], ['X', x], ['M', mean], ['R', rstd]],
      body: `var s = 0.0; for (var n = 0; n < ${N}; n++) { s += DY[n * ${C} + index] * (X[n * ${C} + index] - M[n]) * R[n]; } result[index] = s;`,
    });
    const db = runProgram(backend, {
      key: `ln_db_${N}_${C}`, outputShape: [C], threads: C, inputs: [['DY', dy]],
      body: `var s = 0.0; for (var n = 0; n < ${N}; n++) { s += DY[n * ${C} + index]; } result[index] = s;`,
    });
    return [dx, dw, db];
  },
};
