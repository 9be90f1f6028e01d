/**
 * Attention patterns against mathematics and the model's own forward pass: rows are probability
 * distributions over the past only, a one-layer model with hand-set weights gives the numbers
 * worked out below, and the reference pass they come from gives `model.forward`'s logits on cpu
 * and on wasm (whose forward takes the fused kernels), with and without qkLayerNorm.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import type { GPTConfig } from '../src/core/model/config.ts';
import { GPT, initialValues } from '../src/core/model/model.ts';
import { attentionWeights, referenceGap } from '../src/core/inspect/attention.ts';
import { useBackend } from './helpers.ts';
import { peakedModel, randomIds, VOCAB } from './inspect-helpers.ts';

/**
 * One layer, one head, C = 2, hand-set so that the scores are ±ln 3:
 *   wte: token 0 = [1, −1], token 1 = [−1, 1]; wpe = 0; ln_1 = identity affine.
 *   ln_1 maps token 0 to s·[1, −1] and token 1 to s·[−1, 1], s = 1/√(1 + 1e-5) ≈ 1.
 *   c_attn: q = [√2·ln 3 · h₀, 0], k = [h₀, 0], so qᵢ·kⱼ/√2 = ln 3 · s² · (±1): +ln 3 between equal
 *   tokens, −ln 3 between different ones.
 * For ids [0, 1, 0, 1] each row's weights are ∝ 3 (same token) or 1/3 (different):
 *   row 0: [1]
 *   row 1: [1/3, 3] / (10/3)               = [1/10, 9/10]
 *   row 2: [3, 1/3, 3] / (19/3)            = [9/19, 1/19, 9/19]
 *   row 3: [1/3, 3, 1/3, 3] / (20/3)       = [1/20, 9/20, 1/20, 9/20]
 */
function handSetModel(): GPT {
  const config: GPTConfig = { vocabSize: 3, blockSize: 4, nLayer: 1, nHead: 1, nEmbd: 2 };
  const values = initialValues(config, 1);
  values.set('transformer.wte.weight', Float32Array.from([1, -1, -1, 1, 0.5, -0.5]));
  values.set('transformer.wpe.weight', new Float32Array(8));
  const cAttn = new Float32Array(6 * 2); // [3C, C]: rows q₀ q₁ k₀ k₁ v₀ v₁
  cAttn[0 * 2 + 0] = Math.SQRT2 * Math.log(3);
  cAttn[2 * 2 + 0] = 1;
  values.set('transformer.h.0.attn.c_attn.weight', cAttn);
  values.set('transformer.h.0.attn.c_attn.bias', new Float32Array(6));
  return new GPT(config, values);
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`attention weights on ${backend}`, () => {
    it('the hand-set one-layer model gives the hand-computed probabilities', async () => {
      await useBackend(backend);
      const m = handSetModel();
      const w = await attentionWeights(m, [0, 1, 0, 1]);
      const expected = [
        [1, 0, 0, 0],
        [1 / 10, 9 / 10, 0, 0],
        [9 / 19, 1 / 19, 9 / 19, 0],
        [1 / 20, 9 / 20, 1 / 20, 9 / 20],
      ];
      expect(w.length).toBe(1);
      expect(w[0].length).toBe(1);
      w[0][0].forEach((row, i) => row.forEach((p, j) => expect(p).toBeCloseTo(expected[i][j], 4)));
      m.dispose();
    });

    for (const qkLayerNorm of [false, true]) {
      it(`rows are distributions over the past, and the pass gives the model's logits${qkLayerNorm ? ' (qkLayerNorm)' : ''}`, async () => {
        await useBackend(backend);
        const m = peakedModel(3, qkLayerNorm);
        const ids = randomIds(16, 7);
        const w = await attentionWeights(m, ids);
        expect(w.length).toBe(2); // layers
        let spread = 0;
        for (const layer of w) {
          expect(layer.length).toBe(2); // heads
          for (const head of layer) {
            expect(head.length).toBe(16);
            head.forEach((row, i) => {
              expect(row.length).toBe(16);
              expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
              for (let j = i + 1; j < 16; j++) expect(row[j]).toBe(0);
              for (let j = 0; j <= i; j++) expect(row[j]).toBeGreaterThanOrEqual(0);
              spread = Math.max(spread, Math.max(...row) - Math.min(...row.slice(0, i + 1)));
            });
          }
        }
        expect(spread).toBeGreaterThan(0.1); // not uniform: the test could tell a wrong pattern
        expect(await referenceGap(m, ids)).toBeLessThanOrEqual(1e-5);
        m.dispose();
      });
    }

    it('a wrong pattern would show: the gap grows when one weight of the model changes', async () => {
      await useBackend(backend);
      const a = peakedModel(3);
      const values = new Map([...(await a.values())].map(([name, v]) => [name, Float32Array.from(v)])); // cpu's data() is the variable's own buffer
      values.get('transformer.h.1.attn.c_attn.weight')![0] += 0.5;
      const b = new GPT(a.config, values);
      const ids = randomIds(12, 9);
      const [wa, wb] = [await attentionWeights(a, ids), await attentionWeights(b, ids)];
      expect(Math.max(...wa[1].flat(2).map((x, i) => Math.abs(x - wb[1].flat(2)[i])))).toBeGreaterThan(1e-4);
      expect(wa[0]).toEqual(wb[0]); // layer 0 does not read layer 1's weights
      a.dispose();
      b.dispose();
    });

    it('leaves no tensors behind and refuses sequences it cannot read', async () => {
      await useBackend(backend);
      const m = peakedModel(4);
      await referenceGap(m, randomIds(8, 1)); // model.forward keeps one causal mask per length for good
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        await attentionWeights(m, randomIds(5 + i, i));
        await referenceGap(m, randomIds(8, i));
      }
      expect(tf.memory().numTensors).toBe(before);
      await expect(attentionWeights(m, randomIds(17, 1))).rejects.toThrow(/block size/);
      await expect(attentionWeights(m, [])).rejects.toThrow(/empty/);
      await expect(attentionWeights(m, [VOCAB])).rejects.toThrow(/vocabulary/);
      expect(tf.memory().numTensors).toBe(before);
      m.dispose();
    });
  });
}
