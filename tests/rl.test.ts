/**
 * The reward-model and RL stages on the micro model: checkpoints with the score head, a reward
 * model that learns an easy preference, RL on a toy verifier that raises the reward, flat tensor
 * counts over RL steps and sampling, and an RL run resumed from its checkpoint that continues exactly.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DpoExample, SftExample } from '../src/core/post/chatdata.ts';
import { decodeCheckpoint, encodeCheckpoint, inspectCheckpoint } from '../src/core/io/checkpoint.ts';
import { exportCheckpoint, prepareImport } from '../src/core/io/share.ts';
import { GPT, SCORE_HEAD } from '../src/core/model/model.ts';
import { modelConfig } from '../src/core/model/config.ts';
import { replyFits, verifiableCard } from '../src/core/rl/evaluate.ts';
import { expectedReply } from '../src/core/rl/verifiers.ts';
import { LabSession } from '../src/core/train/session.ts';
import { RewardModelStage, scoreSequences } from '../src/core/rl/rewardmodel.ts';
import { RlStage, type Verifier } from '../src/core/rl/policy.ts';
import { sampleCompletions } from '../src/core/rl/sampler.ts';
import { renderPrompt } from '../src/core/post/chat.ts';
import { tinyCorpus, useBackend } from './helpers.ts';

const { corpus, tokenizer } = tinyCorpus();

/** A micro "SFT" checkpoint: untrained weights are enough for what these tests check. */
async function microSft(seed = 1): Promise<Uint8Array> {
  const s = LabSession.create({ preset: 'micro', corpus, tokenizer, stage: 'sft', train: { steps: 1, seed } });
  const bytes = await s.toCheckpointBytes();
  s.dispose();
  return bytes;
}

const pairs: DpoExample[] = Array.from({ length: 8 }, (_, i) => ({ prompt: [{ role: 'user', content: `Is ${i} ok?` }], chosen: 'yes.', rejected: 'no.' }));

/** A toy task: the share of a's in a reply (any question is checkable). */
const countA: Verifier = (_q, reply) => (reply.length === 0 ? 0 : [...reply].filter((c) => c === 'a').length / reply.length);
const toyData = { train: [{ messages: [{ role: 'user', content: 'Hi.' }, { role: 'assistant', content: 'aaa' }] }] as SftExample[], val: [] as SftExample[] };

