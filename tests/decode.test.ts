/**
 * Batched, cached decoding against the plain path: each prompt alone, one full forward pass over
 * its last blockSize tokens per new token (nextTokenLogits + pickToken, what `generate` did before
 * the cache). Token for token, greedy and seeded, with prompts of different lengths, prompts
 * longer than the block, rows that stop early and windows that slide; on cpu and on wasm, whose
 * attention takes a different kernel path (depthwise convolution).
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelConfig } from '../src/core/model/config.ts';
import { type DecodeOptions, pickToken, sampleBatch, sampleBatchUncached } from '../src/core/model/decode.ts';
import { GPT, initialValues } from '../src/core/model/model.ts';
import { generate, nextTokenLogits } from '../src/core/model/sample.ts';
import { greedyReplies } from '../src/core/eval/evaluate.ts';
import { Random } from '../src/core/random.ts';
import { useBackend } from './helpers.ts';

const VOCAB = 40;

/** A micro model (block 16) whose weights are scaled up so its logits are far from ties. */
function model(seed: number, qkLayerNorm = false): GPT {
  const config = modelConfig('micro', VOCAB, { qkLayerNorm });
  const values = initialValues(config, seed);
  for (const [name, v] of values) if (/(wte|wpe|c_attn|c_fc)\.weight$/.test(name)) v.forEach((x, i) => (v[i] = x * 10));
  return new GPT(config, values);
}

/** Each prompt on its own, without a cache: the reference. Row b uses seed + b. */
async function alone(m: GPT, prompt: Int32Array, opts: DecodeOptions, row: number): Promise<number[]> {
  const rng = new Random(opts.seed + row);
  const seq = Array.from(prompt);
  const out: number[] = [];
  for (let i = 0; i < opts.maxNewTokens; i++) {
    const next = pickToken(await nextTokenLogits(m, seq), opts.temperature, opts.topK, rng);
    seq.push(next);
    out.push(next);
    if (next === opts.stopToken) break;
  }
  return out;
}

function prompt(length: number, seed: number): Int32Array {
  const rng = new Random(seed);
  return Int32Array.from({ length }, () => rng.int(VOCAB));
}

