import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { padBatch, renderChat, toExample } from '../src/core/post/chat.ts';
import type { SftExample } from '../src/core/post/chatdata.ts';
import { decodeCheckpoint, sha256Hex } from '../src/core/io/checkpoint.ts';
import { defaultTrainConfig } from '../src/core/model/config.ts';
import { answerAccuracy, greedyReplies } from '../src/core/eval/evaluate.ts';
import { generate } from '../src/core/model/sample.ts';
import { inheritTrainConfig, LabSession } from '../src/core/train/session.ts';
import { sftLossAndAccuracy, SftStage } from '../src/core/post/sft.ts';
import { crossEntropyRef, tinyCorpus, useBackend } from './helpers.ts';

const chat = (q: string, a: string): SftExample => ({ messages: [{ role: 'user', content: q }, { role: 'assistant', content: a }] });
const DATA: SftExample[] = [chat('Say hello to Tom.', 'Hello, Tom!'), chat('Count to 3.', '1, 2, 3.'), chat('What is 1 plus 1?', '1 plus 1 is 2.')];
const MODEL = { blockSize: 40 };

async function baseCheckpoint(steps = 0): Promise<Uint8Array> {
  const { corpus, tokenizer } = tinyCorpus();
  const base = LabSession.create({ preset: 'micro', corpus, tokenizer, model: MODEL, train: { steps: Math.max(steps, 1) } });
  for (let i = 0; i < steps; i++) await base.step();
  const bytes = await base.toCheckpointBytes();
  base.dispose();
  return bytes;
}

describe('inheritTrainConfig', () => {
  const parent = defaultTrainConfig('tiny', { steps: 2000 });

  it('keeps the parent settings and reports nothing when nothing is overridden', () => {
    const { config, overridden } = inheritTrainConfig(parent);
    expect(config).toEqual(parent);
    expect(overridden).toEqual([]);
  });

  it('derived settings follow what they derive from, and every change is reported', () => {
    const { config, overridden } = inheritTrainConfig(parent, { steps: 300, learningRate: 1e-3 });
    expect(config.warmupSteps).toBe(30); // steps/10 (the parent had min(100, 200) = 100)
    expect(config.evalInterval).toBe(15); // steps/20
    expect(config.minLearningRate).toBeCloseTo(1e-4, 12);
    expect(config.batchSize).toBe(parent.batchSize);
    expect(overridden.map((o) => o.key).sort()).toEqual(['evalInterval', 'learningRate', 'minLearningRate', 'steps', 'warmupSteps']);
    expect(overridden.find((o) => o.key === 'steps')).toEqual({ key: 'steps', from: 2000, to: 300 });
    expect(inheritTrainConfig(parent, { steps: 300, warmupSteps: 7 }).config.warmupSteps).toBe(7);
  });
});

