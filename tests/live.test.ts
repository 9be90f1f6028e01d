/**
 * Live samples while pretraining (src/lab/live.ts): the time budget worked by hand, then the lines
 * the runner sends, with their steps, and no tensors left behind.
 */
import 'fake-indexeddb/auto';
import * as tf from '@tensorflow/tfjs';
import { IDBFactory } from 'fake-indexeddb';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { createLabApi, type LabEnv } from '../src/lab/api.ts';
import { LIVE_SAMPLE, LiveSampler, trainingTimeBefore } from '../src/lab/live.ts';
import type { LabUpdate, RunSettings } from '../src/lab/types.ts';
import { openLabStore } from '../src/storage/index.ts';

describe('the live-sample budget', () => {
  test('training time before the next line: c·(1−s)/s', () => {
    expect(trainingTimeBefore(10, 0.05)).toBeCloseTo(190, 12); // 10 ms of sampling in every 200 ms
    expect(trainingTimeBefore(7, 0.5)).toBeCloseTo(7, 12);
    expect(trainingTimeBefore(0, 0.05)).toBe(0);
    expect(() => trainingTimeBefore(1, 0)).toThrow(/share must be in \(0, 1\)/);
    expect(() => trainingTimeBefore(1, 1)).toThrow(/share must be in \(0, 1\)/);
  });

  test('the first line after one step, then one every 19 steps of 100 ms for 100 ms samples: 5% at each line', () => {
    const live = new LiveSampler({ share: 0.05, minSteps: 10 });
    expect(live.due).toBe(false); // no step yet
    live.stepped(100);
    expect(live.due).toBe(true);
    live.sampled(100);
    const stepsBetween: number[] = [];
    let since = 0;
    for (let i = 0; i < 1900; i++) {
      live.stepped(100);
      since += 1;
      if (live.due) {
        live.sampled(100);
        stepsBetween.push(since);
        since = 0;
      }
    }
    // The second line needs T ≥ 100 · 19 = 1,900 ms of training: 18 steps after the first one's step.
    // The k-th after it needs T ≥ 100·k · 19: 19 steps more each time.
    expect(stepsBetween[0]).toBe(18);
    expect(new Set(stepsBetween.slice(1))).toEqual(new Set([19]));
    expect(live.taken).toBe(1 + stepsBetween.length);
    expect(stepsBetween.length).toBe(100); // 18 + 99 · 19 = 1,899 steps of the 1,900
    // Just after the 100th line: 100 lines of 100 ms beside 1,900 ms · 100 of training, exactly 5%.
    const atLine = new LiveSampler({ share: 0.05, minSteps: 10 });
    atLine.stepped(100);
    atLine.sampled(100);
    for (let i = 0; i < 18; i++) atLine.stepped(100);
    atLine.sampled(100);
    expect(atLine.share).toBeCloseTo(100 / 2000, 12);
    expect(live.share).toBeLessThanOrEqual(0.05);
    expect(live.share).toBeGreaterThan(0.049);
  });

  test('a cheap sample still waits the fewest steps; a dear one waits longer', () => {
    const cheap = new LiveSampler({ share: 0.05, minSteps: 10 });
    cheap.stepped(50);
    cheap.sampled(1);
    for (let i = 0; i < 9; i++) cheap.stepped(50);
    expect(cheap.due).toBe(false);
    cheap.stepped(50);
    expect(cheap.due).toBe(true);

    const dear = new LiveSampler({ share: 0.05, minSteps: 10 });
    dear.stepped(10);
    dear.sampled(200); // 200 ms: 3,800 ms of training beside the next one, 379 steps of 10 ms more
    for (let i = 0; i < 378; i++) dear.stepped(10);
    expect(dear.due).toBe(false);
    dear.stepped(10);
    expect(dear.due).toBe(true);
    expect(dear.share).toBe(0); // the first line is outside the budget
    // A line that took longer than estimated delays the next ones: the budget is cumulative.
    dear.sampled(400); // estimated 200, took 400: 400 / 4,200 ≈ 9.5% for now
    expect(dear.share).toBeCloseTo(400 / 4200, 12);
    for (let i = 0; i < 1139; i++) dear.stepped(10); // T = 15,190: (400 + 400) · 19 = 15,200 not reached
    expect(dear.due).toBe(false);
    dear.stepped(10);
    expect(dear.due).toBe(true);
  });
});

const CORPUS = resolve(import.meta.dirname, '../corpora/tales');
const env = (factory: IDBFactory): LabEnv => ({
  loadBundledCorpus: async () => ({ train: await readFile(`${CORPUS}/train.txt`, 'utf8'), val: await readFile(`${CORPUS}/val.txt`, 'utf8') }),
  openStore: () => openLabStore('lm-lab-live-test', factory),
  logInterval: 5,
});
const settings: RunSettings = { corpus: 'tales', preset: 'micro', steps: 12, learningRate: 3e-3, batchSize: 4, seed: 3, autosaveEvery: 6, keepAutosaves: 2 };

async function until(ok: () => boolean, timeout = 60_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('live lines from the runner', () => {
  test('a line after step 1 with the fixed prompt, none when turned off, and no tensors left behind', { timeout: 120_000 }, async () => {
    const api = createLabApi(env(new IDBFactory()));
    const updates: LabUpdate[] = [];
    api.subscribe((u) => updates.push(u));
    await api.init('cpu');
    const lines = () => updates.flatMap((u) => u.live ?? []);

    await api.pretrain(settings);
    await until(() => api.status() === 'done');
    await until(() => lines().length > 0);
    const [first] = lines();
    expect(first.step).toBe(1);
    expect(first.text.startsWith(LIVE_SAMPLE.prompt)).toBe(true);
    expect(first.text.length).toBeGreaterThan(LIVE_SAMPLE.prompt.length);
    // Each written token with its probability and five alternatives, from the same decode: together they are the line.
    expect(first.prompt + first.tokens.map((t) => t.text).join('')).toBe(first.text);
    expect(first.tokens.every((t) => t.prob > 0 && t.prob <= 1 && t.top.length === 5)).toBe(true);
    const steps = lines().map((l) => l.step);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    const summaries = updates.flatMap((u) => (u.summary ? [u.summary] : []));
    expect(summaries.at(-1)!.liveShare).toBeGreaterThanOrEqual(0);
    expect(summaries.at(-1)!.liveShare).toBeLessThan(1);

    // Two loops of the same size from forks of one checkpoint, live lines on: the tensor count after
    // the second is the count after the first (a line's tensors are all disposed).
    const [checkpoint] = await api.listCheckpoints();
    const loop = async () => {
      await api.forkCheckpoint(checkpoint.id);
      await api.resume();
      await until(() => api.status() === 'done');
      return tf.memory().numTensors;
    };
    const linesBefore = lines().length;
    const tensors = await loop();
    expect(await loop()).toBe(tensors);
    expect(lines().length).toBeGreaterThan(linesBefore); // each fork's loop wrote its first line

    // Turned off, a new run sends no line.
    api.setLiveSamples(false);
    const before = lines().length;
    await api.pretrain({ ...settings, seed: 4 });
    await until(() => api.status() === 'done');
    await new Promise((r) => setTimeout(r, 30));
    expect(lines().length).toBe(before);
  });
});