describe('reward model', () => {
  beforeAll(() => useBackend('cpu'));

  it('is a checkpoint with its own score.weight tensor, through inspect, export and import', async () => {
    const stage = await RewardModelStage.start(await microSft(), { train: pairs, val: pairs }, corpus, { train: { steps: 2 } });
    await stage.step();
    const bytes = await stage.session.toCheckpointBytes();
    const state = decodeCheckpoint(bytes);
    expect(state.stage).toBe('rm');
    expect(state.weights.get(SCORE_HEAD)?.length).toBe(state.model.nEmbd);
    expect(state.optimizer?.m.has(SCORE_HEAD)).toBe(true);
    expect(state.lineage.map((e) => e.stage)).toEqual(['sft']);
    const plain = decodeCheckpoint(await microSft());
    expect(inspectCheckpoint(bytes).tensorCount).toBe(inspectCheckpoint(encodeCheckpoint(plain)).tensorCount + 3); // head + its two moments
    const shared = decodeCheckpoint(exportCheckpoint(bytes, { includeOptimizer: false }));
    expect(Array.from(shared.weights.get(SCORE_HEAD)!)).toEqual(Array.from(state.weights.get(SCORE_HEAD)!));
    const imported = await prepareImport(bytes);
    expect(imported.card.notes.join(' ')).toMatch(/reward model/);
    // a reward model without its head is refused
    const headless = { ...state, weights: new Map([...state.weights].filter(([k]) => k !== SCORE_HEAD)), optimizer: undefined };
    expect(() => decodeCheckpoint(encodeCheckpoint(headless))).toThrow(/score\.weight/);
    stage.release();
  });

  it('learns an easy preference: held-out accuracy from a tie to 1', async () => {
    const stage = await RewardModelStage.start(await microSft(), { train: pairs, val: pairs }, corpus, { train: { steps: 40, learningRate: 3e-3, warmupSteps: 1, evalInterval: 40 } });
    expect((await stage.heldOut()).accuracy).toBe(0.5); // a zero head scores every reply 0
    while (!stage.done) await stage.step();
    const held = await stage.heldOut();
    expect(held.accuracy).toBe(1);
    expect(held.margin).toBeGreaterThan(0.5);
    const last = stage.session.metrics[stage.session.metrics.length - 1];
    for (const k of ['accuracy', 'margin', 'mean_reward', 'min_reward', 'max_reward', 'eval/accuracy']) expect(last[k]).toBeTypeOf('number');
    stage.release();
  });

  it('adds lmCoef × the chosen replies\' mean next-token loss: log 2 + α·log V for a model of zeros', async () => {
    // All weights 0: every score is 0 (Bradley–Terry log 2, centring 0) and every next-token
    // distribution is uniform over the vocabulary (NLL log V per token).
    const state = decodeCheckpoint(await microSft());
    for (const w of state.weights.values()) w.fill(0);
    const zeros = encodeCheckpoint(state);
    const V = state.model.vocabSize;
    const withLm = await RewardModelStage.start(zeros, { train: pairs, val: pairs }, corpus, { lmCoef: 2, train: { steps: 3, evalInterval: 100 } });
    const row = await withLm.step();
    expect(row.lm_loss).toBeCloseTo(Math.log(V), 5);
    expect(row.loss).toBeCloseTo(Math.log(2) + 2 * Math.log(V), 5);
    await withLm.step();
    const tensors = tf.memory().numTensors;
    await withLm.step();
    expect(tf.memory().numTensors).toBe(tensors); // the kept scores and LM term are freed
    const resumed = RewardModelStage.resume(await withLm.session.toCheckpointBytes(), { train: pairs, val: pairs }, corpus);
    expect(resumed.lmCoef).toBe(2); // the weight travels with the checkpoint
    resumed.release();
    withLm.release();
    const pairOnly = await RewardModelStage.start(zeros, { train: pairs, val: pairs }, corpus, { lmCoef: 0, train: { steps: 1 } });
    const plain = await pairOnly.step();
    expect(plain.loss).toBeCloseTo(Math.log(2), 6);
    expect(plain.lm_loss).toBeUndefined();
    pairOnly.release();
  });

  it('reads the score at each row\'s last token, whatever the padding', async () => {
    const stage = await RewardModelStage.start(await microSft(), { train: pairs, val: pairs }, corpus, { train: { steps: 3, learningRate: 3e-3 } });
    while (!stage.done) await stage.step();
    const end = tokenizer.specialId('<|end|>');
    const a = Int32Array.from([...renderPrompt(tokenizer, pairs[0].prompt), ...tokenizer.encode('yes.'), end]);
    const b = a.subarray(0, 5);
    const alone = await scoreSequences(stage.session.model, [b], end).data();
    const padded = await scoreSequences(stage.session.model, [a, b], end).data();
    expect(padded[1]).toBeCloseTo(alone[0], 5);
    stage.release();
  });

  it('refuses a base model as its parent', async () => {
    const s = LabSession.create({ preset: 'micro', corpus, tokenizer, train: { steps: 1 } });
    const base = await s.toCheckpointBytes();
    s.dispose();
    await expect(RewardModelStage.start(base, { train: pairs, val: pairs }, corpus)).rejects.toThrow(/A reward model starts from an SFT model, and this one is a base model/);
  });
});

