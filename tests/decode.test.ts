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
import { type DecodeOptions, pickToken, sampleBatch, sampleBatchUncached, sampleToken } from '../src/core/model/decode.ts';
import { GPT, initialValues } from '../src/core/model/model.ts';
import { generate, nextTokenLogits, tokenLogProbs } from '../src/core/model/sample.ts';
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
      const uncached = await sampleBatchUncached(m, PROMPTS, opts);
      expect({ ids: uncached.ids, ended: uncached.ended }).toEqual({ ids, ended });
    });

    it('many rows stopping at different steps (kept as finished rows, then dropped) each equal their prompt alone', async () => {
      const prompts = [...SHORT, ...SHORT.map((p) => p.slice().reverse()), ...SHORT.map((p) => p.map((x) => (x * 7) % VOCAB))];
      const free = await sampleBatch(m, prompts, { maxNewTokens: 8, temperature: 1.5, topK: 0, seed: 21 });
      const counts = new Map<number, number>();
      for (const id of free.ids.flat()) counts.set(id, (counts.get(id) ?? 0) + 1);
      const stopToken = [...counts].sort((a, b) => b[1] - a[1])[0][0]; // the most drawn token
      const opts: DecodeOptions = { maxNewTokens: 8, temperature: 1.5, topK: 0, seed: 21, stopToken };
      const { ids, ended } = await sampleBatch(m, prompts, opts);
      for (let b = 0; b < prompts.length; b++) expect(ids[b]).toEqual(await alone(m, prompts[b], opts, b));
      const stops = new Set(ids.filter((_, b) => ended[b]).map((r) => r.length));
      expect(ended.filter(Boolean).length).toBeGreaterThanOrEqual(6); // past a quarter of 18 rows: the cache drops rows
      expect(stops.size).toBeGreaterThanOrEqual(3); // rows finish at different steps
    });

    it('keepGoing stops a row early, unended, at the first token it refuses; the other rows go on unchanged', async () => {
      const opts: DecodeOptions = { maxNewTokens: 8, temperature: 1, topK: 0, seed: 9 };
      const free = await sampleBatch(m, PROMPTS, opts);
      const seen: number[] = [];
      const keepGoing = (row: number, ids: readonly number[]) => {
        seen.push(row);
        return row % 2 === 1 || ids.length < 3; // even rows stop after their third token
      };
      const { ids, ended } = await sampleBatch(m, PROMPTS, { ...opts, keepGoing });
      PROMPTS.forEach((_, b) => expect(ids[b], `row ${b}`).toEqual(b % 2 === 1 ? free.ids[b] : free.ids[b].slice(0, 3)));
      expect(ended).toEqual(PROMPTS.map(() => false));
      expect(new Set(seen)).toEqual(new Set(PROMPTS.map((_, b) => b)));
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

    it('reports log p and the entropy of each token: at temperature 1 the model\'s own, as a full forward pass scores it', async () => {
      const opts: DecodeOptions = { maxNewTokens: 8, temperature: 1, topK: 0, seed: 9 };
      const { ids, logProbs, entropies } = await sampleBatch(m, SHORT, opts);
      for (let b = 0; b < SHORT.length; b++) {
        const seq = Int32Array.from([...SHORT[b], ...ids[b]]);
        const scored = await tokenLogProbs(m, seq); // log p(seq[t] | seq[<t]) from one forward pass
        const expected = scored.logProbs.slice(SHORT[b].length - 1);
        expect(logProbs[b]).toHaveLength(ids[b].length);
        logProbs[b].forEach((lp, t) => expect(lp).toBeCloseTo(expected[t], 4));
        for (const h of entropies[b]) expect(h).toBeGreaterThan(0);
        for (const h of entropies[b]) expect(h).toBeLessThanOrEqual(Math.log(VOCAB) + 1e-9);
      }
    });

    it('with capAtBlock, rows stop unended at blockSize + 1 tokens instead of sliding', async () => {
      const opts: DecodeOptions = { maxNewTokens: 14, temperature: 1, topK: 0, seed: 3, capAtBlock: true };
      const { ids, ended } = await sampleBatch(m, LONG, opts);
      const free = await sampleBatch(m, LONG, { ...opts, capAtBlock: false });
      LONG.forEach((p, b) => {
        const room = Math.max(0, Math.min(14, 16 + 1 - p.length)); // block 16: 20 → 0, 12 → 5, 9 → 8, the rest 14
        expect(ids[b]).toHaveLength(room);
        expect(ids[b]).toEqual(free.ids[b].slice(0, room)); // the same draws, cut where the block is full
        expect(ended[b]).toBe(false);
      });
      expect(ids.map((r) => r.length)).toEqual([14, 12, 5, 14, 0, 8]);
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
    const none = PROMPTS.map(() => []);
    expect(await sampleBatch(m, PROMPTS, { ...opts, maxNewTokens: 0 })).toEqual({ ids: none, ended: PROMPTS.map(() => false), logProbs: none, entropies: none });
    expect(await sampleBatch(m, [], opts)).toEqual({ ids: [], ended: [], logProbs: [], entropies: [] });
    m.dispose();
  });
});