describe('SFT', () => {
  beforeAll(() => useBackend('cpu'));

  it('the loss is the cross-entropy over the assistant tokens only, and accuracy counts exact predictions there', async () => {
    const { corpus, tokenizer } = tinyCorpus();
    const session = LabSession.create({ preset: 'micro', corpus, tokenizer, model: MODEL });
    const batch = padBatch(DATA.map((c) => toExample(renderChat(tokenizer, c.messages))), tokenizer.specialId('<|end|>'));
    const { loss, accuracy } = sftLossAndAccuracy(session.model, batch);
    const logits = session.model.forward(tf.tensor2d(batch.x, [batch.batchSize, batch.seqLen], 'int32'));
    const values = logits.dataSync();
    const V = tokenizer.vocabSize;
    const N = batch.x.length;
    expect(loss.dataSync()[0]).toBeCloseTo(crossEntropyRef(values, batch.y, batch.mask, N, V), 5);
    let hits = 0;
    for (let n = 0; n < N; n++) {
      if (batch.mask[n] === 0) continue;
      let best = 0;
      for (let v = 1; v < V; v++) if (values[n * V + v] > values[n * V + best]) best = v;
      if (best === batch.y[n]) hits += 1;
    }
    const counted = batch.mask.reduce((a, b) => a + b, 0);
    expect(counted).toBe('Hello, Tom!'.length + '1, 2, 3.'.length + '1 plus 1 is 2.'.length + 3); // + one end each
    expect(accuracy.dataSync()[0]).toBeCloseTo(hits / counted, 6);
    tf.dispose([loss, accuracy, logits]);
    session.dispose();
  });

  it('starts from its parent: same weights, inherited settings, lineage with the parent file hash', async () => {
    const parent = await baseCheckpoint(1);
    const { corpus } = tinyCorpus();
    const stage = await SftStage.start(parent, { train: DATA, val: DATA }, corpus, { steps: 5, evalInterval: 5 });
    const s = stage.session;
    expect(s.stage).toBe('sft');
    expect(s.stepsTaken).toBe(0);
    expect(s.model.config).toEqual({ ...s.model.config, blockSize: 40, nEmbd: 32 });
    // The base's tokens: 1 step of its batch × context, counted by hand from its config.
    const base = decodeCheckpoint(parent);
    expect(s.lineage).toEqual([{ stage: 'pretrain', step: 1, sha256: await sha256Hex(parent), tokens: base.train.batchSize * base.model.blockSize, tokenizer: `characters, ${base.model.vocabSize} tokens`, corpus: base.corpus }]);
    expect(s.summary().tokensPerParameter).toBe(base.train.batchSize * base.model.blockSize / s.summary().parameters);
    const inherited = s.extra.inherited as { fromStage: string; overridden: { key: string }[] };
    expect(inherited.fromStage).toBe('pretrain');
    expect(inherited.overridden.map((o) => o.key)).toContain('steps');
    expect(s.trainer.config.learningRate).toBe(3e-3); // micro's, inherited
    let row = await stage.step();
    expect(row.maskedAccuracy).toBeGreaterThanOrEqual(0);
    expect(row.maskedAccuracy).toBeLessThanOrEqual(1);
    while (!stage.done) row = await stage.step();
    expect(row.valLoss).toBeTypeOf('number');
    expect(row.chatValLoss).toBeTypeOf('number');

    // Saved and resumed, it is an sft checkpoint at step 5 with its lineage.
    const resumed = SftStage.resume(await s.toCheckpointBytes(), { train: DATA, val: DATA }, corpus, { steps: 6 });
    expect(resumed.session.stepsTaken).toBe(5);
    expect(resumed.session.lineage).toEqual(s.lineage);
    expect(resumed.session.metrics).toHaveLength(5);
    stage.release();
    resumed.release();
  });

  it('learns to answer its training questions in format', async () => {
    await useBackend('wasm');
    const { corpus, tokenizer } = tinyCorpus();
    const stage = await SftStage.start(await baseCheckpoint(), { train: DATA, val: [] }, corpus, { steps: 150, learningRate: 1e-2, warmupSteps: 10, evalInterval: 1000, batchSize: 6 });
    const first = await stage.step();
    let last = first;
    while (!stage.done) last = await stage.step();
    expect(last.loss).toBeLessThan(first.loss / 4);
    expect(last.maskedAccuracy).toBeGreaterThan(0.9);
    const result = await answerAccuracy(stage.session.model, tokenizer, DATA);
    expect(result.checks.map((c) => c.answer)).toEqual(DATA.map((c) => c.messages[1].content));
    expect(result.exactMatch).toBe(1);
    expect(result.formatAdherence).toBe(1);
    stage.release();
  });

  it('batched greedy decoding gives what decoding each prompt alone gives', async () => {
    await useBackend('cpu');
    const { corpus, tokenizer } = tinyCorpus();
    const session = LabSession.create({ preset: 'micro', corpus, tokenizer, model: { blockSize: 12 } });
    const prompts = ['Tom', 'Once upon a time', 'A'].map((t) => tokenizer.encode(t)); // one longer than the block
    const end = tokenizer.specialId('<|end|>');
    const batched = await greedyReplies(session.model, prompts, end, 6);
    for (let i = 0; i < prompts.length; i++) {
      const alone = await generate(session.model, prompts[i], { maxTokens: 6, temperature: 0, topK: 0, seed: 1, stopToken: end });
      expect(batched[i].ids).toEqual(alone.filter((id) => id !== end));
    }
    session.dispose();
  });

  it('does not leak tensors across steps', async () => {
    await useBackend('wasm');
    const { corpus } = tinyCorpus();
    const one = [DATA[0]]; // every batch has the same length, so no new causal mask is cached
    const stage = await SftStage.start(await baseCheckpoint(), { train: one, val: one }, corpus, { steps: 10, evalInterval: 2 });
    await stage.step();
    await stage.step(); // the first evaluation has run
    const before = tf.memory().numTensors;
    for (let i = 0; i < 4; i++) await stage.step();
    expect(tf.memory().numTensors).toBe(before);
    stage.release();
  });
});
