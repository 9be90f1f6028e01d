/**
 * The attention patterns against nanoGPT's own (PyTorch): a checkpoint trained a few steps and
 * exported, loaded strictly into nanoGPT's GPT, gives the same softmax(q kᵀ / √hs) in every layer
 * and head. Runs wherever Debian's python3-torch is installed, as tests/interop.test.ts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { attentionWeights } from '../src/core/inspect/attention.ts';
import { CharTokenizer } from '../src/core/model/tokenizer.ts';
import { corpusFromText } from '../src/core/train/data.ts';
import { LabSession } from '../src/core/train/session.ts';

const PYTHON = '/usr/bin/python3';
const hasTorch = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

describe.runIf(hasTorch)('attention against nanoGPT (PyTorch)', () => {
  it('every layer and head gives nanoGPT’s attention probabilities', async () => {
    await tf.setBackend('cpu');
    const text = 'the quick brown fox jumps over the lazy dog. '.repeat(40);
    const tokenizer = CharTokenizer.fromText(text);
    const { corpus } = corpusFromText('fox', text, tokenizer);
    const session = LabSession.create({ preset: 'micro', corpus, tokenizer, train: { steps: 20, learningRate: 1e-2 } });
    for (let i = 0; i < 20; i++) await session.step(); // trained weights, so the patterns are not uniform
    const file = join(mkdtempSync(join(tmpdir(), 'lmlab-attention-')), 'micro.safetensors');
    writeFileSync(file, await session.toCheckpointBytes());

    const ids = Array.from(tokenizer.encode('the lazy fox jum'));
    const ours = await attentionWeights(session.model, ids);
    const theirs = JSON.parse(execFileSync(PYTHON, ['tests/interop/nanogpt.py', 'attention', file, JSON.stringify(ids)], { encoding: 'utf8' })) as number[][][][];
    const a = ours.flat(3);
    const b = theirs.flat(3);
    expect(theirs.length).toBe(session.model.config.nLayer);
    expect(a.length).toBe(b.length);
    expect(Math.max(...a.map((x, i) => Math.abs(x - b[i])))).toBeLessThanOrEqual(1e-5);
    const spread = ours.flat(2).map((row, i) => {
      const past = row.slice(0, (i % ids.length) + 1); // query i % T reads keys 0…i % T
      return Math.max(...past) - Math.min(...past);
    });
    expect(Math.max(...spread)).toBeGreaterThan(0.1); // far from uniform, so a wrong pattern would show
    session.dispose();
  });
});
