/**
 * The few operations the GPT is made of, each with its gradient written out.
 *
 * Why not let tfjs differentiate them: its automatic gradients of matMul use the transposeA /
 * transposeB flags, and on the wasm backend only an untransposed, unbatched matMul reaches
 * XNNPACK; a transposed one runs a naive loop about ten times slower (measured:
 * docs/results/speed.md). The reference backward passes below transpose explicitly (a copy)
 * and then multiply plainly; on wasm every product goes instead through the project's strided
 * matmul (kernels/wasm/matmul.ts, WebAssembly SIMD), which reads a transposed operand, or one
 * head inside the fused q | k | v projection, where it lies. The hand-written LayerNorm, GELU and
 * cross-entropy gradients also use fewer kernels than the automatic ones, and every kernel costs
 * a dispatch.
 *
 * Where the active backend has the project's own kernel for an operation (core/kernels/: wasm
 * loops over heap views and SIMD products, WebGPU programs), the operation runs that one kernel
 * forward and one backward; the tfjs ops written here stay as the reference and as the path of every other backend
 * (cpu, and all of them with `setFusedKernels(false)`). Every function here is
 * checked against finite differences in tests/ops.test.ts, and each fused kernel against its
 * reference in tests/kernels.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { fusedAvailable, runFused } from '../kernels/array-kernel.ts';
import '../kernels/register.ts';
import { crossEntropyGradKernel, crossEntropyKernel } from '../kernels/wasm/crossentropy.ts';
import { embeddingGradKernel, embeddingKernel } from '../kernels/wasm/embedding.ts';
import { geluSlopeKernel } from '../kernels/wasm/gelu.ts';
import { layerNormGradKernel, layerNormKernel } from '../kernels/wasm/layernorm.ts';
import { MATMUL_KERNEL, plainLayout, type MatMulAttrs, type OperandLayout } from '../kernels/wasm/matmul.ts';

type Save = tf.GradSaveFunc;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ForwardWithGradient = (...args: any[]) => { value: tf.Tensor; gradFunc: (dy: any, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[] };

/** tf.customGrad with the signature of the operation it defines (tfjs does not export its own type). */
function withGradient<Op>(forward: ForwardWithGradient): Op {
  return tf.customGrad(forward as never) as unknown as Op;
}

const MATMUL = { name: MATMUL_KERNEL, inputs: ['a', 'b', 'bias'] };

/** Whether products go through the project's strided matmul kernel (wasm: kernels/wasm/matmul.ts). */
const stridedProducts = () => fusedAvailable(MATMUL_KERNEL);

/** The strided kernel's product of a and b laid out as `layout` says (kernels/wasm/matmul.ts), plus bias. */
function stridedMatMul(a: tf.Tensor, b: tf.Tensor, layout: MatMulAttrs, bias?: tf.Tensor1D): tf.Tensor {
  return runFused(MATMUL, bias ? [a, b, bias] : [a, b], layout as never)[0];
}

/** a · b for 2-D tensors as the engine multiplies them: by the strided kernel where the backend has it. */
export function matMul(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return stridedProducts() ? plainMatMul(a, b, false, false) : tf.matMul(a, b);
}

/** op(a) · op(b) (+ bias) for 2-D tensors, op a transpose where asked, by the strided kernel. */
function plainMatMul(a: tf.Tensor2D, b: tf.Tensor2D, transposeA: boolean, transposeB: boolean, bias?: tf.Tensor1D): tf.Tensor2D {
  return stridedMatMul(a, b, plainLayout(a.shape, b.shape, transposeA, transposeB), bias) as tf.Tensor2D;
}

/**
 * dW = dyᵀ x and db = Σ dy for a Linear layer, x: [N, in], dy: [N, out].
 * Both operands are tall (N rows), so one must be transposed; transpose the narrower one, since a
 * wasm transpose of a wide matrix is several times slower per element than of a narrow one.
 * The bias gradient is a matmul with a column (or row) of ones, arranged so that XNNPACK reuses
 * the packed operand of the dW product instead of packing dy a second time.
 */
function linearGradients(dy: tf.Tensor2D, x: tf.Tensor2D): [tf.Tensor2D, tf.Tensor1D] {
  const [N, out] = dy.shape;
  if (out <= x.shape[1]) {
    const dyT = tf.transpose(dy); // [out, N]
    return [tf.matMul(dyT, x), tf.matMul(dyT, tf.ones([N, 1])).reshape([out]) as tf.Tensor1D];
  }
  const dW = tf.transpose(tf.matMul(tf.transpose(x), dy)) as tf.Tensor2D; // ([in, N] @ [N, out])ᵀ
  return [dW, columnSum(dy)];
}