describe('RL stage', () => {
  beforeAll(() => useBackend('cpu'));

  const toyOptions = { reward: 'verifier' as const, verifier: countA, groupSize: 8, promptsPerStep: 2, maxNewTokens: 4, evalQuestions: 0 };

  it('raises the reward on a toy verifier', async () => {
    const stage = await RlStage.start(await microSft(), toyData, corpus, { ...toyOptions, train: { steps: 40, learningRate: 1e-2, evalInterval: 1000 } });
    while (!stage.done) await stage.step();
    const rewards = stage.session.metrics.map((m) => m.reward);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(rewards.slice(0, 5))).toBeLessThan(0.1);
    expect(mean(rewards.slice(-5))).toBeGreaterThan(mean(rewards.slice(0, 5)) + 0.3);
    const last = stage.session.metrics[stage.session.metrics.length - 1];
    for (const k of ['reward', 'reward_std', 'kl', 'entropy', 'completions/mean_length', 'completions/clipped_ratio', 'frac_reward_zero_std', 'verifiedAccuracy']) expect(last[k]).toBeTypeOf('number');
    expect(last.kl).toBeGreaterThan(0); // it moved away from the reference
    expect(stage.lastSamples.length).toBe(2);
    for (const s of stage.lastSamples) {
      // The page's replies table: each sampled token of the reply with its probability and the policy's five likeliest.
      expect(s.tokens.map((t) => t.text).join('')).toBe(s.reply);
      expect(s.tokens.every((t) => t.prob > 0 && t.prob <= 1 && t.top.length === 5)).toBe(true);
    }
    stage.release();
  });

  it('starts with kl 0: the sampler\'s log-probs are the teacher-forced ones of the reference', async () => {
    const stage = await RlStage.start(await microSft(), toyData, corpus, { ...toyOptions, train: { steps: 1 } });
    const row = await stage.step();
    expect(Math.abs(row.kl)).toBeLessThan(1e-4);
    stage.release();
  });

  it("the sampler's log-probs and entropies are the policy's: a teacher-forced pass gives them to float32 rounding", async () => {
    const model = GPT.init(modelConfig('micro', 40, { blockSize: 24 }), 5);
    const prompts = [3, 9, 14, 20].map((n, r) => Int32Array.from({ length: n }, (_, i) => (i * 7 + r * 3) % 40));
    const samples = await sampleCompletions(model, prompts, { maxNewTokens: 30, temperature: 1, seed: 11, endId: 39 });
    let checked = 0;
    for (const [r, c] of samples.entries()) {
      expect(c.logProbs).toHaveLength(c.ids.length);
      expect(prompts[r].length + c.ids.length).toBeLessThanOrEqual(24); // cut at the block size
      const seq = Int32Array.from([...prompts[r], ...c.ids]);
      const [logp, entropy] = tf.tidy(() => {
        const lp = tf.logSoftmax(model.forwardTimeMajor(tf.tensor2d(seq.subarray(0, -1), [seq.length - 1, 1], 'int32')));
        return [lp.arraySync() as number[][], tf.neg(tf.sum(tf.mul(tf.exp(lp), lp), 1)).arraySync() as number[]];
      });
      c.ids.forEach((id, t) => {
        const pos = prompts[r].length - 1 + t; // the position that predicts the completion's t-th token
        expect(Math.abs(c.logProbs[t] - logp[pos][id])).toBeLessThan(1e-5);
        expect(Math.abs(c.entropies[t] - entropy[pos])).toBeLessThan(1e-5);
        checked++;
      });
    }
    expect(checked).toBeGreaterThan(20);
    model.dispose();
  });

  it('keeps numTensors flat over steps and sampling', async () => {
    const stage = await RlStage.start(await microSft(), toyData, corpus, { ...toyOptions, train: { steps: 6, evalInterval: 3 } });
    await stage.step();
    const before = tf.memory().numTensors;
    await stage.step();
    await stage.step(); // an evaluation step
    await sampleCompletions(stage.session.model, [renderPrompt(tokenizer, [{ role: 'user', content: 'Hi.' }])], { maxNewTokens: 4, temperature: 1, seed: 3, endId: tokenizer.specialId('<|end|>') });
    expect(tf.memory().numTensors).toBe(before);
    stage.release();
  });

  it('resumes from its checkpoint exactly', async () => {
    // Three prompts, one always solved, so that the solve rates decide which are drawn: a resumed
    // run that lost them would draw others.
    const parent = await microSft();
    const verifier: Verifier = (q, r, e) => (q === 'Hi.' ? 1 : countA(q, r, e));
    const opts = { ...toyOptions, verifier, train: { steps: 4, learningRate: 1e-2 } };
    const data = { train: ['Hi.', 'Yo.', 'Hey.'].map((q) => ({ messages: [{ role: 'user', content: q }, { role: 'assistant', content: 'aaa' }] })) as SftExample[], val: [] };
    const straight = await RlStage.start(parent, data, corpus, opts);
    while (!straight.done) await straight.step();
    const whole = await straight.session.toCheckpoint();
    straight.release();

    const first = await RlStage.start(parent, data, corpus, opts);
    await first.step();
    await first.step();
    const saved = await first.session.toCheckpointBytes();
    first.release();
    await expect(RlStage.resume(saved, await microSft(2), data, corpus, { verifier })).rejects.toThrow(/not the checkpoint the run started from/);
    const resumed = await RlStage.resume(saved, parent, data, corpus, { verifier });
    while (!resumed.done) await resumed.step();
    const again = await resumed.session.toCheckpoint();
    resumed.release();
    // + 0 turns −0 into 0: a step whose groups all agree has loss −0, and the saved metrics are JSON, which writes −0 as 0
    expect(again.metrics.map((m) => m.reward + 0)).toEqual(whole.metrics.map((m) => m.reward + 0));
    expect(again.metrics.map((m) => m.loss + 0)).toEqual(whole.metrics.map((m) => m.loss + 0));
    for (const [name, v] of whole.weights) expect(Array.from(again.weights.get(name)!)).toEqual(Array.from(v));
  });

  it('draws the prompts it still fails more often, and keeps their solve rates in the checkpoint', async () => {
    const conversation = (q: string) => ({ messages: [{ role: 'user' as const, content: q }, { role: 'assistant' as const, content: 'a' }] });
    const data = { train: [conversation('Easy.'), conversation('Hard.')], val: [] };
    const easyOrNot: Verifier = (q) => (q === 'Easy.' ? 1 : 0); // every reply to Easy. is right, none to Hard.
    const drawn = async (promptSampling: 'uniform' | 'prioritized') => {
      const stage = await RlStage.start(await microSft(), data, corpus, { ...toyOptions, verifier: easyOrNot, promptSampling, promptsPerStep: 4, train: { steps: 12, evalInterval: 1000 } });
      let hard = 0;
      let all = 0;
      while (!stage.done) {
        await stage.step();
        if (stage.session.stepsTaken <= 2) continue; // both prompts have been drawn by then, all but surely
        hard += stage.lastSamples.filter((s) => s.question === 'Hard.').length;
        all += stage.lastSamples.length;
      }
      const rates = (await stage.session.toCheckpoint()).extra.rlSolveRates;
      const solvedShare = stage.session.metrics[stage.session.metrics.length - 1].solvedShare;
      stage.release();
      return { share: hard / all, rates, solvedShare };
    };
    const prioritized = await drawn('prioritized');
    expect(prioritized.rates).toEqual({ 'Easy.': 1, 'Hard.': 0 });
    expect(prioritized.solvedShare).toBe(0.5); // half the training questions solved, whichever the step drew
    // weights 0.1 and 1: Hard. is 10 draws in 11; of 40 draws, 8 or fewer Easy. is a 0.98 chance
    expect(prioritized.share).toBeGreaterThan(0.8);
    const uniform = await drawn('uniform');
    expect(uniform.rates).toEqual({ 'Easy.': 1, 'Hard.': 0 }); // kept, for solvedShare, but not drawn by
    expect(uniform.share).toBeLessThan(0.8); // about a half
  });

  it('refuses what it cannot run', async () => {
    const parent = await microSft();
    await expect(RlStage.start(parent, toyData, corpus, { reward: 'model' })).rejects.toThrow(/reward model checkpoint/);
    await expect(RlStage.start(parent, toyData, corpus, { reward: 'verifier' })).rejects.toThrow(/no prompts that a verifier can check/);
    await expect(RlStage.start(parent, toyData, corpus, { ...toyOptions, klCoef: -1 })).rejects.toThrow(/KL coefficient/);
    await expect(RlStage.start(parent, toyData, corpus, { ...toyOptions, partialCredit: 0.9 })).rejects.toThrow(/partial credit/);
    await expect(RlStage.start(parent, toyData, corpus, { ...toyOptions, promptSampling: 'greedy' as never })).rejects.toThrow(/prompt sampling must be uniform or prioritized/);
    await expect(RlStage.start(parent, toyData, corpus, { reward: 'model', promptSampling: 'prioritized' })).rejects.toThrow(/prioritized prompt sampling needs verifiers/);
  });
});

