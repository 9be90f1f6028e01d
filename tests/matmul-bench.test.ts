/**
 * The step's matrix products (src/core/backend/matmul-bench.ts): their FLOPs against the count by
 * hand, and their timing leaves no tensor behind. (How fast they run is `npm run bench`'s to say.)
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { productFlops, stepProducts, timeProducts } from '../src/core/backend/matmul-bench.ts';
import { flopsPerToken, modelConfig } from '../src/core/model/config.ts';
import { useBackend } from './helpers.ts';

describe('stepProducts', () => {
  beforeAll(() => useBackend('wasm'));

  it.each([['tiny', 16, 64], ['small', 32, 128], ['tiny', 3, 40]] as const)('%s, %i × %i: 6·(Σ in·out)·N + 12·L·T·C·N FLOPs, the step estimate less its biases and LayerNorms', (preset, B, T) => {
    const c = modelConfig(preset, 72);
    const { nLayer: L, nEmbd: C, vocabSize: V } = c;
    const N = B * T;
    const products = stepProducts(c, B, T);
    const flops = products.reduce((s, p) => s + productFlops(p), 0);
    // Per layer the Linear weights are C·3C + C·C + C·4C + 4C·C = 12C², and the tied head is C·V.
    const weights = L * 12 * C * C + C * V;
    expect(flops).toBe(6 * weights * N + 12 * L * T * C * N);
    // The step's FLOP estimate also counts every bias (3C + C + 4C + C) and LayerNorm gain and
    // bias (2 × 2C) per layer, and the final LayerNorm's 2C, as if they were matmul weights.
    expect(flopsPerToken(c, T) * N - flops).toBe(6 * N * (L * 13 * C + 2 * C));
    // 3 products per Linear (4 a layer, and the head), 6 for attention a layer.
    expect(products).toHaveLength(L * (4 * 3 + 6) + 3);
  });

  it('times every product and leaves no tensor behind', async () => {
    const c = modelConfig('micro', 72);
    const products = stepProducts(c, 2, 8);
    const before = tf.memory().numTensors;
    const t = await timeProducts(products, 1);
    expect(tf.memory().numTensors).toBe(before);
    expect(t.products).toBe(products.length);
    expect(t.totalMs).toBeGreaterThan(0);
    expect(t.gflops).toBeCloseTo(products.reduce((s, p) => s + productFlops(p), 0) / t.totalMs / 1e6, 9);
  });
});