/** Σ over rows, x: [N, K] → [K], as a matmul with a row of ones: a column sum on wasm transposes first. */
export function columnSum(x: tf.Tensor2D): tf.Tensor1D {
  return tf.matMul(tf.ones([1, x.shape[0]]), x).reshape([x.shape[1]]) as tf.Tensor1D;
}

/** y = x Wᵀ + b, with W in PyTorch's [out, in] layout. x: [N, in] → [N, out]. */
export const linear = withGradient<(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D>((x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, save: Save) => {
  save([x, w]);
  if (stridedProducts()) {
    // W is read transposed in place, and dyᵀ likewise in the backward pass: no transposes at all.
    return {
      value: plainMatMul(x, w, false, true, b),
      gradFunc: (dy: tf.Tensor2D, [xs, ws]: tf.Tensor[]) => [
        plainMatMul(dy, ws as tf.Tensor2D, false, false), // dx = dy W
        plainMatMul(dy, xs as tf.Tensor2D, true, false), // dW = dyᵀ x
        plainMatMul(tf.ones([1, dy.shape[0]]), dy, false, false).reshape([dy.shape[1]]), // db = 1ᵀ dy
      ],
    };
  }
  const value = tf.fused.matMul({ a: x, b: tf.transpose(w), bias: b });
  return {
    value,
    gradFunc: (dy: tf.Tensor2D, [xs, ws]: tf.Tensor[]) => [
      tf.matMul(dy, ws), // dx = dy W: [N, out] @ [out, in]
      ...linearGradients(dy, xs as tf.Tensor2D),
    ],
  };
});

/** y = x Wᵀ without bias: the tied LM head, logits = h · wteᵀ. */
export const linearNoBias = withGradient<(x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D>((x: tf.Tensor2D, w: tf.Tensor2D, save: Save) => {
  save([x, w]);
  if (stridedProducts()) {
    return {
      value: plainMatMul(x, w, false, true),
      gradFunc: (dy: tf.Tensor2D, [xs, ws]: tf.Tensor[]) => [plainMatMul(dy, ws as tf.Tensor2D, false, false), plainMatMul(dy, xs as tf.Tensor2D, true, false)],
    };
  }
  return {
    value: tf.matMul(x, tf.transpose(w)),
    gradFunc: (dy: tf.Tensor2D, [xs, ws]: tf.Tensor[]) => [tf.matMul(dy, ws), linearGradients(dy, xs as tf.Tensor2D)[0]],
  };
});

/**
 * Rows of the embedding table for each token id: table[ids]. ids: int32 [N], table: [V, C] → [N, C].
 * Computed as one-hot(ids) · table, and the gradient as one-hot(ids)ᵀ · dy: plain matmuls, because
 * the wasm backend has no kernel for gather's gradient (UnsortedSegmentSum) and its gather is
 * slower than this small matmul. The one-hot is built in int32 and cast: wasm's float32 oneHot
 * returns 1.4e-45 for 1.
 */
export function embedding(ids: tf.Tensor1D, table: tf.Tensor2D): tf.Tensor2D {
  const V = table.shape[0];
  if (fusedAvailable(embeddingKernel.name)) {
    const lookup = withGradient<(t: tf.Tensor2D) => tf.Tensor2D>((t: tf.Tensor2D, save: Save) => {
      save([ids]);
      return {
        value: runFused(embeddingKernel, [ids, t])[0],
        gradFunc: (dy: tf.Tensor2D, [i]: tf.Tensor[]) => runFused(embeddingGradKernel, [i, dy], { vocabSize: V }),
      };
    });
    return lookup(table);
  }
  const oneHot = tf.cast(tf.oneHot(ids, V), 'float32') as tf.Tensor2D; // [N, V]
  const lookup = withGradient<(t: tf.Tensor2D) => tf.Tensor2D>((t: tf.Tensor2D, save: Save) => {
    save([oneHot]);
    return {
      value: tf.matMul(oneHot, t),
      gradFunc: (dy: tf.Tensor2D, [oh]: tf.Tensor[]) => [tf.matMul(tf.transpose(oh), dy)], // [V, N] @ [N, C]
    };
  });
  return lookup(table);
}

/**
 * LayerNorm over the last axis (PyTorch's, eps 1e-5, biased variance). x: [N, C].
 * Backward, with x̂ the normalised input and g = dy·w:
 *   dx = (g − mean(g) − x̂·mean(g·x̂)) / σ,   dw = Σ dy·x̂,   db = Σ dy.
 */
export function layerNorm(x: tf.Tensor2D, w: tf.Tensor1D, b: tf.Tensor1D): tf.Tensor2D {
  return fusedAvailable(layerNormKernel.name) ? layerNormFused(x, w, b) : layerNormReference(x, w, b);
}

/** The same LayerNorm as one kernel each way (kernels/wasm/layernorm.ts, kernels/webgpu/layernorm.ts). */
const layerNormFused = withGradient<(x: tf.Tensor2D, w: tf.Tensor1D, b: tf.Tensor1D) => tf.Tensor2D>((x: tf.Tensor2D, w: tf.Tensor1D, b: tf.Tensor1D, save: Save) => {
  const [y, mean, rstd] = runFused(layerNormKernel, [x, w, b]);
  save([x, w, mean, rstd]);
  return { value: y, gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => runFused(layerNormGradKernel, [dy, ...saved]) };
});

const layerNormReference = withGradient<(x: tf.Tensor2D, w: tf.Tensor1D, b: tf.Tensor1D) => tf.Tensor2D>((x: tf.Tensor2D, w: tf.Tensor1D, b: tf.Tensor1D, save: Save) => {
  const { mean, variance } = tf.moments(x, -1, true);
  const rstd = tf.rsqrt(tf.add(variance, 1e-5)); // [N, 1]
  const xhat = tf.mul(tf.sub(x, mean), rstd);
  save([xhat, rstd, w]);
  return {
    value: tf.add(tf.mul(xhat, w), b),
    gradFunc: (dy: tf.Tensor2D, [xh, rs, ws]: tf.Tensor[]) => {
      const g = tf.mul(dy, ws);
      const dx = tf.mul(tf.sub(tf.sub(g, tf.mean(g, -1, true)), tf.mul(xh, tf.mean(tf.mul(g, xh), -1, true))), rs);
      const C = dy.shape[1];
      const sums = columnSum(tf.concat([tf.mul(dy, xh), dy], 1) as tf.Tensor2D); // [2C]: one packed operand, not two
      return [dx, tf.slice(sums, 0, C), tf.slice(sums, C, C)];
    },
  };
});

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * Exact GELU, x·Φ(x) with Φ(x) = ½(1 + erf(x/√2)) (PyTorch's nn.GELU() default, not the tanh form).
 * d/dx = Φ(x) + x·φ(x), φ(x) = exp(−x²/2)/√(2π); Φ is saved from the forward pass.
 */
export function gelu<T extends tf.Tensor>(x: T): T {
  if (fusedAvailable(geluSlopeKernel.name)) return geluWithSlope(x);
  return fusedAvailable(GELU_WEBGPU.name) ? geluFused(x) : geluReference(x);
}

/** wasm: y and its slope in one pass (kernels/wasm/gelu.ts); the backward pass is dy · slope. */
const geluWithSlope = withGradient<<T extends tf.Tensor>(x: T) => T>((x: tf.Tensor, save: Save) => {
  const [y, slope] = runFused(geluSlopeKernel, [x]);
  save([slope]);
  return { value: y, gradFunc: (dy: tf.Tensor, [s]: tf.Tensor[]) => tf.mul(dy, s) };
});

/** WebGPU: one program each way (kernels/webgpu/gelu.ts); a program has one output, so backward recomputes Φ. */
const GELU_WEBGPU = { name: 'LMLabGelu', inputs: ['x'] };
const GELU_GRAD_WEBGPU = { name: 'LMLabGeluGrad', inputs: ['x', 'dy'] };
const geluFused = withGradient<<T extends tf.Tensor>(x: T) => T>((x: tf.Tensor, save: Save) => {
  save([x]);
  return { value: runFused(GELU_WEBGPU, [x])[0], gradFunc: (dy: tf.Tensor, [xs]: tf.Tensor[]) => runFused(GELU_GRAD_WEBGPU, [xs, dy]) };
});

const geluReference = withGradient<<T extends tf.Tensor>(x: T) => T>((x: tf.Tensor, save: Save) => {
  const cdf = tf.mul(tf.add(tf.erf(tf.mul(x, SQRT1_2)), 1), 0.5);
  save([x, cdf]);
  return {
    value: tf.mul(x, cdf),
    gradFunc: (dy: tf.Tensor, [xs, c]: tf.Tensor[]) => {
      const pdf = tf.mul(tf.exp(tf.mul(tf.square(xs), -0.5)), INV_SQRT_2PI);
      return [tf.mul(dy, tf.add(c, tf.mul(xs, pdf)))];
    },
  };
});

/**
 * Batched matmul over groups kept in the middle axis: out[m, g, n] = Σₖ a[m, k, g] · b[k, g, n].
 * a: [M, K, G], b: [K, G, N] → [M, G, N].
 *
 * Why this layout: on wasm a batched tf.matMul never reaches XNNPACK (it runs a naive loop at
 * ~1 GFLOP/s), but a depthwise convolution does, and one with a 1×K filter and channel multiplier
 * N is exactly this product, with the groups as channels. Elsewhere (WebGPU, cpu) a batched
 * matMul is the natural kernel, so the same contract is met with transposes around it.
 */
export function groupedMatMul(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  const [M, K, G] = a.shape;
  const N = b.shape[2];
  if (stridedProducts()) {
    const layout: MatMulAttrs = { groups: [1, G], M, N, K, a: { group: [0, 1], row: K * G, col: G }, b: { group: [0, N], row: G * N, col: 1 }, c: { group: [0, N], row: G * N }, outShape: [M, G, N] };
    return stridedMatMul(a, b, layout) as tf.Tensor3D;
  }
  if (tf.getBackend() === 'wasm') {
    const out = tf.depthwiseConv2d(a.reshape([1, M, K, G]) as tf.Tensor4D, b.reshape([1, K, G, N]) as tf.Tensor4D, 1, 'valid'); // [1, M, 1, G·N]
    return out.reshape([M, G, N]);
  }
  const product = tf.matMul(tf.transpose(a, [2, 0, 1]), tf.transpose(b, [1, 0, 2])); // [G, M, N]
  return tf.transpose(product, [1, 0, 2]) as tf.Tensor3D;
}

/**
 * Causal self-attention on split heads, time-major. q, k, v: [T, G, hs] with G = B·nh → [T, G, hs].
 *   S = q kᵀ / √hs + mask,  P = softmax(S),  y = P v        (per group g)
 * Backward (P saved):
 *   dv = Pᵀ dy,  dP = dy vᵀ,  dS = P ⊙ (dP − rowsum(dP ⊙ P)) / √hs,  dq = dS k,  dk = dSᵀ q
 * Scores and probabilities are kept as [Tᵢ, G, Tⱼ] so softmax runs over the last axis; each
 * product is a groupedMatMul, with the transposes it needs written next to it.
 * Masked entries get −1e9 rather than −∞, so no row can ever produce NaN.
 */
export const causalAttention = withGradient<(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D) => tf.Tensor3D>((q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, save: Save) => {
  const [T, , hs] = q.shape;
  const scale = 1 / Math.sqrt(hs);
  const qT = tf.transpose(q, [0, 2, 1]); // [Tᵢ, hs, G]
  const kT = tf.transpose(k, [2, 1, 0]); // [hs, G, Tⱼ]
  const scores = tf.add(tf.mul(groupedMatMul(qT, kT), scale), causalMask(T)); // [Tᵢ, G, Tⱼ]
  const probs = tf.softmax(scores) as tf.Tensor3D;
  save([q, k, v, probs]);
  return {
    value: groupedMatMul(tf.transpose(probs, [0, 2, 1]), v), // [Tᵢ, Tⱼ, G] · [Tⱼ, G, hs] → [Tᵢ, G, hs]
    gradFunc: (dy: tf.Tensor3D, [qs, ks, vs, p]: tf.Tensor[]) => {
      // dv and dk are computed transposed (dvᵀ = dyᵀ P, dkᵀ = qᵀ dS) so that P and dS, the large
      // [T, G, T] tensors, enter as they are and only the small [T, G, hs] ones are transposed.
      const dvT = groupedMatMul(tf.transpose(dy, [2, 0, 1]), p as tf.Tensor3D); // [hs, Tᵢ, G] · [Tᵢ, G, Tⱼ] → [hs, G, Tⱼ]
      const dp = groupedMatMul(tf.transpose(dy, [0, 2, 1]), tf.transpose(vs, [2, 1, 0]) as tf.Tensor3D); // [Tᵢ, G, Tⱼ]
      const ds = tf.mul(tf.mul(p, tf.sub(dp, tf.sum(tf.mul(dp, p), -1, true))), scale) as tf.Tensor3D;
      const dq = groupedMatMul(tf.transpose(ds, [0, 2, 1]), ks as tf.Tensor3D); // [Tᵢ, Tⱼ, G] · [Tⱼ, G, hs]
      const dkT = groupedMatMul(tf.transpose(qs, [2, 0, 1]) as tf.Tensor3D, ds); // [hs, Tᵢ, G] · [Tᵢ, G, Tⱼ] → [hs, G, Tⱼ]
      return [dq, tf.transpose(dkT, [2, 1, 0]), tf.transpose(dvT, [2, 1, 0])];
    },
  };
});

/**
 * Causal self-attention from the fused projection: qkv [N, 3C] (time-major rows, N = T·B,
 * columns q | k | v) → y [N, C], the heads side by side again. Where the backend has the project's
 * kernel (WebGPU: kernels/webgpu/attention.ts) it reads q, k and v in place, 2 dispatches forward
 * and 1 backward; elsewhere the split heads go through `causalAttention`, its reference.
 */
export function qkvAttention(qkv: tf.Tensor2D, T: number, nh: number): tf.Tensor2D {
  if (fusedAvailable(ATTENTION.name)) return fusedAttention(qkv, T, nh);
  if (stridedProducts()) return stridedAttention(qkv, T, nh);
  const [N, C3] = qkv.shape;
  const [q, k, v] = tf.split(qkv, 3, 1).map((t) => t.reshape([T, (N / T) * nh, C3 / 3 / nh]) as tf.Tensor3D); // each [T, B·nh, hs]
  return causalAttention(q, k, v).reshape([N, C3 / 3]) as tf.Tensor2D;
}

/**
 * `causalAttention` on the strided matmul kernel (wasm): its six products read q, k and v where
 * they lie in qkv and write y and the gradients straight into [N, C], so neither the split of
 * qkv nor any transpose runs. Heads are groups g = (b, h):
 *   in qkv [T·B, 3C], head (b, h) of q starts at b·3C + h·hs (k at +C, v at +2C), rows B·3C apart;
 *   in y, dy, dq, dk, dv [T·B, C] it starts at b·C + h·hs, rows B·C apart;
 *   in S, P, dP, dS [Tᵢ, B·nh, Tⱼ] it starts at (b·nh + h)·T, rows B·nh·T apart.
 * A transposed operand is the same layout with its row and column strides swapped.
 */
function stridedAttention(qkv: tf.Tensor2D, T: number, nh: number): tf.Tensor2D {
  const [N, C3] = qkv.shape;
  const C = C3 / 3;
  const B = N / T;
  const hs = C / nh;
  const scale = 1 / Math.sqrt(hs);
  const strided = (row: number, col: number, transposed: boolean) => (transposed ? { row: col, col: row } : { row, col });
  const inQkv = (part: number, transposed = false): OperandLayout => ({ offset: part * C, group: [C3, hs], ...strided(B * C3, 1, transposed) });
  const inHeads = (transposed = false): OperandLayout => ({ group: [C, hs], ...strided(B * C, 1, transposed) });
  const inScores = (transposed = false): OperandLayout => ({ group: [nh * T, T], ...strided(B * nh * T, 1, transposed) });
  const toHeads = { c: { group: [C, hs] as [number, number], row: B * C }, outShape: [N, C] };
  const toScores = { c: { group: [nh * T, T] as [number, number], row: B * nh * T }, outShape: [T, B * nh, T] };
  const product = (a: tf.Tensor, la: OperandLayout, b: tf.Tensor, lb: OperandLayout, M: number, K: number, Nc: number, to: typeof toHeads) =>
    stridedMatMul(a, b, { groups: [B, nh], M, N: Nc, K, a: la, b: lb, ...to });
  const [Q, K_, V] = [0, 1, 2];
  const f = withGradient<(x: tf.Tensor2D) => tf.Tensor2D>((x: tf.Tensor2D, save: Save) => {
    const scores = tf.add(tf.mul(product(x, inQkv(Q), x, inQkv(K_, true), T, hs, T, toScores), scale), causalMask(T)); // S = q kᵀ
    const probs = tf.softmax(scores);
    save([x, probs]);
    return {
      value: product(probs, inScores(), x, inQkv(V), T, T, hs, toHeads) as tf.Tensor2D, // y = P v
      gradFunc: (dy: tf.Tensor2D, [xs, p]: tf.Tensor[]) => {
        const dv = product(p, inScores(true), dy, inHeads(), T, T, hs, toHeads); // dv = Pᵀ dy
        const dp = product(dy, inHeads(), xs, inQkv(V, true), T, hs, T, toScores); // dP = dy vᵀ
        const ds = tf.mul(tf.mul(p, tf.sub(dp, tf.sum(tf.mul(dp, p), -1, true))), scale);
        const dq = product(ds, inScores(), xs, inQkv(K_), T, T, hs, toHeads); // dq = dS k
        const dk = product(ds, inScores(true), xs, inQkv(Q), T, T, hs, toHeads); // dk = dSᵀ q
        return [tf.concat([dq, dk, dv], 1)];
      },
    };
  });
  return f(qkv);
}

const ATTENTION = { name: 'LMLabAttention', inputs: ['qkv'] };
const ATTENTION_GRAD = { name: 'LMLabAttentionGrad', inputs: ['dy', 'qkv', 'y', 'lse'] };
function fusedAttention(qkv: tf.Tensor2D, T: number, nh: number): tf.Tensor2D {
  const attrs = { T, nh };
  const f = withGradient<(x: tf.Tensor2D) => tf.Tensor2D>((x: tf.Tensor2D, save: Save) => {
    const [y, lse] = runFused(ATTENTION, [x], attrs);
    save([x, y, lse]);
    return { value: y, gradFunc: (dy: tf.Tensor2D, [xs, ys, l]: tf.Tensor[]) => runFused(ATTENTION_GRAD, [dy, xs, ys, l], attrs) };
  });
  return f(qkv);
}

const maskCache = new Map<string, tf.Tensor3D>();
/** [Tᵢ, 1, Tⱼ] additive mask, 0 where j ≤ i, −1e9 above the diagonal; kept for the life of the backend. */
function causalMask(T: number): tf.Tensor3D {
  const key = `${tf.getBackend()}:${T}`;
  let m = maskCache.get(key);
  if (!m || m.isDisposed) {
    const values = new Float32Array(T * T);
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) values[i * T + j] = -1e9;
    m = tf.keep(tf.tensor3d(values, [T, 1, T]));
    maskCache.set(key, m);
  }
  return m;
}

/**
 * Mean cross-entropy over the positions where mask is 1:
 *   loss = Σᵢ maskᵢ · (logsumexp(logitsᵢ) − logitsᵢ[targetᵢ]) / Σᵢ maskᵢ
 * logits: [N, V], targets: int32 [N], mask: float32 [N] (all ones for pretraining, the assistant
 * tokens for SFT). Gradient: (softmax(logits) − onehot(target)) · maskᵢ / Σ mask. The one-hot is
 * built in int32 and cast (see embedding). A mask of all zeros gives loss 0, not NaN.
 */
export function maskedCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D, mask: tf.Tensor1D): tf.Scalar {
  const V = logits.shape[1];
  if (fusedAvailable(crossEntropyKernel.name)) {
    // One kernel each way (kernels/wasm/crossentropy.ts).
    const fused = withGradient<(lg: tf.Tensor2D) => tf.Scalar>((lg: tf.Tensor2D, save: Save) => {
      const [loss, logZ] = runFused(crossEntropyKernel, [lg, targets, mask]);
      save([lg, targets, mask, logZ]);
      return { value: loss, gradFunc: (dy: tf.Scalar, saved: tf.Tensor[]) => runFused(crossEntropyGradKernel, [dy, ...saved]) };
    });
    return fused(logits);
  }
  const f = withGradient<(lg: tf.Tensor2D) => tf.Scalar>((lg: tf.Tensor2D, save: Save) => {
    const oneHot = tf.cast(tf.oneHot(targets, V), 'float32');
    const logProbs = tf.logSoftmax(lg);
    const nll = tf.neg(tf.sum(tf.mul(logProbs, oneHot), -1)); // [N]
    const weights = tf.div(mask, tf.maximum(tf.sum(mask), 1)); // [N]
    save([logProbs, oneHot, weights]);
    return {
      value: tf.sum(tf.mul(nll, weights)),
      gradFunc: (dy: tf.Scalar, [lp, oh, w]: tf.Tensor[]) =>
        tf.mul(tf.sub(tf.exp(lp), oh), tf.mul(tf.expandDims(w, 1), dy)),
    };
  });
  return f(logits);
}

/** Per-position log-probability of the target token, log p(targetᵢ | context): [N]. No gradient needed. */
export function targetLogProbs(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => tf.sum(tf.mul(tf.logSoftmax(logits), tf.cast(tf.oneHot(targets, logits.shape[1]), 'float32')), -1));
}
