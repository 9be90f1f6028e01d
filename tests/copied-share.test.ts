/**
 * The report card's copiedShare: the share of the samples' characters inside spans of 20 or more
 * characters found word for word in the pretraining text, pooled over the samples, against
 * hand-counted spans of a hand-built corpus.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { COPIED_MIN_CHARS, copiedShareOf, corpusWords, realWordRateOf, reportCard, storySamples } from '../src/core/eval/evaluate.ts';
import { buildTraceIndex } from '../src/core/inspect/trace.ts';
import { modelConfig } from '../src/core/model/config.ts';
import { GPT } from '../src/core/model/model.ts';
import { tinyCorpus, useBackend } from './helpers.ts';

const corpus = 'the cat sat on the mat and looked at the dog. a bird sang in the old tree by the river.';
const index = buildTraceIndex([{ name: 'training text', texts: [corpus] }]);

describe('copiedShareOf', () => {
  it('counts the characters inside copied spans of 20 or more, pooled over the samples (hand-counted)', () => {
    expect(COPIED_MIN_CHARS).toBe(20);
    // '#' is in no story: it ends every span.
    // 1. "the cat sat on the mat" (22 characters, in the corpus), then "##": 22 of 24.
    const a = 'the cat sat on the mat' + '##';
    // 2. A 19-character piece of the corpus between made-up ones: too short to count, 0 of 23.
    const b = '##' + 'a bird sang in the ' + '##';
    expect('a bird sang in the '.length).toBe(19);
    // 3. Two copied spans either side of "#": "looked at the dog." (18, too short) and "in the old tree by the river." (29): 29 of 48.
    const c = 'looked at the dog.' + '#' + 'in the old tree by the river.';
    expect([a.length, b.length, c.length]).toEqual([24, 23, 48]);
    // Pooled over the samples: (22 + 0 + 29) / (24 + 23 + 48).
    expect(copiedShareOf(index, [a, b, c])).toBeCloseTo((22 + 0 + 29) / (24 + 23 + 48), 12);
    // Alone, each sample's share; a sample made up entirely has none; no samples, no share.
    expect(copiedShareOf(index, [a])).toBeCloseTo(22 / 24, 12);
    expect(copiedShareOf(index, [b])).toBe(0);
    expect(copiedShareOf(index, ['qqqqqqqqqqqqqqqqqqqqqqqqq'])).toBe(0);
    expect(copiedShareOf(index, [])).toBe(0);
    // A sample that is a whole sentence of the corpus is all copied; with a longer minimum it is not.
    expect(copiedShareOf(index, ['a bird sang in the old tree'])).toBe(1);
    expect(copiedShareOf(index, ['a bird sang in the old tree'], 40)).toBe(0);
  });

  it('leaves the real-word rate as it was: words of the corpus pooled over the samples (hand-counted)', () => {
    const words = new Set(['the', 'cat', 'sat']);
    // Each text ends after its last word's full stop, so every word counts: the, cat, zz | sat, qq.
    expect(realWordRateOf(['the cat zz.', 'sat qq.'], words)).toBeCloseTo(3 / 5, 12);
  });
});

describe('the report card', () => {
  it('reports copiedShare of its own story samples against the trace index it is given, and leaves no tensor behind', async () => {
    await useBackend('wasm'); // 16 samples of 120 tokens: seconds on wasm, a minute on cpu
    const { corpus, tokenizer } = tinyCorpus();
    const text = tokenizer.decode(corpus.train);
    const trace = buildTraceIndex([{ name: 'training text', texts: [text] }]);
    const words = corpusWords(text);
    const model = GPT.init(modelConfig('micro', tokenizer.vocabSize), 3);
    const inputs = { model, tokenizer, stage: 'pretrain' as const, step: 0, stories: { val: corpus.val, batchSize: 2, batches: 1, seed: 1 }, sftVal: [], dpoVal: [], limit: 0, seed: 4 };
    // Without an index (a student's own text in the command line), no copiedShare. (This first card also makes tfjs's one-time tensors.)
    expect((await reportCard(inputs)).copiedShare).toBeUndefined();
    const samples = await storySamples(model, tokenizer, { seed: 4 }); // the card's own samples
    const before = tf.memory().numTensors;
    const card = await reportCard({ ...inputs, words, trace });
    expect(tf.memory().numTensors).toBe(before);
    expect(card.copiedShare).toBe(copiedShareOf(trace, samples, COPIED_MIN_CHARS));
    expect(card.realWordRate).toBe(realWordRateOf(samples, words));
    // An untrained model copies nothing of 20 characters: the measure is not a constant.
    expect(card.copiedShare).toBe(0);
    expect(copiedShareOf(trace, [text.slice(100, 160)])).toBe(1);
    model.dispose();
  });
});
