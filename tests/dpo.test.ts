import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DpoExample } from '../src/core/post/chatdata.ts';
import { decodeCheckpoint } from '../src/core/io/checkpoint.ts';
import { dpoLoss, type DpoLossType, DpoStage, encodePair, pairBatch, preferenceStats, scorePairs } from '../src/core/post/dpo.ts';
import { sequenceLogProbs } from '../src/core/train/objective.ts';
import { GPT } from '../src/core/model/model.ts';
import { LabSession } from '../src/core/train/session.ts';
import { SftStage } from '../src/core/post/sft.ts';
import { tinyCorpus, useBackend } from './helpers.ts';

const LN2 = Math.log(2);
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** dpoLoss's value and its gradient with respect to the four log-prob vectors, as plain numbers. */
function lossAndGrads(pc: number[], pr: number[], rc: number[], rr: number[], beta: number, type: DpoLossType = 'sigmoid') {
  const inputs = [pc, pr, rc, rr].map((v) => tf.tensor1d(v));
  const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => dpoLoss(a as tf.Tensor1D, b as tf.Tensor1D, c as tf.Tensor1D, d as tf.Tensor1D, beta, type).loss;
  const { value, grads } = tf.valueAndGrads(f)(inputs);
  const out = { loss: value.dataSync()[0], grads: grads.map((g) => Array.from(g.dataSync())) };
  tf.dispose([value, ...grads, ...inputs]);
  return out;
}

describe('dpoLoss (hand-worked values)', () => {
  beforeAll(() => useBackend('cpu'));

  // Pair 1: π_c = −1, π_r = −2, ref_c = ref_r = −1.5  →  z = 0.5 − (−0.5) = 1.
  // Pair 2: everything −3                                →  z = 0.
  const pc = [-1, -3];
  const pr = [-2, -3];
  const rc = [-1.5, -3];
  const rr = [-1.5, -3];

  it('sigmoid: −log σ(β z), mean over pairs, and its gradient −β σ(−β z) / n', () => {
    const beta = 0.5;
    const { loss, grads } = lossAndGrads(pc, pr, rc, rr, beta);
    // pair 1: log(1 + e^−0.5) = 0.4740770; pair 2: log 2 = 0.6931472
    expect(loss).toBeCloseTo((0.474077 + 0.6931472) / 2, 5);
    const g1 = -beta * sigmoid(-0.5) / 2; // −0.5 · 0.3775407 / 2 = −0.0943852
    const g2 = -beta * 0.5 / 2; // −0.125
    expect(grads[0][0]).toBeCloseTo(-0.0943852, 6);
    expect(grads[0][0]).toBeCloseTo(g1, 6);
    expect(grads[0][1]).toBeCloseTo(g2, 6);
    expect(grads[1][0]).toBeCloseTo(-g1, 6); // ∂/∂π_r = −∂/∂π_c
    expect(grads[2][0]).toBeCloseTo(-g1, 6); // the reference enters with the opposite sign
    expect(grads[3][1]).toBeCloseTo(g2, 6);
  });

  it('implicit rewards are β·(π − ref) per reply', () => {
    const inputs = [pc, pr, rc, rr].map((v) => tf.tensor1d(v)) as tf.Tensor1D[];
    const out = dpoLoss(inputs[0], inputs[1], inputs[2], inputs[3], 0.5);
    expect(Array.from(out.chosenRewards.dataSync())).toEqual([0.25, 0]);
    expect(Array.from(out.rejectedRewards.dataSync())).toEqual([-0.25, 0]);
    tf.dispose([...inputs, out.loss, out.losses, out.chosenRewards, out.rejectedRewards]);
  });

  it('β → 0: the loss tends to log 2 and the gradient to −β/2 per pair, i.e. to 0', () => {
    for (const beta of [1e-3, 1e-6]) {
      const { loss, grads } = lossAndGrads([-1], [-2], [-1.5], [-1.5], beta);
      expect(loss).toBeCloseTo(LN2 - beta / 2, 6); // log(1 + e^−βz) ≈ log 2 − βz/2 with z = 1
      expect(grads[0][0] / (-beta / 2)).toBeCloseTo(1, 3);
      expect(grads[1][0] / (beta / 2)).toBeCloseTo(1, 3);
    }
  });

  it('identical chosen and rejected: loss log 2 for any β, and opposite gradients that cancel', () => {
    for (const beta of [0.1, 1, 10]) {
      const { loss, grads } = lossAndGrads([-4], [-4], [-2], [-2], beta);
      expect(loss).toBeCloseTo(LN2, 6);
      expect(grads[0][0]).toBeCloseTo(-beta / 2, 6);
      expect(grads[0][0] + grads[1][0]).toBe(0);
    }
  });

  it('ipo: (z − 1/(2β))², gradient 2(z − 1/(2β))/n', () => {
    const { loss, grads } = lossAndGrads(pc, pr, rc, rr, 0.5, 'ipo');
    // 1/(2β) = 1. Pair 1: (1 − 1)² = 0; pair 2: (0 − 1)² = 1.
    expect(loss).toBeCloseTo(0.5, 6);
    expect(grads[0][0]).toBeCloseTo(0, 6);
    expect(grads[0][1]).toBeCloseTo(-1, 6);
  });

  it('hinge: max(0, 1 − β z), gradient −β/n inside the margin and 0 beyond it', () => {
    const a = lossAndGrads(pc, pr, rc, rr, 0.5, 'hinge');
    expect(a.loss).toBeCloseTo((0.5 + 1) / 2, 6);
    expect(a.grads[0]).toEqual([-0.25, -0.25]);
    const b = lossAndGrads([0], [-10], [0], [0], 0.5, 'hinge'); // β z = 5 ≥ 1
    expect(b.loss).toBe(0);
    expect(Math.abs(b.grads[0][0])).toBe(0);
  });

  it('rejects a β that is not positive', () => {
    const t = tf.tensor1d([0]);
    expect(() => dpoLoss(t, t, t, t, 0)).toThrow(/beta/);
    t.dispose();
  });
});

