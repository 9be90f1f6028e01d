/**
 * Embedding lookup and its gradient, as a gather and a scatter-add (reference: `embedding` in
 * model/ops.ts, one-hot(ids)·table and one-hot(ids)ᵀ·dy, because wasm has no UnsortedSegmentSum).
 * ids: int32 [N], table: [V, C], dy: [N, C]:
 *   forward   out[n, :] = table[idsₙ, :]
 *   backward  dtable[v, :] = Σ_{n: idsₙ = v} dy[n, :]
 * An id outside [0, V) gives a zero row and no gradient, as the reference's zero one-hot row.
 */
import type { ArrayKernel } from '../array-kernel.ts';

/** inputs: ids int32 [N], table [V, C] → [N, C]. */
export const embeddingKernel: ArrayKernel = {
  name: 'LMLabEmbedding',
  inputs: ['ids', 'table'],
  outputShapes: ([ids, table]) => [[ids[0], table[1]]],
  run([ids, table], [out], [, [V, C]]) {
    for (let n = 0; n < ids.length; n++) {
      const id = ids[n];
      if (id >= 0 && id < V) out.set(table.subarray(id * C, id * C + C), n * C);
    }
  },
};

export interface EmbeddingGradAttrs {
  vocabSize: number;
}

/** inputs: ids int32 [N], dy [N, C] → dtable [V, C]. */
export const embeddingGradKernel: ArrayKernel<EmbeddingGradAttrs> = {
  name: 'LMLabEmbeddingGrad',
  inputs: ['ids', 'dy'],
  outputShapes: ([, dy], { vocabSize }) => [[vocabSize, dy[1]]],
  run([ids, dy], [dtable], [, [, C]], { vocabSize: V }) {
    for (let n = 0; n < ids.length; n++) {
      const id = ids[n];
      if (id < 0 || id >= V) continue;
      const o = id * C;
      const d = n * C;
      for (let c = 0; c < C; c++) dtable[o + c] += dy[d + c];
    }
  },
};
