/**
 * Written tokens with their probabilities, as the views show them: hand-worked values for the
 * conversion, the same draws as plain sampling, and, at temperature 1 without top-k, each
 * token's probability equal to a separate teacher-forced pass over the prompt and what was
 * written (the decoder's own log p, so showing it costs no forward pass).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { probedTokens } from '../src/core/inspect/probed.ts';
import { generate, tokenLogProbs } from '../src/core/model/sample.ts';
import { LabSession } from '../src/core/train/session.ts';
import { joined, spanIndexOf, spanPerToken } from '../src/ui/copied.ts';
import { tinyCorpus, useBackend } from './helpers.ts';

describe('probedTokens', () => {
  it('turns ids, log-probs and alternatives into text with probabilities (hand-worked)', () => {
    const text = (id: number) => ['a', 'b', 'c'][id];
    const tokens = probedTokens(text, [2, 0], [Math.log(0.5), Math.log(0.25)], [[{ token: 2, prob: 0.5 }, { token: 1, prob: 0.3 }], [{ token: 1, prob: 0.6 }, { token: 0, prob: 0.25 }]]);
    expect(tokens.map((t) => t.text)).toEqual(['c', 'a']);
    expect(tokens[0].prob).toBeCloseTo(0.5, 12);
    expect(tokens[1].prob).toBeCloseTo(0.25, 12);
    expect(tokens[1].top).toEqual([{ text: 'b', prob: 0.6 }, { text: 'a', prob: 0.25 }]);
    expect(probedTokens(text, [1], [0])[0]).toEqual({ text: 'b', prob: 1, top: [] }); // no alternatives asked
    expect(() => probedTokens(text, [1, 2], [0])).toThrow(/2 tokens but 1 log-probabilities/);
  });
});

describe('LabSession.sampleTokens', () => {
  beforeAll(() => useBackend('cpu'));

  it('draws what sample draws, each token with the probability a teacher-forced pass gives it, and frees its tensors', async () => {
    const { corpus, tokenizer } = tinyCorpus();
    const session = LabSession.create({ preset: 'micro', corpus, tokenizer, train: { evalBatches: 2 } });
    for (let i = 0; i < 3; i++) await session.step();
    const req = { maxTokens: 12, temperature: 1, topK: 0, seed: 7 };
    const prompt = 'Once';
    await session.sampleTokens(prompt, req); // tfjs's one-time tensors
    const before = tf.memory().numTensors;
    const { text, tokens } = await session.sampleTokens(prompt, req);
    expect(tf.memory().numTensors).toBe(before);
    expect(text).toBe(await session.sample(prompt, req));
    expect(tokens.map((t) => t.text).join('')).toBe(text);
    expect(tokens).toHaveLength(12);

    // The written ids, from plain generation with the same seed (re-encoding the text would not do: a young model writes <|user|> as a token).
    const written = await generate(session.model, tokenizer.encode(prompt), { maxTokens: req.maxTokens, temperature: req.temperature, topK: req.topK, seed: req.seed });
    expect(tokens.map((t) => t.text)).toEqual(written.map((id) => tokenizer.tokenText(id)));
    const forced = await tokenLogProbs(session.model, Int32Array.from([...tokenizer.encode(prompt), ...written]));
    const logProbs = forced.logProbs.slice(-tokens.length); // the positions of the written tokens
    tokens.forEach((t, i) => {
      expect(Math.abs(Math.log(t.prob) - logProbs[i])).toBeLessThan(1e-4);
      // The alternatives are the model's own distribution: sorted, summing to at most 1, the drawn token among them when it is likely enough.
      const probs = t.top.map((a) => a.prob);
      expect(probs).toEqual([...probs].sort((a, b) => b - a));
      expect(probs.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1 + 1e-6);
      if (t.prob > probs[4]) expect(t.top.some((a) => a.text === t.text && Math.abs(a.prob - t.prob) < 1e-5)).toBe(true);
    });
    session.dispose();
  });
});

describe('spanIndexOf', () => {
  it('marks each token with the copied span it overlaps (hand-worked)', () => {
    // "ab" "cde" "f" "gh" = "abcdefgh"; spans [1, 3) and [5, 8).
    const tokens = ['ab', 'cde', 'f', 'gh'].map((text) => ({ text }));
    expect(spanIndexOf(tokens, [{ start: 1, end: 3 }, { start: 5, end: 8 }])).toEqual([0, 0, 1, 1]);
    expect(spanIndexOf(tokens, [{ start: 2, end: 5 }])).toEqual([-1, 0, -1, -1]); // "cde" is [2, 5): "f" at 5 is outside
    expect(spanIndexOf(tokens, [])).toEqual([-1, -1, -1, -1]);
  });

  it('gives each token its span itself, nothing before a trace, and joins the tokens into the traced text', () => {
    const tokens = ['ab', 'cde', 'f', 'gh'].map((text) => ({ text }));
    const spans = [{ start: 1, end: 3, source: 'tales' }, { start: 5, end: 8, source: 'SFT answers' }];
    expect(spanPerToken(tokens, { spans })).toEqual([spans[0], spans[0], spans[1], spans[1]]);
    expect(spanPerToken(tokens, undefined)).toEqual([]); // not traced: nothing underlined
    expect(joined(tokens)).toBe('abcdefgh');
  });
});
