/**
 * The command line as a user meets it: bad input ends with exit code 1 and one line on stderr
 * starting with "error:" (no stack trace); a short pretraining run writes a checkpoint that
 * inspect and sample then read.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint } from '../src/core/io/checkpoint.ts';
import { defaultTrainConfig, modelConfig } from '../src/core/model/config.ts';
import { initialValues } from '../src/core/model/model.ts';
import { decodeSafetensors, encodeSafetensors } from '../src/core/io/safetensors.ts';
import { bundledTokenizer, ROOT } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'lmlab-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, contents: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, contents);
  return path;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

// At most two command lines at a time: more only makes them queue for the same cores.
let running = 0;
const waiting: (() => void)[] = [];

async function lab(...args: string[]): Promise<Run> {
  if (running >= 2) await new Promise<void>((go) => waiting.push(go));
  running += 1;
  try {
    return await spawnLab(args);
  } finally {
    running -= 1;
    waiting.shift()?.();
  }
}

function spawnLab(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(join(ROOT, 'node_modules', '.bin', 'tsx'), ['cli/lab.ts', ...args], { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

/** Exit code 1 and exactly one stderr line, "error: …", with no stack frames. */
function expectOneLineError(run: Run, fragment: string | RegExp): void {
  expect(run.code, run.stderr).toBe(1);
  const lines = run.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(fragment);
  expect(run.stderr).not.toMatch(/\n\s+at /);
}

/** A micro checkpoint at initialisation, written to `name`; `claimedBlockSize` edits its config afterwards. */
function checkpointFile(name: string, claimedBlockSize?: number): string {
  const tokenizer = bundledTokenizer();
  const model = modelConfig('micro', tokenizer.vocabSize);
  const bytes = encodeCheckpoint({
    model,
    train: defaultTrainConfig('micro'),
    tokenizer: tokenizer.toJSON(),
    stage: 'pretrain',
    step: 0,
    corpus: 'tales',
    dataState: { rngState: 1 },
    weights: initialValues(model, 1),
    metrics: [],
    events: [],
    lineage: [],
    extra: {},
  });
  if (claimedBlockSize === undefined) return file(name, bytes);
  const { tensors, metadata } = decodeSafetensors(bytes);
  return file(name, encodeSafetensors(tensors, { ...metadata, model_config: JSON.stringify({ ...model, blockSize: claimedBlockSize }) }));
}

describe.concurrent('bad input exits with one "error:" line', () => {
  it('an empty text file', async () => {
    expectOneLineError(await lab('pretrain', '--preset', 'micro', '--text', file('empty.txt', '')), /empty/);
  });

  it('a one-character file', async () => {
    expectOneLineError(await lab('pretrain', '--preset', 'micro', '--text', file('one.txt', 'a')), /distinct character/);
  });

  it('an unknown preset', async () => {
    expectOneLineError(await lab('pretrain', '--preset', 'huge'), /unknown preset "huge"/);
  });

  it('a text shorter than the block size', async () => {
    expectOneLineError(await lab('pretrain', '--preset', 'micro', '--text', file('short.txt', 'abcdefghij')), /context length 16/);
  });

  it('a checkpoint whose shapes do not match its config, for sample and for resuming', async () => {
    const ckpt = checkpointFile('mismatched.safetensors', 8); // its wpe has 16 rows
    expectOneLineError(await lab('sample', '--ckpt', ckpt, '--tokens', '3'), /transformer\.wpe\.weight/);
    expectOneLineError(await lab('pretrain', '--resume', ckpt, '--steps', '2'), /transformer\.wpe\.weight/);
  });

  it('a missing --ckpt file', async () => {
    expectOneLineError(await lab('sample', '--ckpt', join(dir, 'nope.safetensors')), /nope\.safetensors/);
    expectOneLineError(await lab('inspect', '--ckpt', join(dir, 'nope.safetensors')), /nope\.safetensors/);
  });

  it('an error after the cpu backend has started is still one line (no tfjs banner on stderr)', async () => {
    const ckpt = checkpointFile('valid.safetensors');
    expectOneLineError(await lab('score', '--backend', 'cpu', '--ckpt', ckpt, '--text', file('one-for-score.txt', 'a')), /fewer than two characters/);
  });

  it('lesson without --out, an unknown what-if, and a story share of 1', async () => {
    expectOneLineError(await lab('lesson'), /--out DIR is required/);
    expectOneLineError(await lab('dpo', '--what-if', 'too-long'), /what-if for dpo must be length-bias/);
    expectOneLineError(await lab('sft', '--what-if', 'length-bias'), /what-if for sft must be no-pretrain-text/);
    expectOneLineError(await lab('sft', '--pretrain-share', '1'), /story share must be at least 0 and below 1/);
  });

  it('a non-numeric --steps and an unknown option', async () => {
    expectOneLineError(await lab('pretrain', '--preset', 'micro', '--steps', 'ten'), /--steps/);
    expectOneLineError(await lab('pretrain', '--stepz', '3'), /stepz/);
  });
});

