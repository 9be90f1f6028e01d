/**
 * The lesson plan and what it brings: one plan for the page and the command line, SFT batches with
 * story text mixed in, the length-bias what-if's pairs, and the report card's new fields checked
 * against hand-built cases.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { LESSON_PLAN, WHAT_IFS } from '../src/core/lesson/plan.ts';
import { defaultDpoForm, defaultSettings, defaultSftForm } from '../src/ui/settings.ts';
import { lessonPlan } from '../cli/lesson.ts';
import { corpusWords, realWordShare, replyStats, reportCard, storiesNote } from '../src/core/eval/evaluate.ts';
import { FORGETTING_THRESHOLD } from '../src/core/eval/forgetting.ts';
import { DpoStage, lengthBiased } from '../src/core/post/dpo.ts';
import { mixedBatch, SftStage } from '../src/core/post/sft.ts';
import type { SftExample } from '../src/core/post/chatdata.ts';
import { Random } from '../src/core/random.ts';
import { LabSession } from '../src/core/train/session.ts';
import { tinyCorpus, useBackend } from './helpers.ts';

const chat = (q: string, a: string): SftExample => ({ messages: [{ role: 'user', content: q }, { role: 'assistant', content: a }] });
const DATA: SftExample[] = [chat('Say hello to Tom.', 'Hello, Tom!'), chat('Count to 3.', '1, 2, 3.'), chat('What is 1 plus 1?', '1 plus 1 is 2.')];

describe('the lesson plan', () => {
  it('is one object: the command line runs it and the page takes its defaults from it', () => {
    expect(lessonPlan()).toBe(LESSON_PLAN);
    const page = defaultSettings();
    expect(page.preset).toBe(LESSON_PLAN.pretrain.preset);
    expect(page.steps).toBe(LESSON_PLAN.pretrain.steps);
    expect(page.learningRate).toBe(LESSON_PLAN.pretrain.learningRate);
    expect(defaultSftForm()).toEqual({ steps: LESSON_PLAN.sft.steps, learningRate: LESSON_PLAN.sft.learningRate, noPretrainText: false });
    const { steps, learningRate, beta, lossType } = LESSON_PLAN.dpo;
    expect(defaultDpoForm()).toEqual({ steps, learningRate, beta, lossType, lengthBias: false });
  });

  it('is frozen, so no page or command can change it for the others', () => {
    expect(Object.isFrozen(LESSON_PLAN)).toBe(true);
    for (const stage of Object.values(LESSON_PLAN)) expect(Object.isFrozen(stage)).toBe(true);
  });

  it('has what-ifs that are opt-in, and mixes story text into SFT by default', () => {
    expect(LESSON_PLAN.sft.pretrainShare).toBeGreaterThan(0);
    expect(LESSON_PLAN.dpo.rpoAlpha).toBeGreaterThan(0);
    expect(Object.keys(WHAT_IFS.sft)).toEqual(['no-pretrain-text']);
    expect(Object.keys(WHAT_IFS.dpo)).toEqual(['length-bias']);
    expect(WHAT_IFS.dpo['length-bias']).toMatch(/shorter/);
  });
});

describe('report card fields', () => {
  it('realWordShare counts the words found in the word list, leaving out a last word cut off mid-way', () => {
    const words = corpusWords('Tom eats carrots. The fox is red! "Hello," said Mia.');
    expect([...words].sort()).toEqual(['carrots', 'eats', 'fox', 'hello', 'is', 'mia', 'red', 'said', 'the', 'tom']);
    expect(realWordShare('Tom eats zzq. The fox', words)).toEqual({ rate: 3 / 4, words: 4 }); // "fox" could go on: left out
    expect(realWordShare('Tom eats zzq. The fox.', words)).toEqual({ rate: 4 / 5, words: 5 });
    expect(realWordShare('TOM Eats', words)).toEqual({ rate: 1, words: 1 });
    expect(realWordShare('...', words)).toEqual({ rate: 0, words: 0 });
  });

  it('replyStats: empty or one-character replies, and the mean length in characters', () => {
    expect(replyStats(['', 'G', ' ', 'Tom eats carrots.', 'Hi'])).toEqual({ emptyReplies: 3 / 5, meanReplyLength: (0 + 1 + 1 + 17 + 2) / 5 });
    expect(replyStats([])).toEqual({ emptyReplies: 0, meanReplyLength: 0 });
  });

  it('storiesNote names forgetting when the stories loss rises by more than the threshold', () => {
    expect(storiesNote(2.18)).toMatch(/^Stories loss \+2\.18 .*forgetting/);
    expect(storiesNote(FORGETTING_THRESHOLD + 0.01)).toMatch(/forgetting/);
    expect(storiesNote(0.12)).not.toMatch(/forgetting/);
    expect(storiesNote(-0.05)).toMatch(/^Stories loss −0\.05 .*kept/);
  });
});

describe('length-bias what-if', () => {
  it('keeps exactly the pairs whose chosen reply is the shorter one', () => {
    const pairs = [
      { chosen: 'Tom eats carrots.', rejected: 'Mia eats carrots and more and more.' },
      { chosen: 'Tom eats carrots.', rejected: 'No.' },
      { chosen: 'Tom eats carrots.', rejected: 'Mia eats carrots.' },
    ];
    expect(lengthBiased(pairs)).toEqual([pairs[0]]);
  });
});

describe('SFT with story text', () => {
  beforeAll(() => useBackend('cpu'));

  it('mixedBatch: the chat rows as chatBatch draws them, then story windows counted on every token', () => {
    const { corpus, tokenizer } = tinyCorpus();
    const batch = mixedBatch(tokenizer, DATA, corpus.train, 8, 40, 0.25, new Random(3));
    const { batchSize: B, seqLen: T } = batch;
    expect(B).toBe(8);
    for (let b = 0; b < B; b++) {
      const row = (a: ArrayLike<number>) => Array.from(a).slice(b * T, (b + 1) * T);
      if (b < 6) {
        // A chat row: the same mask for loss and accuracy, counting its assistant reply only.
        expect(row(batch.accuracyMask)).toEqual(row(batch.mask));
        expect(row(batch.mask).some((m) => m === 0)).toBe(true);
        expect(row(batch.mask).some((m) => m === 1)).toBe(true);
      } else {
        // A story row: a window of the pretraining text, y the next tokens, every token counted, none for accuracy.
        expect(row(batch.mask).every((m) => m === 1)).toBe(true);
        expect(row(batch.accuracyMask).every((m) => m === 0)).toBe(true);
        const x = row(batch.x);
        const text = Array.from(corpus.train).join(',');
        expect(text.includes(x.join(','))).toBe(true);
        expect(row(batch.y).slice(0, -1)).toEqual(x.slice(1));
      }
    }
    // 0% story text: every row is chat; the share rounds to whole rows.
    expect(Array.from(mixedBatch(tokenizer, DATA, corpus.train, 8, 40, 0, new Random(3)).accuracyMask)).toEqual(Array.from(mixedBatch(tokenizer, DATA, corpus.train, 8, 40, 0, new Random(3)).mask));
  });

  it('trains with the share it was started with, keeps it across a resume, leaks no tensors, and refuses a share of 1', async () => {
    const { corpus, tokenizer } = tinyCorpus();
    const base = LabSession.create({ preset: 'micro', corpus, tokenizer, model: { blockSize: 40 }, train: { steps: 1 } });
    await base.step();
    const bytes = await base.toCheckpointBytes();
    base.dispose();
    await expect(SftStage.start(bytes, { train: DATA, val: DATA }, corpus, { steps: 4 }, { pretrainShare: 1 })).rejects.toThrow(/pretrainShare/);
    const one = [DATA[0]]; // every batch has the same length, so no new causal mask is cached
    const stage = await SftStage.start(bytes, { train: one, val: one }, corpus, { steps: 6, evalInterval: 100 }, { pretrainShare: 0.5 });
    await stage.step();
    const before = tf.memory().numTensors;
    await stage.step();
    await stage.step();
    expect(tf.memory().numTensors).toBe(before);
    const row = stage.session.metrics[stage.session.metrics.length - 1];
    expect(row.maskedAccuracy).toBeGreaterThanOrEqual(0);
    expect(row.maskedAccuracy).toBeLessThanOrEqual(1);
    const resumed = SftStage.resume(await stage.session.toCheckpointBytes(), { train: DATA, val: DATA }, corpus);
    expect(resumed.pretrainShare).toBe(0.5);
    stage.release();
    resumed.release();
  });

  it('DPO with story windows adds their next-token loss to log 2 at the first step, and keeps the share across a resume', async () => {
    const { corpus, tokenizer } = tinyCorpus();
    const base = LabSession.create({ preset: 'micro', corpus, tokenizer, model: { blockSize: 40 }, train: { steps: 1 } });
    await base.step();
    const baseBytes = await base.toCheckpointBytes();
    base.dispose();
    const sft = await SftStage.start(baseBytes, { train: DATA, val: DATA }, corpus, { steps: 1 });
    await sft.step();
    const sftBytes = await sft.session.toCheckpointBytes();
    sft.release();
    const pairs = [{ prompt: [{ role: 'user' as const, content: 'Say hello to Tom.' }], chosen: 'Hello, Tom!', rejected: 'No.' }];
    const firstLoss = async (pretrainShare: number) => {
      const stage = await DpoStage.start(sftBytes, { train: pairs, val: pairs }, corpus, { rpoAlpha: 0, pretrainShare, train: { steps: 2, batchSize: 2 } });
      const row = await stage.step();
      return { stage, loss: row.loss };
    };
    const plain = await firstLoss(0);
    expect(plain.loss).toBeCloseTo(Math.log(2), 5); // the policy is still its reference: every margin is 0
    plain.stage.release();
    const mixed = await firstLoss(0.5);
    expect(mixed.loss).toBeGreaterThan(Math.log(2) + 1); // plus the stories' cross-entropy of an untrained model
    const resumed = await DpoStage.resume(await mixed.stage.session.toCheckpointBytes(), { train: pairs, val: pairs }, corpus);
    expect(resumed.pretrainShare).toBe(0.5);
    mixed.stage.release();
    resumed.release();
  });

  it('the report card gains the real-word rate, empty replies and mean reply length, and the change from the parent', async () => {
    const { corpus, tokenizer } = tinyCorpus();
    const session = LabSession.create({ preset: 'micro', corpus, tokenizer, model: { blockSize: 40 }, train: { steps: 1 } });
    const words = corpusWords(tokenizer.decode(corpus.train));
    const card = await reportCard({
      model: session.model,
      tokenizer,
      stage: 'pretrain',
      step: 0,
      stories: { val: corpus.val, batchSize: 4, batches: 1, seed: 1 },
      sftVal: DATA,
      dpoVal: [],
      words,
      parentValLoss: 1,
    });
    expect(card.realWordRate).toBeGreaterThanOrEqual(0);
    expect(card.realWordRate).toBeLessThan(0.9); // an untrained model writes noise
    expect(card.valLossChange).toBeCloseTo(card.valLoss - 1, 12);
    expect(card.storiesNote).toMatch(/forgetting/); // an untrained model's loss is far above 1
    // The reply statistics are those of the greedy replies the card decoded.
    const replies = card.examples.map((e) => e.answer);
    expect(card.emptyReplies).toBeCloseTo(replyStats(replies).emptyReplies, 12);
    expect(card.meanReplyLength).toBeCloseTo(replyStats(replies).meanReplyLength, 12);
    session.dispose();
  });
});
