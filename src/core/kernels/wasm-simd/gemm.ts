/**
 * Matrix products for the wasm backend, in WebAssembly SIMD (AssemblyScript, built with the other
 * kernels of this folder by `npm run build:simd` into ../wasm/simd-module.ts; the wrapper is
 * ../wasm/matmul.ts).
 *
 * For each group g = (g₁, g₂) of G₁ × G₂,
 *   C_g[m, n] = Σ_k A_g[m, k] · B_g[k, n]  (+ bias[n])
 * with every operand read through strides, so a transposed operand, one head of attention inside
 * a [T, B·nh, hs] tensor or a Linear's [out, in] weight is read where it lies: no transpose
 * kernels around the product, and no XNNPACK operator created and its weights packed anew for
 * every new tensor (which is what made tfjs's own matmul slow on the step's ever-new tensors).
 *
 * Addresses are byte offsets into the memory this module imports (the tfjs wasm heap), strides
 * are in floats; a group's operands start g₁·group1 + g₂·group2 floats in (two levels, because
 * a head of attention inside the fused q | k | v projection sits at b·3C + h·hs). C is written
 * row by row with unit column stride.
 *
 * The core is a 4 × 8 tile: four rows of A broadcast one element each (v128.load32_splat), two
 * vectors of one row of B, eight accumulators; 14 of the 16 vector registers, so nothing spills.
 * Both operands are first copied into `scratch` in the order the tile reads them (as GotoBLAS
 * does): B by panels of 8 columns, [k][8], A by panels of 4 rows, [k][4], K in blocks of KC, so
 * that the tile streams through contiguous memory that stays in the L1 cache whatever the
 * operands' strides. Reading a weight gradient's operands (K = B·T = 1,024) straight through
 * their strides instead touched a new cache line per k for each of them. Panels are padded with
 * zeros to whole tiles; the tiles on the edges go through a small buffer, so that nothing is
 * written outside C. The copies are made on every call, but they are only the operands in another
 * order, K·N + M·K floats against M·N·K multiply-adds; XNNPACK's per-tensor set-up cost as much as
 * the product itself.
 */

/** K block: a 4 × KC panel of A (4 KB) and an 8 × KC panel of B (8 KB) together fit in L1. */
const KC: i32 = 256;

/** Bytes of scratch `gemm` needs for an N-column, K-deep product. */
export function scratchBytes(N: i32, K: i32): i32 {
  const kc = min(K, KC);
  return (kc * ((N + 7) & ~7) + 4 * kc + 32) << 2;
}

export function gemm(
  G1: i32, G2: i32, M: i32, N: i32, K: i32,
  a: usize, aGroup1: i32, aGroup2: i32, aRow: i32, aCol: i32,
  b: usize, bGroup1: i32, bGroup2: i32, bRow: i32, bCol: i32,
  c: usize, cGroup1: i32, cGroup2: i32, cRow: i32,
  bias: usize, scratch: usize,
): void {
  const kcMax = min(K, KC);
  const packedB = scratch;
  const packedA = packedB + (<usize>(kcMax * ((N + 7) & ~7)) << 2);
  const edge = packedA + (<usize>(4 * kcMax) << 2);
  const ldc = <usize>cRow << 2;
  for (let g1 = 0; g1 < G1; g1++) {
    for (let g2 = 0; g2 < G2; g2++) {
      const pa = a + (<usize>(g1 * aGroup1 + g2 * aGroup2) << 2);
      const pb = b + (<usize>(g1 * bGroup1 + g2 * bGroup2) << 2);
      const pc = c + (<usize>(g1 * cGroup1 + g2 * cGroup2) << 2);
      for (let k0 = 0; k0 < K; k0 += KC) {
        const kc = min(KC, K - k0);
        packB(kc, N, pb + (<usize>(k0 * bRow) << 2), bRow, bCol, packedB);
        for (let m0 = 0; m0 < M; m0 += 4) {
          const rows = min(4, M - m0);
          packA(kc, rows, pa + (<usize>(m0 * aRow + k0 * aCol) << 2), aRow, aCol, packedA);
          for (let n0 = 0; n0 < N; n0 += 8) {
            const cols = min(8, N - n0);
            const panel = packedB + (<usize>(n0 * kc) << 2);
            const pt = pc + <usize>m0 * ldc + (<usize>n0 << 2);
            const first = k0 == 0;
            if (rows == 4 && cols == 8) {
              tile(kc, packedA, panel, pt, ldc, first, first && bias ? bias + (<usize>n0 << 2) : 0);
            } else {
              // An edge tile: its valid part (or the bias) into the buffer, the tile, and back.
              for (let r = 0; r < 4; r++) {
                for (let j = 0; j < 8; j++) {
                  let v: f32 = 0;
                  if (r < rows && j < cols) v = first ? (bias ? load<f32>(bias + (<usize>(n0 + j) << 2)) : 0) : load<f32>(pt + <usize>r * ldc + (<usize>j << 2));
                  store<f32>(edge + (<usize>(r * 8 + j) << 2), v);
                }
              }
              tile(kc, packedA, panel, edge, 32, false, 0);
              for (let r = 0; r < rows; r++) {
                for (let j = 0; j < cols; j++) store<f32>(pt + <usize>r * ldc + (<usize>j << 2), load<f32>(edge + (<usize>(r * 8 + j) << 2)));
              }
            }
          }
        }
      }
    }
  }
}