describe('preferenceStats', () => {
  it('counts positive margins, ties as half, and averages the margin', () => {
    const policy = { chosen: Float32Array.from([-1, -2, -3]), rejected: Float32Array.from([-3, -2, -1]) };
    const reference = { chosen: Float32Array.from([-2, -2, -2]), rejected: Float32Array.from([-2, -2, -2]) };
    // margins: 0.1·(1 + 1) = 0.2, 0, 0.1·(−1 − 1) = −0.2
    const s = preferenceStats(policy, reference, 0.1);
    expect(s.accuracy).toBeCloseTo(0.5, 10);
    expect(s.meanMargin).toBeCloseTo(0, 6);
    expect(preferenceStats(policy, policy, 0.1).accuracy).toBe(0.5);
  });
});

// ---------------------------------------------------------------------------------------------
// The stage, on a very small model.

const pair = (question: string, chosen: string, rejected: string): DpoExample => ({ prompt: [{ role: 'user', content: question }], chosen, rejected });
const TRAIN: DpoExample[] = [
  pair('What does Tom eat?', 'Tom eats carrots.', 'Tom eats soup.'),
  pair('Say hello to Mia.', 'Hello, Mia!', 'No. Go away.'),
  pair('What is 2 plus 3?', '2 plus 3 is 5.', '2 plus 3 is 6.'),
  pair('Count to 3.', '1, 2, 3.', '1, 2, 3. 1, 2, 3.'),
];
const VAL: DpoExample[] = [pair('What does Mia eat?', 'Mia eats cake.', 'Ugh, fine. Mia eats cake.'), pair('Count to 2.', '1, 2.', '1, 2, 3.')];
const MODEL = { blockSize: 40 };

/** A base checkpoint, then a two-step SFT checkpoint of the micro model (the DPO stage's parent). */
async function sftCheckpoint(): Promise<Uint8Array> {
  const { corpus, tokenizer } = tinyCorpus();
  const base = LabSession.create({ preset: 'micro', corpus, tokenizer, model: MODEL, train: { steps: 2 } });
  const baseBytes = await base.toCheckpointBytes();
  base.dispose();
  const conversations = TRAIN.map((p) => ({ messages: [...p.prompt, { role: 'assistant' as const, content: p.chosen }] }));
  const sft = await SftStage.start(baseBytes, { train: conversations, val: [] }, corpus, { steps: 2, evalInterval: 100 });
  await sft.step();
  await sft.step();
  const bytes = await sft.session.toCheckpointBytes();
  sft.release();
  return bytes;
}

