/**
 * Matrix products for the wasm backend, in WebAssembly SIMD (AssemblyScript, built by
 * `npm run build:simd` into ../wasm/gemm-module.ts; the wrapper is ../wasm/matmul.ts).
 *
 * For each group g = (g₁, g₂) of G₁ × G₂,
 *   C_g[m, n] = Σ_k A_g[m, k] · B_g[k, n]  (+ bias[n])
 * with every operand read through strides, so a transposed operand, one head of attention inside
 * a [T, B·nh, hs] tensor or a Linear's [out, in] weight is read where it lies: no transpose
 * kernels around the product, and no per-call packing of the right-hand matrix (which is what
 * makes XNNPACK slow on the step's ever-new tensors).
 *
 * Addresses are byte offsets into the memory this module imports (the tfjs wasm heap), strides
 * are in floats; a group's operands start g₁·group1 + g₂·group2 floats in (two levels, because
 * a head of attention inside the fused q | k | v projection sits at b·3C + h·hs). C is written
 * row by row with unit column stride.
 *
 * The core is a 4 × 8 block: four rows of A broadcast one element each (v128.load32_splat), two
 * vectors of one row of B, eight accumulators; 14 of the 16 vector registers, so nothing spills.
 * B must then run contiguously along n: a B with another column stride is first copied into
 * `scratch` as a plain [K, N] matrix (K·N floats), which is cheap next to the product.
 */

export function gemm(
  G1: i32, G2: i32, M: i32, N: i32, K: i32,
  a: usize, aGroup1: i32, aGroup2: i32, aRow: i32, aCol: i32,
  b: usize, bGroup1: i32, bGroup2: i32, bRow: i32, bCol: i32,
  c: usize, cGroup1: i32, cGroup2: i32, cRow: i32,
  bias: usize, scratch: usize,
): void {
  for (let g1 = 0; g1 < G1; g1++) {
    for (let g2 = 0; g2 < G2; g2++) {
      const pa = a + (<usize>(g1 * aGroup1 + g2 * aGroup2) << 2);
      let pb = b + (<usize>(g1 * bGroup1 + g2 * bGroup2) << 2);
      let ldb = bRow;
      if (bCol != 1) {
        pack(K, N, pb, bRow, bCol, scratch);
        pb = scratch;
        ldb = N;
      }
      const pc = c + (<usize>(g1 * cGroup1 + g2 * cGroup2) << 2);
      block(M, N, K, pa, <usize>aRow << 2, <usize>aCol << 2, pb, <usize>ldb << 2, pc, <usize>cRow << 2, bias);
    }
  }
}

/** dst[k, n] = src[k·row + n·col]: B as a contiguous [K, N] matrix. */
function pack(K: i32, N: i32, src: usize, row: i32, col: i32, dst: usize): void {
  for (let n = 0; n < N; n++) {
    let s = src + (<usize>(n * col) << 2);
    let d = dst + (<usize>n << 2);
    for (let k = 0; k < K; k++) {
      store<f32>(d, load<f32>(s));
      s += <usize>row << 2;
      d += <usize>N << 2;
    }
  }
}

/** One group: A rows `ams` bytes apart and columns `aks`; B rows `ldb` bytes apart, contiguous along n; C rows `ldc`. */
function block(M: i32, N: i32, K: i32, a: usize, ams: usize, aks: usize, b: usize, ldb: usize, c: usize, ldc: usize, bias: usize): void {
  const M4 = M & ~3;
  const N8 = N & ~7;
  const zero = f32x4.splat(0);
  let m = 0;
  for (; m < M4; m += 4) {
    const a0 = a + <usize>m * ams;
    const a1 = a0 + ams;
    const a2 = a1 + ams;
    const a3 = a2 + ams;
    const pc = c + <usize>m * ldc;
    for (let n = 0; n < N8; n += 8) {
      const off = <usize>n << 2;
      const i0 = bias ? v128.load(bias + off) : zero;
      const i1 = bias ? v128.load(bias + off, 16) : zero;
      let c00 = i0, c01 = i1, c10 = i0, c11 = i1, c20 = i0, c21 = i1, c30 = i0, c31 = i1;
      let pb = b + off;
      let ka: usize = 0;
      for (let k = 0; k < K; k++) {
        const b0 = v128.load(pb);
        const b1 = v128.load(pb, 16);
        const x0 = v128.load32_splat(a0 + ka);
        const x1 = v128.load32_splat(a1 + ka);
        const x2 = v128.load32_splat(a2 + ka);
        const x3 = v128.load32_splat(a3 + ka);
        c00 = f32x4.add(c00, f32x4.mul(x0, b0));
        c01 = f32x4.add(c01, f32x4.mul(x0, b1));
        c10 = f32x4.add(c10, f32x4.mul(x1, b0));
        c11 = f32x4.add(c11, f32x4.mul(x1, b1));
        c20 = f32x4.add(c20, f32x4.mul(x2, b0));
        c21 = f32x4.add(c21, f32x4.mul(x2, b1));
        c30 = f32x4.add(c30, f32x4.mul(x3, b0));
        c31 = f32x4.add(c31, f32x4.mul(x3, b1));
        pb += ldb;
        ka += aks;
      }
      let p = pc + off;
      v128.store(p, c00);
      v128.store(p, c01, 16);
      p += ldc;
      v128.store(p, c10);
      v128.store(p, c11, 16);
      p += ldc;
      v128.store(p, c20);
      v128.store(p, c21, 16);
      p += ldc;
      v128.store(p, c30);
      v128.store(p, c31, 16);
    }
  }
  // The rows left over (M mod 4), one at a time.
  for (; m < M; m++) {
    const a0 = a + <usize>m * ams;
    const pc = c + <usize>m * ldc;
    for (let n = 0; n < N8; n += 8) {
      const off = <usize>n << 2;
      let c00 = bias ? v128.load(bias + off) : zero;
      let c01 = bias ? v128.load(bias + off, 16) : zero;
      let pb = b + off;
      let ka: usize = 0;
      for (let k = 0; k < K; k++) {
        const x0 = v128.load32_splat(a0 + ka);
        c00 = f32x4.add(c00, f32x4.mul(x0, v128.load(pb)));
        c01 = f32x4.add(c01, f32x4.mul(x0, v128.load(pb, 16)));
        pb += ldb;
        ka += aks;
      }
      v128.store(pc + off, c00);
      v128.store(pc + off, c01, 16);
    }
  }
  // The columns left over (N mod 8), one at a time, for every row.
  for (let n = N8; n < N; n++) {
    const off = <usize>n << 2;
    for (m = 0; m < M; m++) {
      let s: f32 = bias ? load<f32>(bias + off) : 0;
      let pa = a + <usize>m * ams;
      let pb = b + off;
      for (let k = 0; k < K; k++) {
        s += load<f32>(pa) * load<f32>(pb);
        pa += aks;
        pb += ldb;
      }
      store<f32>(c + <usize>m * ldc + off, s);
    }
  }
}
