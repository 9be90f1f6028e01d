/**
 * The alternatives the decoder reports for each token it writes: hand-worked probabilities, the
 * same as a softmax of a separate full forward pass over the text so far, drawn tokens unchanged
 * with the capture on, and no extra work on the backend (the same kernels run, on or off).
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { type DecodeOptions, sampleBatch, topAlternatives } from '../src/core/model/decode.ts';
import { generate, generateWithAlternatives, nextTokenLogits } from '../src/core/model/sample.ts';
import { useBackend } from './helpers.ts';
import { peakedModel, randomIds } from './inspect-helpers.ts';

describe('topAlternatives', () => {
  it('gives the most likely tokens of softmax(logits) with their probabilities (hand-worked)', () => {
    // logits ln 1 … ln 4 over 5 tokens, the last ln 2 again: softmax is 1, 2, 3, 4, 2 over 12.
    const logits = Float32Array.from([1, 2, 3, 4, 2], Math.log);
    const top = topAlternatives(logits, 3);
    expect(top.map((a) => a.token)).toEqual([3, 2, 1]); // the tie between tokens 1 and 4 goes to the lower id
    [4 / 12, 3 / 12, 2 / 12].forEach((p, r) => expect(top[r].prob).toBeCloseTo(p, 7));
    expect(topAlternatives(logits, 9)).toHaveLength(5);
    expect(topAlternatives(Float32Array.from([0, 1000, -1000]), 2).map((a) => a.prob)).toEqual([1, 0]); // no overflow
  });
});

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`decoding with alternatives on ${backend}`, () => {
    const prompts = [3, 12, 20, 1].map((n, i) => Int32Array.from(randomIds(n, 300 + i))); // 20 > block 16: the window slides
    const settings: DecodeOptions[] = [
      { maxNewTokens: 10, temperature: 0, topK: 0, seed: 1 },
      { maxNewTokens: 10, temperature: 0.8, topK: 7, seed: 2, stopToken: 5 },
      { maxNewTokens: 10, temperature: 1.3, topK: 0, seed: 3 },
    ];

    for (const opts of settings) {
      it(`draws the same tokens with the capture on (temperature ${opts.temperature}, top-k ${opts.topK})`, async () => {
        await useBackend(backend);
        const m = peakedModel(8);
        const off = await sampleBatch(m, prompts, opts);
        const on = await sampleBatch(m, prompts, { ...opts, alternatives: 5 });
        expect(off.alternatives).toBeUndefined();
        expect(on.ids).toEqual(off.ids);
        expect(on.logProbs).toEqual(off.logProbs);
        expect(on.entropies).toEqual(off.entropies);
        expect(on.ended).toEqual(off.ended);
        expect(on.alternatives!.map((row) => row.length)).toEqual(on.ids.map((row) => row.length));
        m.dispose();
      });
    }

    it("each token's alternatives are the softmax of a separate forward pass over the text so far", async () => {
      await useBackend(backend);
      const m = peakedModel(9);
      const opts = settings[1];
      const { ids, alternatives } = await sampleBatch(m, prompts, { ...opts, alternatives: 5 });
      let compared = 0;
      for (let b = 0; b < prompts.length; b++) {
        const seq = Array.from(prompts[b]);
        for (let i = 0; i < ids[b].length; i++) {
          const logits = await nextTokenLogits(m, seq); // the full window through model.forwardTimeMajor
          const max = Math.max(...logits);
          const z = logits.reduce((s, x) => s + Math.exp(x - max), 0);
          const p = Array.from(logits, (x) => Math.exp(x - max) / z);
          const best = [...p.keys()].sort((x, y) => p[y] - p[x]).slice(0, 5);
          expect(alternatives![b][i].map((a) => a.token)).toEqual(best);
          alternatives![b][i].forEach((a, r) => expect(Math.abs(a.prob - p[best[r]])).toBeLessThanOrEqual(1e-5));
          seq.push(ids[b][i]);
          compared++;
        }
      }
      expect(compared).toBeGreaterThan(20);
      m.dispose();
    });

    it('runs no more backend work with the capture on, and leaves no tensors behind', async () => {
      await useBackend(backend);
      const m = peakedModel(10);
      const opts = settings[2];
      await sampleBatch(m, prompts, opts); // tfjs's one-time tensors
      const kernels = async (o: DecodeOptions) => (await tf.profile(async () => void (await sampleBatch(m, prompts, o)))).kernels.map((k) => k.name);
      const [off, on] = [await kernels(opts), await kernels({ ...opts, alternatives: 5 })];
      expect(on.length).toBeGreaterThan(0);
      expect(on).toEqual(off);
      const before = tf.memory().numTensors;
      await sampleBatch(m, prompts, { ...opts, alternatives: 5 });
      expect(tf.memory().numTensors).toBe(before);
      await expect(sampleBatch(m, prompts, { ...opts, alternatives: 1.5 })).rejects.toThrow('alternatives must be a non-negative integer');
      m.dispose();
    });

    it('generateWithAlternatives writes what generate writes, one entry per token', async () => {
      await useBackend(backend);
      const m = peakedModel(11);
      const opts = { maxTokens: 8, temperature: 0.9, topK: 0, seed: 4 };
      const written = await generateWithAlternatives(m, prompts[1], opts);
      expect(written.map((w) => w.token)).toEqual(await generate(m, prompts[1], opts));
      for (const w of written) {
        expect(w.top).toHaveLength(5);
        expect(w.logProb).toBeLessThanOrEqual(0);
      }
      m.dispose();
    });
  });
}
