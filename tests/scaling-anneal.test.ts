/**
 * The anneal experiment (src/core/scaling/anneal.ts): where the decays start, counted by hand; the
 * schedules each arm trains with; and a short run whose early branch starts from the stable run's
 * own history and whose decays are measured before and after.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { armConfig, earlyBranchConfig, planAnneal, runAnneal } from '../src/core/scaling/anneal.ts';
import { learningRate } from '../src/core/train/schedule.ts';
import { tinyCorpus, useBackend } from './helpers.ts';

const settings = { steps: 1500, learningRate: 3e-3, decayFraction: 0.2, earlyShare: 0.5, seed: 1 };

describe('the plan', () => {
  it('decays over the last 300 of 1,500 steps, and branches early at 750 − 300 = 450', () => {
    expect(planAnneal(settings)).toEqual({ steps: 1500, decaySteps: 300, earlyBranch: 450, lateBranch: 1200 });
    expect(() => planAnneal({ ...settings, earlyShare: 0.2 })).toThrow(/early share between 0.27 and/);
    expect(() => planAnneal({ ...settings, decayFraction: 0.6 })).toThrow(/below 0.5/);
  });

  it('holds the stable run at its peak until each decay, then falls in a straight line to the same floor as cosine', () => {
    const plan = planAnneal(settings);
    const rate = (c: ReturnType<typeof armConfig>, step: number) =>
      learningRate(step, { kind: c.schedule ?? 'wsd', maxLr: 3e-3, minLr: 3e-4, warmupSteps: 100, totalSteps: c.steps!, decayFraction: c.decayFraction });
    const stable = armConfig('wsd', plan, settings);
    const early = { ...stable, ...earlyBranchConfig(plan) };
    expect(rate(stable, 449)).toBe(3e-3);
    expect(rate(stable, 1199)).toBe(3e-3);
    expect(rate(stable, 1350)).toBeCloseTo(3e-3 - 0.5 * 2.7e-3, 12);
    expect(rate(early, 449)).toBe(3e-3); // the branch's past is the stable run's
    expect(rate(early, 600)).toBeCloseTo(3e-3 - 0.5 * 2.7e-3, 12);
    expect(rate(early, 750)).toBe(3e-4);
    const cosine = armConfig('cosine', plan, settings);
    expect(rate(cosine, 1500)).toBeCloseTo(3e-4, 12);
    expect(rate(cosine, 800)).toBeCloseTo(3e-4 + 0.5 * (1 + Math.cos(Math.PI * 700 / 1400)) * 2.7e-3, 12);
  });
});

describe('a short run', () => {
  beforeAll(() => useBackend('wasm'));

  it('gives three finished models, the early one from the stable run\'s own history, each decay measured', async () => {
    const { corpus, tokenizer } = tinyCorpus(6000);
    const steps: Record<string, number> = {};
    const result = await runAnneal({ ...settings, steps: 20, preset: 'micro' }, corpus, tokenizer, { finalEvalBatches: 2, onStep: (arm) => void (steps[arm] = (steps[arm] ?? 0) + 1) });
    expect(result.plan).toEqual({ steps: 20, decaySteps: 4, earlyBranch: 6, lateBranch: 16 });
    // The stable run is trained once: the early branch costs only its decay.
    expect(steps).toEqual({ cosine: 20, wsd: 20, 'wsd-early': 4 });
    const [cosine, wsd, early] = result.arms;
    expect([cosine.name, wsd.name, early.name]).toEqual(['cosine', 'wsd', 'wsd-early']);
    expect([cosine.tokens, wsd.tokens, early.tokens]).toEqual([20 * 4 * 16, 20 * 4 * 16, 10 * 4 * 16]);
    expect(early.extraSteps).toBe(4);
    for (const arm of [wsd, early]) {
      expect(arm.decay!.drop).toBeCloseTo(arm.decay!.before - arm.decay!.after, 12);
      expect(arm.decay!.after).toBe(arm.finalValLoss);
    }
    expect(early.decay!.from).toBe(6);
    expect(early.curve.every((p) => p.step >= 6)).toBe(true);
    expect(result.wsdMinusCosine).toBeCloseTo(wsd.finalValLoss - cosine.finalValLoss, 12);
  });
});
