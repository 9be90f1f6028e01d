/**
 * Comparing a lineage's checkpoints on one text against the `score` path (sample.ts's
 * tokenLogProbs, one window per pass, one model at a time): the same positions and the same
 * log-probabilities, for texts within the block and past it, with the changes between stages
 * their differences and the totals their sums.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it, vi } from 'vitest';
import { compareModels } from '../src/core/inspect/compare.ts';
import { tokenLogProbs } from '../src/core/model/sample.ts';
import { GPT } from '../src/core/model/model.ts';
import { modelConfig } from '../src/core/model/config.ts';
import { useBackend } from './helpers.ts';
import { peakedModel, randomIds, VOCAB } from './inspect-helpers.ts';

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`compareModels on ${backend}`, () => {
    for (const length of [2, 12, 17, 40]) {
      it(`gives score's log-probabilities under every model (${length} tokens${length > 17 ? ', several windows' : ''})`, async () => {
        await useBackend(backend);
        const lineage = [peakedModel(21), peakedModel(22), peakedModel(23, true)];
        const ids = Int32Array.from(randomIds(length, length));
        const from = Math.min(5, length - 1);
        const c = await compareModels(lineage, ids, from);
        const scores = await Promise.all(lineage.map((m) => tokenLogProbs(m, ids)));
        const keep = scores[0].positions.map((p, i) => [p, i]).filter(([p]) => p >= from);
        expect(c.positions).toEqual(keep.map(([p]) => p));
        expect(c.tokens).toEqual(c.positions.map((p) => ids[p]));
        lineage.forEach((_, m) => {
          keep.forEach(([, i], k) => expect(Math.abs(c.logProbs[m][k] - scores[m].logProbs[i])).toBeLessThanOrEqual(1e-5));
          expect(c.totals[m]).toBeCloseTo(c.logProbs[m].reduce((a, b) => a + b, 0), 9);
        });
        expect(c.deltas[0]).toBeNull();
        for (let m = 1; m < lineage.length; m++) c.deltas[m]!.forEach((d, k) => expect(d).toBeCloseTo(c.logProbs[m][k] - c.logProbs[m - 1][k], 12));
        if (c.positions.length > 0) expect(Math.max(...c.deltas[1]!.map(Math.abs))).toBeGreaterThan(1e-3); // different models do differ
        lineage.forEach((m) => m.dispose());
      });
    }

    it('runs one forward pass per model, however many windows the text spans', async () => {
      await useBackend(backend);
      const lineage = [peakedModel(26), peakedModel(27)];
      const passes = lineage.map((m) => vi.spyOn(m, 'forwardTimeMajor'));
      const c = await compareModels(lineage, randomIds(50, 4)); // 4 windows of block 16
      expect(c.positions).toHaveLength(49);
      passes.forEach((spy) => expect(spy).toHaveBeenCalledTimes(1));
      lineage.forEach((m) => m.dispose());
    });

    it('refuses what it cannot score, and leaves no tensors behind', async () => {
      await useBackend(backend);
      const a = peakedModel(24);
      const b = peakedModel(25);
      const ids = randomIds(40, 3);
      await compareModels([a, b], ids);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) await compareModels([a, b], ids, i + 1);
      expect(tf.memory().numTensors).toBe(before);
      await expect(compareModels([], ids)).rejects.toThrow(/no models/);
      await expect(compareModels([a], [1])).rejects.toThrow(/two tokens/);
      await expect(compareModels([a], [1, VOCAB])).rejects.toThrow(/vocabulary/);
      const other = GPT.init(modelConfig('micro', VOCAB + 1), 1);
      await expect(compareModels([a, other], ids)).rejects.toThrow(/different vocabularies/);
      expect(tf.memory().numTensors).toBe(before + other.params.size);
      [a, b, other].forEach((m) => m.dispose());
    });
  });
}
