/**
 * The project's own wasm kernels (src/core/kernels/wasm/) against the tfjs-op references they
 * replace (model/ops.ts, train/adamw.ts), on the wasm backend: the same inputs through both paths,
 * values and every gradient to 1e-4 of the largest entry. Each test also checks that the fused
 * path really ran (its kernel appears in a profile) and that no tensor is left behind.
 * The references themselves are checked against mathematics in tests/ops.test.ts and tests/adamw.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ArrayKernel, fusedAvailable, runFused, setFusedKernels } from '../src/core/kernels/array-kernel.ts';
import { embedding, gelu, groupedMatMul, layerNorm, linear, linearNoBias, maskedCrossEntropy, qkvAttention } from '../src/core/model/ops.ts';
import { MATMUL_KERNEL, plainLayout } from '../src/core/kernels/wasm/matmul.ts';
import { AdamW } from '../src/core/train/adamw.ts';
import { erf } from '../src/core/kernels/wasm/erf.ts';
import { geluSlopeKernel } from '../src/core/kernels/wasm/gelu.ts';
import { layerNormGradKernel, layerNormKernel } from '../src/core/kernels/wasm/layernorm.ts';
import { randomArray, relativeError, useBackend } from './helpers.ts';

const TOL = 1e-4;

const rand = (shape: number[], seed: number, scale = 1) => tf.tensor(Float32Array.from(randomArray(shape.reduce((a, b) => a * b, 1), seed, scale)), shape);

/** Values and gradients of Σ r ⊙ f(inputs) with the reference ops and with the fused kernels. */
async function bothPaths(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], kernel: string): Promise<void> {
  const out: Record<'reference' | 'fused', Float32Array[]> = { reference: [], fused: [] };
  for (const path of ['reference', 'fused'] as const) {
    setFusedKernels(path === 'fused');
    const before = tf.memory().numTensors;
    const profile = await tf.profile(() => {
      const y = tf.tidy(() => f(...inputs)); // (the reference embedding makes its one-hot outside the op)
      const r = rand(y.shape, 7);
      const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), r)))(inputs);
      return [y, r, ...grads];
    });
    const [y, r, ...grads] = profile.result as tf.Tensor[];
    expect(profile.kernelNames.includes(kernel), `${path} path ${path === 'fused' ? 'runs' : 'does not run'} ${kernel}`).toBe(path === 'fused');
    out[path] = [(await y.data()) as Float32Array, ...(await Promise.all(grads.map((g) => g.data() as Promise<Float32Array>)))];
    tf.dispose([y, r, ...grads]);
    expect(tf.memory().numTensors).toBe(before);
  }
  out.fused.forEach((v, i) => expect(relativeError(v, Float64Array.from(out.reference[i])), i === 0 ? 'value' : `gradient ${i}`).toBeLessThan(TOL));
}

/** Counts the calls of a kernel's compiled version (`inHeap`) that did the work, until `restore`. */
function countCompiled(k: ArrayKernel) {
  const inHeap = k.inHeap!;
  const counter = {
    ran: 0,
    restore: () => void (k.inHeap = inHeap),
  };
  k.inHeap = (...args) => {
    const done = inHeap.apply(k, args);
    if (done) counter.ran++;
    return done;
  };
  return counter;
}

