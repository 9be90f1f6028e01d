/**
 * Each op of src/core/model/ops.ts against its formula: the forward pass against a float64 JavaScript
 * evaluation, the hand-written gradient against central differences of that float64 evaluation.
 * The scalar differentiated is Σ r ⊙ op(inputs) with a fixed random r, so every output entry and
 * every input entry take part. Run on the cpu and the wasm backend (wasm takes other kernels, e.g.
 * a depthwise convolution inside groupedMatMul).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { causalAttention, embedding, gelu, groupedMatMul, layerNorm, linear, linearNoBias, maskedCrossEntropy, qkvAttention } from '../src/core/model/ops.ts';
import {
  attentionRef,
  crossEntropyRef,
  dot,
  geluRef,
  layerNormRef,
  linearRef,
  numericGradient,
  randomArray,
  relativeError,
  useBackend,
} from './helpers.ts';

// float32 against float64: forward values agree to a few ulps of the largest entry, gradients
// (several float32 reductions deep) to 1e-3 of the largest entry.
const FORWARD_TOL = 1e-5;
const GRAD_TOL = 1e-3;

interface Input {
  values: Float64Array;
  shape: number[];
}

const input = (shape: number[], seed: number, scale = 1): Input => ({ values: randomArray(shape.reduce((a, b) => a * b, 1), seed, scale), shape });

/**
 * Checks op (tfjs) against ref (float64 JS) at the given inputs: outputs, then the gradient of
 * Σ r ⊙ output with respect to every input.
 */
async function checkAgainstFormula(
  inputs: Input[],
  op: (...xs: tf.Tensor[]) => tf.Tensor,
  ref: (...xs: Float64Array[]) => Float64Array,
): Promise<void> {
  const expected = ref(...inputs.map((x) => x.values));
  const r = randomArray(expected.length, 99);

  const tensors = inputs.map((x) => tf.tensor(Float32Array.from(x.values), x.shape));
  const rT = tf.tensor(Float32Array.from(r));
  const value = op(...tensors);
  const actual = await value.data();
  expect(value.size).toBe(expected.length);
  expect(relativeError(actual, expected)).toBeLessThan(FORWARD_TOL);

  const gradFn = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(op(...xs).reshape([-1]), rT)));
  const grads = gradFn(tensors);
  for (let k = 0; k < inputs.length; k++) {
    const numeric = numericGradient((xk) => dot(ref(...inputs.map((x, j) => (j === k ? xk : x.values))), r), inputs[k].values);
    expect(grads[k].shape).toEqual(inputs[k].shape);
    const err = relativeError(await grads[k].data(), numeric);
    expect(err, `gradient of input ${k}`).toBeLessThan(GRAD_TOL);
  }
  tf.dispose([...tensors, rT, value, ...grads]);
}

/** out[m, g, n] = Σₖ a[m, k, g] · b[k, g, n], by the plain triple loop (per group). */
function groupedMatMulRef(a: Float64Array, b: Float64Array, M: number, K: number, G: number, N: number): Float64Array {
  const out = new Float64Array(M * G * N);
  for (let m = 0; m < M; m++) {
    for (let g = 0; g < G; g++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a[(m * K + k) * G + g] * b[(k * G + g) * N + n];
        out[(m * G + g) * N + n] = s;
      }
    }
  }
  return out;
}

