/**
 * Training as a whole: a fixed batch can be memorised, a run resumed from a checkpoint continues
 * bit for bit, no step leaks tensors, and runs are reproducible from their seed on every backend.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TrainConfig } from '../src/core/model/config.ts';
import { modelConfig } from '../src/core/model/config.ts';
import { sampleBatch } from '../src/core/train/data.ts';
import { GPT } from '../src/core/model/model.ts';
import { Random } from '../src/core/random.ts';
import { LabSession } from '../src/core/train/session.ts';
import { batchLoss, toTimeMajor } from '../src/core/train/objective.ts';
import { tinyCorpus, useBackend } from './helpers.ts';

const { corpus, tokenizer } = tinyCorpus();

function micro(train: Partial<TrainConfig> = {}): LabSession {
  return LabSession.create({ preset: 'micro', corpus, tokenizer, train: { evalBatches: 2, ...train } });
}

async function runLosses(session: LabSession): Promise<{ losses: number[]; valLosses: number[] }> {
  while (!session.done) await session.step();
  return {
    losses: session.metrics.map((m) => m.loss),
    valLosses: session.metrics.filter((m) => m.valLoss !== undefined).map((m) => m.valLoss),
  };
}

describe('overfitting one batch (wasm)', () => {
  beforeAll(() => useBackend('wasm'));

  it('a single fixed batch trained with a constant learning rate reaches a loss below 0.05', async () => {
    const lr = 3e-3;
    const session = micro({ steps: 400, learningRate: lr, minLearningRate: lr, warmupSteps: 1 });
    expect(session.trainer.learningRate(0)).toBe(lr);
    expect(session.trainer.learningRate(250)).toBe(lr);
    const batch = session.trainer.nextBatch();
    const losses: number[] = [];
    for (let i = 0; i < 400; i++) {
      const { loss } = await session.trainer.trainStep({ batch });
      losses.push(loss);
      if (loss < 0.05) break;
    }
    expect(losses[0]).toBeGreaterThan(3.5);
    expect(Math.min(...losses)).toBeLessThan(0.05);
    // Confirm with the model as it now is, outside the training step.
    const final = batchLoss(session.model, batch);
    expect((await final.data())[0]).toBeLessThan(0.1);
    final.dispose();
    session.dispose();
  });
});

describe('resuming from a checkpoint (cpu)', () => {
  beforeAll(() => useBackend('cpu'));

  it('k steps, checkpoint bytes, rebuild, continue to N gives exactly the uninterrupted run', async () => {
    const train = { steps: 9, evalInterval: 3 };
    const straight = micro(train);
    const expected = await runLosses(straight);
    const expectedWeights = await straight.model.values();
    straight.dispose();
    expect(expected.losses).toHaveLength(9);
    expect(expected.valLosses).toHaveLength(3);

    for (const k of [1, 4]) {
      const first = micro(train);
      for (let i = 0; i < k; i++) await first.step();
      const bytes = await first.toCheckpointBytes();
      first.dispose();
      const resumed = LabSession.fromCheckpoint(bytes, corpus);
      expect(resumed.stepsTaken).toBe(k);
      const got = await runLosses(resumed);
      expect(got.losses, `resumed after ${k}`).toEqual(expected.losses);
      expect(got.valLosses, `resumed after ${k}`).toEqual(expected.valLosses);
      const weights = await resumed.model.values();
      for (const [name, v] of expectedWeights) expect(Array.from(weights.get(name)!), name).toEqual(Array.from(v));
      resumed.dispose();
    }
  });
});

describe.each(['cpu', 'wasm'] as const)('tensor memory on the %s backend', (backend) => {
  beforeAll(() => useBackend(backend));

  it('numTensors does not grow across steps, sampling, checkpointing or evaluation', async () => {
    const session = micro({ steps: 50, evalInterval: 2 });
    const prompt = 'Once upon';
    const req = { maxTokens: 12, seed: 3 };
    // Warm up once: the attention masks for each sequence length are cached for the life of the backend.
    await session.step();
    await session.sample(prompt, req);
    await session.evaluate();
    await session.toCheckpointBytes();
    const start = tf.memory().numTensors;

    for (let i = 0; i < 3; i++) await session.step();
    expect(tf.memory().numTensors, 'after steps').toBe(start);
    await session.step({ decide: () => 'skip' });
    expect(tf.memory().numTensors, 'after a skipped step').toBe(start);
    await session.sample(prompt, req);
    expect(tf.memory().numTensors, 'after sample').toBe(start);
    await session.toCheckpointBytes();
    expect(tf.memory().numTensors, 'after toCheckpointBytes').toBe(start);
    await session.evaluate();
    expect(tf.memory().numTensors, 'after evaluate').toBe(start);
    session.dispose();
  });

  it('numTensors does not grow when every step is clipped, nor when clipping is off', async () => {
    for (const gradClip of [1e-4, 0]) {
      const session = micro({ steps: 50, evalInterval: 100, gradClip });
      await session.step();
      const start = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) await session.step();
      expect(tf.memory().numTensors, `gradClip ${gradClip}`).toBe(start);
      session.dispose();
    }
  });
});

describe('reproducibility', () => {
  it('the same seed and config give the same loss sequence; another seed gives another', async () => {
    await useBackend('cpu');
    const run = async (seed: number) => {
      const s = micro({ steps: 4, seed });
      const { losses } = await runLosses(s);
      s.dispose();
      return losses;
    };
    const a = await run(1);
    expect(await run(1)).toEqual(a);
    const b = await run(2);
    expect(b).toHaveLength(4);
    expect(b.some((x, i) => x !== a[i])).toBe(true);
  });

  it('the wasm and cpu backends give the same initial loss within 1e-4', async () => {
    const c = modelConfig('micro', tokenizer.vocabSize);
    const batch = sampleBatch(corpus.train, 4, c.blockSize, new Random(8));
    const losses: number[] = [];
    for (const backend of ['cpu', 'wasm'] as const) {
      await useBackend(backend);
      const model = GPT.init(c, 1);
      const loss = batchLoss(model, batch);
      losses.push((await loss.data())[0]);
      loss.dispose();
      model.dispose();
    }
    expect(Math.abs(losses[0] - losses[1])).toBeLessThan(1e-4);
  });
});

describe('toTimeMajor', () => {
  it('reorders [B, T] rows to [T, B]', () => {
    // B = 2, T = 3: [[a0 a1 a2], [b0 b1 b2]] → [a0 b0 a1 b1 a2 b2]
    expect(Array.from(toTimeMajor(Int32Array.of(10, 11, 12, 20, 21, 22), 2, 3))).toEqual([10, 20, 11, 21, 12, 22]);
  });
});