describe('the DPO stage', () => {
  let parent: Uint8Array;
  beforeAll(async () => {
    await useBackend('wasm');
    parent = await sftCheckpoint();
  });
  const corpus = () => tinyCorpus().corpus;

  it('computes the reference log-probs once, from the parent, and never changes them', async () => {
    const stage = await DpoStage.start(parent, { train: TRAIN, val: VAL }, corpus(), { train: { steps: 4, learningRate: 1e-2, evalInterval: 2 } });
    const passes = stage.referencePasses;
    expect(passes).toBeGreaterThan(0);
    const before = { train: Array.from(stage.reference.train.chosen), val: Array.from(stage.reference.val.rejected) };

    // The same numbers as the parent model scoring the pairs on its own, in batches of the same
    // size: another size pads to another length, and the wasm backend's softmax sums a row of
    // another length in another order (the last keys of a row fall in its vector tail or not), so
    // the scores can differ in the last bit.
    const state = decodeCheckpoint(parent);
    const frozen = new GPT(state.model, state.weights);
    const pairs = TRAIN.map((p) => encodePair(stage.session.tokenizer, p, frozen.config.blockSize));
    const direct = await scorePairs(frozen, pairs, stage.session.trainer.config.batchSize, stage.session.tokenizer.specialId('<|end|>'));
    expect(Array.from(stage.reference.train.chosen)).toEqual(Array.from(direct.chosen));
    expect(Array.from(stage.reference.train.rejected)).toEqual(Array.from(direct.rejected));

    for (let i = 0; i < 4; i++) await stage.step();
    expect(stage.referencePasses).toBe(passes);
    expect(Array.from(stage.reference.train.chosen)).toEqual(before.train);
    expect(Array.from(stage.reference.val.rejected)).toEqual(before.val);
    expect(Object.isFrozen(stage.reference)).toBe(true);
    // ...while the policy did move away from it.
    const now = await scorePairs(stage.session.model, pairs, 4, stage.session.tokenizer.specialId('<|end|>'));
    expect(Array.from(now.chosen)).not.toEqual(Array.from(direct.chosen));

    // Resuming takes the reference from the checkpoint, bit for bit, without a forward pass.
    const saved = await stage.session.toCheckpointBytes();
    const resumed = await DpoStage.resume(saved, { train: TRAIN, val: VAL }, corpus());
    expect(resumed.referencePasses).toBe(0);
    expect(Array.from(resumed.reference.train.chosen)).toEqual(before.train);
    expect(Array.from(resumed.reference.val.rejected)).toEqual(before.val);
    await expect(DpoStage.resume(saved, { train: TRAIN.slice(1), val: VAL }, corpus())).rejects.toThrow(/differ/);
    frozen.dispose();
    stage.release();
    resumed.release();
  });

  it('logs TRL metrics; the first step has zero rewards, loss log 2 and accuracy 0', async () => {
    const stage = await DpoStage.start(parent, { train: TRAIN, val: VAL }, corpus(), { beta: 0.1, train: { steps: 30, learningRate: 1e-2, evalInterval: 30, batchSize: 4 } });
    const first = await stage.step();
    expect(first.loss).toBeCloseTo(LN2, 5);
    expect(first['rewards/chosen']).toBe(0);
    expect(first['rewards/margins']).toBe(0);
    expect(first['rewards/accuracies']).toBe(0); // TRL counts only strictly positive margins
    expect(first['logps/chosen']).toBeLessThan(0);
    expect(first.gradNorm).toBeGreaterThan(0);
    let last = first;
    while (!stage.done) last = await stage.step();
    expect(last['rewards/margins']).toBeGreaterThan(0.5);
    expect(last['rewards/accuracies']).toBe(1);
    expect(last.loss).toBeLessThan(0.5);
    expect(last['eval/rewards/accuracies']).toBeTypeOf('number');
    expect(stage.session.lineage.map((l) => l.stage)).toEqual(['pretrain', 'sft']);
    stage.release();
  });

  it('gives zero parameter gradients when chosen and rejected are the same reply', async () => {
    const state = decodeCheckpoint(parent);
    const model = new GPT(state.model, state.weights);
    const { tokenizer } = tinyCorpus();
    const norm = (p: DpoExample) => {
      const batch = pairBatch([encodePair(tokenizer, p, model.config.blockSize)], tokenizer.specialId('<|end|>'));
      const ref = tf.tensor1d([-5]);
      const { value, grads } = tf.variableGrads(() => {
        const logps = sequenceLogProbs(model, batch);
        return dpoLoss(tf.slice(logps, 0, 1), tf.slice(logps, 1, 1), ref, ref, 0.5).loss;
      });
      const n = Math.sqrt(Object.values(grads).reduce((s, g) => s + tf.sum(tf.square(g)).dataSync()[0], 0));
      tf.dispose([value, ref, ...Object.values(grads)]);
      return n;
    };
    const different = norm(pair('Count to 3.', '1, 2, 3.', '1, 2.'));
    const same = norm({ ...pair('Count to 3.', '1, 2, 3.', 'x'), rejected: '1, 2, 3.' });
    expect(different).toBeGreaterThan(1e-3);
    expect(same).toBeLessThan(different * 1e-5);
    model.dispose();
  });

  it('sums log-probs over the reply tokens only', async () => {
    const { tokenizer } = tinyCorpus();
    const p = encodePair(tokenizer, pair('Hi?', 'Yes.', 'No.'), 40);
    // <|user|>Hi?<|end|><|assistant|> is 6 tokens; the targets from position 5 on are the reply.
    expect(Array.from(p.chosen.mask)).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    expect(tokenizer.decode(p.chosen.y.filter((_, i) => p.chosen.mask[i] === 1))).toBe('Yes.<|end|>');
    expect(tokenizer.decode(p.rejected.y.filter((_, i) => p.rejected.mask[i] === 1))).toBe('No.<|end|>');
  });

  it('does not leak tensors across steps', async () => {
    const same = [TRAIN[0], TRAIN[0]]; // one pair: every batch has the same length, so no new causal mask is cached
    const stage = await DpoStage.start(parent, { train: same, val: [TRAIN[0]] }, corpus(), { train: { steps: 8, evalInterval: 2, batchSize: 2 } });
    await stage.step();
    await stage.step(); // the first evaluation has run
    const before = tf.memory().numTensors;
    for (let i = 0; i < 4; i++) await stage.step();
    expect(tf.memory().numTensors).toBe(before);
    stage.release();
  });

  it('refuses to start from a base model and rejects bad settings', async () => {
    const { corpus: c, tokenizer } = tinyCorpus();
    const base = LabSession.create({ preset: 'micro', corpus: c, tokenizer, model: MODEL });
    const bytes = await base.toCheckpointBytes();
    base.dispose();
    await expect(DpoStage.start(bytes, { train: TRAIN, val: VAL }, c)).rejects.toThrow(/DPO starts from an SFT model, and this one is a base model/);
    await expect(DpoStage.start(parent, { train: TRAIN, val: VAL }, c, { beta: -1 })).rejects.toThrow(/beta/);
    await expect(DpoStage.start(parent, { train: [], val: VAL }, c)).rejects.toThrow(/no training pairs/);
  });

  it('rpoAlpha adds α × the chosen replies\' mean per-token NLL to the loss', async () => {
    const one = [TRAIN[0]]; // every batch is this one pair, so the step's numbers are the pair's
    const firstRow = async (rpoAlpha: number) => {
      const stage = await DpoStage.start(parent, { train: one, val: VAL }, corpus(), { rpoAlpha, train: { steps: 2, evalInterval: 100 } });
      const row = await stage.step();
      const tok = stage.session.tokenizer;
      const batch = pairBatch([encodePair(tok, one[0], stage.session.model.config.blockSize)], tok.specialId('<|end|>'));
      const chosenTokens = batch.mask.subarray(0, batch.seqLen).reduce((a, b) => a + b, 0); // row 0 is the chosen reply
      stage.release();
      return { row, chosenTokens };
    };
    const plain = await firstRow(0);
    const rpo = await firstRow(1);
    // At the first step the policy is the reference, so plain DPO's loss is −log σ(0) = log 2.
    expect(plain.row.loss).toBeCloseTo(Math.log(2), 5);
    expect(rpo.row['logps/chosen']).toBeCloseTo(plain.row['logps/chosen'], 5);
    expect(rpo.row.loss - plain.row.loss).toBeCloseTo(-plain.row['logps/chosen'] / plain.chosenTokens, 4);
  });
});
