/**
 * The Data stage through the worker's API in Node (the crawl read from disk through the same env
 * hook the browser fetches it with): its report is what curate and scoreCuration say when called
 * directly, its tokenizer is what BpeTokenizer.train learns on the same text, and an all-junk crawl
 * or a bad vocabulary size gives the core's message without losing the last good result.
 */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { readFile } from 'node:fs/promises';
import { describe, expect, test } from 'vitest';
import { BpeTokenizer } from '../src/core/data/bpe.ts';
import { curate, EmptyCorpusError, nearDedupStep, scoreCuration, stepsNamed } from '../src/core/data/curate.ts';
import { parseDocsJsonl } from '../src/core/data/docs.ts';
import { hfTokenizerFiles } from '../src/core/data/hf-tokenizer.ts';
import { countParameters, modelConfig } from '../src/core/model/config.ts';
import { decodeCheckpoint } from '../src/core/io/checkpoint.ts';
import type { RunSettings } from '../src/lab/types.ts';
import { CORPORA, finished, openLab } from './lab-harness.ts';

const DEFAULT = ['c4-lines', 'gopher-quality', 'gopher-repetition', 'line-punctuation', 'exact-dedup', 'near-dedup'];
const crawlText = () => readFile(`${CORPORA}/crawl/docs.jsonl`, 'utf8');

