const N = 2097152;
const x = new Float32Array(N), y = new Float32Array(N), z = new Float32Array(N);
for (let i = 0; i < N; i++) x[i] = (Math.random() - 0.5) * 12;
const POW2 = new Float64Array(256); for (let i = 0; i < 256; i++) POW2[i] = 2 ** (i - 128);
const LOG2E = 1.4426950408889634;
function fexp(v: number): number {
  const t = v * LOG2E;
  if (t < -126) return 0;
  const n = Math.floor(t + 0.5);
  const f = t - n; // [-0.5, 0.5]
  const p = 1 + f * (0.6931471805599453 + f * (0.2402265069591007 + f * (0.05550410866482158 + f * (0.009618129107628477 + f * (0.0013333558146428443 + f * 0.00015403530393381606)))));
  return p * POW2[n + 128];
}
const B = [0.0705230784, 0.0422820123, 0.0092705272, 0.0001520143, 0.0002765672, 0.0000430638];
function erf28(v: number): number {
  const a = Math.abs(v);
  let t = 1 + a * (B[0] + a * (B[1] + a * (B[2] + a * (B[3] + a * (B[4] + a * B[5])))));
  t *= t; t *= t; t *= t; t *= t;
  const r = 1 - 1 / t;
  return v < 0 ? -r : r;
}
const P = 0.3275911, A1 = 0.254829592, A2 = -0.284496736, A3 = 1.421413741, A4 = -1.453152027, A5 = 1.061405429;
function erf26(v: number): number { const ax = Math.abs(v); const t = 1 / (1 + P * ax); const r = 1 - ((((A5 * t + A4) * t + A3) * t + A2) * t + A1) * t * fexp(-ax * ax); return v < 0 ? -r : r; }
function bench(name: string, f: () => void) { let best = 1e9; for (let r = 0; r < 10; r++) { const t0 = performance.now(); f(); best = Math.min(best, performance.now() - t0); } console.log(name, (best * 1e6 / N).toFixed(2), 'ns/elt'); }
bench('Math.exp', () => { for (let i = 0; i < N; i++) y[i] = Math.exp(-x[i] * x[i] * 0.5); });
bench('fexp', () => { for (let i = 0; i < N; i++) y[i] = fexp(-x[i] * x[i] * 0.5); });
bench('erf26+fexp', () => { for (let i = 0; i < N; i++) y[i] = erf26(x[i]); });
bench('erf28', () => { for (let i = 0; i < N; i++) y[i] = erf28(x[i]); });
let e1 = 0, e2 = 0; for (let i = 0; i < N; i++) { const v = x[i]; e1 = Math.max(e1, Math.abs(fexp(-v*v*0.5) - Math.exp(-v*v*0.5))/Math.exp(-v*v*0.5)); }
console.log('fexp max rel err', e1);
// erf reference by series/continued: use erf26 with Math.exp as approx reference (1.5e-7)
for (let i = 0; i < N; i++) { const v = x[i]; const ax=Math.abs(v), t=1/(1+P*ax); const r=1-((((A5*t+A4)*t+A3)*t+A2)*t+A1)*t*Math.exp(-ax*ax); e2=Math.max(e2, Math.abs((v<0?-r:r)-erf28(v))); }
console.log('erf28 vs erf26 max abs', e2);
