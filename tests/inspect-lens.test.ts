/**
 * The logit lens against the model and against its definition: at the last layer it is the
 * softmax of `model.forward`'s logits; at layer 0 it is ln_f of the embeddings through the tied
 * head, worked out here in float64; each position's guesses are ordered, and the probability of
 * the actual next token agrees with the full distribution.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { logitLens } from '../src/core/inspect/lens.ts';
import { layerNormRef, linearRef, useBackend } from './helpers.ts';
import { peakedModel, randomIds, VOCAB } from './inspect-helpers.ts';

function softmax(row: ArrayLike<number>): number[] {
  const max = Math.max(...Array.from(row));
  const e = Array.from(row, (x) => Math.exp(x - max));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}

/** Indices of the k largest values, largest first. */
function topIndices(p: number[], k: number): number[] {
  return [...p.keys()].sort((a, b) => p[b] - p[a]).slice(0, k);
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`logit lens on ${backend}`, () => {
    for (const qkLayerNorm of [false, true]) {
      it(`the last layer is the model's own prediction${qkLayerNorm ? ' (qkLayerNorm)' : ''}`, async () => {
        await useBackend(backend);
        const m = peakedModel(5, qkLayerNorm);
        const ids = randomIds(16, 11);
        const lens = await logitLens(m, ids, 3);
        const logits = m.forward(tf.tensor2d(ids, [1, 16], 'int32'));
        const rows = ((await logits.array()) as number[][][])[0];
        logits.dispose();
        expect(lens.top.length).toBe(3); // embeddings + 2 blocks
        const last = lens.top[2];
        rows.forEach((row, t) => {
          const p = softmax(row);
          const best = topIndices(p, 3);
          expect(last[t].map((g) => g.token)).toEqual(best);
          last[t].forEach((g, r) => expect(Math.abs(g.prob - p[best[r]])).toBeLessThanOrEqual(1e-5));
          if (t + 1 < ids.length) expect(Math.abs(lens.actual[2][t] - p[ids[t + 1]])).toBeLessThanOrEqual(1e-5);
        });
        m.dispose();
      });
    }

    it('layer 0 is ln_f of the embeddings through the tied head', async () => {
      await useBackend(backend);
      const m = peakedModel(6);
      const ids = randomIds(6, 12);
      const lens = await logitLens(m, ids, 2);
      const w = await m.values();
      const C = m.config.nEmbd;
      ids.forEach((id, t) => {
        const x = Float64Array.from({ length: C }, (_, c) => w.get('transformer.wte.weight')![id * C + c] + w.get('transformer.wpe.weight')![t * C + c]);
        const h = layerNormRef(x, w.get('transformer.ln_f.weight')!, w.get('transformer.ln_f.bias')!, 1, C);
        const p = softmax(linearRef(h, w.get('transformer.wte.weight')!, null, 1, C, VOCAB));
        const best = topIndices(p, 2);
        expect(lens.top[0][t].map((g) => g.token)).toEqual(best);
        lens.top[0][t].forEach((g, r) => expect(g.prob).toBeCloseTo(p[best[r]], 5));
        if (t + 1 < ids.length) expect(lens.actual[0][t]).toBeCloseTo(p[ids[t + 1]], 5);
      });
      // The blocks change the prediction: a lens that ignored them would pass the test above for every layer.
      expect(Math.max(...lens.actual[2].map((p, t) => Math.abs(p - lens.actual[0][t])))).toBeGreaterThan(1e-3);
      m.dispose();
    });

    it('guesses are ordered probabilities, and it leaves no tensors behind', async () => {
      await useBackend(backend);
      const m = peakedModel(7);
      await logitLens(m, randomIds(4, 1), 5);
      const before = tf.memory().numTensors;
      for (const T of [1, 9, 16]) {
        const lens = await logitLens(m, randomIds(T, T), 5);
        expect(lens.actual.every((row) => row.length === T - 1)).toBe(true);
        for (const layer of lens.top) {
          expect(layer.length).toBe(T);
          for (const guesses of layer) {
            guesses.forEach((g, r) => {
              expect(g.prob).toBeGreaterThan(0);
              if (r > 0) expect(g.prob).toBeLessThanOrEqual(guesses[r - 1].prob);
            });
            expect(guesses.reduce((a, g) => a + g.prob, 0)).toBeLessThanOrEqual(1 + 1e-6);
          }
        }
      }
      await expect(logitLens(m, [1, 2], 0)).rejects.toThrow(/k must be/);
      expect(tf.memory().numTensors).toBe(before);
      m.dispose();
    });
  });
}