/** B's kc × N block as panels of 8 columns, each [kc][8]: dst[(n0·kc + k·8 + j)] = B[k, n0 + j], 0 past N. */
function packB(kc: i32, N: i32, src: usize, row: i32, col: i32, dst: usize): void {
  for (let n0 = 0; n0 < N; n0 += 8) {
    const panel = dst + (<usize>(n0 * kc) << 2);
    if (col == 1 && n0 + 8 <= N) {
      // B runs along n: two vectors per k.
      let s = src + (<usize>n0 << 2);
      for (let k = 0; k < kc; k++) {
        const d = panel + (<usize>k << 5);
        v128.store(d, v128.load(s));
        v128.store(d, v128.load(s, 16), 16);
        s += <usize>row << 2;
      }
    } else {
      // Any other layout (a Linear's weight read transposed runs along k): one column at a time.
      for (let j = 0; j < 8; j++) {
        const n = n0 + j;
        gather(kc, n < N ? src + (<usize>(n * col) << 2) : 0, <usize>row << 2, panel + (<usize>j << 2), 32);
      }
    }
  }
}

/** A's `rows` × kc block as one panel [kc][4]: dst[k·4 + r] = A[r, k], 0 for r ≥ rows. */
function packA(kc: i32, rows: i32, src: usize, row: i32, col: i32, dst: usize): void {
  if (row == 1 && rows == 4) {
    // A transposed (a gradient's dyᵀ): the four rows sit side by side, one vector per k.
    let s = src;
    for (let k = 0; k < kc; k++) {
      v128.store(dst + (<usize>k << 4), v128.load(s));
      s += <usize>col << 2;
    }
    return;
  }
  for (let r = 0; r < 4; r++) gather(kc, r < rows ? src + (<usize>(r * row) << 2) : 0, <usize>col << 2, dst + (<usize>r << 2), 16);
}

/** count floats from `src` (0: zeros instead), `srcStep` bytes apart, to `dst`, `dstStep` bytes apart. */
function gather(count: i32, src: usize, srcStep: usize, dst: usize, dstStep: usize): void {
  if (src) {
    for (let i = 0; i < count; i++, src += srcStep, dst += dstStep) store<f32>(dst, load<f32>(src));
  } else {
    for (let i = 0; i < count; i++, dst += dstStep) store<f32>(dst, 0);
  }
}

/**
 * One 4 × 8 tile of C (rows `ldc` bytes apart) from a packed A panel and a packed B panel:
 * C starts from the bias (or zero) when `init`, else from what C holds (an earlier K block).
 */
function tile(kc: i32, pa: usize, pb: usize, c: usize, ldc: usize, init: bool, bias: usize): void {
  let c00: v128, c01: v128, c10: v128, c11: v128, c20: v128, c21: v128, c30: v128, c31: v128;
  if (init) {
    const i0 = bias ? v128.load(bias) : f32x4.splat(0);
    const i1 = bias ? v128.load(bias, 16) : f32x4.splat(0);
    c00 = i0; c01 = i1; c10 = i0; c11 = i1; c20 = i0; c21 = i1; c30 = i0; c31 = i1;
  } else {
    c00 = v128.load(c); c01 = v128.load(c, 16);
    c10 = v128.load(c + ldc); c11 = v128.load(c + ldc, 16);
    c20 = v128.load(c + 2 * ldc); c21 = v128.load(c + 2 * ldc, 16);
    c30 = v128.load(c + 3 * ldc); c31 = v128.load(c + 3 * ldc, 16);
  }
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    const x0 = v128.load32_splat(pa);
    const x1 = v128.load32_splat(pa, 4);
    const x2 = v128.load32_splat(pa, 8);
    const x3 = v128.load32_splat(pa, 12);
    c00 = f32x4.add(c00, f32x4.mul(x0, b0));
    c01 = f32x4.add(c01, f32x4.mul(x0, b1));
    c10 = f32x4.add(c10, f32x4.mul(x1, b0));
    c11 = f32x4.add(c11, f32x4.mul(x1, b1));
    c20 = f32x4.add(c20, f32x4.mul(x2, b0));
    c21 = f32x4.add(c21, f32x4.mul(x2, b1));
    c30 = f32x4.add(c30, f32x4.mul(x3, b0));
    c31 = f32x4.add(c31, f32x4.mul(x3, b1));
    pb += 32;
    pa += 16;
  }
  v128.store(c, c00); v128.store(c, c01, 16);
  v128.store(c + ldc, c10); v128.store(c + ldc, c11, 16);
  v128.store(c + 2 * ldc, c20); v128.store(c + 2 * ldc, c21, 16);
  v128.store(c + 3 * ldc, c30); v128.store(c + 3 * ldc, c31, 16);
}
