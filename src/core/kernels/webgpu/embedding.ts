/**
 * Embedding lookup and its scatter-add gradient on WebGPU; the contract and formula of
 * kernels/wasm/embedding.ts (reference: `embedding` in model/ops.ts). ids: int32 [N], table: [V, C]:
 *   out[n, c] = table[idsₙ, c]                      (per output element)
 *   dtable[v, c] = Σ_{n: idsₙ = v} dy[n, c]         (per table element, a loop over the N ids: no atomics on floats)
 */
import { runProgram, type WebGPUKernel } from './program.ts';

export const embeddingWebGPU: WebGPUKernel = {
  name: 'LMLabEmbedding',
  inputs: ['ids', 'table'],
  run(backend, [ids, table]) {
    const [N] = ids.shape;
    const [V, C] = table.shape;
    return [
      runProgram(backend, {
        key: `emb_${V}_${C}`, outputShape: [N, C], threads: N * C, inputs: [['I', ids], ['E', table]],
        body: `let n = index / ${C}; let c = index % ${C}; let id = I[n];
          result[index] = select(0.0, E[id * ${C} + c], id >= 0 && id < ${V});`,
      }),
    ];
  },
};

export const embeddingGradWebGPU: WebGPUKernel<{ vocabSize: number }> = {
  name: 'LMLabEmbeddingGrad',
  inputs: ['ids', 'dy'],
  run(backend, [ids, dy], { vocabSize: V }) {
    const [N, C] = dy.shape;
    return [
      runProgram(backend, {
        key: `emb_grad_${N}_${C}`, outputShape: [V, C], threads: V * C, inputs: [['I', ids], ['DY', dy]],
        body: `let v = index / ${C}; let c = index % ${C}; var s = 0.0;
          for (var n = 0; n < ${N}; n++) { if (I[n] == v) { s += DY[n * ${C} + c]; } }
          result[index] = s;`,
      }),
    ];
  },
};
