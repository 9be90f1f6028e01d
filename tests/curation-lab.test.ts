/**
 * The curation experiment through the worker's API in Node: both arms are what the core's
 * armSession and finishArm give when stepped directly (the same losses, to the bit, on cpu), the
 * page hears both curves, Stop ends it with nothing half-reported, no tensor is left behind, and a
 * crawl the filters empty gives the curation's message.
 */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, test } from 'vitest';
import { armSession, experimentArms, finishArm } from '../src/core/data/curation-experiment.ts';
import { curate, stepsNamed } from '../src/core/data/curate.ts';
import { parseDocsJsonl } from '../src/core/data/docs.ts';
import type { CurationProgress } from '../src/lab/curation.ts';
import { bundledTokenizer } from './helpers.ts';
import { CORPORA, openLab } from './lab-harness.ts';

const SETTINGS = { preset: 'micro' as const, steps: 4, seed: 3 };

describe('the curation experiment in the lab worker', () => {
  test('trains the raw and the filtered crawl as the core does, and sends both curves', { timeout: 120_000 }, async () => {
    const lab = await openLab(new IDBFactory(), 'curation-lab');
    const progress: CurationProgress[] = [];
    const before = tf.memory().numTensors;
    const outcome = await lab.api.curationExperiment(SETTINGS, (p) => progress.push(p));
    expect(tf.memory().numTensors).toBe(before);
    expect(outcome.stopped).toBe(false);
    const [raw, filtered] = outcome.arms;
    expect([raw.arm, raw.filters, filtered.arm, filtered.filters]).toEqual(['raw', 'none', 'filtered', 'default']);

    // The reference path: the same two sessions built and stepped by hand.
    const docs = parseDocsJsonl(await readFile(`${CORPORA}/crawl/docs.jsonl`, 'utf8'), 'crawl');
    const val = await readFile(`${CORPORA}/tales/val.txt`, 'utf8');
    const plans = experimentArms(docs, 'default');
    expect([raw.kept, filtered.kept]).toEqual([docs.length, curate(docs, stepsNamed('default')).kept.length]);
    for (const [i, plan] of plans.entries()) {
      const session = armSession(plan, val, bundledTokenizer(), SETTINGS);
      while (!session.done) await session.step();
      const direct = await finishArm(plan, session);
      session.dispose();
      expect(outcome.arms[i].finalValLoss).toBe(direct.finalValLoss);
      expect(outcome.arms[i].curve).toEqual(direct.curve);
      expect(outcome.arms[i].samples).toEqual(direct.samples);
    }
    expect(outcome.gain).toBe(raw.finalValLoss - filtered.finalValLoss);
    expect(raw.curve.at(-1)![0]).toBe(SETTINGS.steps);
    expect(raw.samples).toHaveLength(3);

    // The page heard each arm's curve grow, then its final figures, raw first.
    const finished = progress.filter((p) => p.done).map((p) => p.arm);
    expect(finished).toEqual(['raw', 'filtered']);
    expect(progress.find((p) => p.arm === 'filtered')!.step).toBeGreaterThan(0);
    expect(progress.filter((p) => p.arm === 'raw').at(-1)!.curve).toEqual(raw.curve);
  });

  test('Stop ends it after the step it is on, and a crawl the filters empty is refused', { timeout: 60_000 }, async () => {
    const lab = await openLab(new IDBFactory(), 'curation-stop');
    const running = lab.api.curationExperiment({ ...SETTINGS, steps: 500 }, () => void lab.api.stopCurationExperiment());
    const outcome = await running;
    expect(outcome).toMatchObject({ arms: [], gain: null, stopped: true });

    const junk = ['Home | About | Contact', 'Cookie settings | Accept | Reject'].map((text) => JSON.stringify({ text })).join('\n');
    const empty = await openLab(new IDBFactory(), 'curation-empty', undefined, async () => junk);
    await expect(empty.api.curationExperiment(SETTINGS)).rejects.toThrow(/^The filters keep nothing of the crawl: every one of the 2 documents was removed/);
  });
});
