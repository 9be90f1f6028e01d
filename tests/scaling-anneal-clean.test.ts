/**
 * The anneal experiment's clean-data arm (src/core/scaling/anneal-clean.ts): a stable run on a
 * mixture, then two decays of equal length from the same checkpoint, one on the mixture and one on
 * the clean text, both scored on the same held-out text.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { cleanArmSteps, runCleanDecays } from '../src/core/scaling/anneal-clean.ts';
import type { LabSession } from '../src/core/train/session.ts';
import { tinyCorpus, useBackend } from './helpers.ts';

const settings = { steps: 20, learningRate: 3e-3, decayFraction: 0.2, earlyShare: 0.5, seed: 1, preset: 'micro' as const };

describe('the clean-data arm', () => {
  beforeAll(() => useBackend('wasm'));

  it('branches both decays from the stable run\'s weights at the same step, trains them equally long, and scores them on the same text', async () => {
    const { corpus: clean, tokenizer } = tinyCorpus(6000);
    // The mixture: the same stories with a crawl's noise between them, the same held-out text.
    const noisy = tokenizer.decode(clean.train).split('\n\n').map((story, i) => (i % 2 ? `${story}\n\nhome | about | contact | log in` : story)).join('\n\n');
    const mixture = { name: 'crawl:none', train: tokenizer.encode(noisy), val: clean.val };
    const steps: Record<string, number> = {};
    const sessions: LabSession[] = [];
    let branchedFromSame = false;
    const result = await runCleanDecays(settings, { mixture, clean: { ...clean, name: 'crawl:default' } }, tokenizer, {
      finalEvalBatches: 2,
      onStep: (part) => void (steps[part] = (steps[part] ?? 0) + 1),
      attach: async (session) => {
        sessions.push(session);
        if (sessions.length !== 2) return;
        // The clean decay starts where the stable run stands now: same step, same weights.
        const [stable, branch] = await Promise.all(sessions.map((s) => s.toCheckpoint()));
        expect(branch.step).toBe(16);
        expect(stable.step).toBe(16);
        for (const [name, w] of stable.weights) expect(branch.weights.get(name)).toEqual(w);
        branchedFromSame = true;
      },
    });
    expect(branchedFromSame).toBe(true);
    // 20 steps: the last 4 decay, so both branches leave at step 16 and take 4 steps each.
    expect(result.plan).toEqual({ steps: 20, decaySteps: 4, earlyBranch: 6, lateBranch: 16 });
    expect(steps).toEqual({ 'mixture-stable': 16, 'clean-decay': 4, 'mixture-decay': 4 });
    expect(cleanArmSteps(settings)).toBe(24);
    expect(result.tokens).toBe(20 * 4 * 16);
    expect([result.mixture.corpus, result.clean.corpus]).toEqual(['crawl:none', 'crawl:default']);
    // One evaluation at the branch serves both: the same weights on the same held-out text.
    expect(result.clean.before).toBe(result.mixture.before);
    for (const d of [result.mixture, result.clean]) {
      expect(d.drop).toBeCloseTo(d.before - d.after, 12);
      expect(d.curve.every((p) => p.step >= 16)).toBe(true);
    }
    expect(result.clean.after).not.toBe(result.mixture.after);
    expect(result.cleanMinusMixture).toBeCloseTo(result.clean.after - result.mixture.after, 12);
    expect(result.stable.every((p) => p.step < 16)).toBe(true);
  });

  it('leaves no tensors behind (after the first run, whose caches stay)', async () => {
    const { corpus, tokenizer } = tinyCorpus(6000);
    const before = tf.memory().numTensors;
    await runCleanDecays(settings, { mixture: corpus, clean: { ...corpus } }, tokenizer, { finalEvalBatches: 2 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses a clean corpus validated on other text than the mixture', async () => {
    const { corpus, tokenizer } = tinyCorpus(6000);
    const other = { ...corpus, name: 'crawl:default', val: corpus.val.slice(1) };
    await expect(runCleanDecays(settings, { mixture: corpus, clean: other }, tokenizer)).rejects.toThrow(/validated on the same text/);
  });
});
