/**
 * Causal self-attention forward and backward on WebGPU, read straight from the fused projection
 * (reference: `qkvAttention` in model/ops.ts, a split and `causalAttention`: ~20 dispatches forward
 * and ~30 backward a layer). Rows are time-major (row t·B + b is position t of sequence b):
 *   qkv: [N, 3C], N = T·B, columns q | k | v, head h in columns h·hs … h·hs + hs − 1 of each
 *   forward   Lᵢ = log Σ_{j≤i} exp(sᵢⱼ),  sᵢⱼ = qᵢ·kⱼ/√hs           (per row i and head: lse [T, B·nh])
 *             yᵢ = Σ_{j≤i} exp(sᵢⱼ − Lᵢ) vⱼ                           (per row and head: y [N, C])
 *   backward  pᵢⱼ = exp(sᵢⱼ − Lᵢ),  Dᵢ = dyᵢ·yᵢ,  dsᵢⱼ = pᵢⱼ (dyᵢ·vⱼ − Dᵢ)
 *             dqᵢ = Σ_{j≤i} dsᵢⱼ kⱼ/√hs,  dkⱼ = Σ_{i≥j} dsᵢⱼ qᵢ/√hs,  dvⱼ = Σ_{i≥j} pᵢⱼ dyᵢ
 * The probabilities are recomputed from q, k and the saved log-normaliser L instead of being kept
 * (FlashAttention's trick: Dao et al. 2022), so nothing of size T × T is ever written. One
 * invocation per (position, head) row, looping over the other positions; the backward pass is one
 * program whose invocations each write one row of dq, dk or dv into dqkv [N, 3C], the layout the
 * projection's gradient needs, so no split, concat or transpose runs either way: 2 dispatches
 * forward, 1 backward. Causality is the loops' bounds, so no mask is added.
 *
 * WebGPU only: on wasm attention's products run on the SIMD matmul, which reads q, k and v in
 * place the same way (ops.ts, stridedAttention).
 */
import { f32, runProgram, type WebGPUKernel } from './program.ts';

export interface AttentionAttrs {
  /** Sequence length and heads; B = N / T and hs = C / nh follow from the shapes. */
  T: number;
  nh: number;
}

/** The shapes, baked into the WGSL (and its cache key) as constants. */
function shapes(qkv: { shape: number[] }, { T, nh }: AttentionAttrs) {
  const [N, C3] = qkv.shape;
  const C = C3 / 3;
  const B = N / T;
  const hs = C / nh;
  const G = B * nh;
  // WGSL helpers: the offset of head g's q at position t in qkv (k is C further, v 2C), and of its y in y.
  const helpers = `
    const SEQ = ${T}; const GROUPS = ${G}; const HS = ${hs}; const CH = ${C};
    const SCALE = ${f32(1 / Math.sqrt(hs))};
    fn qOff(t : i32, g : i32) -> i32 { return (t * ${B} + g / ${nh}) * ${3 * C} + (g % ${nh}) * HS; }
    fn yOff(t : i32, g : i32) -> i32 { return (t * ${B} + g / ${nh}) * CH + (g % ${nh}) * HS; }`;
  return { N, C, G, T, hs, key: `${T}_${B}_${nh}_${C}`, helpers };
}

/** sᵢⱼ in WGSL: the dot product of q at offset qo and k at offset ko, scaled. */
const score = (qo: string, ko: string) => `var s = 0.0; for (var d = 0; d < HS; d++) { s += QKV[${qo} + d] * QKV[${ko} + d]; } s *= SCALE;`;

