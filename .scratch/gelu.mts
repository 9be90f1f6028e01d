import { erf } from '../src/core/kernels/wasm/erf.ts';
const N = 2097152;
const mem = new WebAssembly.Memory({ initial: 1000 });
const xa = new Float32Array(N), ya = new Float32Array(N);
const xw = new Float32Array(mem.buffer, 0, N), yw = new Float32Array(mem.buffer, N * 4, N);
for (let i = 0; i < N; i++) xa[i] = xw[i] = (Math.random() - 0.5) * 6;
function g(x: Float32Array, y: Float32Array) { for (let i = 0; i < x.length; i++) y[i] = 0.5 * x[i] * (1 + erf(x[i] * Math.SQRT1_2)); }
function h(x: Float32Array, y: Float32Array) { for (let i = 0; i < x.length; i++) { const v = x[i]; y[i] = v * Math.exp(-v * v); } }
function k(x: Float32Array, y: Float32Array) { for (let i = 0; i < x.length; i++) { const v = x[i]; y[i] = v * v + 1 / (1 + v * v); } }
for (const [n, f] of [['gelu', g], ['exp', h], ['arith', k]] as const) for (const [where, x, y] of [['plain', xa, ya], ['wasm', xw, yw]] as const) {
  let best = 1e9; for (let r = 0; r < 10; r++) { const t0 = performance.now(); f(x, y); best = Math.min(best, performance.now() - t0); }
  console.log(n, where, best.toFixed(2), 'ms', (best * 1e6 / N).toFixed(2), 'ns/elt');
}
