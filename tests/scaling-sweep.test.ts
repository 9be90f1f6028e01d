/**
 * The scaling sweep (src/core/scaling/sweep.ts): the plan against hand counts, each budget's window
 * of sizes, one point trained as an ordinary run whose checkpoint stands for it, and the summary
 * with and without embedding parameters. (The sweep adds no tensor work of its own: a point is an
 * ordinary session's steps and evaluation.)
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeCheckpoint } from '../src/core/io/checkpoint.ts';
import { flopsPerToken } from '../src/core/model/config.ts';
import { parameterCounts, scalingFamily, windowFor } from '../src/core/scaling/family.ts';
import { pointFromCheckpoint, summarizeSweep, type SweepResult } from '../src/core/scaling/points.ts';
import { planSweep, pointFileName, pointSession, SWEEP_DEFAULTS, trainPoint, type PlannedPoint } from '../src/core/scaling/sweep.ts';
import { tinyCorpus, useBackend } from './helpers.ts';

const VOCAB = 65;
const settings = { budgets: [1e11, 3e11], sizes: 5, batchSize: 16, learningRate: 3e-3 };

describe('the plan', () => {
  it('counts the smallest shape by hand: 1,920 parameters, 14,592 FLOPs a token (6·N without the position table, plus 12·L·T·C)', () => {
    const smallest = scalingFamily(VOCAB)[0]; // 1 layer, width 8, context 64
    // wte 65·8 = 520, wpe 64·8 = 512; the block: ln_1 16, c_attn 8·24 + 24 = 216, attn.c_proj 64 + 8 = 72,
    // ln_2 16, c_fc 8·32 + 32 = 288, mlp.c_proj 32·8 + 8 = 264 → 872; ln_f 16.
    expect(parameterCounts(smallest)).toEqual({ params: 520 + 512 + 872 + 16, nonEmbeddingParams: 872 + 16 });
    // 6·(1,920 − 512) = 8,448 for the matmuls (the tied head is one), 12·1·64·8 = 6,144 for attention.
    expect(flopsPerToken(smallest)).toBe(8448 + 6144);
  });

  it('gives each budget its window of consecutive sizes and the whole steps the budget buys', () => {
    const family = scalingFamily(VOCAB);
    const plan = planSweep(settings, VOCAB);
    expect(plan).toHaveLength(10);
    for (const budget of settings.budgets) {
      const at = plan.filter((p) => p.budget === budget);
      const indices = at.map((p) => family.findIndex((c) => c.nLayer === p.model.nLayer && c.nEmbd === p.model.nEmbd));
      expect(indices).toEqual(windowFor(budget, family, 5));
      expect(indices).toEqual(Array.from({ length: 5 }, (_, i) => indices[0] + i));
      for (const p of at) {
        const perStep = 16 * 64 * flopsPerToken(p.model);
        expect(p.steps).toBe(Math.round(budget / perStep));
        expect(p.tokens).toBe(p.steps * 16 * 64);
        // Whole steps: the FLOPs spent are within half a step of the budget.
        expect(Math.abs(p.steps * perStep - budget)).toBeLessThanOrEqual(perStep / 2);
      }
    }
    // A larger budget's window sits no lower on the ladder.
    expect(windowFor(3e11, family, 5)[0]).toBeGreaterThanOrEqual(windowFor(1e11, family, 5)[0]);
  });

  it('keeps a window inside the ladder at either end', () => {
    const family = scalingFamily(VOCAB);
    expect(windowFor(1e3, family, 4)).toEqual([0, 1, 2, 3]);
    expect(windowFor(1e20, family, 3)).toEqual([family.length - 3, family.length - 2, family.length - 1]);
  });

  it('refuses settings a sweep cannot use, with a message', () => {
    expect(() => planSweep({ ...settings, sizes: 2 }, VOCAB)).toThrow(/number of sizes must be a whole number from 3/);
    expect(() => planSweep({ ...settings, budgets: [1e11, 2e11, 3e11, 4e11] }, VOCAB)).toThrow(/one to three budgets/);
    expect(() => planSweep({ ...settings, budgets: [1e5] }, VOCAB)).toThrow(/between 1e8 and 1e15/);
    expect(() => planSweep({ ...settings, budgets: [1e11, 1e11] }, VOCAB)).toThrow(/must differ/);
  });

  it('names each point\'s file by budget, shape and seed', () => {
    const [first] = planSweep(settings, VOCAB);
    expect(pointFileName(first, 2)).toBe(`scaling-1.0e11-L${first.model.nLayer}-C${first.model.nEmbd}-seed2.safetensors`);
  });
});

describe('the summary', () => {
  // Losses on L = 1 + (ln N − ln N*)² with N* = 0.05·√C, counted with embeddings; the tables add a fixed share.
  const results: SweepResult[] = [1e11, 1e12].flatMap((budget) =>
    [0.25, 0.5, 1, 2, 4].map((f) => {
      const params = 0.05 * Math.sqrt(budget) * f;
      return { budget, params, nonEmbeddingParams: params / 2, tokens: budget / (6 * params), steps: 1, valLoss: 1 + Math.log(f) ** 2, seconds: 1, seed: 1 };
    }),
  );

  it('finds each budget\'s optimum and the ratio, counting parameters either way', () => {
    const withEmbeddings = summarizeSweep(results, { embeddings: true });
    const without = summarizeSweep(results, { embeddings: false });
    for (const [i, fit] of withEmbeddings.fits.entries()) {
      const best = 0.05 * Math.sqrt(fit.budget);
      expect(fit.optimalParams / best).toBeCloseTo(1, 8);
      expect(fit.interiorMinimum).toBe(true);
      // Without the embedding tables the same runs have half the parameters: the optimum halves, its tokens stay.
      expect(without.fits[i].optimalParams / (best / 2)).toBeCloseTo(1, 8);
      expect(without.fits[i].optimalTokens / fit.optimalTokens).toBeCloseTo(1, 8);
    }
    // D* = C / 6N* = C / (0.3·√C): tokens per parameter C / (6·0.0025·C) = 1 / 0.015 with embeddings, twice that without.
    for (const r of withEmbeddings.tokensPerParam) expect(r).toBeCloseTo(1 / 0.015, 6);
    for (const r of without.tokensPerParam) expect(r).toBeCloseTo(2 / 0.015, 6);
    expect(withEmbeddings.exponents!.params).toBeCloseTo(0.5, 8);
    expect(withEmbeddings.embeddings).toBe(true);
  });

  it('says which budget has too few sizes for a parabola', () => {
    expect(() => summarizeSweep(results.filter((r) => r.budget === 1e11 || r.valLoss === 1), { embeddings: true })).toThrow(/budget 1\.0e\+12 has 1 model size; a parabola needs at least 3/);
  });
});

describe('one point', () => {
  beforeAll(() => useBackend('cpu'));

  it('trains as an ordinary run whose checkpoint stands for the point', async () => {
    const { corpus, tokenizer } = tinyCorpus(6000);
    const model = scalingFamily(tokenizer.vocabSize)[0];
    const point: PlannedPoint = { budget: 3 * 2 * 64 * flopsPerToken(model), model, ...parameterCounts(model), steps: 3, tokens: 3 * 2 * 64 };
    const sweep = { budgets: [point.budget], sizes: 3, batchSize: 2, learningRate: SWEEP_DEFAULTS.learningRate };
    const session = pointSession(point, sweep, 7, corpus, tokenizer);
    const steps: number[] = [];
    const result = await trainPoint(session, point, { onStep: (s) => steps.push(s), finalEvalBatches: 2 });
    expect(steps).toEqual([1, 2, 3]);
    expect(session.model.config).toEqual(model);
    expect(result).toMatchObject({ budget: point.budget, params: point.params, nonEmbeddingParams: point.nonEmbeddingParams, tokens: 384, steps: 3, seed: 7 });
    expect(result.valLoss).toBeCloseTo(await session.trainer.evaluate(2), 6);
    const state = decodeCheckpoint(await session.toCheckpointBytes());
    expect(pointFromCheckpoint(state)).toEqual(result);
    expect(pointFromCheckpoint({ ...state, extra: {} })).toMatch(/not a point of a scaling sweep/);
    expect(pointFromCheckpoint({ ...state, extra: { scaling: { ...result, params: result.params + 1 } } })).toMatch(/does not match its model/);
    expect(pointFromCheckpoint({ ...state, extra: { scaling: { ...result, valLoss: 'low' } } })).toMatch(/valLoss is not a number/);
    session.dispose();
  });
});
