/**
 * A transpose of a 2-D or 3-D tensor (reference: tf.transpose, which on wasm costs ~5–10 ns per
 * element at the step's shapes, more than the matmul it feeds when the matrix is tall).
 * x: shape s (rank 2 or 3), perm: a permutation of its axes → out with shape sₚₑᵣₘ:
 *   out[i₀, i₁, i₂] = x[index with axis perm[k] = iₖ]
 * Walks the output in order and the input with strides; 2-D goes in 32×32 tiles so both sides
 * stay in cache.
 */
import type { ArrayKernel } from '../array-kernel.ts';

export interface TransposeAttrs {
  perm: number[];
}

const TILE = 32;

export const transposeKernel: ArrayKernel<TransposeAttrs> = {
  name: 'LMLabTranspose',
  inputs: ['x'],
  outputShapes: ([x], { perm }) => [perm.map((p) => x[p])],
  run([x], [out], [shape], { perm }) {
    if (shape.length === 2) {
      const [R, C] = shape; // out: [C, R]
      for (let r0 = 0; r0 < R; r0 += TILE) {
        for (let c0 = 0; c0 < C; c0 += TILE) {
          const rEnd = Math.min(r0 + TILE, R);
          const cEnd = Math.min(c0 + TILE, C);
          for (let c = c0; c < cEnd; c++) for (let r = r0; r < rEnd; r++) out[c * R + r] = x[r * C + c];
        }
      }
      return;
    }
    const inStrides = [shape[1] * shape[2], shape[2], 1];
    const [d0, d1, d2] = perm.map((p) => shape[p]);
    const [s0, s1, s2] = perm.map((p) => inStrides[p]);
    let o = 0;
    for (let i = 0; i < d0; i++) {
      for (let j = 0; j < d1; j++) {
        let src = i * s0 + j * s1;
        for (let k = 0; k < d2; k++, src += s2) out[o++] = x[src];
      }
    }
  },
};
