/**
 * The data stage's commands as a user runs them: data cleans the bundled crawl to its targets and
 * writes what it kept, refuses a corpus every filter empties; tokenizer writes Hugging Face's two
 * files and tokenize reads them back to ids that spell the text.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Tokenizer } from '@huggingface/tokenizers';
import { decodeCheckpoint } from '../src/core/io/checkpoint.ts';
import { GPT } from '../src/core/model/model.ts';
import { evaluateLoss } from '../src/core/train/trainer.ts';
import { bundledTokenizer, ROOT, useBackend } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'lmlab-cli-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function lab(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(join(ROOT, 'node_modules', '.bin', 'tsx'), ['cli/lab.ts', ...args], { cwd: ROOT, timeout: 90_000 }, (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
  });
}
const last = (out: string) => JSON.parse(out.trim().split('\n').pop()!);

describe('data', () => {
  it('cleans the bundled crawl to its targets and writes the kept documents', { timeout: 90_000 }, async () => {
    const out = join(dir, 'clean');
    const run = await lab('data', '--corpus', 'crawl', '--out', out, '--json');
    expect(run.code, run.stderr).toBe(0);
    const s = last(run.stdout);
    expect(s.junkRemoved).toBeGreaterThanOrEqual(0.9);
    expect(s.cleanKept).toBeGreaterThanOrEqual(0.95);
    expect(s.nearDuplicatesFound).toBeGreaterThanOrEqual(0.95);
    expect(Object.values(s.removedBy as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(s.documents - s.kept);
    expect(readFileSync(join(out, 'kept.jsonl'), 'utf8').trim().split('\n')).toHaveLength(s.kept);
    expect(existsSync(join(out, 'kept.txt'))).toBe(true);
  });

  it('says which filters emptied a corpus, and refuses an unknown filter', { timeout: 60_000 }, async () => {
    const junk = join(dir, 'junk.jsonl');
    writeFileSync(junk, ['zzzz qqqq xxxx', '$$$ ### @@@', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'].map((text) => JSON.stringify({ text })).join('\n'));
    const empty = await lab('data', '--docs', junk);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/^error: .*every one of the 3 documents was removed/);
    const unknown = await lab('data', '--filters', 'c4-lines,bogus');
    expect(unknown.stderr).toMatch(/unknown filter "bogus"/);
  });
});

describe('tokenizer and tokenize', () => {
  it('writes tokenizer.json and tokenizer_config.json that Hugging Face\'s library reads to the same ids', { timeout: 90_000 }, async () => {
    const out = join(dir, 'tok');
    const run = await lab('tokenizer', '--corpus', 'tales', '--vocab', '512', '--out', out, '--json');
    expect(run.code, run.stderr).toBe(0);
    const s = last(run.stdout);
    expect(s.vocabSize).toBe(512);
    expect(s.charsPerToken).toBeGreaterThan(2);
    const textFile = join(dir, 'text.txt');
    const text = 'Tom the rabbit ate 3 carrots. Ünïcode 🙂 too.';
    writeFileSync(textFile, text);
    const ids = last((await lab('tokenize', '--tokenizer', out, '--text', textFile, '--json')).stdout).ids as number[];
    const hf = new Tokenizer(JSON.parse(readFileSync(join(out, 'tokenizer.json'), 'utf8')), JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8')));
    expect(hf.encode(text).ids).toEqual(ids);
    expect(hf.decode(ids)).toBe(text);
  });

  it('refuses a vocabulary too small to hold the bytes, and a folder without a tokenizer', { timeout: 60_000 }, async () => {
    expect((await lab('tokenizer', '--vocab', '100', '--out', join(dir, 'small'))).stderr).toMatch(/^error: .*256/);
    expect((await lab('tokenize', '--tokenizer', dir, '--text', join(ROOT, 'README.md'))).stderr).toMatch(/^error: .*tokenizer.json/);
  });
});

describe('pretrain on the crawl', () => {
  it('trains on the raw or the filtered crawl, validates on the held-out tales, and the checkpoint names which', { timeout: 90_000 }, async () => {
    const raw = join(dir, 'raw.safetensors');
    const run = await lab('pretrain', '--corpus', 'crawl', '--filters', 'none', '--preset', 'micro', '--steps', '2', '--backend', 'cpu', '--threads', '1', '--out', raw, '--json');
    expect(run.code, run.stderr).toBe(0);
    const s = last(run.stdout);
    expect(s.corpus).toBe('crawl:none');
    // The final validation loss is the saved model's loss on the tales' held-out file, recomputed here.
    await useBackend('cpu');
    const state = decodeCheckpoint(new Uint8Array(readFileSync(raw)));
    expect(state.corpus).toBe('crawl:none');
    const model = new GPT(state.model, state.weights);
    const val = bundledTokenizer().encode(readFileSync(join(ROOT, 'corpora', 'tales', 'val.txt'), 'utf8'));
    expect(await evaluateLoss(model, val, state.train.batchSize, state.train.evalBatches, state.train.seed)).toBeCloseTo(s.finalValLoss, 6);
    model.dispose();

    const filtered = await lab('pretrain', '--corpus', 'crawl', '--filters', 'default', '--preset', 'micro', '--steps', '2', '--backend', 'cpu', '--threads', '1', '--json');
    expect(filtered.code, filtered.stderr).toBe(0);
    expect(JSON.parse(filtered.stdout.split('\n')[0])).toMatchObject({ event: 'start', corpus: 'crawl:default' });
  });

  it('refuses an unknown filter (and --filters without the crawl: crawl-corpus.test.ts)', { timeout: 60_000 }, async () => {
    expect((await lab('pretrain', '--corpus', 'crawl', '--filters', 'c4-lines,bogus', '--preset', 'micro', '--steps', '1', '--backend', 'cpu')).stderr).toMatch(/^error: unknown filter "bogus"; the filters are c4-lines/);
  });
});

describe('curation', () => {
  it('pretrains alike on the raw and the filtered crawl and reports both losses and their difference', { timeout: 90_000 }, async () => {
    const run = await lab('curation', '--preset', 'micro', '--steps', '2', '--seed', '2', '--threads', '1', '--json');
    expect(run.code, run.stderr).toBe(0);
    const s = last(run.stdout);
    expect([s.raw.filters, s.raw.kept, s.filtered.filters]).toEqual(['none', 2468, 'default']);
    expect(s.filtered.kept).toBeLessThan(s.raw.kept);
    expect(s.gain).toBe(s.raw.finalValLoss - s.filtered.finalValLoss);
    expect(s.raw.curve.map(([step]: [number, number]) => step)).toEqual([1, 2]);
    expect(s.raw.samples).toHaveLength(3);
    expect((await lab('curation', '--filters', 'none')).stderr).toMatch(/^error: --filters none would train the raw crawl twice/);
  });
});