// Against a block of 16. SHORT with 8 new tokens never fills the block: all but the first step
// run on the cache. With LONG one prompt is longer than the block from the start, and with 14 new
// tokens the 12-token row starts to slide at its fifth token.
const SHORT = [1, 5, 9, 3, 2, 7].map((n, i) => prompt(n, 200 + i));
const LONG = [1, 5, 12, 3, 20, 9].map((n, i) => prompt(n, 100 + i));
const PROMPTS = SHORT;
const CASES = [
  { name: 'within the block', prompts: SHORT, maxNewTokens: 8 },
  { name: 'past the block', prompts: LONG, maxNewTokens: 14 },
  { name: 'sliding part way', prompts: [LONG[2], SHORT[0], SHORT[3]], maxNewTokens: 14 },
];

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`sampleBatch on ${backend}`, () => {
    let m: GPT;
    let q: GPT;
    beforeAll(async () => {
      await useBackend(backend);
      m = model(3);
      q = model(4, true);
    });
    afterAll(() => {
      m.dispose();
      q.dispose();
    });

    for (const c of CASES) {
      it(`greedy, ${c.name}: every row equals decoding its prompt alone, token for token`, async () => {
        const opts: DecodeOptions = { maxNewTokens: c.maxNewTokens, temperature: 0, topK: 0, seed: 1 };
        const { ids, ended } = await sampleBatch(m, c.prompts, opts);
        for (let b = 0; b < c.prompts.length; b++) expect(ids[b]).toEqual(await alone(m, c.prompts[b], opts, b));
        expect(ended).toEqual(c.prompts.map(() => false));
        expect(new Set(ids.flat()).size).toBeGreaterThan(3); // the model does not just repeat one token
      });

      it(`seeded sampling, ${c.name}, with and without top-k: row b equals its prompt alone with seed + b`, async () => {
        for (const topK of [0, 5]) {
          const opts: DecodeOptions = { maxNewTokens: c.maxNewTokens, temperature: 1, topK, seed: 7 };
          const { ids } = await sampleBatch(m, c.prompts, opts);
          for (let b = 0; b < c.prompts.length; b++) expect(ids[b]).toEqual(await alone(m, c.prompts[b], opts, b));
        }
      });
    }

    it('with q/k LayerNorm too', async () => {
      for (const c of CASES) {
        const opts: DecodeOptions = { maxNewTokens: c.maxNewTokens, temperature: 0.8, topK: 0, seed: 2 };
        const { ids } = await sampleBatch(q, c.prompts, opts);
        for (let b = 0; b < c.prompts.length; b++) expect(ids[b]).toEqual(await alone(q, c.prompts[b], opts, b));
      }
    });

    it('rows stop at the stop token (included) and the others go on unchanged', async () => {
      const free = await sampleBatch(m, PROMPTS, { maxNewTokens: 8, temperature: 1, topK: 0, seed: 5 });
      const stopToken = free.ids[2][3]; // a token some row draws, so at least one row stops early
      const opts: DecodeOptions = { maxNewTokens: 8, temperature: 1, topK: 0, seed: 5, stopToken };
      const { ids, ended } = await sampleBatch(m, PROMPTS, opts);
      for (let b = 0; b < PROMPTS.length; b++) {
        const expected = await alone(m, PROMPTS[b], opts, b);
        expect(ids[b]).toEqual(expected);
        expect(ended[b]).toBe(expected[expected.length - 1] === stopToken);
      }
      expect(ended[2]).toBe(true);
      expect(ids[2].length).toBeLessThanOrEqual(4);
      expect(ended.filter((e) => !e).length).toBeGreaterThan(0); // some rows run on after others stopped
      expect(await sampleBatchUncached(m, PROMPTS, opts)).toEqual({ ids, ended });
    });

    it('the same prompt repeated gives different samples, and row 0 is what generate gives', async () => {
      const same = Array.from({ length: 4 }, () => PROMPTS[1]);
      const { ids } = await sampleBatch(m, same, { maxNewTokens: 8, temperature: 3, topK: 0, seed: 11 });
      expect(new Set(ids.map((r) => r.join())).size).toBe(4);
      expect(ids[0]).toEqual(await generate(m, PROMPTS[1], { maxTokens: 8, temperature: 3, topK: 0, seed: 11 }));
    });

    it('greedyReplies goes through it: ids without the end token, and whether each ended', async () => {
      const free = await sampleBatch(m, PROMPTS, { maxNewTokens: 10, temperature: 0, topK: 0, seed: 0 });
      const endId = free.ids[0][4];
      const replies = await greedyReplies(m, PROMPTS, endId, 10, 4); // two batches: 4 and 2
      for (let b = 0; b < PROMPTS.length; b++) {
        const expected = await alone(m, PROMPTS[b], { maxNewTokens: 10, temperature: 0, topK: 0, seed: 0, stopToken: endId }, b);
        const ended = expected[expected.length - 1] === endId;
        expect(replies[b]).toEqual({ ids: ended ? expected.slice(0, -1) : expected, ended });
      }
      expect(replies[0].ended).toBe(true);
    });

    it('leaves no tensor behind', async () => {
      const opts: DecodeOptions = { maxNewTokens: 14, temperature: 1, topK: 0, seed: 5, stopToken: 3 };
      await sampleBatch(m, LONG, opts); // first call: tfjs's own one-time tensors
      await sampleBatchUncached(m, LONG, opts);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        await sampleBatch(m, LONG, { ...opts, seed: i });
        await sampleBatch(m, SHORT, { ...opts, maxNewTokens: 8, seed: i });
        await sampleBatchUncached(m, LONG, { ...opts, seed: i });
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  });
}

describe('sampleBatch input checks', () => {
  it('rejects an empty prompt and bad options with one-line messages, and zero new tokens gives empty rows', async () => {
    await useBackend('cpu');
    const m = model(1);
    const opts: DecodeOptions = { maxNewTokens: 4, temperature: 0, topK: 0, seed: 1 };
    await expect(sampleBatch(m, [PROMPTS[0], new Int32Array(0)], opts)).rejects.toThrow('sample: prompt 1 is empty; a prompt must have at least one token');
    await expect(sampleBatch(m, PROMPTS, { ...opts, maxNewTokens: 1.5 })).rejects.toThrow('maxNewTokens must be a non-negative integer');
    await expect(sampleBatch(m, PROMPTS, { ...opts, temperature: -1 })).rejects.toThrow('temperature must be 0 or more');
    await expect(sampleBatch(m, PROMPTS, { ...opts, topK: -2 })).rejects.toThrow('topK must be a non-negative integer');
    expect(await sampleBatch(m, PROMPTS, { ...opts, maxNewTokens: 0 })).toEqual({ ids: PROMPTS.map(() => []), ended: PROMPTS.map(() => false) });
    expect(await sampleBatch(m, [], opts)).toEqual({ ids: [], ended: [] });
    m.dispose();
  });
});
