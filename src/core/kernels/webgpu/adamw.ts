/**
 * The AdamW update with clipping on WebGPU; the contract and formula of kernels/wasm/adamw.ts
 * (reference: AdamW.apply in train/adamw.ts, ~100 kernels). With s the clipping scale:
 *   m ← β1·m + (1−β1)·s·g,  v ← β2·v + (1−β2)·(s·g)²                  (one dispatch each, over [P])
 *   θₚ ← θₚ·keepₚ − lr·(m/(1−β1ᵗ)) / (√(v/(1−β2ᵗ)) + ε)               (one dispatch per parameter, reading m, v at its offset)
 * A tfjs WebGPU program has a single output, so the parameters cannot share one dispatch; the
 * step's numbers (lr, bias corrections, scale, offset) are uniforms, so every pipeline compiles once.
 */
import type { AdamWAttrs } from '../wasm/adamw.ts';
import { runProgram, type Uniform, type WebGPUKernel } from './program.ts';

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

export const adamwWebGPU: WebGPUKernel<AdamWAttrs> = {
  name: 'LMLabAdamW',
  run(backend, [g, m, v, ...params], a) {
    const P = g.shape[0];
    const u = (name: string, value: number, type: Uniform['type'] = 'float32'): Uniform => ({ name, type, value });
    const moments = [u('beta', a.beta1), u('scale', a.gradScale)];
    const mNew = runProgram(backend, {
      key: 'adamw_m', outputShape: [P], threads: P, inputs: [['G', g], ['M', m]], uniforms: moments,
      body: 'result[index] = uniforms.beta * M[index] + (1.0 - uniforms.beta) * uniforms.scale * G[index];',
    });
    const vNew = runProgram(backend, {
      key: 'adamw_v', outputShape: [P], threads: P, inputs: [['G', g], ['M', v]], uniforms: [u('beta', a.beta2), u('scale', a.gradScale)],
      body: 'let gs = uniforms.scale * G[index]; result[index] = uniforms.beta * M[index] + (1.0 - uniforms.beta) * gs * gs;',
    });
    let offset = 0;
    const updated = params.map((theta, p) => {
      const n = size(theta.shape);
      const out = runProgram(backend, {
        key: 'adamw_theta', outputShape: theta.shape, threads: n, inputs: [['TH', theta], ['M', mNew], ['V', vNew]],
        uniforms: [u('keep', a.decay[p] ? 1 - a.lr * a.weightDecay : 1), u('step', a.lr / a.bc1), u('invbc2', 1 / a.bc2), u('eps', a.eps), u('offset', offset, 'int32')],
        body: `let i = index + uniforms.offset;
          result[index] = TH[index] * uniforms.keep - uniforms.step * M[i] / (sqrt(V[i] * uniforms.invbc2) + uniforms.eps);`,
      });
      offset += n;
      return out;
    });
    return [mNew, vNew, ...updated];
  },
};
