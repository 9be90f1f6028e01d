/**
 * An LM Lab checkpoint loads into nanoGPT's GPT (PyTorch, strict=True) and gives the same logits,
 * and a nanoGPT state dict written by PyTorch imports into LM Lab and gives PyTorch's logits.
 * Runs wherever Debian's python3-torch is installed (.ci/run installs it).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { LabSession } from '../src/core/train/session.ts';
import { batchLoss } from '../src/core/train/objective.ts';
import { CharTokenizer } from '../src/core/model/tokenizer.ts';
import { corpusFromText } from '../src/core/train/data.ts';
import { GPT } from '../src/core/model/model.ts';
import { prepareImport } from '../src/core/io/share.ts';
import { bundledTokenizer, ROOT } from './helpers.ts';

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

  for (const variant of [['--bias', '1'], ['--bias', '0', '--mask', '1', '--compiled', '1']]) {
    it(`a nanoGPT state dict saved by PyTorch (${variant.join(' ')}) imports and gives the same logits`, async () => {
      await tf.setBackend('cpu');
      const tokenizer = bundledTokenizer();
      const ids = [Array.from(tokenizer.encode('Once upon a tim')), Array.from(tokenizer.encode('The cat sat. Th'))];
      const dir = mkdtempSync(join(tmpdir(), 'lmlab-interop-'));
      const file = join(dir, 'nanogpt.safetensors');
      const out = execFileSync(PYTHON, ['tests/interop/nanogpt.py', 'write-state-dict', file, join(ROOT, 'corpora', 'vocab.json'), ...variant, '--ids', JSON.stringify(ids)], { encoding: 'utf8' });
      const theirs = (JSON.parse(out) as { logits: number[][][] }).logits;
      const { state, card } = await prepareImport(new Uint8Array(readFileSync(file)), { nHead: 2, tokenizer: tokenizer.toJSON() });
      expect(card.kind).toBe('nanogpt');
      const model = new GPT(state.model, state.weights);
      const logits = model.forward(tf.tensor2d(ids.flat(), [2, 15], 'int32'));
      const ours = (await logits.array()) as number[][][];
      logits.dispose();
      model.dispose();
      let maxDiff = 0;
      for (let b = 0; b < 2; b++) for (let t = 0; t < 15; t++) for (let v = 0; v < tokenizer.vocabSize; v++) {
        maxDiff = Math.max(maxDiff, Math.abs(ours[b][t][v] - theirs[b][t][v]));
      }
      expect(theirs[0][0]).toHaveLength(tokenizer.vocabSize);
      expect(maxDiff).toBeLessThanOrEqual(1e-4);
    });
  }
});

describe.runIf(hasTorch)('gradients against PyTorch autograd', () => {
  it.each(['cpu', 'wasm'] as const)('loss and every parameter gradient match nanoGPT in PyTorch (%s backend)', async (backend) => {
    await import('@tensorflow/tfjs-backend-wasm');
    await tf.setBackend(backend);
    const text = 'a cat sat on the mat. the dog ran far away, then home again! '.repeat(30);
    const tokenizer = CharTokenizer.fromText(text);
    const { corpus } = corpusFromText('cats', text, tokenizer);
    const session = LabSession.create({ preset: 'micro', corpus, tokenizer, train: { steps: 10, learningRate: 1e-2 } });
    for (let i = 0; i < 3; i++) await session.step(); // away from the initialisation's symmetries
    const dir = mkdtempSync(join(tmpdir(), 'lmlab-grads-'));
    const file = join(dir, 'micro.safetensors');
    writeFileSync(file, await session.toCheckpointBytes());

    const batch = session.trainer.nextBatch();
    const rows = (a: Int32Array) => Array.from({ length: batch.batchSize }, (_, b) => Array.from(a.subarray(b * batch.seqLen, (b + 1) * batch.seqLen)));
    const reference = JSON.parse(
      execFileSync(PYTHON, ['tests/interop/grads.py', file, JSON.stringify({ x: rows(batch.x), y: rows(batch.y) })], { encoding: 'utf8', env: { ...process.env, PYTHONPATH: 'tests/interop' } }),
    ) as { loss: number; grads: Record<string, number[]> };

    const { value, grads } = tf.variableGrads(() => batchLoss(session.model, batch), [...session.model.params.values()]);
    expect((await value.data())[0]).toBeCloseTo(reference.loss, 5);
    const names = Object.keys(reference.grads);
    expect(names.length).toBe(session.model.params.size);
    for (const [variableName, g] of Object.entries(grads)) {
      const name = variableName.slice(variableName.indexOf('/') + 1);
      const ours = await g.data();
      const theirs = reference.grads[name];
      expect(theirs, name).toBeDefined();
      const scale = Math.max(1e-3, ...theirs.map(Math.abs));
      let worst = 0;
      for (let i = 0; i < theirs.length; i++) worst = Math.max(worst, Math.abs(ours[i] - theirs[i]) / scale);
      expect(worst, `${name}: largest difference relative to the largest gradient entry`).toBeLessThan(1e-4);
    }
    tf.dispose([value, ...Object.values(grads)]);
    session.dispose();
  });
});
