/**
 * The command line's windows into a model (attention, lens, trace, compare, sample --json) and the
 * class table, run as a user runs them on small checkpoints made here, with their outputs checked
 * against the definitions: attention rows are distributions over the past, the lens has a row per
 * layer and the embeddings, compare's deltas are the differences of its columns, a traced passage is
 * found at its place, sample's tokens spell its completion.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SftStage } from '../src/core/post/sft.ts';
import { LabSession } from '../src/core/train/session.ts';
import { ROOT, tinyCorpus, useBackend } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'lmlab-cli-inspect-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const base = join(dir, 'base.safetensors');
const sft = join(dir, 'sft.safetensors');

beforeAll(async () => {
  await useBackend('cpu');
  const { corpus, tokenizer } = tinyCorpus();
  const session = LabSession.create({ preset: 'micro', corpus: { ...corpus, name: 'tales' }, tokenizer, train: { steps: 4, evalInterval: 4 } });
  session.student = 'Bo';
  while (!session.done) await session.step();
  const bytes = await session.toCheckpointBytes();
  writeFileSync(base, bytes);
  session.dispose();
  const chat = { messages: [{ role: 'user' as const, content: 'hi' }, { role: 'assistant' as const, content: 'hello' }] };
  const stage = await SftStage.start(bytes, { train: [chat], val: [chat] }, corpus, { steps: 2, evalInterval: 2 });
  while (!stage.done) await stage.step();
  writeFileSync(sft, await stage.session.toCheckpointBytes());
  stage.release();
}, 60_000);

function lab(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(join(ROOT, 'node_modules', '.bin', 'tsx'), ['cli/lab.ts', ...args, ...(args[0] === 'trace' || args[0] === 'class' ? [] : ['--backend', 'cpu'])], { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) => (error ? reject(new Error(stderr || String(error))) : resolve(stdout)));
  });
}
const json = async (...args: string[]) => JSON.parse((await lab(...args)).trim().split('\n').pop()!);

describe('the command line looks inside', () => {
  it('attention: weights[layer][head][query][key], each row a distribution over the past', { timeout: 60_000 }, async () => {
    const out = await json('attention', '--ckpt', base, '--text', 'Tom the cat');
    expect(out.tokens.join('')).toBe('Tom the cat');
    expect(out.weights).toHaveLength(2); // micro: 2 layers of 2 heads
    for (const layer of out.weights) {
      expect(layer).toHaveLength(2);
      for (const head of layer) head.forEach((row: number[], q: number) => {
        expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
        expect(row.slice(q + 1).every((w) => w === 0)).toBe(true);
      });
    }
  });

  it('lens: the embeddings and every layer, with the probability of the next token', { timeout: 60_000 }, async () => {
    const out = await json('lens', '--ckpt', base, '--text', 'Tom ate', '--top', '3');
    expect(out.layers).toHaveLength(3);
    for (const l of out.layers) {
      expect(l.positions).toHaveLength(7);
      for (const p of l.positions) expect(p.top.map((g: { prob: number }) => g.prob)).toEqual([...p.top.map((g: { prob: number }) => g.prob)].sort((a, b) => b - a));
      expect(l.positions[6].next).toBeNull(); // nothing follows the last token
    }
  });

  it('trace: a passage of the stories is found at its place; a chat model also searches the SFT answers', { timeout: 60_000 }, async () => {
    const tales = readFileSync(join(ROOT, 'corpora', 'tales', 'train.txt'), 'utf8');
    const passage = tales.slice(1000, 1060);
    const out = await json('trace', '--ckpt', base, '--text', `«${passage}»`, '--json');
    expect(out.spans).toHaveLength(1);
    expect(out.spans[0]).toMatchObject({ text: passage, source: 'tales/train.txt', offset: tales.indexOf(passage) });
    expect(out.copiedShare).toBeCloseTo(60 / 62, 12);
    const chat = await json('trace', '--ckpt', sft, '--text', 'Tom said: the fox is red, and Mia nodded.', '--min-chars', '8', '--json');
    expect(chat.spans.length).toBeGreaterThan(0);
  });

  it('compare: each checkpoint\'s log-probabilities of the reply, and the change from the one before', { timeout: 60_000 }, async () => {
    const out = await json('compare', '--ckpts', `${base},${sft}`, '--prompt', 'hi', '--reply', 'hello');
    expect(out.checkpoints.map((c: { stage: string }) => c.stage)).toEqual(['pretrain', 'sft']);
    expect(out.tokens.map((t: { token: string }) => t.token).join('')).toBe('hello<|end|>');
    for (const t of out.tokens) {
      expect(t.deltas[0]).toBeNull();
      expect(t.deltas[1]).toBeCloseTo(t.logProbs[1] - t.logProbs[0], 6);
    }
    out.checkpoints.forEach((c: { total: number }, i: number) => expect(c.total).toBeCloseTo(out.tokens.reduce((a: number, t: { logProbs: number[] }) => a + t.logProbs[i], 0), 6));
  });

  it('sample --json: every written token with its log-probability and the five likeliest', { timeout: 60_000 }, async () => {
    const out = await json('sample', '--ckpt', base, '--prompt', 'Tom', '--tokens', '6', '--temperature', '1', '--json');
    expect(out.tokens).toHaveLength(6);
    expect(out.tokens.map((t: { token: string }) => t.token).join('')).toBe(out.completion);
    for (const t of out.tokens) {
      expect(t.top).toHaveLength(5);
      // At temperature 1 without top-k the token was drawn from the model's own distribution: its
      // log-probability is that distribution's, so it matches its entry among the five when listed.
      const listed = t.top.find((a: { token: string }) => a.token === t.token);
      if (listed) expect(t.logprob).toBeCloseTo(Math.log(listed.prob), 5);
    }
  });
});

describe('class', () => {
  it('reads the files of a folder, refuses one that is not a checkpoint, and writes CSV', { timeout: 60_000 }, async () => {
    writeFileSync(join(dir, 'notes.safetensors'), 'not a checkpoint');
    const csv = join(dir, 'class.csv');
    const lines = (await lab('class', '--files', dir, '--csv', csv, '--json')).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.stage).map((l) => [l.file, l.student, l.lineage])).toEqual([['base.safetensors', 'Bo', 'base 4'], ['sft.safetensors', 'Bo', 'base 4 → SFT 2']]);
    expect(lines.find((l) => l.refused)).toMatchObject({ file: 'notes.safetensors', reason: expect.stringMatching(/safetensors/) });
    expect(lines.at(-1)).toMatchObject({ summary: true, files: 3, read: 2, refused: 1 });
    expect(readFileSync(csv, 'utf8').trim().split('\r\n')).toHaveLength(4);
  });
});
