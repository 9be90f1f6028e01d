/**
 * GELU forward and backward on WebGPU, one dispatch each (reference: `gelu` in model/ops.ts; the
 * wasm kernel, kernels/wasm/gelu.ts, writes the slope in the forward pass instead):
 *   y = x·Φ(x),  dx = dy·(Φ(x) + x·φ(x)),  Φ(x) = ½(1 + erf(x/√2)),  φ(x) = exp(−x²/2)/√(2π)
 * One invocation per element.
 */
import { ERF_WGSL, runProgram, type WebGPUKernel } from './program.ts';

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

export const geluWebGPU: WebGPUKernel = {
  name: 'LMLabGelu',
  inputs: ['x'],
  run: (backend, [x]) => [
    runProgram(backend, {
      key: 'gelu', outputShape: x.shape, threads: size(x.shape), inputs: [['X', x]], helpers: ERF_WGSL,
      body: 'let v = X[index]; result[index] = 0.5 * v * (1.0 + erf_as(v * 0.70710678118654752));',
    }),
  ],
};

export const geluGradWebGPU: WebGPUKernel = {
  name: 'LMLabGeluGrad',
  inputs: ['x', 'dy'],
  run: (backend, [x, dy]) => [
    runProgram(backend, {
      key: 'gelu_grad', outputShape: x.shape, threads: size(x.shape), inputs: [['X', x], ['DY', dy]], helpers: ERF_WGSL,
      body: `let v = X[index];
        let cdf = 0.5 * (1.0 + erf_as(v * 0.70710678118654752));
        result[index] = DY[index] * (cdf + v * exp(-0.5 * v * v) * 0.39894228040143268);`,
    }),
  ],
};
