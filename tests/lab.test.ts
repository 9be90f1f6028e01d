/**
 * The worker's API driven directly in Node: cpu backend, fake IndexedDB, the bundled corpus read
 * from disk. A "reload" is a fresh API instance on the same database.
 */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { createLabApi, type LabEnv } from '../src/lab/api.ts';
import type { LabUpdate, MetricRow, RunSettings } from '../src/lab/types.ts';
import { openLabStore } from '../src/storage/index.ts';
import { startGradientThreads } from '../cli/gradient-threads.ts';
import { appendRows, emptySeries, smooth } from '../src/ui/series.ts';
import { defaultSettings, settingsFromHash, settingsToHash } from '../src/ui/settings.ts';

const CORPUS = resolve(import.meta.dirname, '../corpora/tales');

function env(factory: IDBFactory): LabEnv {
  return {
    loadBundledCorpus: async () => ({
      train: await readFile(`${CORPUS}/train.txt`, 'utf8'),
      val: await readFile(`${CORPUS}/val.txt`, 'utf8'),
    }),
    openStore: () => openLabStore('lm-lab-test', factory),
    logInterval: 5,
  };
}

const settings: RunSettings = {
  corpus: 'tales',
  preset: 'micro',
  steps: 12,
  learningRate: 3e-3,
  batchSize: 4,
  seed: 3,
  autosaveEvery: 4,
  keepAutosaves: 2,
};

/** An API instance and everything it has told the page so far. */
async function open(factory: IDBFactory) {
  const api = createLabApi(env(factory));
  const updates: LabUpdate[] = [];
  api.subscribe((u) => updates.push(u));
  const backend = await api.init('cpu');
  const rows = (): MetricRow[] => {
    let out: MetricRow[] = [];
    for (const u of updates) if (u.rows) out = u.resetRows ? [...u.rows] : out.concat(u.rows);
    return out;
  };
  return { api, updates, backend, rows };
}

