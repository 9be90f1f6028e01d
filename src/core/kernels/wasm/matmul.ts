/**
 * Matrix products on the wasm backend by the project's SIMD module (../wasm-simd/gemm.ts, loaded
 * by simd.ts), which reads its operands through strides in the tfjs heap itself. Reference:
 * tf.matMul (with its transpose flags) and, for attention's grouped products, model/ops.ts's
 * groupedMatMul.
 *
 * For each group g = (g₁, g₂) of G₁ × G₂:
 *   C_g[m, n] = Σₖ A_g[m, k] · B_g[k, n]  (+ bias[n]),   m < M, n < N, k < K
 *   A_g[m, k] = a[a.offset + g₁·a.group[0] + g₂·a.group[1] + m·a.row + k·a.col]   (B alike)
 *   C_g[m, n] = out[g₁·c.group[0] + g₂·c.group[1] + m·c.row + n]
 * A plain product a [M, K] · b [K, N] is one group with rows K and N apart; a transposed operand
 * swaps its row and column strides. Any layout the caller can describe this way costs no
 * transpose kernel.
 *
 * Why not tfjs's matMul: on wasm it reaches XNNPACK only untransposed and unbatched, and XNNPACK
 * packs the right-hand matrix anew for every new tensor (every product of a step), which at the
 * step's shapes costs as much as the multiply (measured: docs/results/speed.md, "The kernels' own
 * choices").
 */
import * as tf from '@tensorflow/tfjs';
import { heapOf, simdFor, type WasmModuleLike } from './simd.ts';

export interface OperandLayout {
  /** Where the operand starts in its tensor, in elements. */
  offset?: number;
  /** Strides of the two group indices, in elements. */
  group: [number, number];
  row: number;
  col: number;
}

export interface MatMulAttrs {
  groups: [number, number];
  M: number;
  N: number;
  K: number;
  a: OperandLayout;
  b: OperandLayout;
  /** The output's group and row strides (its columns are contiguous). */
  c: { group: [number, number]; row: number };
  outShape: number[];
}

export const MATMUL_KERNEL = 'LMLabMatMul';

interface WasmBackendLike {
  wasm: WasmModuleLike;
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}

/** The largest element index an operand's layout reaches (every stride is ≥ 0). */
function lastIndex(l: OperandLayout, groups: [number, number], rows: number, cols: number): number {
  return (l.offset ?? 0) + (groups[0] - 1) * l.group[0] + (groups[1] - 1) * l.group[1] + (rows - 1) * l.row + (cols - 1) * l.col;
}

/**
 * The checks that keep a wrong layout from reading or writing outside its tensor: the module
 * works on raw heap addresses, where an overrun would corrupt other tensors silently.
 */
function checkLayout(attrs: MatMulAttrs, aSize: number, bSize: number, biasSize: number | undefined): void {
  const { groups, M, N, K, a, b, c } = attrs;
  const strides = [a.offset ?? 0, b.offset ?? 0, ...a.group, a.row, a.col, ...b.group, b.row, b.col, ...c.group, c.row];
  if (![...groups, M, N, K].every((d) => Number.isInteger(d) && d >= 1) || !strides.every((s) => Number.isInteger(s) && s >= 0)) {
    throw new Error(`${MATMUL_KERNEL}: dimensions must be positive and strides non-negative integers (${JSON.stringify(attrs)})`);
  }
  const outSize = attrs.outShape.reduce((p, d) => p * d, 1);
  const cLast = (groups[0] - 1) * c.group[0] + (groups[1] - 1) * c.group[1] + (M - 1) * c.row + N - 1;
  if (lastIndex(a, groups, M, K) >= aSize || lastIndex(b, groups, K, N) >= bSize || cLast >= outSize) {
    throw new Error(`${MATMUL_KERNEL}: the layout reaches outside its tensors (a ${aSize}, b ${bSize}, out ${outSize} elements)`);
  }
  if (outSize !== groups[0] * groups[1] * M * N) throw new Error(`${MATMUL_KERNEL}: the products fill ${groups[0] * groups[1] * M * N} of the output's ${outSize} elements`);
  if (biasSize !== undefined && biasSize !== N) throw new Error(`${MATMUL_KERNEL}: bias has ${biasSize} elements for ${N} columns`);
}

/** Registers the kernel for the wasm backend (inputs a, b and optionally bias). */
export function registerMatMulKernel(): void {
  if (tf.getKernel(MATMUL_KERNEL, 'wasm')) return;
  tf.registerKernel({
    kernelName: MATMUL_KERNEL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const be = backend as unknown as WasmBackendLike;
      const at = attrs as unknown as MatMulAttrs;
      const { a, b, bias } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo };
      const size = (t: tf.TensorInfo) => t.shape.reduce((p, d) => p * d, 1);
      checkLayout(at, size(a), size(b), bias && size(bias));
      const out = be.makeOutput(at.outShape, 'float32'); // allocate first: it may grow the heap
      const ptr = (t: tf.TensorInfo) => be.typedArrayFromHeap(t).byteOffset;
      const { groups, M, N, K, a: la, b: lb, c: lc } = at;
      const module = simdFor(heapOf(be.wasm));
      const scratch = be.wasm._malloc(module.scratchBytes(N, K)); // the packed panels
      try {
        module.gemm(
          groups[0], groups[1], M, N, K,
          ptr(a) + 4 * (la.offset ?? 0), la.group[0], la.group[1], la.row, la.col,
          ptr(b) + 4 * (lb.offset ?? 0), lb.group[0], lb.group[1], lb.row, lb.col,
          ptr(out), lc.group[0], lc.group[1], lc.row,
          bias ? ptr(bias) : 0, scratch,
        );
      } finally {
        be.wasm._free(scratch);
      }
      return out;
    },
  });
}

/**
 * The layout of a plain 2-D product op(a) · op(b), with op a transpose where asked:
 * a is [M, K] (or [K, M] transposed), b is [K, N] (or [N, K]).
 */
export function plainLayout(aShape: number[], bShape: number[], transposeA = false, transposeB = false): MatMulAttrs {
  const [M, K] = transposeA ? [aShape[1], aShape[0]] : aShape;
  const N = transposeB ? bShape[0] : bShape[1];
  return {
    groups: [1, 1],
    M,
    N,
    K,
    a: transposeA ? { group: [0, 0], row: 1, col: M } : { group: [0, 0], row: K, col: 1 },
    b: transposeB ? { group: [0, 0], row: 1, col: K } : { group: [0, 0], row: N, col: 1 },
    c: { group: [0, 0], row: N },
    outShape: [M, N],
  };
}
