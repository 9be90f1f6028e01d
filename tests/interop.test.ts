/**
 * An LM Lab checkpoint loads into nanoGPT's GPT (PyTorch, strict=True) and gives the same logits.
 * Runs wherever Debian's python3-torch is installed (.ci/run installs it).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { LabSession } from '../src/core/session.ts';
import { CharTokenizer } from '../src/core/tokenizer.ts';
import { corpusFromText } from '../src/core/data.ts';

const PYTHON = '/usr/bin/python3';
const hasTorch = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

describe.runIf(hasTorch)('nanoGPT interop (PyTorch)', () => {
  it('an exported checkpoint loads strictly into nanoGPT and gives the same logits', async () => {
    await tf.setBackend('cpu');
    const text = 'the quick brown fox jumps over the lazy dog. '.repeat(40);
    const tokenizer = CharTokenizer.fromText(text);
    const { corpus } = corpusFromText('fox', text, tokenizer);
    const session = LabSession.create({ preset: 'micro', corpus, tokenizer, train: { steps: 5 } });
    for (let i = 0; i < 5; i++) await session.step(); // trained weights, not just the initialisation
    const dir = mkdtempSync(join(tmpdir(), 'lmlab-interop-'));
    const file = join(dir, 'micro.safetensors');
    writeFileSync(file, await session.toCheckpointBytes());

    const ids = [Array.from(tokenizer.encode('the lazy fox jum')), Array.from(tokenizer.encode('over the dog. th'))];
    const ours = session.model.forward(tf.tensor2d(ids.flat(), [2, 16], 'int32'));
    const oursValues = (await ours.array()) as number[][][];
    ours.dispose();
    const theirs = JSON.parse(execFileSync(PYTHON, ['tests/interop/nanogpt.py', 'logits', file, JSON.stringify(ids)], { encoding: 'utf8' })) as number[][][];

    let maxDiff = 0;
    for (let b = 0; b < 2; b++) for (let t = 0; t < 16; t++) for (let v = 0; v < tokenizer.vocabSize; v++) {
      maxDiff = Math.max(maxDiff, Math.abs(oursValues[b][t][v] - theirs[b][t][v]));
    }
    expect(theirs.length).toBe(2);
    expect(maxDiff).toBeLessThanOrEqual(1e-4);
    session.dispose();
  });
});