describe('sampleToken', () => {
  // logits ln 1, ln 2, ln 3: softmax is exactly 1/6, 1/3, 1/2.
  const logits = Float32Array.from([1, 2, 3], Math.log);
  const H = (p: number[]) => -p.reduce((s, x) => s + x * Math.log(x), 0);
  const fixed = (u: number) => ({ next: () => u }) as unknown as Random;

  it('draws by the cumulative weights, most likely token first (hand-worked draws)', () => {
    // Sorted: token 2 (weight 1/2), token 1 (1/3), token 0 (1/6).
    expect(pickToken(logits, 1, 0, fixed(0.4))).toBe(2); // 0.4 ≤ 1/2
    expect(pickToken(logits, 1, 0, fixed(0.6))).toBe(1); // 1/2 < 0.6 ≤ 5/6
    expect(pickToken(logits, 1, 0, fixed(0.95))).toBe(0); // 5/6 < 0.95
    expect(pickToken(logits, 1, 2, fixed(0.95))).toBe(1); // top-2: 3/5, 2/5
    expect(pickToken(logits, 0, 0, fixed(0.95))).toBe(2); // greedy
  });

  it('draws with the softmax probabilities', () => {
    const rng = new Random(4);
    const counts = [0, 0, 0];
    for (let i = 0; i < 30_000; i++) counts[pickToken(logits, 1, 0, rng)]++;
    // Within four standard deviations of a binomial share, √(p(1 − p)/n) ≈ 0.003.
    [1 / 6, 1 / 3, 1 / 2].forEach((p, i) => expect(Math.abs(counts[i] / 30_000 - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / 30_000)));
    expect(counts.reduce((a, b) => a + b)).toBe(30_000);
  });

  it('reports log p and the entropy of the distribution it drew from', () => {
    const at = (temperature: number, topK: number, u: number) => sampleToken(logits, temperature, topK, fixed(u));
    expect(at(1, 0, 0.6).token).toBe(1);
    expect(at(1, 0, 0.6).logProb).toBeCloseTo(Math.log(1 / 3), 6);
    expect(at(1, 0, 0.6).entropy).toBeCloseTo(H([1 / 6, 1 / 3, 1 / 2]), 6);
    expect(at(1, 2, 0.95).logProb).toBeCloseTo(Math.log(2 / 5), 6); // renormalised over the top 2
    expect(at(1, 2, 0.95).entropy).toBeCloseTo(H([3 / 5, 2 / 5]), 6);
    const s2 = 1 + Math.SQRT2 + Math.sqrt(3); // temperature 2: p ∝ √1, √2, √3
    expect(at(2, 0, 0.01).logProb).toBeCloseTo(Math.log(Math.sqrt(3) / s2), 6);
    expect(at(2, 0, 0.01).entropy).toBeCloseTo(H([1 / s2, Math.SQRT2 / s2, Math.sqrt(3) / s2]), 6);
    expect(at(0, 1, 0.5)).toEqual({ token: 2, logProb: expect.closeTo(Math.log(1 / 2), 6), entropy: expect.closeTo(H([1 / 6, 1 / 3, 1 / 2]), 6) });
  });
});