describe('wasm kernels against their tfjs-op references', () => {
  beforeAll(() => useBackend('wasm'));
  afterEach(() => setFusedKernels(true));

  it('are registered for wasm and used only when enabled', () => {
    expect(fusedAvailable('LMLabGeluSlope')).toBe(true);
    setFusedKernels(false);
    expect(fusedAvailable('LMLabGeluSlope')).toBe(false);
  });

  it('GELU forward with its slope, and backward as one multiply, across the curve (|x| up to 6)', async () => {
    await bothPaths((x) => gelu(x), [rand([37, 53], 1, 6)], 'LMLabGeluSlope');
  });

  it('GELU by its tables: y and the slope within 2.5e-7 of the float64 formula on a dense grid, exact past ±8, NaN kept', () => {
    const xs = [...Array.from({ length: 40_001 }, (_, i) => -10 + i * 0.0005), -8, 8, 1e6, -1e6, Infinity, -Infinity, NaN];
    const x = Float32Array.from(xs);
    const [y, slope] = [new Float32Array(x.length), new Float32Array(x.length)];
    geluSlopeKernel.run([x], [y, slope], [[x.length]], {});
    let worst = 0;
    for (let i = 0; i < x.length - 7; i++) {
      const v = x[i]; // the float32 input the kernel saw
      const cdf = 0.5 * (1 + erf(v * Math.SQRT1_2));
      const exact = [v * cdf, cdf + (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI)];
      // 1e-7 of interpolation, and float32's rounding of the result (half an ulp, up to 5e-7 at |y| = 10)
      worst = Math.max(worst, ...[y[i], slope[i]].map((got, k) => Math.abs(got - exact[k]) / (1e-7 + 2 ** -24 * Math.abs(exact[k]))));
    }
    expect(worst).toBeLessThan(2.5);
    const tail = (k: number) => [y[x.length - 7 + k], slope[x.length - 7 + k]];
    expect(tail(2)).toEqual([1e6, 1]);
    expect(tail(3)).toEqual([0, 0]);
    expect(tail(4)).toEqual([Infinity, 1]);
    expect(tail(5)).toEqual([0, 0]);
    expect(tail(6).every(Number.isNaN)).toBe(true);
  });

  it('GELU on the heap (compiled, from a copy of the table) is bit-identical to its loop, NaN and the tails included', async () => {
    const xs = Float32Array.from([...Array.from({ length: 40_001 }, (_, i) => -10 + i * 0.0005), -8, 8, 1e6, -1e6, Infinity, -Infinity, NaN]);
    const x = tf.tensor(xs, [xs.length]);
    const compiled = countCompiled(geluSlopeKernel);
    const heap = runFused(geluSlopeKernel, [x]);
    compiled.restore();
    expect(compiled.ran).toBe(1); // the compiled loop ran, not the JavaScript one
    const got = (await Promise.all(heap.map((t) => t.data()))) as Float32Array[];
    const want = [new Float32Array(xs.length), new Float32Array(xs.length)];
    geluSlopeKernel.run([xs], want, [[xs.length]], {});
    want.forEach((w, k) => w.forEach((v, i) => expect(Object.is(got[k][i], v) || (Number.isNaN(v) && Number.isNaN(got[k][i])), `${k ? 'slope' : 'y'} at x = ${xs[i]}`).toBe(true)));
    tf.dispose([x, ...heap]);
  });

  it('the tables\' erf: float64 against published values, odd, and continuous where its two methods meet at 2', () => {
    // Abramowitz & Stegun table 7.1 and erf(x) = 1 − erfc(x) for the tail.
    const known: [number, number][] = [[0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [1.5, 0.9661051464753108], [2, 0.9953222650189527], [3, 0.9999779095030014], [4, 0.9999999845827421], [5, 1 - 1.5374597944280349e-12]];
    for (const [x, v] of known) {
      expect(Math.abs(erf(x) - v)).toBeLessThan(1e-15);
      expect(erf(-x)).toBe(-erf(x));
    }
    expect(erf(0)).toBe(0);
    expect(Math.abs(erf(2 - 1e-12) - erf(2))).toBeLessThan(1e-13);
  });

  it('LayerNorm forward and backward (x, weight and bias gradients)', async () => {
    const x = tf.add(rand([29, 24], 2, 3), rand([29, 1], 3, 5)); // rows with different means
    await bothPaths((a, w, b) => layerNorm(a as tf.Tensor2D, w as tf.Tensor1D, b as tf.Tensor1D), [x, rand([24], 4), rand([24], 5)], 'LMLabLayerNorm');
  });

  it('LayerNorm on the heap (WebAssembly SIMD) agrees with its loops to float32 rounding, and any C falls back to them', async () => {
    const compiled = [countCompiled(layerNormKernel), countCompiled(layerNormGradKernel)];
    for (const [N, C] of [[37, 64], [5, 8], [9, 26]]) {
      const xs = tf.add(rand([N, C], 11, 3), rand([N, 1], 12, 5));
      const [w, b, dy] = [rand([C], 13), rand([C], 14), rand([N, C], 15, 2)];
      const heap = runFused(layerNormKernel, [xs, w, b]);
      const heapGrad = runFused(layerNormGradKernel, [dy, xs, w, heap[1], heap[2]]);
      expect(compiled.map((c) => c.ran), `C ${C}`).toEqual(C % 4 === 0 ? [1, 1] : [0, 0]);
      compiled.forEach((c) => (c.ran = 0));
      const got = await Promise.all([...heap, ...heapGrad].map((t) => t.data() as Promise<Float32Array>));
      const [x, wv, bv, dyv] = (await Promise.all([xs, w, b, dy].map((t) => t.data()))) as Float32Array[];
      const loops = [new Float32Array(N * C), new Float32Array(N), new Float32Array(N)];
      layerNormKernel.run([x, wv, bv], loops, [[N, C]], {});
      const loopsGrad = [new Float32Array(N * C), new Float32Array(C), new Float32Array(C)];
      layerNormGradKernel.run([dyv, x, wv, got[1], got[2]], loopsGrad, [[N, C]], {}); // from the same μ and rstd
      [...loops, ...loopsGrad].forEach((want, i) => {
        const scale = Math.max(...want.map(Math.abs));
        const worst = Math.max(...want.map((v, j) => Math.abs(got[i][j] - v))) / scale;
        if (C % 4 === 0) expect(worst, `C ${C}, output ${i}`).toBeLessThan(1e-5);
        else expect(worst, `C ${C} runs the loops themselves, output ${i}`).toBe(0);
      });
      // The SIMD path truly ran: its sums in float32 differ from the loops' float64 in the last bits somewhere.
      if (C === 64) expect(got[0].some((v, j) => v !== loops[0][j])).toBe(true);
      tf.dispose([xs, w, b, dy, ...heap, ...heapGrad]);
    }
    compiled.forEach((c) => c.restore());
  });

  it('masked cross-entropy forward and backward, with a partial mask and large logits', async () => {
    const N = 31;
    const V = 17;
    const targets = tf.tensor1d(Array.from({ length: N }, (_, i) => (i * 7) % V), 'int32');
    const mask = tf.tensor1d(Array.from({ length: N }, (_, i) => (i % 3 === 0 ? 0 : 1)));
    await bothPaths((lg) => maskedCrossEntropy(lg as tf.Tensor2D, targets, mask), [rand([N, V], 6, 20)], 'LMLabCrossEntropy');
    tf.dispose([targets, mask]);
  });

  it('masked cross-entropy of an all-zero mask is 0 on the fused path too', async () => {
    const loss = maskedCrossEntropy(rand([4, 5], 8) as tf.Tensor2D, tf.tensor1d([0, 1, 2, 3], 'int32'), tf.zeros([4]) as tf.Tensor1D);
    expect((await loss.data())[0]).toBe(0);
  });

  it('embedding lookup and its scatter-add gradient, with repeated ids', async () => {
    const ids = tf.tensor1d([3, 0, 3, 5, 1, 3, 0, 6], 'int32');
    await bothPaths((t) => embedding(ids, t as tf.Tensor2D), [rand([7, 9], 9)], 'LMLabEmbedding');
    ids.dispose();
  });

  it('strided matmul: Linear forward and backward (W and dyᵀ read transposed in place), at sizes off the 4 × 8 block', async () => {
    await bothPaths((x, w, b) => linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D), [rand([70, 45], 10), rand([33, 45], 11), rand([33], 12)], 'LMLabMatMul');
    await bothPaths((x, w) => linearNoBias(x as tf.Tensor2D, w as tf.Tensor2D), [rand([70, 45], 13), rand([50, 45], 14)], 'LMLabMatMul');
    await bothPaths((x, w, b) => linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D), [rand([1, 3], 15), rand([1, 3], 16), rand([1], 17)], 'LMLabMatMul');
  });

  it('strided matmul: every transpose combination, with and without bias, against a float64 product', async () => {
    // K past one 256-deep block (the module packs K in blocks: later ones add to C), edges on every side.
    for (const [M, K, N] of [[9, 7, 13], [4, 1, 8], [1, 5, 1], [12, 16, 24], [6, 600, 11], [5, 513, 16]]) {
      for (const ta of [false, true]) {
        for (const tb of [false, true]) {
          const a = rand(ta ? [K, M] : [M, K], M + K), b = rand(tb ? [N, K] : [K, N], K + N), bias = rand([N], N);
          const [A, B, bv] = [await a.data(), await b.data(), await bias.data()];
          for (const withBias of [false, true]) {
            const before = tf.memory().numTensors;
            const out = runFused({ name: MATMUL_KERNEL, inputs: ['a', 'b', 'bias'] }, withBias ? [a, b, bias] : [a, b], plainLayout(a.shape, b.shape, ta, tb) as never)[0];
            expect(out.shape).toEqual([M, N]);
            const want = new Float64Array(M * N);
            for (let m = 0; m < M; m++) {
              for (let n = 0; n < N; n++) {
                let s = withBias ? bv[n] : 0;
                for (let k = 0; k < K; k++) s += A[ta ? k * M + m : m * K + k] * B[tb ? n * K + k : k * N + n];
                want[m * N + n] = s;
              }
            }
            // float32 sums of K terms: rounding grows like √K.
            expect(relativeError((await out.data()) as Float32Array, want), `${M}×${K}×${N} ta=${ta} tb=${tb} bias=${withBias}`).toBeLessThan(1e-6 * Math.max(1, Math.sqrt(K / 16)));
            out.dispose();
            expect(tf.memory().numTensors).toBe(before);
          }
          tf.dispose([a, b, bias]);
        }
      }
    }
  });

  it('strided matmul refuses a layout that would read outside its tensors', () => {
    const [a, b] = [tf.zeros([4, 4]), tf.zeros([4, 4])];
    const layout = plainLayout([4, 4], [4, 4]);
    expect(() => runFused({ name: MATMUL_KERNEL, inputs: ['a', 'b'] }, [a, b], { ...layout, K: 5 } as never)).toThrow(/outside/);
    expect(() => runFused({ name: MATMUL_KERNEL, inputs: ['a', 'b'] }, [a, b], { ...layout, a: { ...layout.a, offset: 1 } } as never)).toThrow(/outside/);
    tf.dispose([a, b]);
  });

  it('strided matmul: attention read in place from q | k | v (values and the gradient of qkv), and the grouped product', async () => {
    const [T, B, nh, hs] = [6, 3, 2, 4];
    tf.dispose(qkvAttention(tf.zeros([T, 3 * nh]) as tf.Tensor2D, T, 1)); // makes (and keeps) the causal mask for T first
    await bothPaths((qkv) => qkvAttention(qkv as tf.Tensor2D, T, nh), [rand([T * B, 3 * nh * hs], 18, 2)], 'LMLabMatMul');
    // groupedMatMul has no gradient of its own (it is used inside ones written out): values only.
    const [a, b] = [rand([5, 3, 7], 19) as tf.Tensor3D, rand([3, 7, 9], 20) as tf.Tensor3D];
    const values: Float32Array[] = [];
    for (const fused of [false, true]) {
      setFusedKernels(fused);
      const out = groupedMatMul(a, b);
      expect(out.shape).toEqual([5, 7, 9]);
      values.push((await out.data()) as Float32Array);
      out.dispose();
    }
    expect(relativeError(values[1], Float64Array.from(values[0]))).toBeLessThan(1e-6);
    tf.dispose([a, b]);
  });

  it('AdamW with clipping and decay, several steps: parameters and both moments', async () => {
    const states: Record<string, Float32Array[]> = {};
    for (const path of ['reference', 'fused'] as const) {
      setFusedKernels(path === 'fused');
      const params = new Map([
        ['h.0.mlp.c_fc.weight', tf.variable(rand([6, 4], 20))], // decays
        ['h.0.mlp.c_fc.bias', tf.variable(rand([6], 21))], // does not
      ]);
      const opt = new AdamW(params, { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 });
      const before = tf.memory().numTensors;
      for (let step = 0; step < 4; step++) {
        const grads = { 'h.0.mlp.c_fc.weight': rand([6, 4], 30 + step, 3), 'h.0.mlp.c_fc.bias': rand([6], 40 + step, 3) };
        const profile = await tf.profile(() => opt.apply(grads, 1e-2, step % 2 ? 0.5 : 1));
        expect(profile.kernelNames.includes('LMLabAdamW')).toBe(path === 'fused');
        tf.dispose(Object.values(grads));
      }
      expect(tf.memory().numTensors).toBe(before);
      const { m, v } = await opt.moments();
      states[path] = [...[...params.values()].map((p) => p.dataSync() as Float32Array), ...m.values(), ...v.values()];
      opt.dispose();
      params.forEach((p) => p.dispose());
    }
    states.fused.forEach((x, i) => expect(relativeError(x, Float64Array.from(states.reference[i]))).toBeLessThan(TOL));
  });
});
