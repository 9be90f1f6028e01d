/**
 * The worker's RL surface driven in Node (cpu backend, fake IndexedDB): pretrain → SFT → reward
 * model → RL with β = 0 and, forked from the same SFT checkpoint, β = 0.05; the completions table,
 * the β comparison, and a reload that resumes the RL run exactly where its autosave left it; and an
 * RL file sent to another tab, which loads frozen until its SFT checkpoint and reward model arrive.
 */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, test } from 'vitest';
import { decodeCheckpoint } from '../src/core/io/checkpoint.ts';
import type { RunSettings } from '../src/lab/types.ts';
import type { LabDB } from '../src/storage/index.ts';
import { finished, openLab } from './lab-harness.ts';

const settings: RunSettings = { corpus: 'tales', preset: 'micro', steps: 6, learningRate: 3e-3, batchSize: 4, seed: 5, autosaveEvery: 2, keepAutosaves: 2 };

const open = (factory: IDBFactory) => openLab(factory, 'lm-lab-rl-test');

/** `db` with a count of the reads of checkpoint bytes (a `get`, or a read-only transaction over them). */
function countingBytesReads(reads: { count: number }) {
  return (db: LabDB): LabDB =>
    new Proxy(db, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          const [stores, mode] = args as [string | string[], string | undefined];
          if (prop === 'get' ? stores === 'checkpointBytes' : prop === 'transaction' && [stores].flat().includes('checkpointBytes') && mode !== 'readwrite') reads.count += 1;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
}

describe('RL in the lab worker', () => {
  test('reward model, RL at two β from one SFT checkpoint, samples, comparison, reload', { timeout: 400_000 }, async () => {
    const factory = new IDBFactory();
    const bytesReads = { count: 0 };
    const lab = await openLab(factory, 'lm-lab-rl-test', countingBytesReads(bytesReads));
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
    // The page hears of the reward model when it is saved, without asking.
    expect([...lab.updates].reverse().find((u) => u.rewardModels)?.rewardModels).toEqual(models);

    // With the reward model loaded, RL forks the SFT checkpoint the reward model started from.
    await lab.api.rl({ steps: 4, reward: 'model', klCoef: 0, groupSize: 2, promptsPerStep: 2 });
    const readsBeforeSteps = bytesReads.count;
    await finished(lab.api);
    expect(bytesReads.count, 'checkpoint reads while RL trained').toBe(readsBeforeSteps); // no reward model is read per step
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
    // The latest step's samples reached the page with that step's rows.
    const lastSamples = [...lab.updates].reverse().find((u) => u.rlSamples);
    expect(lastSamples?.rows?.at(-1)?.step).toBe(3);
    expect(lastSamples?.rlSamples).toEqual(samples);
    expect(lab.updates.filter((u) => u.rlSamples?.length).length).toBeGreaterThan(1); // with every step, not only at the end
    await lab.api.rewardModels();
    expect(bytesReads.count).toBeGreaterThan(readsBeforeSteps); // (the count sees the list's reads)

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
    expect(again.updates.some((u) => u.resetRows && u.rlSamples)).toBe(true);
    expect([...again.updates].reverse().find((u) => u.rewardModels)?.rewardModels).toEqual(models);
    expect((await again.api.rlComparison()).length).toBe(2);

    // With verifiers, the form's partial credit reaches the stage and is kept in its checkpoint.
    await again.api.rl({ steps: 2, reward: 'verifier', klCoef: 0, groupSize: 2, promptsPerStep: 2, partialCredit: 0.2 });
    await finished(again.api);
    const rl = decodeCheckpoint((await again.api.currentFile()).bytes).extra.rl as { reward: string; partialCredit: number };
    expect(rl).toMatchObject({ reward: 'verifier', partialCredit: 0.2 });
  });

  test('an RL file sent to another tab samples and scores at once, and trains on, exactly, once its SFT model and reward model arrive', { timeout: 400_000 }, async () => {
    const sender = await open(new IDBFactory());
    await sender.api.pretrain(settings);
    await finished(sender.api);
    await sender.api.sft({ steps: 4 });
    await finished(sender.api);
    // Sent without its optimizer moments: another file than the one the RL run records, the same model.
    const sftAt4 = (await sender.api.listCheckpoints()).find((c) => c.step === 4)!;
    const sftFile = (await sender.api.checkpointFile(sftAt4.id, false)).bytes;
    await sender.api.rm({ steps: 4 });
    await finished(sender.api);
    const rmFile = (await sender.api.currentFile()).bytes;
    await sender.api.rl({ steps: 4, reward: 'model', klCoef: 0.05, groupSize: 2, promptsPerStep: 2 });
    await finished(sender.api);
    const sent = sender.rows();
    const rlAt2 = (await sender.api.listCheckpoints()).find((c) => c.step === 2)!;
    const rlFile = (await sender.api.checkpointFile(rlAt2.id)).bytes;

    const factory = new IDBFactory();
    const receiver = await open(factory);
    const drop = async (bytes: Uint8Array, name: string) => {
      await receiver.api.previewImport(bytes, name);
      await receiver.api.acceptImport();
      await finished(receiver.api);
    };
    await drop(rlFile, 'rl.safetensors');
    expect(receiver.run()).toMatchObject({ stage: 'rl', step: 2 });
    expect(receiver.run()!.frozen).toMatch(/SFT checkpoint it started from \(step 4, SHA-256 [0-9a-f]{12}…\).* and the reward model it trained against/);
    expect(receiver.notices().at(-1)).toContain(receiver.run()!.frozen);
    await expect(receiver.api.resume()).rejects.toThrow(/To train on/);
    expect(receiver.api.status()).toBe('paused');
    const frozenCards = await receiver.api.rlCards(4);
    expect(frozenCards?.reference).toBeNull();
    expect(frozenCards?.current).toBeDefined();
    expect((await receiver.api.rlComparison()).map((c) => [c.klCoef, c.rows.length])).toEqual([[0.05, 2]]);

    // Either file alone leaves the RL run loaded, lacking the other; an unrelated file is just loaded.
    await drop(sftFile, 'sft-weights.safetensors');
    expect(receiver.run()!.stage).toBe('rl');
    expect(receiver.run()!.frozen).toMatch(/needs the reward model/);
    expect(receiver.run()!.frozen).not.toMatch(/SFT checkpoint/);
    await drop(rmFile, 'rm.safetensors');
    expect(receiver.run()).toMatchObject({ stage: 'rl', step: 2 });
    expect(receiver.run()!.frozen).toBeUndefined();
    expect(receiver.notices().at(-1)).toMatch(/whole again: Resume continues it/);
    expect((await receiver.api.rlCards(4))?.reference).not.toBeNull();

    // The same reference and reward model: steps 2 and 3 are the sender's.
    await receiver.api.resume();
    await finished(receiver.api);
    expect(receiver.run()!.step).toBe(4);
    const got = receiver.rows();
    for (const step of [2, 3]) {
      for (const key of ['reward', 'kl', 'rewardModelScore', 'loss']) expect(got.find((r) => r.step === step)![key], `${key} at ${step}`).toBeCloseTo(sent.find((r) => r.step === step)![key], 6);
    }

    // A reload finds the run whole (its record now names the checkpoints it found).
    const again = await open(factory);
    expect(again.run()).toMatchObject({ stage: 'rl', step: 4 });
    expect(again.run()!.frozen).toBeUndefined();
  });
});
