/**
 * Data parallelism: a batch's rows split between threads give the one-thread step. The combining
 * rule is checked against hand-computed values, the split gradient against the whole batch's
 * gradient (with SFT-like masks whose slices count different numbers of tokens, with z-loss, and
 * for RL's policy objective), RL's shared decoding and reference log-probs against one thread's,
 * and real worker threads against training on one thread, step for step.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeGradientThreads, startGradientThreads } from '../cli/gradient-threads.ts';
import { modelConfig } from '../src/core/model/config.ts';
import { GPT } from '../src/core/model/model.ts';
import { sampleBatch } from '../src/core/model/decode.ts';
import { policyGradientLoss } from '../src/core/rl/advantages.ts';
import { batchLoss, sequenceLogProbs, type TrainBatch } from '../src/core/train/objective.ts';
import { assignFlatWeights, combineSlices, flatWeights, type GradientHelper, MIN_SLICE_TOKENS, parallelDecode, parallelGradient, parallelLogProbs, sliceCount, SliceWorker, sliceGradient, splitRows } from '../src/core/train/parallel.ts';
import type { SftExample } from '../src/core/post/chatdata.ts';
import { SftStage } from '../src/core/post/sft.ts';
import { RlStage, type Verifier } from '../src/core/rl/policy.ts';
import { LabSession } from '../src/core/train/session.ts';
import { tinyCorpus, useBackend } from './helpers.ts';

const { corpus, tokenizer } = tinyCorpus();

/** A helper in this thread: its own copy of the model (other weights than the trainer's, so each job must replace them). */
const sameThreadHelper = (config: GPT['config'], names: readonly string[]) => new SliceWorker(config, names);

/** A batch of B rows of T tokens whose loss mask counts a different number of tokens in each row, as SFT's does. */
function maskedBatch(B: number, T: number, V: number, seed: number): TrainBatch {
  let s = seed;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s);
  const x = Int32Array.from({ length: B * T }, () => next() % V);
  const y = Int32Array.from({ length: B * T }, () => next() % V);
  // Row b counts its last b + 1 tokens (row 0 one token, the last row nearly all), like answers of different lengths.
  const mask = Float32Array.from({ length: B * T }, (_, i) => (i % T >= T - 1 - Math.floor(i / T) ? 1 : 0));
  const accuracyMask = Float32Array.from(mask, (m, i) => (i % 2 === 0 ? m : 0));
  return { x, y, mask, accuracyMask, batchSize: B, seqLen: T };
}

