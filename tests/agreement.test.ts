/**
 * The backend agreement check (src/core/backend/agreement.ts): its rule on hand-made traces, and on
 * real backends: wasm agrees with the cpu reference over a few micro steps, and a backend whose one
 * kernel is wrong by 5% (Sqrt, which LayerNorm divides by) is caught.
 */
import * as tf from '@tensorflow/tfjs';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { AGREEMENT_TOLERANCE, checkAgreement, compareTraces, relativeDifference, traceSteps } from '../src/core/backend/agreement.ts';
import { tinyCorpus, useBackend } from './helpers.ts';

describe('compareTraces', () => {
  const ref = [{ loss: 4, gradNorm: 2 }, { loss: 3, gradNorm: 1 }];

  it('agrees within tolerance and names the worst step', () => {
    const a = compareTraces(ref, [{ loss: 4.002, gradNorm: 2 }, { loss: 3, gradNorm: 1.005 }], ['wasm', 'webgpu']);
    expect(a.agree).toBe(true);
    expect(a.worst.loss).toEqual({ step: 0, relative: expect.closeTo(0.002 / 4.002, 12) });
    expect(a.worst.gradNorm).toEqual({ step: 1, relative: expect.closeTo(0.005 / 1.005, 12) });
    expect(a.summary).toMatch(/webgpu against wasm over 2 steps.*they agree/);
  });

  it('disagrees past the loss tolerance, and on a NaN', () => {
    const off = compareTraces(ref, [{ loss: 4, gradNorm: 2 }, { loss: 3.01, gradNorm: 1 }], ['wasm', 'webgpu']);
    expect(off.agree).toBe(false);
    expect(off.summary).toMatch(/DISAGREE at step 2/);
    expect(compareTraces(ref, [{ loss: NaN, gradNorm: 2 }, ref[1]], ['a', 'b']).agree).toBe(false);
    expect(relativeDifference(1, Infinity)).toBe(Infinity);
    expect(() => compareTraces(ref, ref.slice(1), ['a', 'b'])).toThrow(/2 and 1 steps/);
  });
});

describe('checkAgreement on real backends', () => {
  const { corpus, tokenizer } = tinyCorpus();
  const trace = () => traceSteps('micro', corpus, tokenizer, 4, 7);
  const activate = async (name: string) => {
    if (name === 'cpu' || name === 'wasm') return useBackend(name);
    if (!(await tf.setBackend(name))) throw new Error(`${name} did not start`);
  };

  it('wasm agrees with cpu from the same weights and batches', { timeout: 60_000 }, async () => {
    const a = await checkAgreement({ reference: 'cpu', candidate: 'wasm' }, activate, trace);
    expect(a.agree, a.summary).toBe(true);
    expect(a.worst.loss.relative).toBeLessThan(AGREEMENT_TOLERANCE.loss / 10); // rounding, far inside the bound
  });

  it('a backend with one wrong kernel disagrees', { timeout: 60_000 }, async () => {
    // The cpu backend's kernels, with Sqrt 5% too large: LayerNorm's scale is off, and so is every step.
    tf.registerBackend('cpu-faulty-sqrt', () => new MathBackendCPU());
    for (const k of tf.getKernelsForBackend('cpu')) {
      const kernelFunc: tf.KernelFunc = k.kernelName !== 'Sqrt' ? k.kernelFunc : (args) => {
        const out = k.kernelFunc(args) as tf.TensorInfo;
        const backend = args.backend as MathBackendCPU;
        const values = (backend.readSync(out.dataId) as Float32Array).map((v) => v * 1.05);
        backend.disposeIntermediateTensorInfo(out);
        return backend.makeTensorInfo(out.shape, 'float32', values);
      };
      tf.registerKernel({ ...k, backendName: 'cpu-faulty-sqrt', kernelFunc });
    }
    try {
      const a = await checkAgreement({ reference: 'wasm', candidate: 'cpu-faulty-sqrt' }, activate, trace);
        expect(a.agree, a.summary).toBe(false);
      expect(a.summary).toMatch(/DISAGREE/);
      expect(a.worst.gradNorm.relative).toBeGreaterThan(AGREEMENT_TOLERANCE.gradNorm); // the loss alone would miss it at first
    } finally {
      await useBackend('cpu');
      tf.removeBackend('cpu-faulty-sqrt');
    }
  });
});