describe('verifiable card', () => {
  beforeAll(() => useBackend('cpu'));

  // "Repeat after me: aaa…a." asks for "Aaa…a.": the phrase's length sets how much room the answer needs.
  const repeat = (n: number) => `Repeat after me: ${'a'.repeat(n)}.`;
  const need = (n: number) => renderPrompt(tokenizer, [{ role: 'user', content: repeat(n) }]).length + expectedReply(repeat(n))!.expected.length + 1;

  it('counts a question as answerable only when the reply and its end of turn fit after the prompt', () => {
    // 40 prompt tokens + "Aaa." (4) + <|end|> (1) = 45
    expect(replyFits(tokenizer, 40, 'Aaa.', 45)).toBe(true);
    expect(replyFits(tokenizer, 40, 'Aaa.', 44)).toBe(false);
  });

  it('scores each distinct question that fits once and counts the others apart', async () => {
    const block = 64;
    const model = GPT.init(modelConfig('micro', tokenizer.vocabSize, { blockSize: block }), 1);
    const fits = [...Array(40).keys()].filter((n) => n > 0 && need(n) <= block).pop()!;
    expect(need(fits + 1)).toBe(block + 1); // the boundary, one character apart
    const conversation = (q: string): SftExample => ({ messages: [{ role: 'user', content: q }, { role: 'assistant', content: expectedReply(q)!.expected }] });
    const card = await verifiableCard(model, tokenizer, [conversation(repeat(fits)), conversation(repeat(fits + 1)), conversation('Say hello to Mia.'), conversation('Say hello to Mia.')], { samples: 1, maxNewTokens: 8 });
    expect(card.checkable).toBe(2); // the question asked twice counts once
    expect(card.unanswerable).toBe(1);
    expect(card.byKind.repeat?.total).toBe(1);
    // asked for no samples, the card is the same greedy score alone: what RL's evaluations draw
    const greedyOnly = await verifiableCard(model, tokenizer, [conversation(repeat(fits)), conversation('Say hello to Mia.')], { samples: 0, maxNewTokens: 8 });
    expect(greedyOnly.verifiableExactMatch).toBe(card.verifiableExactMatch);
    expect(greedyOnly.checkable).toBe(2);
    expect(greedyOnly.passAt1).toBeNaN();
    expect(greedyOnly.passAt8).toBeNaN();
    model.dispose();
  });

  it("logs the SFT model's held-out score at step 0, where the chart's line starts, and none where no answer fits", async () => {
    const s = LabSession.create({ preset: 'micro', corpus, tokenizer, stage: 'sft', model: { blockSize: 64 }, train: { steps: 1 } });
    const parent = await s.toCheckpointBytes();
    s.dispose();
    const conversation = (q: string): SftExample => ({ messages: [{ role: 'user', content: q }, { role: 'assistant', content: expectedReply(q)!.expected }] });
    const data = { train: [conversation('Say hello to Mia.')], val: [conversation('Say hello to Leo.'), conversation(repeat(3))] };
    const stage = await RlStage.start(parent, data, corpus, { evalQuestions: 8, maxNewTokens: 12, train: { steps: 3, evalInterval: 1000 } });
    const card = await verifiableCard(stage.reference, tokenizer, data.val, { limit: 8, samples: 1, maxNewTokens: 12 });
    expect(card.checkable).toBe(2);
    await stage.step();
    await stage.step();
    const [first, second] = stage.session.metrics;
    expect(first['eval/verifiableExactMatch']).toBe(card.verifiableExactMatch);
    expect(second['eval/verifiableExactMatch']).toBeUndefined(); // then only at evaluations
    stage.release();
    // micro's 16-token context fits neither answer: nothing to draw, rather than a 0% line
    const micro = await RlStage.start(await microSft(), { ...data, train: [conversation('Count to 9.')] }, corpus, { evalQuestions: 8, train: { steps: 1 } });
    await micro.step();
    expect(micro.session.metrics[0]['eval/verifiableExactMatch']).toBeUndefined();
    micro.release();
  });

  it('leaves out of RL with verifiers the prompts whose answer cannot fit, unless none fits', async () => {
    const s = LabSession.create({ preset: 'micro', corpus, tokenizer, stage: 'sft', model: { blockSize: 64 }, train: { steps: 1 } });
    const parent = await s.toCheckpointBytes();
    s.dispose();
    const fits = [...Array(40).keys()].filter((n) => n > 0 && need(n) <= 64).pop()!;
    const conversation = (q: string): SftExample => ({ messages: [{ role: 'user', content: q }, { role: 'assistant', content: expectedReply(q)!.expected }] });
    const data = { train: [conversation(repeat(fits)), conversation(repeat(fits + 1))], val: [] };
    const stage = await RlStage.start(parent, data, corpus, { evalQuestions: 0, train: { steps: 1 } });
    expect(stage.prompts.map((p) => p.question)).toEqual([repeat(fits)]);
    stage.release();
    // micro's 16-token context leaves room after "Count to 9." (14 tokens) but not for "1, 2, …, 9.":
    // with no answer that fits, the prompts stay, so a micro run still shows its mechanics
    const short = { train: [conversation('Count to 9.'), conversation('Count to 4.')], val: [] };
    const micro = await RlStage.start(await microSft(), short, corpus, { evalQuestions: 0, train: { steps: 1 } });
    expect(micro.prompts).toHaveLength(2);
    micro.release();
  });
});
