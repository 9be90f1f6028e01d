/**
 * The matrix products of one training step, alone: how fast the backend multiplies the step's own
 * shapes, and what that rate allows the whole step.
 *
 * A step's products, for N = B·T tokens, L layers, width C, heads nh (hs = C/nh), vocabulary V:
 *   each Linear in → out (c_attn C→3C, c_proj C→C, c_fc C→4C, c_proj 4C→C; the tied head C→V):
 *     forward  y  = x Wᵀ      [N, in] · [in, out]
 *     backward dx = dy W      [N, out] · [out, in]
 *              dW = dyᵀ x     [out, N] · [N, in]
 *   attention, per layer, B·nh groups of [T, hs] heads:
 *     forward  S = q kᵀ, y = P v;  backward dv = Pᵀ dy, dP = dy vᵀ, dq = dS k, dk = dSᵀ q
 * Their FLOPs, 2·m·k·n each, add up to 6·(Σ in·out)·N + 12·L·T·C·N: the matmul part of the
 * step's FLOP estimate (benchmark.ts), without the biases and LayerNorm gains that estimate
 * rounds in.
 *
 * The products are timed as the engine issues them (model/ops.ts): a Linear's as plain matMuls
 * (on wasm the strided kernel reads a transposed operand in place; elsewhere each backward
 * transposes first, a copy not timed here), attention's as groupedMatMul. The same list, timed in PyTorch (tests/interop/bench.py), says how much of the
 * gap to PyTorch's step is the multiply itself: if the products alone take P ms here, no change
 * around them brings the step under P ms.
 */
import * as tf from '@tensorflow/tfjs';
import type { GPTConfig } from '../model/config.ts';
import { groupedMatMul, matMul } from '../model/ops.ts';

/** One product: `groups` independent [m, k] · [k, n] multiplies (1 for a Linear's). */
export interface Product {
  m: number;
  k: number;
  n: number;
  groups: number;
}

export const productFlops = (p: Product): number => 2 * p.groups * p.m * p.k * p.n;

/** Every matrix product of one forward and backward pass over `batch` rows of `seqLen` tokens. */
export function stepProducts(c: GPTConfig, batch: number, seqLen: number): Product[] {
  const N = batch * seqLen;
  const C = c.nEmbd;
  const linear = (i: number, o: number): Product[] => [
    { m: N, k: i, n: o, groups: 1 },
    { m: N, k: o, n: i, groups: 1 },
    { m: o, k: N, n: i, groups: 1 },
  ];
  const hs = C / c.nHead;
  const G = batch * c.nHead;
  const T = seqLen;
  const attention: Product[] = [
    { m: T, k: hs, n: T, groups: G }, // S = q kᵀ
    { m: T, k: T, n: hs, groups: G }, // y = P v
    { m: hs, k: T, n: T, groups: G }, // dvᵀ = dyᵀ P
    { m: T, k: hs, n: T, groups: G }, // dP = dy vᵀ
    { m: T, k: T, n: hs, groups: G }, // dq = dS k
    { m: hs, k: T, n: T, groups: G }, // dkᵀ = qᵀ dS
  ];
  const layer = [...linear(C, 3 * C), ...attention, ...linear(C, C), ...linear(C, 4 * C), ...linear(4 * C, C)];
  return [...Array.from({ length: c.nLayer }, () => layer).flat(), ...linear(C, c.vocabSize)];
}

export interface ProductTiming {
  /** The step's products, each timed alone (median of `repeats`), summed. */
  totalMs: number;
  gflops: number;
  products: number;
}

/**
 * Times each product on the active backend: the median of `repeats` calls after two warm-up
 * calls, each on new random operands (as in a step, where every product meets tensors it has not
 * seen: XNNPACK, where it is used, packs its right-hand matrix anew for each), read back each time.
 */
export async function timeProducts(products: readonly Product[], repeats = 7): Promise<ProductTiming> {
  const cache = new Map<string, number>();
  let totalMs = 0;
  for (const p of products) {
    const key = `${p.groups}:${p.m}:${p.k}:${p.n}`;
    let ms = cache.get(key);
    if (ms === undefined) {
      const times: number[] = [];
      for (let i = 0; i < repeats + 2; i++) {
        // a: [m, k, g] and b: [k, g, n] for groups, as groupedMatMul takes them; plain 2-D otherwise.
        const [a, b] = p.groups === 1 ? [tf.randomNormal([p.m, p.k]), tf.randomNormal([p.k, p.n])] : [tf.randomNormal([p.m, p.k, p.groups]), tf.randomNormal([p.k, p.groups, p.n])];
        await Promise.all([a.data(), b.data()]);
        // wasm and cpu run a kernel when it is called, so the call's time is the product's; reading
        // the result back (a copy out of the heap, which a training step never makes) is left out.
        const t0 = performance.now();
        const out = tf.tidy(() => (p.groups === 1 ? matMul(a as tf.Tensor2D, b as tf.Tensor2D) : groupedMatMul(a as tf.Tensor3D, b as tf.Tensor3D))); // groupedMatMul reshapes on the way
        const elapsed = performance.now() - t0;
        await out.data();
        if (i >= 2) times.push(elapsed);
        tf.dispose([a, b, out]);
      }
      times.sort((x, y) => x - y);
      ms = times[Math.floor(times.length / 2)];
      cache.set(key, ms);
    }
    totalMs += ms;
  }
  const flops = products.reduce((s, p) => s + productFlops(p), 0);
  return { totalMs, gflops: flops / totalMs / 1e6, products: products.length };
}
