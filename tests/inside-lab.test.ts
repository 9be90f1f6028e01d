/**
 * The Inside view's worker surface driven in Node (cpu backend, fake IndexedDB): refused with no
 * model; then on a micro model pretrained a few steps, the written tokens are the sample's with
 * their probabilities, the attention is `attentionWeights` of the same weights read back from the
 * exported file, the lens has a row per layer and the embeddings, the trace finds a passage of the
 * tales (and, after SFT, an SFT answer) where it is, and no call leaves a tensor behind. The chat
 * panel's turns: a base model continues the last message (the sample's draws), a chat model
 * answers in its turn (the Inside view's draws), every token heard as it is drawn, and a stop
 * from the page ends the reply after the current token.
 */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, test } from 'vitest';
import { attentionWeights } from '../src/core/inspect/attention.ts';
import { logitLens } from '../src/core/inspect/lens.ts';
import { decodeCheckpoint } from '../src/core/io/checkpoint.ts';
import { GPT } from '../src/core/model/model.ts';
import type { CharTokenizerJSON } from '../src/core/model/tokenizer.ts';
import { parseSftJsonl } from '../src/core/post/chatdata.ts';
import type { RunSettings } from '../src/lab/types.ts';
import { CORPORA, finished, openLab } from './lab-harness.ts';

const settings: RunSettings = { corpus: 'tales', preset: 'micro', steps: 6, learningRate: 3e-3, batchSize: 4, seed: 11, autosaveEvery: 3, keepAutosaves: 2 };

/** Runs `f` and checks that it left the number of live tensors as it found it. */
async function noLeak<T>(f: () => Promise<T>): Promise<T> {
  const before = tf.memory().numTensors;
  const out = await f();
  expect(tf.memory().numTensors).toBe(before);
  return out;
}

