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
import { armSession, finishArm } from '../src/core/data/curation-experiment.ts';
import { curatedText } from '../src/core/data/crawl-corpus.ts';
import { curate, stepsNamed } from '../src/core/data/curate.ts';
import { parseDocsJsonl } from '../src/core/data/docs.ts';
import { decodeCheckpoint } from '../src/core/io/checkpoint.ts';
import { GPT } from '../src/core/model/model.ts';
import { evaluateLoss } from '../src/core/train/trainer.ts';
import type { CurationProgress } from '../src/lab/curation.ts';
import type { RunSettings } from '../src/lab/types.ts';
import { settingsFromHash, settingsToHash } from '../src/ui/settings.ts';
import { bundledTokenizer } from './helpers.ts';
import { CORPORA, openLab } from './lab-harness.ts';

const SETTINGS = { preset: 'micro' as const, steps: 2, seed: 3, sampleTokens: 24 };

describe('the curation experiment in the lab worker', () => {
  test('trains the raw and the filtered crawl as the core does, and sends both curves', { timeout: 120_000 }, async () => {
    // The reference path: the raw arm built and stepped by hand (which also gives tfjs the tensors it keeps for good).
    const docs = parseDocsJsonl(await readFile(`${CORPORA}/crawl/docs.jsonl`, 'utf8'), 'crawl');
    const val = await readFile(`${CORPORA}/tales/val.txt`, 'utf8');
    const rawPlan = { arm: 'raw' as const, filters: 'none', ...curatedText(docs, []) };
    const session = armSession(rawPlan, val, bundledTokenizer(), SETTINGS);
    while (!session.done) await session.step();
    const direct = await finishArm(rawPlan, session, SETTINGS.sampleTokens);
    session.dispose();

    const lab = await openLab(new IDBFactory(), 'curation-lab');
    const progress: CurationProgress[] = [];
    const before = tf.memory().numTensors;
    const outcome = await lab.api.curationExperiment(SETTINGS, (p) => progress.push(p));
    expect(tf.memory().numTensors).toBe(before);
    expect(outcome.stopped).toBe(false);
    const [raw, filtered] = outcome.arms;
    expect([raw.arm, raw.filters, filtered.arm, filtered.filters]).toEqual(['raw', 'none', 'filtered', 'default']);
    expect(raw.finalValLoss).toBe(direct.finalValLoss);
    expect(raw.curve).toEqual(direct.curve);
    expect(raw.samples).toEqual(direct.samples);
    expect(raw.curve.map(([step]) => step)).toEqual([1, 2]);
    expect(raw.samples).toHaveLength(3);
    // The filtered run trained on what the default filters keep, with the same recipe.
    expect([raw.kept, filtered.kept]).toEqual([docs.length, curate(docs, stepsNamed('default')).kept.length]);
    expect(filtered.curve.map(([step]) => step)).toEqual([1, 2]);
    expect(filtered.finalValLoss).not.toBe(raw.finalValLoss);
    expect(outcome.gain).toBe(raw.finalValLoss - filtered.finalValLoss);

    // The page heard each arm's curve grow, then its final figures, raw first.
    expect(progress.filter((p) => p.done).map((p) => p.arm)).toEqual(['raw', 'filtered']);
    expect(progress.filter((p) => p.arm === 'raw').at(-1)!.curve).toEqual(raw.curve);
    expect(progress.filter((p) => p.arm === 'filtered').at(-1)!.done!.samples).toEqual(filtered.samples);
  });

  test('Stop ends it after the step it is on, and a crawl the filters empty is refused', { timeout: 60_000 }, async () => {
    const lab = await openLab(new IDBFactory(), 'curation-stop');
    // A pretraining run that is training pauses first (two runs at once would halve both), and says so.
    await lab.api.pretrain({ corpus: 'tales', preset: 'micro', steps: 1000, learningRate: 3e-3, batchSize: 4, seed: 1, autosaveEvery: 500, keepAutosaves: 2 });
    expect(lab.api.status()).toBe('running');
    const outcome = await lab.api.curationExperiment({ ...SETTINGS, steps: 500 }, () => void lab.api.stopCurationExperiment());
    expect(outcome).toMatchObject({ arms: [], gain: null, stopped: true });
    expect(lab.api.status()).toBe('paused');
    expect(lab.notices()).toContain('Training paused for the data experiment; Resume continues it.');

    const junk = ['Home | About | Contact', 'Cookie settings | Accept | Reject'].map((text) => JSON.stringify({ text })).join('\n');
    const empty = await openLab(new IDBFactory(), 'curation-empty', undefined, async () => junk);
    await expect(empty.api.curationExperiment(SETTINGS)).rejects.toThrow(/^The filters keep nothing of the crawl: every one of the 2 documents was removed/);
  });
});

describe('Pretrain on the crawl, as the Data view chooses it', () => {
  const crawlRun: RunSettings = { corpus: 'crawl', filters: 'c4-lines,exact-dedup', preset: 'micro', steps: 1, learningRate: 3e-3, batchSize: 4, seed: 2, autosaveEvery: 1, keepAutosaves: 2 };

  test('trains on the filtered crawl, validates on the held-out tales, and the checkpoint names the filters', { timeout: 60_000 }, async () => {
    const lab = await openLab(new IDBFactory(), 'crawl-pretrain');
    await lab.api.stepOnce(crawlRun);
    expect(lab.run()?.corpusName).toBe('crawl:c4-lines,exact-dedup');
    const state = decodeCheckpoint((await lab.api.currentFile()).bytes);
    expect(state.corpus).toBe('crawl:c4-lines,exact-dedup');
    // Its validation loss is the saved model's loss on the tales' held-out file, recomputed here.
    const model = new GPT(state.model, state.weights);
    const val = bundledTokenizer().encode(await readFile(`${CORPORA}/tales/val.txt`, 'utf8'));
    expect(lab.rows().at(-1)!.valLoss).toBe(await evaluateLoss(model, val, state.train.batchSize, state.train.evalBatches, state.train.seed));
    model.dispose();
  });

  test('a crawl its filters empty is refused with why, and the link carries the choice', { timeout: 30_000 }, async () => {
    const junk = ['Home | About | Contact', 'Cookie settings | Accept | Reject'].map((text) => JSON.stringify({ text })).join('\n');
    const lab = await openLab(new IDBFactory(), 'crawl-pretrain-empty', undefined, async () => junk);
    await expect(lab.api.stepOnce({ ...crawlRun, filters: 'c4-lines' })).rejects.toThrow(/every one of the 2 documents was removed \(c4-lines: 2\)/);
    expect(lab.run()).toBeFalsy();

    expect(settingsFromHash(settingsToHash(crawlRun))).toEqual(crawlRun);
    expect(settingsToHash(crawlRun)).toContain('filters=c4-lines%2Cexact-dedup');
    expect(settingsFromHash('#corpus=crawl&filters=none').filters).toBe('none');
    expect(settingsFromHash('#corpus=tales&filters=none').filters).toBeUndefined();
  });
});
