/**
 * The worker's RL surface driven in Node (cpu backend, fake IndexedDB): pretrain → SFT → reward
 * model → RL with β = 0 and, forked from the same SFT checkpoint, β = 0.05; the completions table,
 * the β comparison, and a reload that resumes the RL run exactly where its autosave left it.
 */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, test } from 'vitest';
import { decodeCheckpoint } from '../src/core/io/checkpoint.ts';
import type { RunSettings } from '../src/lab/types.ts';
import { finished, openLab } from './lab-harness.ts';

const settings: RunSettings = { corpus: 'tales', preset: 'micro', steps: 6, learningRate: 3e-3, batchSize: 4, seed: 5, autosaveEvery: 2, keepAutosaves: 2 };

const open = (factory: IDBFactory) => openLab(factory, 'lm-lab-rl-test');

describe('RL in the lab worker', () => {
  test('reward model, RL at two β from one SFT checkpoint, samples, comparison, reload', { timeout: 400_000 }, async () => {
    const factory = new IDBFactory();
    const lab = await open(factory);
    await lab.api.pretrain(settings);
    await finished(lab.api);
    await expect(lab.api.rm({ steps: 2 })).rejects.toThrow(/SFT/);
    await lab.api.sft({ steps: 4 });
    await finished(lab.api);
    const sft = lab.run()!;

    await expect(lab.api.rl({ steps: 2, reward: 'model', klCoef: 0 })).rejects.toThrow(/reward model/);
    await lab.api.rm({ steps: 4 });
    await finished(lab.api);
    expect(lab.run()!.stage).toBe('rm');
    await new Promise((r) => setTimeout(r, 20));
    expect(lab.rows().every((r) => typeof r.accuracy === 'number' && typeof r.mean_reward === 'number')).toBe(true);
    const models = await lab.api.rewardModels();
    expect(models).toHaveLength(1);

    // With the reward model loaded, RL forks the SFT checkpoint the reward model started from.
    await lab.api.rl({ steps: 4, reward: 'model', klCoef: 0, groupSize: 2, promptsPerStep: 2 });
    await finished(lab.api);
    const first = lab.run()!;
    expect(first.stage).toBe('rl');
    await new Promise((r) => setTimeout(r, 20));
    const rows = lab.rows();
    expect(rows.map((r) => r.step)).toEqual([0, 1, 2, 3]);
    for (const key of ['reward', 'kl', 'verifiedAccuracy', 'rewardModelScore', 'entropy', 'completions/mean_length', 'frac_reward_zero_std']) {
      expect(rows.every((r) => Number.isFinite(r[key])), key).toBe(true);
    }
    const samples = await lab.api.rlSamples();
    expect(samples).toHaveLength(2);
    expect(samples[0]).toMatchObject({ question: expect.any(String), reply: expect.any(String), reward: expect.any(Number) });

    // From a loaded RL run, a new RL run forks the same SFT checkpoint.
    await lab.api.rl({ steps: 4, reward: 'model', klCoef: 0.05, groupSize: 2, promptsPerStep: 2 });
    await finished(lab.api);
    const curves = await lab.api.rlComparison();
    expect(curves.map((c) => c.klCoef)).toEqual([0, 0.05]);
    expect(curves.map((c) => c.rows.length)).toEqual([4, 4]);
    expect(curves[1].loaded).toBe(true);
    const history = await lab.api.stageHistory();
    expect(history.map((h) => h.stage)).toEqual(['pretrain', 'sft']);
    expect(history[1].runId).toBe(sft.id);
    const cards = await lab.api.reportCards();
    expect(cards.map((c) => c.stage)).toEqual(['pretrain', 'sft', 'rl']);
    expect(cards.every((c) => typeof c.verifiableExactMatch === 'number' && typeof c.passAt8 === 'number')).toBe(true);

    // A reload reopens the RL run at its last autosave, with its reference and reward model.
    const again = await open(factory);
    expect(again.run()?.stage).toBe('rl');
    expect(again.run()?.step).toBe(4);
    expect((await again.api.rlComparison()).length).toBe(2);

    // With verifiers, the form's partial credit reaches the stage and is kept in its checkpoint.
    await again.api.rl({ steps: 2, reward: 'verifier', klCoef: 0, groupSize: 2, promptsPerStep: 2, partialCredit: 0.2 });
    await finished(again.api);
    const rl = decodeCheckpoint((await again.api.currentFile()).bytes).extra.rl as { reward: string; partialCredit: number };
    expect(rl).toMatchObject({ reward: 'verifier', partialCredit: 0.2 });
  });
});