async function until(ok: () => boolean, timeout = 60_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('lab api', () => {
  test('steps, autosaves, and a fresh instance resumes at the same step with the same batches', async () => {
    const factory = new IDBFactory();
    const first = await open(factory);
    expect(first.backend.backend).toBe('cpu');
    expect(first.api.status()).toBe('idle');

    for (let i = 0; i < 6; i++) await first.api.stepOnce(settings);
    expect(first.api.status()).toBe('paused');
    const checkpoints = await first.api.listCheckpoints();
    expect(checkpoints.map((c) => c.step)).toEqual([4]);
    await until(() => first.rows().length === 6);
    const original = first.rows();
    expect(original.map((r) => r.step)).toEqual([0, 1, 2, 3, 4, 5]);

    // "Reload": the newest run comes back at its newest autosave, with the charts' rows up to it.
    const second = await open(factory);
    expect(second.api.status()).toBe('paused');
    await until(() => second.rows().length === 4);
    expect(second.rows()).toEqual(original.slice(0, 4));
    const run = [...second.updates].reverse().find((u) => u.run)?.run;
    expect(run?.step).toBe(4);
    expect(run?.restoredFrom?.step).toBe(4);

    // The next step draws the same batch from the same weights: the same loss as before.
    await second.api.stepOnce(settings);
    await until(() => second.rows().length === 5);
    expect(second.rows()[4].step).toBe(4);
    expect(second.rows()[4].loss).toBeCloseTo(original[4].loss, 5);
  });

  test('the loop trains to the end, keeps K autosaves, and pins survive rotation', async () => {
    const factory = new IDBFactory();
    const { api, rows } = await open(factory);
    await api.pretrain(settings);
    await until(() => api.status() !== 'running' && api.status() !== 'loading');
    expect(api.status()).toBe('done');
    await until(() => rows().length === 12);
    const saved = await api.listCheckpoints();
    expect(saved.map((c) => c.step)).toEqual([8, 12]);

    await api.pinCheckpoint(saved[0].id, true);
    await api.forkCheckpoint(saved[0].id);
    expect(api.status()).toBe('paused');
    const forked = await api.listCheckpoints();
    expect(forked.map((c) => c.step)).toEqual([8]);
    await api.resume();
    await until(() => api.status() === 'done');
    expect((await api.listCheckpoints()).map((c) => c.step)).toEqual([8, 12]);

    const sample = await api.sample({ prompt: 'Once', maxTokens: 20, temperature: 0.8, topK: 10, seed: 1 });
    expect(sample.text.length).toBeGreaterThan(0);
    expect(sample.step).toBe(12);
  });
});

describe('helpers in the lab worker (wasm, Node worker threads)', () => {
  test("a run whose batches pay is shared with the helpers, with the losses of training alone; micro's batches are not", async () => {
    const starts: number[] = [];
    const lab = (count: number, factory = new IDBFactory()) => {
      const api = createLabApi({ ...env(factory), gradientHelpers: { count: () => count, start: (n, config, names) => (starts.push(n), startGradientThreads(n, config, names)) } });
      const updates: LabUpdate[] = [];
      api.subscribe((u) => updates.push(u));
      return { api, updates };
    };
    const shared = lab(1);
    await shared.api.init('wasm');
    const big: RunSettings = { ...settings, steps: 400, batchSize: 32 }; // micro with 32 rows: 512 tokens, two slices
    const workers = () => [...shared.updates].reverse().find((u) => u.summary)?.summary?.workers;
    // The helpers start while the first steps run alone; step until a step is shared, then three more.
    let taken = 0;
    while (workers() !== 2 && taken < 300) {
      await shared.api.stepOnce(big);
      taken += 1;
      await new Promise((r) => setTimeout(r, 10)); // the summary arrives through the outbox
    }
    expect(workers()).toBe(2);
    for (let i = 0; i < 3; i++) await shared.api.stepOnce(big);
    taken += 3;
    expect(starts).toEqual([1]);

    // The same steps alone give the same losses, the shared ones and the ones before them.
    const alone = lab(0);
    await alone.api.init('wasm');
    for (let i = 0; i < taken; i++) await alone.api.stepOnce(big);
    const losses = (updates: LabUpdate[]) => updates.flatMap((u) => u.rows ?? []).map((r) => r.loss);
    await until(() => losses(shared.updates).length === taken && losses(alone.updates).length === taken);
    losses(shared.updates).forEach((l, i) => expect(Math.abs(l - losses(alone.updates)[i])).toBeLessThan(1e-5));

    // micro's own batches (4 × 16 tokens) are too small to share: no helper is started for them.
    const small = lab(1);
    await small.api.init('wasm');
    await small.api.stepOnce(settings);
    expect(starts).toEqual([1]);
  });
});

describe('settings in the URL hash', () => {
  test('round-trip, and bad values fall back to the defaults', () => {
    const s = { ...settings, learningRate: 0.0025, seed: 42 };
    expect(settingsFromHash(settingsToHash(s))).toEqual(s);
    const bad = settingsFromHash('#preset=huge&steps=-3&lr=abc&seed=7');
    expect(bad).toEqual({ ...defaultSettings(), seed: 7 });
  });

  test('a preset brings its batch size and learning rate unless the hash gives them', () => {
    expect(settingsFromHash('#preset=micro')).toMatchObject({ preset: 'micro', batchSize: 4, learningRate: 3e-3 });
    expect(settingsFromHash('#preset=micro&batch=8')).toMatchObject({ preset: 'micro', batchSize: 8 });
  });
});

describe('chart series', () => {
  test('rows become points after their step; missing values add nothing', () => {
    const s = appendRows(emptySeries(), [{ step: 0, loss: 4 }, { step: 1, loss: 3, valLoss: 3.5 }]);
    expect(s.loss).toEqual([{ x: 1, y: 4 }, { x: 2, y: 3 }]);
    expect(s.valLoss).toEqual([{ x: 2, y: 3.5 }]);
  });

  test('debiased EMA: the first point is the first value, a constant stays constant', () => {
    const pts = [4, 4, 4].map((y, i) => ({ x: i, y }));
    expect(smooth(pts, 0.9).map((p) => p.y)).toEqual([4, 4, 4].map((v) => expect.closeTo(v, 10)));
    const two = smooth([{ x: 0, y: 2 }, { x: 1, y: 4 }], 0.5);
    expect(two[0].y).toBeCloseTo(2);
    expect(two[1].y).toBeCloseTo((0.5 * 0.5 * 2 + 0.5 * 4) / 0.75); // s = α(1−α)·2 + (1−α)·4, over 1 − α²
  });
});