describe('the Data stage in the lab worker', () => {
  test('the report and the documents list are what curate and scoreCuration say', { timeout: 120_000 }, async () => {
    const docs = parseDocsJsonl(await crawlText(), 'crawl');
    const lab = await openLab(new IDBFactory(), 'data-lab');
    const direct = curate(docs, stepsNamed(DEFAULT.join(',')));
    const report = await lab.api.curate({ steps: DEFAULT });
    expect(report.empty).toBeUndefined();
    expect(report.total).toBe(docs.length);
    expect(report.kept).toBe(direct.kept.length);
    expect(report.keptChars).toBe(direct.kept.reduce((n, d) => n + d.text.length, 0));
    expect(report.steps.map((s) => [s.name, s.removed, s.examples.map((x) => [x.id, x.reasons])])).toEqual(
      direct.steps.map((s) => [s.name, s.removed, s.examples.map((x) => [x.id, x.reasons])]),
    );
    expect(report.scores).toEqual(scoreCuration(direct, docs));
    expect(report.scores.junkRemoved).toBeGreaterThanOrEqual(0.9);
    expect(report.scores.cleanKept).toBeGreaterThanOrEqual(0.95);

    // Every removed document is listed with the step that removed it.
    const removed = await lab.api.documents(0, 5000, 'removed');
    expect(removed.matching).toBe(docs.length - direct.kept.length);
    expect(new Map(removed.rows.map((r) => [r.id, r.removedBy]))).toEqual(direct.removedBy);
    expect(removed.rows.every((r) => r.reasons.length > 0)).toBe(true);
    const page = await lab.api.documents(3, 10, 'all');
    expect(page.rows.map((r) => r.id)).toEqual(docs.slice(30, 40).map((d) => d.id));
    expect(page.pages).toBe(Math.ceil(docs.length / 10));
    const first = (await lab.api.documents(0, 1)).rows[0];
    const ws = docs[0].text.split(/\s+/).filter(Boolean);
    expect(first).toMatchObject({ id: docs[0].id, label: docs[0].label, chars: [...docs[0].text].length, words: ws.length });
    expect(first.meanWordLength).toBeCloseTo(ws.join('').length / ws.length, 10);
    // Tables of figures are mostly not letters; stories mostly are.
    const all = (await lab.api.documents(0, 5000)).rows;
    const share = (label: string) => Math.max(...all.filter((r) => r.label === label).map((r) => r.nonLetterShare));
    const least = (label: string) => Math.min(...all.filter((r) => r.label === label).map((r) => r.nonLetterShare));
    expect(least('number-table')).toBeGreaterThan(share('clean'));

    // The slider's threshold reaches MinHash-LSH: a stricter one finds fewer near copies.
    const strict = await lab.api.curate({ steps: DEFAULT, nearDedupThreshold: 0.9 });
    const direct9 = curate(docs, [...stepsNamed(DEFAULT.slice(0, -1).join(',')), nearDedupStep({ threshold: 0.9 })]);
    expect(strict.steps.at(-1)!.removed).toBe(direct9.steps.at(-1)!.removed);
    expect(strict.steps.at(-1)!.removed).toBeLessThan(report.steps.at(-1)!.removed);
    await expect(lab.api.curate({ steps: ['near-dedup'], nearDedupThreshold: 1.5 })).rejects.toThrow(/threshold/);
    await expect(lab.api.curate({ steps: ['no-such-filter'] })).rejects.toThrow(/unknown filter "no-such-filter"/);
  });

  test('a tokenizer trained through the API is BpeTokenizer.train on the same text', { timeout: 120_000 }, async () => {
    const docs = parseDocsJsonl(await crawlText(), 'crawl');
    const lab = await openLab(new IDBFactory(), 'data-bpe');
    await expect(lab.api.trainTokenizer({ corpus: 'kept', vocabSize: 512 })).rejects.toThrow(/Run the filters first/);
    await lab.api.curate({ steps: DEFAULT });
    const progress: [number, number][] = [];
    const report = await lab.api.trainTokenizer({ corpus: 'kept', vocabSize: 512 }, (done, wanted) => progress.push([done, wanted]));

    const kept = curate(docs, stepsNamed(DEFAULT.join(','))).kept.map((d) => d.text.trim());
    const cut = Math.floor(kept.length * 0.9);
    const direct = BpeTokenizer.train(kept.slice(0, cut).join('\n\n'), 512);
    expect(report.vocabSize).toBe(512);
    expect(report.merges).toEqual(direct.merges.map(([a, b]) => [direct.decode([a]), direct.decode([b])]));
    expect(await lab.api.tokenizerFiles()).toEqual(hfTokenizerFiles(direct));
    expect(progress.at(-1)).toEqual([512 - 260, 512 - 260]);

    // The sample is held-out text, cut into the tokens the tokenizer gives it.
    const val = kept.slice(cut).join('\n\n');
    expect(report.sample.map((p) => p.text).join('')).toBe(val.slice(0, 700));
    expect(report.sample.map((p) => p.id)).toEqual(Array.from(direct.encode(val.slice(0, 700))));
    expect(report.charsPerToken).toBeCloseTo([...val].length / direct.encode(val).length, 10);
    expect(report.charsPerToken).toBeGreaterThan(2);
    // Chat specials are one token each; the same letters typed by the user are bytes.
    expect(report.chat.filter((p) => p.special).map((p) => p.text)).toEqual(['<|user|>', '<|end|>', '<|assistant|>', '<|end|>']);
    expect(report.chat.filter((p) => !p.special).map((p) => p.text).join('')).toContain('"<|end|>"');
    // What it changes for the tiny model: 64 positions hold N× more text, the embedding table grows.
    expect(report.model.embedding).toEqual({ char: 69 * 64, bpe: 512 * 64 });
    expect(report.model.parameters.bpe - report.model.parameters.char).toBe((512 - 69) * 64);
    expect(report.model.parameters.char).toBe(countParameters(modelConfig('tiny', 69)));
    expect(report.model.contextChars.bpe / report.model.contextChars.char).toBeCloseTo(report.charsPerToken, 10);

    await expect(lab.api.trainTokenizer({ corpus: 'kept', vocabSize: 259 })).rejects.toThrow('bpe: a vocabulary of 259 tokens is too small: the 256 bytes and 4 special tokens already take 260');
    await expect(lab.api.trainTokenizer({ corpus: 'kept', vocabSize: 70_000 })).rejects.toThrow('bpe: a vocabulary of 70000 tokens is more than the 65536 that token ids can hold');
    expect(await lab.api.tokenizerFiles()).toEqual(hfTokenizerFiles(direct)); // the refused sizes left the trained one in place

    // Or learnt from the tales, which need no filtering: their held-out file measures it.
    const tales = await lab.api.trainTokenizer({ corpus: 'tales', vocabSize: 300 });
    const talesTok = BpeTokenizer.train(await readFile(`${CORPORA}/tales/train.txt`, 'utf8'), 300);
    expect(tales.merges).toEqual(talesTok.merges.map(([a, b]) => [talesTok.decode([a]), talesTok.decode([b])]));
    expect(tales.trainChars).toBe((await readFile(`${CORPORA}/tales/train.txt`, 'utf8')).length);
  });

  test('an all-junk crawl gives the EmptyCorpusError message, and the last kept documents stay', { timeout: 120_000 }, async () => {
    const junk = (await crawlText()).split('\n').filter((l) => /"label":"(gibberish|char-run|number-table)"/.test(l));
    expect(junk.length).toBeGreaterThan(100);
    const docs = parseDocsJsonl(junk.join('\n'), 'junk');
    const lab = await openLab(new IDBFactory(), 'data-junk', undefined, async () => junk.join('\n'));
    const none = await lab.api.curate({ steps: [] });
    expect(none.kept).toBe(docs.length);

    let expected = '';
    try {
      curate(docs, stepsNamed(DEFAULT.join(',')));
    } catch (e) {
      expected = (e as EmptyCorpusError).message;
    }
    expect(expected).toMatch(/^every one of the \d+ documents was removed/);
    const report = await lab.api.curate({ steps: DEFAULT });
    expect(report.empty).toBe(expected);
    expect(report.kept).toBe(0);
    expect(report.steps.reduce((n, s) => n + s.removed, 0)).toBe(docs.length);
    // Nothing lost: the tokenizer still learns from the documents the last good run kept.
    const tok = await lab.api.trainTokenizer({ corpus: 'kept', vocabSize: 300 });
    expect(tok.trainChars).toBe(docs.slice(0, Math.floor(docs.length * 0.9)).map((d) => d.text.trim()).join('\n\n').length);
  });

  test('pretraining takes the trained tokenizer when chosen: its settings and checkpoint keep it, the summary names it with bits per character', { timeout: 120_000 }, async () => {
    const lab = await openLab(new IDBFactory(), 'data-pretrain');
    const settings: RunSettings = { corpus: 'tales', preset: 'micro', steps: 2, learningRate: 3e-3, batchSize: 2, seed: 1, autosaveEvery: 2, keepAutosaves: 1 };
    await expect(lab.api.usePretrainingTokenizer(true)).rejects.toThrow('Train a tokenizer first.');
    const tok = await lab.api.trainTokenizer({ corpus: 'tales', vocabSize: 900 });
    expect(await lab.api.usePretrainingTokenizer(true)).toBe('byte-level BPE, 900 tokens');
    // Too many rows for micro's embedding: the message says so, and nothing starts.
    await expect(lab.api.pretrain(settings)).rejects.toThrow(/900 tokens is too large for the micro preset, which holds at most 812/);
    await lab.api.trainTokenizer({ corpus: 'tales', vocabSize: 300 });
    await lab.api.pretrain(settings);
    await finished(lab.api);
    const summary = [...lab.updates].reverse().find((u) => u.summary)?.summary;
    expect(summary?.tokenizer).toBe('byte-level BPE, 300 tokens');
    expect(summary?.vocabSize).toBe(300);
    expect(summary?.valBitsPerChar).toBeGreaterThan(0);
    expect(lab.run()?.settings.tokenizer).toMatchObject({ kind: 'bpe' });
    const file = await lab.api.currentFile(false);
    expect(decodeCheckpoint(file.bytes).tokenizer).toEqual(lab.run()?.settings.tokenizer);
    expect(tok.vocabSize).toBe(900);
    // Chosen back: characters again.
    expect(await lab.api.usePretrainingTokenizer(false)).toBe('characters');
  });
});