describe('the Inside view in the lab worker', () => {
  test('write, attention, lens and trace on the loaded model; refused without one', { timeout: 300_000 }, async () => {
    const lab = await openLab(new IDBFactory(), 'lm-lab-inside');
    const { api } = lab;
    await expect(api.writeWithProbabilities('Once', { maxTokens: 4, temperature: 1, seed: 1 })).rejects.toThrow(/no model loaded/);
    await expect(api.attention('Once')).rejects.toThrow(/no model loaded/);
    await expect(api.lens('Once')).rejects.toThrow(/no model loaded/);
    await expect(api.trace('Once upon a time')).rejects.toThrow(/no model loaded/);
    await expect(api.chat([{ role: 'user', content: 'Hello' }], { maxTokens: 4, temperature: 1, topK: 0, seed: 1 })).rejects.toThrow(/no model loaded/);

    await api.pretrain(settings);
    await finished(api);
    expect(api.status()).toBe('done');

    // 1. The written tokens are the ones `sample` draws with the same seed, with their probabilities.
    const opts = { maxTokens: 12, temperature: 1, topK: 0, seed: 7 };
    const written = await noLeak(() => api.writeWithProbabilities('Once upon', opts));
    const { text: sampled } = await api.sample({ prompt: 'Once upon', ...opts });
    expect(written.chat).toBe(false);
    expect(written.step).toBe(6);
    expect(written.context.map((t) => t.text).join('')).toBe('Once upon');
    expect(written.tokens.map((t) => t.text).join('')).toBe(sampled);
    expect(written.tokens).toHaveLength(12);
    for (const t of written.tokens) {
      expect(t.top).toHaveLength(5);
      expect(t.top.map((a) => a.prob)).toEqual([...t.top.map((a) => a.prob)].sort((a, b) => b - a));
      expect(t.top.reduce((a, b) => a + b.prob, 0)).toBeLessThanOrEqual(1 + 1e-6);
      expect(t.prob).toBeGreaterThan(0);
      expect(t.prob).toBeLessThanOrEqual(1);
      // At temperature 1 with no top-k, the drawn distribution is the model's own: a listed choice has the same probability.
      const listed = t.top.find((a) => a.text === t.text);
      if (listed) expect(t.prob).toBeCloseTo(listed.prob, 5);
    }

    // 1b. The chat panel with a base model continues the last message as plain text: the same draws, each token heard as it is drawn.
    const heard: string[] = [];
    const base = await noLeak(() => api.chat([{ role: 'user', content: 'Hi there' }, { role: 'assistant', content: 'x' }, { role: 'user', content: 'Once upon' }], opts, (t) => void heard.push(t.text)));
    expect(base.mode).toBe('continue');
    expect(base.dropped).toBe(2);
    expect(base.tokens.map((t) => t.text)).toEqual(written.tokens.map((t) => t.text));
    base.tokens.forEach((t, i) => expect(t.prob).toBeCloseTo(written.tokens[i].prob, 6));
    expect(heard).toEqual(base.tokens.map((t) => t.text));
    await expect(api.chat([{ role: 'user', content: '  ' }], opts)).rejects.toThrow(/Write a message first/);
    await expect(api.chat([{ role: 'user', content: 'Hi' }], { ...opts, temperature: -1 })).rejects.toThrow(/Temperature must be 0 or more/);

    // 2. Attention: the same as attentionWeights on the loaded weights, read back from the exported file.
    const ids = [...written.context.map((t) => t.id), ...written.tokens.map((t) => t.id)]; // 21 tokens: longer than the block (16)
    const map = await noLeak(() => api.attention(ids));
    expect(map.clipped).toBe(ids.length - 16);
    expect(map.ids).toEqual(ids.slice(-16));
    expect(map.tokens.join('')).toBe(map.ids.map((id) => written.context.concat(written.tokens).find((t) => t.id === id)!.text).join(''));
    const state = decodeCheckpoint((await api.currentFile(false)).bytes);
    const model = new GPT(state.model, state.weights);
    try {
      const expected = await attentionWeights(model, map.ids);
      expect(map.weights).toHaveLength(state.model.nLayer);
      expect(map.weights[0]).toHaveLength(state.model.nHead);
      map.weights.flat(3).forEach((w, i) => expect(w).toBeCloseTo(expected.flat(3)[i], 6));
      for (const row of map.weights[1][1]) expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);

      // 3. The lens: a row for the embeddings and one per block, a column per position; the last row is the model's own.
      const lens = await noLeak(() => api.lens('Once upon a time', 3));
      expect(lens.top).toHaveLength(state.model.nLayer + 1);
      for (const row of lens.top) expect(row).toHaveLength(16);
      expect(lens.top[0][0]).toHaveLength(3);
      const own = await logitLens(model, lens.ids, 3);
      expect(lens.top.map((r) => r.map((g) => g[0].text))).toEqual(own.top.map((r) => r.map((g) => (state.tokenizer as CharTokenizerJSON).chars[g[0].token - state.tokenizer.specials.length] ?? state.tokenizer.specials[g[0].token])));
      expect(lens.actual).toHaveLength(state.model.nLayer + 1);
      expect(lens.actual[0]).toHaveLength(15);
    } finally {
      model.dispose();
    }
    await expect(api.attention('')).rejects.toThrow(/nothing to look inside/);

    // 4. Trace: a sentence of the tales inside made-up text is found where it is in the training text.
    const tales = await readFile(`${CORPORA}/tales/train.txt`, 'utf8');
    const passage = tales.slice(100_000, 100_060);
    const query = `Zq#9 ${passage} %Qz`;
    const found = await noLeak(() => api.trace(query));
    const span = found.spans.find((s) => s.text.includes(passage.slice(5, 50)));
    expect(span, JSON.stringify(found.spans)).toBeDefined();
    expect(span!.source).toMatch(/training text/);
    expect(tales.slice(span!.offset, span!.offset + span!.text.length)).toBe(span!.text);
    expect(span!.excerpt.match).toBe(span!.text);
    expect(span!.excerpt.before.length).toBeGreaterThan(0);
    expect(found.copiedShare).toBeGreaterThan(0.5);
    expect(found.copiedShare).toBeLessThan(1);
    expect(found.sources.map((s) => s.documents)).toEqual([1]);
    // Nothing of the made-up ends is copied.
    expect(found.spans.every((s) => !s.text.includes('Zq#9') && !s.text.includes('%Qz'))).toBe(true);

    // After SFT the model is a chat model: it writes in its turn, and the trace also searches the SFT answers.
    await api.sft({ steps: 2, learningRate: 3e-3 });
    await finished(api);
    const reply = await noLeak(() => api.writeWithProbabilities('What does Tom eat?', { maxTokens: 8, temperature: 0.8, seed: 2 }));
    expect(reply.chat).toBe(true);
    expect(reply.context.map((t) => t.text)).toContain('<|assistant|>');
    expect(reply.tokens.length + (reply.ended ? 1 : 0)).toBeGreaterThan(0);
    // The chat panel, one turn: the same reply, in the chat format, stopping at <|end|>.
    const asked = await noLeak(() => api.chat([{ role: 'user', content: 'What does Tom eat?' }], { maxTokens: 8, temperature: 0.8, topK: 0, seed: 2 }));
    expect(asked.mode).toBe('chat');
    expect(asked.tokens.map((t) => t.text)).toEqual(reply.tokens.map((t) => t.text));
    expect(asked.ended).toBe(reply.ended);
    // Several turns are read as turns; stopped from the page after its first token, it writes no more.
    const turns = [{ role: 'user' as const, content: 'Hi.' }, { role: 'assistant' as const, content: 'Hello!' }, { role: 'user' as const, content: 'What does Tom eat?' }];
    const cut = await api.chat(turns, { maxTokens: 12, temperature: 1, topK: 0, seed: 3 }, () => api.stopChat());
    expect(cut.tokens.length).toBe(cut.ended ? 0 : 1);
    expect(cut.stopped).toBe(!cut.ended);
    expect(cut.dropped).toBeGreaterThanOrEqual(0);
    const answers = parseSftJsonl(await readFile(`${CORPORA}/chat/sft_train.jsonl`, 'utf8')).examples.flatMap((e) => e.messages.filter((m) => m.role === 'assistant').map((m) => m.content));
    const answer = answers.find((a) => a.length >= 25 && !tales.includes(a.slice(0, 20)))!; // a sum: in no story
    const inChat = await noLeak(() => api.trace(`#%# ${answer}`));
    expect(inChat.sources.map((s) => s.name)).toEqual([expect.stringMatching(/training text/), 'SFT answers']);
    const chatSpan = inChat.spans.find((s) => s.source === 'SFT answers');
    expect(chatSpan, JSON.stringify(inChat.spans)).toBeDefined();
    expect(chatSpan!.text).toBe(answer);
    expect(answers[chatSpan!.document].slice(chatSpan!.offset, chatSpan!.offset + chatSpan!.text.length)).toBe(chatSpan!.text);
  });
});
