/**
 * Masked softmax cross-entropy forward and backward on WebGPU; the contract and formula of
 * kernels/wasm/crossentropy.ts (reference: `maskedCrossEntropy` in model/ops.ts). logits: [N, V]:
 *   logZₙ = max + log Σᵥ exp(logitsₙᵥ − max)                      (one invocation per row)
 *   loss = Σₙ maskₙ·(logZₙ − logitsₙ[targetₙ]) / max(Σ mask, 1)     (one invocation; N is small)
 *   dlogitsₙᵥ = dloss·(exp(logitsₙᵥ − logZₙ) − [v = targetₙ])·maskₙ / max(Σ mask, 1)   (per element)
 */
import { runProgram, type WebGPUKernel } from './program.ts';

export const crossEntropyWebGPU: WebGPUKernel = {
  name: 'LMLabCrossEntropy',
  inputs: ['logits', 'targets', 'mask'],
  run(backend, [logits, targets, mask]) {
    const [N, V] = logits.shape;
    const logZ = runProgram(backend, {
      key: `ce_logz_${V}`, outputShape: [N], threads: N, inputs: [['L', logits]],
      body: `let o = index * ${V}; var m = L[o];
        for (var v = 1; v < ${V}; v++) { m = max(m, L[o + v]); }
        var s = 0.0; for (var v = 0; v < ${V}; v++) { s += exp(L[o + v] - m); }
        result[index] = m + log(s);`,
    });
    const loss = runProgram(backend, {
      key: `ce_loss_${N}_${V}`, outputShape: [], threads: 1, inputs: [['L', logits], ['T', targets], ['K', mask], ['Z', logZ]],
      body: `var total = 0.0; var count = 0.0;
        for (var n = 0; n < ${N}; n++) {
          count += K[n];
          let t = T[n];
          if (K[n] != 0.0 && t >= 0 && t < ${V}) { total += K[n] * (Z[n] - L[n * ${V} + t]); }
        }
        result[0] = total / max(count, 1.0);`,
    });
    return [loss, logZ];
  },
};

export const crossEntropyGradWebGPU: WebGPUKernel = {
  name: 'LMLabCrossEntropyGrad',
  inputs: ['dy', 'logits', 'targets', 'mask', 'logZ'],
  run(backend, [dy, logits, targets, mask, logZ]) {
    const [N, V] = logits.shape;
    // Σ mask once, not per element: a [1] tensor the gradient program reads.
    const count = runProgram(backend, {
      key: `ce_count_${N}`, outputShape: [1], threads: 1, inputs: [['K', mask]],
      body: `var s = 0.0; for (var n = 0; n < ${N}; n++) { s += K[n]; } result[0] = max(s, 1.0);`,
    });
    return [
      runProgram(backend, {
        key: `ce_grad_${V}`, outputShape: [N, V], threads: N * V, inputs: [['DY', dy], ['L', logits], ['T', targets], ['K', mask], ['Z', logZ], ['S', count]],
        body: `let n = index / ${V}; let v = index % ${V};
          let w = DY[0] * K[n] / S[0];
          result[index] = (exp(L[index] - Z[n]) - select(0.0, 1.0, T[n] == v)) * w;`,
      }),
    ];
  },
};
