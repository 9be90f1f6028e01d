/**
 * The tokenizer experiment through the worker's API in Node, on a slice of the tales: both arms
 * train, the characters' arm is what the core gives when stepped directly (to the bit, on cpu),
 * the BPE arm's bits per character use its own characters per token (checked by hand against
 * valLoss × tokens / characters / ln 2), an arm ends when its seconds are spent, Stop ends it, no
 * tensor is left behind, and it is refused before a tokenizer is trained.
 */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, test } from 'vitest';
import { BpeTokenizer } from '../src/core/data/bpe.ts';
import { finishTokenizerArm, tokenizerArmSession, TrainingClock } from '../src/core/data/tokenizer-experiment.ts';
import type { TokenizerProgress } from '../src/lab/tokenizer-experiment.ts';
import { bundledTokenizer } from './helpers.ts';
import { bundledTales, openLab } from './lab-harness.ts';

const VOCAB = 300;
const slice = async () => {
  const { train, val } = await bundledTales();
  return { train: train.slice(0, 30_000), val: val.slice(0, 3_000) };
};
/** A step cap well inside the time: the run is the same on every machine. */
const CAPPED = { preset: 'micro' as const, seconds: 600, maxSteps: 2, seed: 4 };

describe('the tokenizer experiment in the lab worker', () => {
  test('trains characters and BPE, each in bits per character of its own tokens', { timeout: 120_000 }, async () => {
    const tales = await slice();
    // The reference path: the characters' arm built and stepped by hand.
    const direct = tokenizerArmSession(bundledTokenizer(), tales, CAPPED);
    while (!direct.done) await direct.step();
    const reference = await finishTokenizerArm('chars', direct, new TrainingClock(600), []);
    direct.dispose();

    const lab = await openLab(new IDBFactory(), 'tokexp-lab', undefined, undefined, slice);
    await expect(lab.api.tokenizerExperiment(CAPPED)).rejects.toThrow('Train a tokenizer first: the experiment compares it with characters.');
    await lab.api.trainTokenizer({ corpus: 'tales', vocabSize: VOCAB });
    await expect(lab.api.tokenizerExperiment({ ...CAPPED, seconds: 0 })).rejects.toThrow('The seconds each run trains must be between 1 and 600, got 0.');

    const progress: TokenizerProgress[] = [];
    const before = tf.memory().numTensors;
    const outcome = await lab.api.tokenizerExperiment(CAPPED, (p) => progress.push(p));
    expect(tf.memory().numTensors).toBe(before);
    expect(outcome.stopped).toBe(false);
    const [chars, bpe] = outcome.arms;
    expect([chars.arm, chars.tokenizer, bpe.arm, bpe.tokenizer]).toEqual(['chars', reference.tokenizer, 'bpe', `byte-level BPE, ${VOCAB} tokens`]);
    expect([chars.steps, bpe.steps]).toEqual([2, 2]);
    expect(chars.finalValLoss).toBe(reference.finalValLoss);
    expect(chars.samples).toEqual(reference.samples);

    // Bits per character by hand: nats per token × the validation text's tokens per character ÷ ln 2.
    const tok = BpeTokenizer.train(tales.train, VOCAB);
    const tokens = tok.encode(tales.val).length;
    const characters = [...tales.val].length;
    expect(tokens).toBeLessThan(characters * 0.8);
    expect(bpe.charsPerToken).toBeCloseTo(characters / tokens, 12);
    expect(bpe.bitsPerChar).toBeCloseTo((bpe.finalValLoss * tokens) / characters / Math.LN2, 12);
    expect(chars.charsPerToken).toBe(1);
    expect(chars.bitsPerChar).toBeCloseTo(chars.finalValLoss / Math.LN2, 12);
    // The curve's one point (the step cap's validation) is in bits per character too, against seconds.
    for (const arm of [chars, bpe]) {
      expect(arm.curve).toHaveLength(1);
      expect(arm.curve[0][0]).toBe(arm.seconds);
      expect(arm.samples[0].length).toBeGreaterThan(20);
    }
    expect(chars.curve[0][1]).toBe(direct.metrics.at(-1)!.valBitsPerChar); // the step cap's validation, as the session logged it
    expect(progress.filter((p) => p.done).map((p) => p.arm)).toEqual(['chars', 'bpe']);
  });

  test('an arm ends when its seconds are spent, and Stop ends the experiment', { timeout: 60_000 }, async () => {
    const lab = await openLab(new IDBFactory(), 'tokexp-time', undefined, undefined, slice);
    await lab.api.trainTokenizer({ corpus: 'tales', vocabSize: VOCAB });
    const before = tf.memory().numTensors;
    const timed = await lab.api.tokenizerExperiment({ preset: 'micro', seconds: 1, maxSteps: 100_000 });
    expect(tf.memory().numTensors).toBe(before);
    for (const arm of timed.arms) {
      expect(arm.seconds).toBeGreaterThanOrEqual(1);
      expect(arm.steps).toBeGreaterThan(0);
      expect(arm.steps).toBeLessThan(100_000);
      // Points at rising seconds, the last one where the time ran out.
      const xs = arm.curve.map(([x]) => x);
      expect(xs).toEqual([...xs].sort((a, b) => a - b));
      expect(xs.at(-1)).toBe(arm.seconds);
    }
    expect(timed.arms.map((a) => a.arm)).toEqual(['chars', 'bpe']);

    const stopped = await lab.api.tokenizerExperiment({ preset: 'micro', seconds: 600 }, () => void lab.api.stopTokenizerExperiment());
    expect(stopped).toMatchObject({ arms: [], stopped: true });
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('the training clock', () => {
  test('counts step time and spaces the validations evenly', () => {
    const clock = new TrainingClock(10, 5); // a point every 2 s
    expect([clock.add(1500), clock.add(400), clock.add(200)]).toEqual([false, false, true]); // 2.1 s
    expect(clock.add(4000)).toBe(true); // 6.1 s: past the 4 s and 6 s marks, one point for both
    expect(clock.add(1000)).toBe(false); // 7.1 s: the next mark is 8 s
    expect(clock.spent).toBe(false);
    expect(clock.add(3000)).toBe(true);
    expect(clock.spent).toBe(true);
    expect(clock.seconds).toBeCloseTo(10.1, 12);
  });
});