describe.each(['cpu', 'wasm'] as const)('ops on the %s backend', (backend) => {
  beforeAll(() => useBackend(backend));

  it('linear: y = x Wᵀ + b', async () => {
    const [N, nIn, nOut] = [5, 4, 3];
    await checkAgainstFormula(
      [input([N, nIn], 1), input([nOut, nIn], 2), input([nOut], 3)],
      (x, w, b) => linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D),
      (x, w, b) => linearRef(x, w, b, N, nIn, nOut),
    );
  });

  it('linear with more outputs than inputs (the other branch of the weight gradient)', async () => {
    const [N, nIn, nOut] = [6, 3, 7];
    await checkAgainstFormula(
      [input([N, nIn], 4), input([nOut, nIn], 5), input([nOut], 6)],
      (x, w, b) => linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D),
      (x, w, b) => linearRef(x, w, b, N, nIn, nOut),
    );
  });

  it('linearNoBias: y = x Wᵀ', async () => {
    const [N, nIn, nOut] = [4, 5, 6];
    await checkAgainstFormula(
      [input([N, nIn], 7), input([nOut, nIn], 8)],
      (x, w) => linearNoBias(x as tf.Tensor2D, w as tf.Tensor2D),
      (x, w) => linearRef(x, w, null, N, nIn, nOut),
    );
  });

  it('embedding: rows of the table, gradients summed over repeated ids', async () => {
    const [V, C] = [5, 3];
    const ids = [3, 0, 3, 4, 3, 1]; // 3 repeats, 2 never appears (its gradient row must be 0)
    const idsT = tf.tensor1d(ids, 'int32');
    await checkAgainstFormula(
      [input([V, C], 9)],
      (table) => embedding(idsT, table as tf.Tensor2D),
      (table) => Float64Array.from(ids.flatMap((id) => Array.from(table.subarray(id * C, id * C + C)))),
    );
    idsT.dispose();
  });

  it('layerNorm: PyTorch LayerNorm (biased variance, eps 1e-5)', async () => {
    const [N, C] = [4, 6];
    await checkAgainstFormula(
      [input([N, C], 10, 2), input([C], 11), input([C], 12)],
      (x, w, b) => layerNorm(x as tf.Tensor2D, w as tf.Tensor1D, b as tf.Tensor1D),
      (x, w, b) => layerNormRef(x, w, b, N, C),
    );
  });

  it('layerNorm of rows with a tiny spread (where eps matters)', async () => {
    const [N, C] = [3, 5];
    const x = input([N, C], 13, 1e-2);
    await checkAgainstFormula(
      [x, input([C], 14), input([C], 15)],
      (xs, w, b) => layerNorm(xs as tf.Tensor2D, w as tf.Tensor1D, b as tf.Tensor1D),
      (xs, w, b) => layerNormRef(xs, w, b, N, C),
    );
  });

  it('gelu: x·Φ(x) with the erf form, not the tanh approximation', async () => {
    const x = input([4, 5], 16, 4);
    await checkAgainstFormula([x], (t) => gelu(t), (t) => t.map(geluRef));
    // The tanh approximation differs from the erf form by ~1e-3 near |x| = 2: make sure it is not that.
    const at = tf.tensor1d([2]);
    const y = (await gelu(at).data())[0];
    expect(Math.abs(y - geluRef(2))).toBeLessThan(1e-6);
    at.dispose();
  });

  it('groupedMatMul matches the triple loop', async () => {
    for (const [M, K, G, N] of [[3, 4, 2, 5], [6, 6, 4, 3], [1, 7, 3, 1]]) {
      const a = randomArray(M * K * G, 17 + M);
      const b = randomArray(K * G * N, 18 + N);
      const out = groupedMatMul(tf.tensor3d(Float32Array.from(a), [M, K, G]), tf.tensor3d(Float32Array.from(b), [K, G, N]));
      expect(out.shape).toEqual([M, G, N]);
      expect(relativeError(await out.data(), groupedMatMulRef(a, b, M, K, G, N))).toBeLessThan(FORWARD_TOL);
      out.dispose();
    }
  });

  it('causalAttention: softmax(q kᵀ/√hs + causal mask) v per group', async () => {
    const [T, G, hs] = [5, 3, 4];
    await checkAgainstFormula(
      [input([T, G, hs], 19, 1.5), input([T, G, hs], 20, 1.5), input([T, G, hs], 21)],
      (q, k, v) => causalAttention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D),
      (q, k, v) => attentionRef(q, k, v, T, G, hs),
    );
  });

  it('causalAttention with a single position', async () => {
    const [T, G, hs] = [1, 2, 3];
    await checkAgainstFormula(
      [input([T, G, hs], 22), input([T, G, hs], 23), input([T, G, hs], 24)],
      (q, k, v) => causalAttention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D),
      (q, k, v) => attentionRef(q, k, v, T, G, hs),
    );
  });

  it('qkvAttention: the heads of the fused projection, time-major, through causal attention', async () => {
    // qkv [T·B, 3C]: row t·B + b, columns q | k | v, head h in columns h·hs … of each.
    const [T, B, nh, hs] = [4, 3, 2, 3];
    const C = nh * hs;
    const part = (x: ArrayLike<number>, which: number) => Float64Array.from({ length: T * B * C }, (_, i) => x[Math.floor(i / C) * 3 * C + which * C + (i % C)]);
    await checkAgainstFormula(
      [input([T * B, 3 * C], 25, 1.5)],
      (qkv) => qkvAttention(qkv as tf.Tensor2D, T, nh),
      (qkv) => attentionRef(part(qkv, 0), part(qkv, 1), part(qkv, 2), T, B * nh, hs),
    );
  });

  it('maskedCrossEntropy with a partial mask', async () => {
    const [N, V] = [6, 5];
    const targets = [0, 4, 2, 2, 1, 3];
    const mask = [1, 0, 1, 1, 0, 1];
    const targetsT = tf.tensor1d(targets, 'int32');
    const maskT = tf.tensor1d(mask);
    // The op returns a scalar; scaling it by 2.5 checks that the upstream gradient is used.
    await checkAgainstFormula(
      [input([N, V], 25, 3)],
      (logits) => tf.mul(maskedCrossEntropy(logits as tf.Tensor2D, targetsT, maskT), 2.5),
      (logits) => Float64Array.of(2.5 * crossEntropyRef(logits, targets, mask, N, V)),
    );
    tf.dispose([targetsT, maskT]);
  });

  it('maskedCrossEntropy of uniform logits is ln V', async () => {
    const loss = maskedCrossEntropy(tf.zeros([3, 7]) as tf.Tensor2D, tf.tensor1d([0, 3, 6], 'int32'), tf.ones([3]) as tf.Tensor1D);
    expect((await loss.data())[0]).toBeCloseTo(Math.log(7), 6);
  });

  it('maskedCrossEntropy with an all-zero mask is 0 with a zero gradient, not NaN', async () => {
    const logits = tf.tensor2d(Float32Array.from(randomArray(12, 26, 3)), [3, 4]);
    const targets = tf.tensor1d([1, 0, 3], 'int32');
    const mask = tf.zeros([3]) as tf.Tensor1D;
    const { value, grads } = tf.valueAndGrads((lg: tf.Tensor) => maskedCrossEntropy(lg as tf.Tensor2D, targets, mask))([logits]);
    expect((await value.data())[0]).toBe(0);
    expect(Array.from(await grads[0].data()).every((g) => g === 0)).toBe(true); // +0 or −0
    tf.dispose([logits, targets, mask, value, ...grads]);
  });
});