function wholeBatchGradient(model: GPT, names: readonly string[], batch: TrainBatch, zLoss: number): { loss: number; grad: Float32Array } {
  return tf.tidy(() => {
    const vars = names.map((n) => model.params.get(n)!);
    const { value, grads } = tf.variableGrads(() => batchLoss(model, batch, zLoss), vars);
    const grad = tf.concat(vars.map((v) => tf.reshape(grads[v.name], [-1]))).dataSync() as Float32Array;
    return { loss: value.dataSync()[0], grad };
  });
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('splitting a batch and combining its slices', () => {
  it('splits the rows into contiguous slices that cover the batch once, the first taking the remainder', () => {
    const batch = maskedBatch(7, 5, 11, 1);
    const slices = splitRows(batch, 3);
    expect(slices.map((s) => s.batchSize)).toEqual([3, 2, 2]);
    expect(Array.from(slices.flatMap((s) => [...s.x]))).toEqual(Array.from(batch.x));
    expect(Array.from(slices.flatMap((s) => [...s.mask]))).toEqual(Array.from(batch.mask!));
    expect(Array.from(slices.flatMap((s) => [...s.accuracyMask!]))).toEqual(Array.from(batch.accuracyMask!));
    // No more slices than rows; a batch without a mask counts every token.
    const unmasked = splitRows({ x: new Int32Array(6), y: new Int32Array(6), batchSize: 2, seqLen: 3 }, 4);
    expect(unmasked.map((s) => s.batchSize)).toEqual([1, 1]);
    expect(Array.from(unmasked[1].mask)).toEqual([1, 1, 1]);
  });

  it('cuts a batch into as many slices as pay: at least MIN_SLICE_TOKENS tokens each, one row at least', () => {
    expect(MIN_SLICE_TOKENS).toBe(256);
    expect(sliceCount(4, 16, 1)).toBe(1); // micro: 64 tokens stay on one thread
    expect(sliceCount(16, 64, 1)).toBe(2); // tiny: 1,024 tokens, two slices of 512
    expect(sliceCount(16, 64, 3)).toBe(4);
    expect(sliceCount(16, 20, 3)).toBe(1); // 320 tokens: one slice
    expect(sliceCount(2, 512, 3)).toBe(2); // no more slices than rows
    expect(sliceCount(16, 64, 0)).toBe(1);
  });

  it('weights each slice by its counted tokens (hand-computed)', () => {
    // Slice A: 3 tokens, mean loss 2, gradient (1, 0); slice B: 1 token, mean loss 6, gradient (0, 4).
    // Whole batch: loss (3·2 + 1·6) / 4 = 3; gradient (3·(1,0) + 1·(0,4)) / 4 = (0.75, 1); accuracy (2 + 1) / (3 + 3) = 0.5.
    const out = combineSlices([
      { loss: 2, grad: Float32Array.of(1, 0), count: 3, hits: 2, scored: 3 },
      { loss: 6, grad: Float32Array.of(0, 4), count: 1, hits: 1, scored: 3 },
    ]);
    expect(out.loss).toBeCloseTo(3, 12);
    expect(Array.from(out.grad)).toEqual([0.75, 1]);
    expect(out.accuracy).toBe(0.5);
    // A slice with nothing counted adds nothing; a batch with nothing counted has loss and gradient 0.
    const none = combineSlices([
      { loss: 0, grad: Float32Array.of(0, 0), count: 0, hits: 0, scored: 0 },
      { loss: 5, grad: Float32Array.of(2, 2), count: 2, hits: 0, scored: 0 },
    ]);
    expect(none.loss).toBe(5);
    expect(Array.from(none.grad)).toEqual([2, 2]);
    expect(combineSlices([{ loss: 0, grad: Float32Array.of(0), count: 0, hits: 0, scored: 0 }]).loss).toBe(0);
    expect(() => combineSlices([
      { loss: 1, grad: Float32Array.of(1, 2), count: 1, hits: 0, scored: 0 },
      { loss: 1, grad: Float32Array.of(1), count: 1, hits: 0, scored: 0 },
    ])).toThrow(/1 values, expected 2/);
  });

  it('adds up the slices of the policy objective, whatever they count (hand-computed)', () => {
    // Each slice's loss is already its term of −(1/rows) Σ Â·log π, so the batch's is their sum.
    const out = combineSlices([
      { loss: 0.25, grad: Float32Array.of(1, 0), count: 3, hits: 0, scored: 0 },
      { loss: -0.5, grad: Float32Array.of(0, 2), count: 1, hits: 0, scored: 0 },
    ], 'policy');
    expect(out.loss).toBe(-0.25);
    expect(Array.from(out.grad)).toEqual([1, 2]);
  });

  it('splits the advantages with their rows', () => {
    const batch = { ...maskedBatch(5, 4, 11, 2), advantages: Float32Array.of(1, 2, 3, 4, 5) };
    expect(splitRows(batch, 2).map((s) => Array.from(s.advantages!))).toEqual([[1, 2, 3], [4, 5]]);
  });
});

/** `n` prompts of 1 to 9 tokens below `V`, each its own. */
function prompts(n: number, V: number): Int32Array[] {
  return Array.from({ length: n }, (_, r) => Int32Array.from({ length: 1 + (r % 9) }, (_, i) => (i * 7 + r * 3) % V));
}

describe('the data-parallel gradient is the whole batch\'s (wasm)', () => {
  beforeAll(() => useBackend('wasm'));

  for (const [parts, zLoss] of [[2, 0], [3, 0], [2, 1e-2]] as const) {
    it(`${parts} slices${zLoss ? ', with z-loss' : ''}: loss, gradient and accuracy within 1e-5 of the whole masked batch`, async () => {
      const config = modelConfig('micro', tokenizer.vocabSize);
      const model = GPT.init(config, 3);
      const names = [...model.params.keys()];
      const helpers = Array.from({ length: parts - 1 }, () => sameThreadHelper(config, names));
      const batch = maskedBatch(6, config.blockSize, config.vocabSize, 7);
      const whole = wholeBatchGradient(model, names, batch, zLoss);
      const split = await parallelGradient(model, names, helpers, batch, { kind: 'lm', zLoss });
      // The slices count different numbers of tokens, so their unweighted mean is another gradient.
      const slices = await Promise.all(splitRows(batch, parts).map((s) => sliceGradient(model, names, s, { kind: 'lm', zLoss })));
      const naive = combineSlices(slices.map((r) => ({ ...r, count: 1 })));
      expect(maxAbsDiff(naive.grad, whole.grad)).toBeGreaterThan(1e-3);
      expect(Math.abs(split.loss - whole.loss)).toBeLessThan(1e-5);
      expect(maxAbsDiff(split.grad, whole.grad)).toBeLessThan(1e-5);
      const one = await sliceGradient(model, names, { ...batch, mask: batch.mask! }, { kind: 'lm', zLoss });
      expect(split.accuracy).toBeCloseTo(one.hits / one.scored, 6);
      await closeGradientThreads(helpers);
      model.dispose();
    });
  }

  for (const parts of [2, 3]) {
    it(`${parts} slices of RL's policy objective: the loss and gradient of the whole batch, within 1e-5`, async () => {
      const config = modelConfig('micro', tokenizer.vocabSize);
      const model = GPT.init(config, 4);
      const names = [...model.params.keys()];
      const helpers = Array.from({ length: parts - 1 }, () => sameThreadHelper(config, names));
      // Six rows with advantages, taken from a batch of eight (two rows had none and were left out).
      const batch = { ...maskedBatch(6, config.blockSize, config.vocabSize, 9), advantages: Float32Array.of(1, -1, 0.5, -0.5, 2, -2) };
      const objective = { kind: 'policy', rows: 8 } as const;
      const whole = tf.tidy(() => {
        const vars = names.map((n) => model.params.get(n)!);
        const { value, grads } = tf.variableGrads(() => policyGradientLoss(sequenceLogProbs(model, { ...batch, mask: batch.mask! }), batch.advantages, 8), vars);
        return { loss: value.dataSync()[0], grad: tf.concat(vars.map((v) => tf.reshape(grads[v.name], [-1]))).dataSync() as Float32Array };
      });
      const split = await parallelGradient(model, names, helpers, batch, objective);
      expect(Math.abs(split.loss - whole.loss)).toBeLessThan(1e-5);
      expect(maxAbsDiff(split.grad, whole.grad)).toBeLessThan(1e-5);
      // Weighted as the lm objective's slices are, the same slices give another gradient.
      const slices = await Promise.all(splitRows(batch, parts).map((s) => sliceGradient(model, names, s, objective)));
      expect(maxAbsDiff(combineSlices(slices, 'lm').grad, whole.grad)).toBeGreaterThan(1e-4);
      await closeGradientThreads(helpers);
      model.dispose();
    });
  }

  it('decoding shared with helpers draws, row for row, the tokens one decode of every prompt draws', async () => {
    const config = modelConfig('micro', tokenizer.vocabSize, { blockSize: 24 });
    const model = GPT.init(config, 6);
    const names = [...model.params.keys()];
    const helpers = [sameThreadHelper(config, names), sameThreadHelper(config, names)];
    const all = prompts(48, config.vocabSize); // 48 rows of a 24-token context: three shares
    expect(sliceCount(all.length, config.blockSize, helpers.length)).toBe(3);
    const options = { maxNewTokens: 12, temperature: 1, topK: 0, seed: 21, stopToken: 5, alternatives: 3 };
    const one = await sampleBatch(model, all, options);
    const before = tf.memory().numTensors;
    const shared = await parallelDecode(model, names, helpers, all, options);
    expect(tf.memory().numTensors).toBe(before);
    expect(shared.ids).toEqual(one.ids);
    expect(shared.ended).toEqual(one.ended);
    expect(one.ended.some(Boolean)).toBe(true); // some rows stopped, others ran to the limit
    expect(one.ended.every(Boolean)).toBe(false);
    shared.logProbs.forEach((row, r) => row.forEach((lp, t) => expect(Math.abs(lp - one.logProbs[r][t])).toBeLessThan(1e-6)));
    shared.entropies.forEach((row, r) => row.forEach((h, t) => expect(Math.abs(h - one.entropies[r][t])).toBeLessThan(1e-6)));
    // Every share carries its rows' alternatives, as one decode does: same tokens, same probabilities.
    expect(shared.alternatives?.map((row) => row.map((alts) => alts.map((a) => a.token)))).toEqual(one.alternatives!.map((row) => row.map((alts) => alts.map((a) => a.token))));
    shared.alternatives!.forEach((row, r) => row.forEach((alts, t) => alts.forEach((a, k) => expect(Math.abs(a.prob - one.alternatives![r][t][k].prob)).toBeLessThan(1e-6))));
    // The shares must each draw from their rows' own generators: decoding them all with the first seed would not.
    const sameSeed = await Promise.all([0, 16, 32].map((from) => sampleBatch(model, all.slice(from, from + 16), options)));
    expect(sameSeed.flatMap((d) => d.ids)).not.toEqual(one.ids);
    await closeGradientThreads(helpers);
    model.dispose();
  });

  it('the reference log-probs shared with helpers are one pass\'s, within 1e-6', async () => {
    const config = modelConfig('micro', tokenizer.vocabSize);
    const model = GPT.init(config, 8);
    const names = [...model.params.keys()];
    const helpers = [sameThreadHelper(config, names)];
    const rows = maskedBatch(40, config.blockSize, config.vocabSize, 3);
    const batch = { ...rows, mask: rows.mask! };
    const t = sequenceLogProbs(model, batch);
    const whole = (await t.data()) as Float32Array;
    t.dispose();
    const before = tf.memory().numTensors;
    const shared = await parallelLogProbs(model, names, helpers, batch);
    expect(tf.memory().numTensors).toBe(before);
    expect(shared).toHaveLength(40);
    expect(maxAbsDiff(shared, whole)).toBeLessThan(1e-6);
    await closeGradientThreads(helpers);
    model.dispose();
  });

  it('the weights a helper is sent round-trip exactly, and a wrong-sized vector is refused', async () => {
    const config = modelConfig('micro', tokenizer.vocabSize);
    const a = GPT.init(config, 1);
    const b = GPT.init(config, 2);
    const names = [...a.params.keys()];
    const w = await flatWeights(a, names);
    assignFlatWeights(b, names, w);
    expect(Array.from(await flatWeights(b, names))).toEqual(Array.from(w));
    expect(() => assignFlatWeights(b, names, w.subarray(1))).toThrow(/too few/);
    expect(() => assignFlatWeights(b, names, new Float32Array(w.length + 1))).toThrow(/for a model of/);
    a.dispose();
    b.dispose();
  });

  it('training with a helper follows training alone, step for step, and leaks no tensor', async () => {
    const make = () => LabSession.create({ preset: 'micro', corpus, tokenizer, train: { steps: 6, seed: 5, evalBatches: 1, batchSize: 32 } }); // 512 tokens: two slices
    const alone = make();
    const shared = make();
    shared.trainer.helpers = [sameThreadHelper(shared.model.config, shared.trainer.optimizer.names)];
    await shared.step(); // the helper's model and the first step's caches exist from here on
    await alone.step();
    const before = tf.memory().numTensors;
    while (!alone.done) {
      const [a, b] = [await alone.step(), await shared.step()];
      expect(shared.trainer.lastStepThreads).toBe(2);
      expect(Math.abs(a.result.loss - b.result.loss)).toBeLessThan(1e-5);
      expect(Math.abs(a.result.gradNorm - b.result.gradNorm) / a.result.gradNorm).toBeLessThan(1e-4);
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(maxAbsDiff(await flatWeights(alone.model, alone.trainer.optimizer.names), await flatWeights(shared.model, shared.trainer.optimizer.names))).toBeLessThan(1e-5);
    await closeGradientThreads(shared.trainer.helpers);
    alone.dispose();
    shared.dispose();
  });

  it('SFT with a helper: mixed chat and story rows, the same loss and masked accuracy as alone', async () => {
    const chat = (q: string, a: string): SftExample => ({ messages: [{ role: 'user', content: q }, { role: 'assistant', content: a }] });
    const data = [chat('Say hello to Tom.', 'Hello, Tom!'), chat('Count to 3.', '1, 2, 3.'), chat('What is 1 plus 1?', '1 plus 1 is 2.')];
    const base = LabSession.create({ preset: 'micro', corpus, tokenizer, model: { blockSize: 40 }, train: { steps: 1 } });
    const bytes = await base.toCheckpointBytes();
    base.dispose();
    // 32 rows of up to 40 tokens: two slices, the second holding the story windows, which count every token.
    const start = () => SftStage.start(bytes, { train: data, val: [] }, corpus, { steps: 4, evalInterval: 100, batchSize: 32 }, { pretrainShare: 0.5 });
    const [alone, shared] = [await start(), await start()];
    shared.session.trainer.helpers = [sameThreadHelper(shared.session.model.config, shared.session.trainer.optimizer.names)];
    while (!alone.done) {
      const [a, b] = [await alone.step(), await shared.step()];
      expect(shared.session.trainer.lastStepThreads).toBe(2);
      expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-5);
      expect(b.maskedAccuracy).toBeCloseTo(a.maskedAccuracy, 6);
    }
    await closeGradientThreads(shared.session.trainer.helpers);
    alone.release();
    shared.release();
  });

  it('a helper that fails costs speed, not the step: it is computed alone, the helpers dropped and the reason told', async () => {
    const make = () => LabSession.create({ preset: 'micro', corpus, tokenizer, train: { steps: 3, seed: 6, evalBatches: 1, batchSize: 32 } });
    const alone = make();
    const shared = make();
    const reasons: string[] = [];
    const crashed = () => Promise.reject(new Error('thread crashed'));
    shared.trainer.helpers = [{ gradient: crashed, decode: crashed, logProbs: crashed, close: async () => {} }];
    shared.trainer.onHelpersLost = (reason) => reasons.push(reason);
    const [a, b] = [await alone.step(), await shared.step()];
    expect(b.result.applied).toBe(true);
    expect(Math.abs(a.result.loss - b.result.loss)).toBeLessThan(1e-6);
    expect(reasons).toEqual(['thread crashed']);
    expect(shared.trainer.helpers).toEqual([]);
    expect(shared.trainer.lastStepThreads).toBe(1);
    await shared.step();
    expect(reasons).toHaveLength(1);
    alone.dispose();
    shared.dispose();
  });
});

describe('RL shared with a helper (wasm)', () => {
  beforeAll(() => useBackend('wasm'));

  // The share of a's in a reply, on one question: a toy task whose rewards differ within a group.
  const countA: Verifier = (_q, reply) => (reply.length === 0 ? 0 : [...reply].filter((c) => c === 'a').length / reply.length);
  const data = { train: [{ messages: [{ role: 'user', content: 'Hi.' }, { role: 'assistant', content: 'aaa' }] }] as SftExample[], val: [] as SftExample[] };
  // 8 prompts × G = 8: 64 rows, enough to share the samples, the reference's log-probs and the update.
  const options = { reward: 'verifier' as const, verifier: countA, groupSize: 8, promptsPerStep: 8, maxNewTokens: 6, evalQuestions: 0, train: { steps: 4, learningRate: 1e-2, evalInterval: 1000 } };
  const start = async () => {
    const s = LabSession.create({ preset: 'micro', corpus, tokenizer, stage: 'sft', train: { steps: 1, seed: 2 } });
    const bytes = await s.toCheckpointBytes();
    s.dispose();
    return RlStage.start(bytes, data, corpus, options);
  };

  it('follows RL alone step for step: the same samples and rewards, the loss within 1e-5, no tensor leaked', async () => {
    const [alone, shared] = [await start(), await start()];
    const helper = sameThreadHelper(shared.session.model.config, shared.session.trainer.optimizer.names);
    const calls = { gradient: 0, decode: 0, logProbs: 0 };
    shared.session.trainer.helpers = [{
      gradient: (job) => (calls.gradient++, helper.gradient(job)),
      decode: (job) => (calls.decode++, helper.decode(job)),
      logProbs: (job) => (calls.logProbs++, helper.logProbs(job)),
      close: () => helper.close(),
    }];
    await alone.step();
    await shared.step();
    const before = tf.memory().numTensors;
    while (!alone.done) {
      const [a, b] = [await alone.step(), await shared.step()];
      expect(shared.session.trainer.lastStepThreads).toBe(2); // the update was shared too
      // The replies' per-token probabilities come from another thread's decode: equal to float rounding.
      const near = (p: number) => expect.closeTo(p, 5);
      expect(shared.lastSamples).toEqual(alone.lastSamples.map((x) => ({ ...x, kl: expect.closeTo(x.kl, 4), tokens: x.tokens.map((t) => ({ text: t.text, prob: near(t.prob), top: t.top.map((a) => ({ text: a.text, prob: near(a.prob) })) })) })));
      expect(b.reward).toBe(a.reward);
      expect(Math.abs(b.kl - a.kl)).toBeLessThan(1e-5);
      expect(Math.abs(b.loss - a.loss)).toBeLessThan(1e-5);
    }
    expect(tf.memory().numTensors).toBe(before);
    // Every step shared its samples and reference log-probs; the update, from the second step on at
    // least (the first step's groups of differing rewards can be too few rows to share).
    expect(calls.decode).toBe(4);
    expect(calls.logProbs).toBe(4);
    expect(calls.gradient).toBeGreaterThanOrEqual(3);
    await closeGradientThreads(shared.session.trainer.helpers);
    alone.release();
    shared.release();
  });

  it('a helper that fails while sampling costs speed, not the step', async () => {
    const [alone, shared] = [await start(), await start()];
    const reasons: string[] = [];
    const crashed = () => Promise.reject(new Error('thread crashed'));
    shared.session.trainer.helpers = [{ gradient: crashed, decode: crashed, logProbs: crashed, close: async () => {} }];
    shared.session.trainer.onHelpersLost = (reason) => reasons.push(reason);
    const [a, b] = [await alone.step(), await shared.step()];
    expect(b.reward).toBe(a.reward);
    expect(Math.abs(b.loss - a.loss)).toBeLessThan(1e-6);
    expect(reasons).toEqual(['thread crashed']);
    expect(shared.session.trainer.helpers).toEqual([]);
    alone.release();
    shared.release();
  });
});

describe('worker threads (Node, wasm)', () => {
  let session: LabSession;
  let helpers: GradientHelper[] = [];
  beforeAll(async () => {
    await useBackend('wasm');
    session = LabSession.create({ preset: 'micro', corpus, tokenizer, train: { steps: 5, seed: 9, evalBatches: 1, batchSize: 32 } });
    helpers = await startGradientThreads(1, session.model.config, session.trainer.optimizer.names);
  });
  afterAll(async () => {
    await closeGradientThreads(helpers);
    session.dispose();
  });

  it('a thread computes the same slice gradient as this thread', async () => {
    const names = session.trainer.optimizer.names;
    const [slice] = splitRows(maskedBatch(3, session.model.config.blockSize, session.model.config.vocabSize, 4), 1);
    const here = await sliceGradient(session.model, names, slice, { kind: 'lm', zLoss: 0 });
    const there = await helpers[0].gradient({ weights: await flatWeights(session.model, names), batch: slice, objective: { kind: 'lm', zLoss: 0 } });
    expect(there.count).toBe(here.count);
    expect(Math.abs(there.loss - here.loss)).toBeLessThan(1e-6);
    expect(maxAbsDiff(there.grad, here.grad)).toBeLessThan(1e-6);
  });

  it('a thread decodes and scores as this thread does', async () => {
    const names = session.trainer.optimizer.names;
    const weights = await flatWeights(session.model, names);
    const all = prompts(6, session.model.config.vocabSize);
    const options = { maxNewTokens: 8, temperature: 1, topK: 0, seed: 4 };
    expect((await helpers[0].decode({ weights, prompts: all, options })).ids).toEqual((await sampleBatch(session.model, all, options)).ids);
    const [slice] = splitRows(maskedBatch(3, session.model.config.blockSize, session.model.config.vocabSize, 5), 1);
    const t = sequenceLogProbs(session.model, slice);
    expect(maxAbsDiff(await helpers[0].logProbs({ weights, batch: slice }), (await t.data()) as Float32Array)).toBeLessThan(1e-6);
    t.dispose();
  });

  it('training shared with a thread matches training alone, and a bad job is answered with its error', async () => {
    const alone = LabSession.create({ preset: 'micro', corpus, tokenizer, train: { steps: 5, seed: 9, evalBatches: 1, batchSize: 32 } });
    session.trainer.helpers = helpers;
    while (!alone.done) {
      const [a, b] = [await alone.step(), await session.step()];
      expect(session.trainer.lastStepThreads).toBe(2);
      expect(Math.abs(a.result.loss - b.result.loss)).toBeLessThan(1e-5);
    }
    session.trainer.helpers = [];
    alone.dispose();
    await expect(helpers[0].gradient({ weights: new Float32Array(3), batch: splitRows(session.trainer.nextBatch(), 1)[0], objective: { kind: 'lm', zLoss: 0 } })).rejects.toThrow(/helper: .*too few/);
    // The thread goes on answering after an error.
    const job = { weights: await flatWeights(session.model, session.trainer.optimizer.names), batch: splitRows(session.trainer.nextBatch(), 1)[0], objective: { kind: 'lm', zLoss: 0 } as const };
    expect(Number.isFinite((await helpers[0].gradient(job)).loss)).toBe(true);
  });
});