export const attentionWebGPU: WebGPUKernel<AttentionAttrs> = {
  name: 'LMLabAttention',
  inputs: ['qkv'],
  run(backend, [qkv], attrs) {
    const { N, C, G, T, hs, key, helpers } = shapes(qkv, attrs);
    const lse = runProgram(backend, {
      key: `attn_lse_${key}`, outputShape: [T, G], threads: T * G, inputs: [['QKV', qkv]], helpers,
      body: `let i = index / GROUPS; let g = index % GROUPS; let qo = qOff(i, g);
        var m = -3.0e38;
        for (var j = 0; j <= i; j++) { ${score('qo', 'qOff(j, g) + CH')} m = max(m, s); }
        var l = 0.0;
        for (var j = 0; j <= i; j++) { ${score('qo', 'qOff(j, g) + CH')} l += exp(s - m); }
        result[index] = m + log(l);`,
    });
    const y = runProgram(backend, {
      key: `attn_y_${key}`, outputShape: [N, C], threads: T * G, inputs: [['QKV', qkv], ['LSE', lse]], helpers,
      body: `let i = index / GROUPS; let g = index % GROUPS; let qo = qOff(i, g); let L = LSE[index];
        var acc : array<f32, ${hs}>;
        for (var j = 0; j <= i; j++) {
          let ko = qOff(j, g) + CH; ${score('qo', 'ko')}
          let p = exp(s - L);
          for (var d = 0; d < HS; d++) { acc[d] += p * QKV[ko + CH + d]; }
        }
        let yo = yOff(i, g);
        for (var d = 0; d < HS; d++) { result[yo + d] = acc[d]; }`,
    });
    return [y, lse];
  },
};

export const attentionGradWebGPU: WebGPUKernel<AttentionAttrs> = {
  name: 'LMLabAttentionGrad',
  inputs: ['dy', 'qkv', 'y', 'lse'],
  run(backend, [dy, qkv, y, lse], attrs) {
    const { G, T, hs, key, helpers } = shapes(qkv, attrs);
    // Invocation r·T·G + t·G + g writes row t of head g of dq (r = 0), dk (r = 1) or dv (r = 2).
    const dqkv = runProgram(backend, {
      key: `attn_grad_${key}`, outputShape: qkv.shape, threads: 3 * T * G, inputs: [['DY', dy], ['QKV', qkv], ['Y', y], ['LSE', lse]], helpers,
      body: `let part = index / (SEQ * GROUPS); let t = (index / GROUPS) % SEQ; let g = index % GROUPS;
        var acc : array<f32, ${hs}>;
        if (part == 0) {
          let qo = qOff(t, g); let yo = yOff(t, g); let L = LSE[t * GROUPS + g];
          var D = 0.0; for (var d = 0; d < HS; d++) { D += DY[yo + d] * Y[yo + d]; }
          for (var j = 0; j <= t; j++) {
            let ko = qOff(j, g) + CH; ${score('qo', 'ko')}
            var dp = 0.0; for (var d = 0; d < HS; d++) { dp += DY[yo + d] * QKV[ko + CH + d]; }
            let ds = exp(s - L) * (dp - D);
            for (var d = 0; d < HS; d++) { acc[d] += ds * QKV[ko + d]; }
          }
          for (var d = 0; d < HS; d++) { result[qo + d] = acc[d] * SCALE; }
        } else {
          let ko = qOff(t, g) + CH;
          for (var i = t; i < SEQ; i++) {
            let qo = qOff(i, g); let yo = yOff(i, g); ${score('qo', 'ko')}
            let p = exp(s - LSE[i * GROUPS + g]);
            if (part == 2) {
              for (var d = 0; d < HS; d++) { acc[d] += p * DY[yo + d]; }
            } else {
              var dp = 0.0; var D = 0.0;
              for (var d = 0; d < HS; d++) { dp += DY[yo + d] * QKV[ko + CH + d]; D += DY[yo + d] * Y[yo + d]; }
              let ds = p * (dp - D) * SCALE;
              for (var d = 0; d < HS; d++) { acc[d] += ds * QKV[qo + d]; }
            }
          }
          let out = ko + (part - 1) * CH;
          for (var d = 0; d < HS; d++) { result[out + d] = acc[d]; }
        }`,
    });
    return [dqkv];
  },
};
