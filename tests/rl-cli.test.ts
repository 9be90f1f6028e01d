/**
 * The rm and rl commands meet bad input with exit code 1 and one line on stderr starting with
 * "error:", before any training starts.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCheckpoint } from '../src/core/io/checkpoint.ts';
import { LabSession } from '../src/core/train/session.ts';
import { RewardModelStage } from '../src/core/rl/rewardmodel.ts';
import { tinyCorpus, ROOT, useBackend } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'lmlab-rl-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const paths = { base: join(dir, 'base.safetensors'), sft: join(dir, 'sft.safetensors'), rm: join(dir, 'rm.safetensors') };

beforeAll(async () => {
  await useBackend('cpu');
  const { corpus, tokenizer } = tinyCorpus();
  for (const stage of ['pretrain', 'sft'] as const) {
    const s = LabSession.create({ preset: 'micro', corpus: { ...corpus, name: 'tales' }, tokenizer, stage, train: { steps: 1 } });
    writeFileSync(stage === 'pretrain' ? paths.base : paths.sft, await s.toCheckpointBytes());
    s.dispose();
  }
  const pairs = [{ prompt: [{ role: 'user' as const, content: 'Hi.' }], chosen: 'yes.', rejected: 'no.' }];
  const rm = await RewardModelStage.start(new Uint8Array(await import('node:fs').then((f) => f.readFileSync(paths.sft))), { train: pairs, val: pairs }, { ...corpus, name: 'tales' }, { train: { steps: 1 } });
  writeFileSync(paths.rm, await rm.session.toCheckpointBytes());
  rm.release();
});

function lab(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(join(ROOT, 'node_modules', '.bin', 'tsx'), ['cli/lab.ts', ...args], { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

function oneLineError(run: { code: number | null; stderr: string }, fragment: RegExp): void {
  expect(run.code, run.stderr).toBe(1);
  const lines = run.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(fragment);
}

describe('rm command', () => {
  it('--lm-coef sets the weight of the next-token term; 0 trains on the pair loss alone', { timeout: 120_000 }, async () => {
    const out = join(dir, 'lm0.safetensors');
    const run = await lab('rm', '--from', paths.sft, '--out', out, '--steps', '1', '--lm-coef', '0', '--json');
    expect(run.code, run.stderr).toBe(0);
    const [start, step] = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(start.lmCoef).toBe(0);
    expect(step.lm_loss).toBeUndefined();
    expect((decodeCheckpoint(new Uint8Array(readFileSync(out))).extra.rm as { lmCoef: number }).lmCoef).toBe(0);
  });
});

describe('rm and rl commands: bad input', () => {
  it('rm', { timeout: 120_000 }, async () => {
    const out = join(dir, 'x.safetensors');
    oneLineError(await lab('rm', '--from', paths.sft), /--out FILE is required/);
    oneLineError(await lab('rm', '--out', out), /--from FILE is required/);
    oneLineError(await lab('rm', '--from', paths.base, '--out', out), /starts from an SFT model, and this one is a base model/);
    oneLineError(await lab('rm', '--from', paths.rm, '--out', out), /A reward model starts from an SFT model, and this one is a reward model/);
    oneLineError(await lab('rm', '--from', paths.sft, '--out', out, '--steps', '0'), /--steps: the steps must be a whole number ≥ 1/);
    oneLineError(await lab('rm', '--from', join(dir, 'missing'), '--out', out), /cannot read checkpoint/);
    oneLineError(await lab('rm', '--from', paths.sft, '--out', out, '--lm-coef=-1'), /--lm-coef: the LM coefficient must be a number ≥ 0/);
  });

  it('rl', { timeout: 180_000 }, async () => {
    const out = join(dir, 'y.safetensors');
    oneLineError(await lab('rl', '--from', paths.sft, '--reward', 'vibes', '--out', out), /reward must be verifier or model/);
    oneLineError(await lab('rl', '--from', paths.sft, '--reward', 'model', '--out', out), /--reward model needs --rm FILE/);
    oneLineError(await lab('rl', '--from', paths.sft, '--reward', 'model', '--rm', paths.sft, '--out', out), /--rm must be a reward model/);
    oneLineError(await lab('rl', '--from', paths.sft, '--reward', 'verifier', '--rm', paths.rm, '--out', out), /--rm is only used with --reward model/);
    oneLineError(await lab('rl', '--from', paths.base, '--out', out), /RL starts from an SFT model, and this one is a base model/);
    oneLineError(await lab('rl', '--from', paths.rm, '--out', out), /this one is a reward model: a reward model scores RL's replies/);
    oneLineError(await lab('rl', '--from', paths.sft, '--kl-coef=-1', '--out', out), /--kl-coef: the KL coefficient must be a number ≥ 0/);
    oneLineError(await lab('rl', '--from', paths.sft, '--group-size', '1', '--out', out), /--group-size: the group size must be a whole number ≥ 2/);
    oneLineError(await lab('rl', '--from', paths.sft, '--prompt-sampling', 'greedy', '--out', out), /--prompt-sampling: the prompt sampling must be uniform or prioritized/);
    oneLineError(await lab('rl', '--from', paths.sft, '--reward', 'model', '--rm', paths.rm, '--prompt-sampling', 'prioritized', '--out', out), /prioritized prompt sampling needs verifiers/);
    oneLineError(await lab('rl', '--from', paths.sft), /--out FILE is required/);
  });
});
