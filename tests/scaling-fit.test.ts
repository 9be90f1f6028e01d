/**
 * The scaling lab's maths (src/core/scaling): the parabola and power-law fits recover known curves,
 * the IsoFLOP fit finds the optimum of points drawn from a known law, FLOPs match a hand count.
 */
import { describe, expect, it } from 'vitest';
import { fitParabola, fitPowerLaw, isoFlopFit, type SweepPoint } from '../src/core/scaling/fit.ts';
import { parameterCounts, scalingFamily, tokensFor } from '../src/core/scaling/family.ts';
import { flopsPerToken } from '../src/core/model/config.ts';

describe('fits', () => {
  it('fitParabola recovers y = 2x² − 3x + 1 exactly', () => {
    const xs = [-2, -1, 0, 1, 2, 3];
    const p = fitParabola(xs, xs.map((x) => 2 * x * x - 3 * x + 1));
    expect(p.a).toBeCloseTo(2, 10);
    expect(p.b).toBeCloseTo(-3, 10);
    expect(p.c).toBeCloseTo(1, 10);
    expect(() => fitParabola([1, 1, 1], [1, 2, 3])).toThrow(/do not determine/);
  });

  it('fitPowerLaw recovers y = 3·x^0.5', () => {
    const xs = [1, 10, 100, 1000];
    const p = fitPowerLaw(xs, xs.map((x) => 3 * Math.sqrt(x)));
    expect(p.exponent).toBeCloseTo(0.5, 12);
    expect(p.k).toBeCloseTo(3, 10);
    expect(() => fitPowerLaw([1, -1], [1, 1])).toThrow(/positive/);
  });

  it('isoFlopFit finds each budget\'s optimum and the exponents of a known law', () => {
    // Points on L = E + (ln N − ln N*)² with N* = 0.1·C^0.5, D = C / 6N: the optimum is N*, D* = C/(6N*), a = b = 0.5.
    const points: SweepPoint[] = [];
    for (const budget of [1e12, 1e13, 1e14]) {
      const best = 0.1 * Math.sqrt(budget);
      for (const f of [0.1, 0.3, 1, 3, 10]) {
        const params = best * f;
        points.push({ budget, params, tokens: budget / (6 * params), valLoss: 1.5 + Math.log(f) ** 2 });
      }
    }
    const fit = isoFlopFit(points);
    for (const f of fit.fits) {
      expect(f.optimalParams / (0.1 * Math.sqrt(f.budget))).toBeCloseTo(1, 8);
      expect(f.optimalTokens / (f.budget / (6 * f.optimalParams))).toBeCloseTo(1, 8);
      expect(f.interiorMinimum).toBe(true);
      expect(f.convex).toBe(true);
    }
    expect(fit.exponents!.params).toBeCloseTo(0.5, 8);
    expect(fit.exponents!.tokens).toBeCloseTo(0.5, 8);
    // tokens per parameter at the optimum: C/(6N*²) = C / (6·0.01·C) = 1/0.06
    for (const r of fit.tokensPerParam) expect(r).toBeCloseTo(1 / 0.06, 6);
  });

  it('says when the lowest loss is at an end of the sweep, and leaves that budget out of the exponents', () => {
    const points: SweepPoint[] = [1, 2, 4, 8].map((params, i) => ({ budget: 1e9, params, tokens: 1e9 / (6 * params), valLoss: 4 - i * 0.1 + i * i * 0.001 }));
    expect(isoFlopFit(points).fits[0].interiorMinimum).toBe(false);
    // Two budgets with a measured minimum and this one: the exponents come from the two alone.
    const measured: SweepPoint[] = [1e10, 1e11].flatMap((budget) => [0.5, 1, 2].map((f) => ({ budget, params: 10 * Math.sqrt(budget) * f, tokens: budget / (60 * Math.sqrt(budget) * f), valLoss: 1 + Math.log(f) ** 2 })));
    const fit = isoFlopFit([...points, ...measured]);
    expect(fit.fits[0].convex && !fit.fits[0].interiorMinimum).toBe(true);
    expect(fit.exponents!.params).toBeCloseTo(0.5, 8);
  });
});

describe('family and FLOPs', () => {
  it('spans more than 10× in parameters, smallest to largest', () => {
    const sizes = scalingFamily(90).map((c) => parameterCounts(c).params);
    expect(sizes).toEqual([...sizes].sort((a, b) => a - b));
    expect(sizes[sizes.length - 1] / sizes[0]).toBeGreaterThan(10);
  });

  it('counts FLOPs per token by hand for one shape (6·N without the position table, plus 12·L·T·C)', () => {
    const c = { vocabSize: 10, blockSize: 8, nLayer: 1, nHead: 1, nEmbd: 4 };
    // wte 40 + wpe 32 + ln_1 8 + c_attn 48+12 + c_proj 16+4 + ln_2 8 + c_fc 64+16 + mlp c_proj 64+4 + ln_f 8 = 324
    const { params, nonEmbeddingParams } = parameterCounts(c);
    expect(params).toBe(324);
    expect(nonEmbeddingParams).toBe(324 - 40 - 32);
    expect(flopsPerToken(c)).toBe(6 * (324 - 32) + 12 * 1 * 8 * 4);
    const { tokens, steps } = tokensFor(flopsPerToken(c) * 8 * 10, c, 2);
    expect([steps, tokens]).toEqual([5, 80]);
  });
});