describe('a short run end to end', () => {
  it('pretrain --tokenizer DIR trains through a BPE the tokenizer command wrote; a vocabulary the preset cannot hold is one line', async () => {
    const small = join(dir, 'bpe300');
    const large = join(dir, 'bpe900');
    expect((await lab('tokenizer', '--vocab', '300', '--out', small)).code).toBe(0);
    expect((await lab('tokenizer', '--vocab', '900', '--out', large)).code).toBe(0);
    expectOneLineError(await lab('pretrain', '--preset', 'micro', '--steps', '2', '--tokenizer', large), /900 tokens is too large for the micro preset, which holds at most 812.*use tiny/);
    expectOneLineError(await lab('pretrain', '--preset', 'micro', '--steps', '2', '--tokenizer', join(dir, 'nowhere')), /nowhere\/tokenizer.json/);
    const out = join(dir, 'bpe.safetensors');
    const run = await lab('pretrain', '--preset', 'micro', '--steps', '2', '--tokenizer', small, '--json', '--out', out);
    expect(run.code, run.stderr).toBe(0);
    const last = JSON.parse(run.stdout.trim().split('\n').pop()!) as Record<string, number | string>;
    expect(last.tokenizer).toBe('byte-level BPE, 300 tokens');
    expect(last.valBitsPerChar as number).toBeLessThan((last.finalValLoss as number) / Math.LN2); // a token holds several characters
    const state = decodeCheckpoint(new Uint8Array(readFileSync(out)));
    expect(state.tokenizer.kind).toBe('bpe');
    expect(state.model.vocabSize).toBe(300);
  });

  it('pretrain --json writes a checkpoint, then inspect and sample read it', async () => {
    const out = join(dir, 'micro.safetensors');
    const run = await lab('pretrain', '--preset', 'micro', '--steps', '5', '--json', '--out', out);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const last = lines[lines.length - 1];
    expect(last.summary).toBe(true);
    expect(last.steps).toBe(5);
    expect(Number.isFinite(last.finalValLoss)).toBe(true);
    expect(last.finalValLoss as number).toBeLessThan(Math.log(bundledTokenizer().vocabSize) + 0.5);
    expect(last.valBitsPerChar as number).toBeCloseTo((last.finalValLoss as number) / Math.LN2, 9); // characters: one token each
    expect(last.tokenizer).toBe(`characters, ${bundledTokenizer().vocabSize} tokens`);
    const steps = lines.filter((l) => typeof l.step === 'number');
    expect(steps.length).toBeGreaterThan(0);
    for (const l of steps) expect(Number.isFinite(l.loss), JSON.stringify(l)).toBe(true);

    const state = decodeCheckpoint(new Uint8Array(readFileSync(out)));
    expect(state.step).toBe(5);

    const inspected = await lab('inspect', '--ckpt', out);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(JSON.parse(inspected.stdout)).toMatchObject({ step: 5, stage: 'pretrain', hasOptimizer: true });

    const sampled = await lab('sample', '--ckpt', out, '--tokens', '5', '--json');
    expect(sampled.code, sampled.stderr).toBe(0);
    const { completion } = JSON.parse(sampled.stdout) as { completion: string };
    expect(typeof completion).toBe('string');
    expect(completion.length).toBeGreaterThan(0);
  });
});
