/**
 * The worker's post-training surface driven in Node (cpu backend, fake IndexedDB): pretrain → SFT →
 * DPO as three runs whose lineage names their parents, report cards, side-by-side replies, one
 * reply scored under every stage, the loss mask, a student's own JSONL with a bad line, and a reload that resumes the DPO run.
 */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { readFile } from 'node:fs/promises';
import { describe, expect, test } from 'vitest';
import { decodeCheckpoint } from '../src/core/io/checkpoint.ts';
import { GPT } from '../src/core/model/model.ts';
import { tokenLogProbs } from '../src/core/model/sample.ts';
import { tokenizerFromJSON } from '../src/core/data/tokenizers.ts';
import { renderPrompt, renderReply } from '../src/core/post/chat.ts';
import type { RunSettings } from '../src/lab/types.ts';
import { CORPORA, finished, openLab } from './lab-harness.ts';

const settings: RunSettings = { corpus: 'tales', preset: 'micro', steps: 8, learningRate: 3e-3, batchSize: 4, seed: 5, autosaveEvery: 4, keepAutosaves: 2 };

const open = (factory: IDBFactory) => openLab(factory, 'lm-lab-test');

/** A few preference pairs as a student's file, with one malformed line (line 3). */
async function ownPairs(): Promise<string> {
  const lines = (await readFile(`${CORPORA}/chat/dpo_train.jsonl`, 'utf8')).split('\n').slice(0, 40);
  lines.splice(2, 0, '{"prompt": 42, "chosen": "a", "rejected": "b"}'); // neither a string (standard) nor messages (conversational)
  return lines.join('\n');
}

describe('post-training in the lab worker', () => {
  test('pretrain → SFT → DPO, report cards, side by side, mask, and a reload resumes DPO', { timeout: 300_000 }, async () => {
    const factory = new IDBFactory();
    const lab = await open(factory);
    await lab.api.pretrain(settings);
    await finished(lab.api);
    expect(lab.api.status()).toBe('done');
    const base = lab.run()!;
    expect(base.stage).toBe('pretrain');

    // DPO needs an SFT model.
    await expect(lab.api.dpo({ steps: 2, beta: 0.1, lossType: 'sigmoid' })).rejects.toThrow(/SFT/);

    await lab.api.sft({ steps: 6, learningRate: 3e-3 });
    await finished(lab.api);
    const sft = lab.run()!;
    expect(sft.stage).toBe('sft');
    expect(sft.id).not.toBe(base.id);
    expect(sft.name).toMatch(/^SFT · /);
    expect(lab.api.status()).toBe('done');
    await new Promise((r) => setTimeout(r, 20));
    const sftRows = lab.rows();
    expect(sftRows.map((r) => r.step)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(sftRows.every((r) => typeof r.maskedAccuracy === 'number')).toBe(true);
    // (On micro, 16-token windows rarely reach an answer, so the held-out chat loss may well be 0.)
    expect(sftRows[5].chatValLoss).toBeGreaterThanOrEqual(0);
    const sftAtEnd = (await lab.api.listCheckpoints()).at(-1)!;

    const { skipped } = await lab.api.dpo({ steps: 4, learningRate: 3e-4, beta: 0.1, lossType: 'sigmoid', ownData: { name: 'mine.jsonl', text: await ownPairs() } });
    expect(skipped).toEqual([{ line: 3, message: expect.stringMatching(/prompt/) }]);
    await finished(lab.api);
    const dpo = lab.run()!;
    expect(dpo.stage).toBe('dpo');
    expect(dpo.name).toMatch(/^DPO β 0.1 on mine.jsonl · /);
    await new Promise((r) => setTimeout(r, 20));
    expect(lab.rows().map((r) => r.step)).toEqual([0, 1, 2, 3]);
    for (const key of ['rewards/chosen', 'rewards/rejected', 'rewards/margins', 'rewards/accuracies', 'logps/chosen', 'logps/rejected']) {
      expect(lab.rows().every((r) => Number.isFinite(r[key])), key).toBe(true);
    }

    // The parents: base up to step 8, SFT up to step 6, each with its rows.
    const history = await lab.api.stageHistory();
    expect(history.map((h) => [h.stage, h.step, h.rows.length])).toEqual([['pretrain', 8, 8], ['sft', 6, 6]]);
    expect(history[0].runId).toBe(base.id);

    const cards = await lab.api.reportCards();
    expect(cards.map((c) => c.stage)).toEqual(['pretrain', 'sft', 'dpo']);
    for (const c of cards) {
      expect(c.questions).toBeGreaterThan(0);
      expect(c.pairs).toBeGreaterThan(0);
      expect(Number.isFinite(c.valLoss)).toBe(true);
    }
    expect(cards[1].preferenceAccuracy).toBe(0.5); // its own reference
    expect(cards[2].reference).toBe('sft-parent');

    const replies = await lab.api.compare({ prompt: 'What does Tom eat?', greedy: true, temperature: 0, maxTokens: 12, seed: 1 });
    expect(replies.map((r) => [r.stage, r.step])).toEqual([['pretrain', 8], ['sft', 6], ['dpo', 4]]);
    for (const r of replies) {
      // Token by token, the reply; greedy picks the likeliest, so each token is its own first alternative, with its probability.
      expect(r.tokens.map((t) => t.text).join('')).toBe(r.text);
      for (const t of r.tokens) {
        expect(t.top).toHaveLength(5);
        expect(t.top[0].text).toBe(t.text);
        expect(Math.abs(t.top[0].prob - t.prob)).toBeLessThan(1e-5);
      }
    }
    const sampled = await lab.api.compare({ prompt: 'What does Tom eat?', greedy: false, temperature: 0.8, maxTokens: 12, seed: 1 });
    expect(sampled).toHaveLength(3);

    // What each stage changed: one reply scored under base, SFT and DPO; the loaded model's numbers are `score`'s (tokenLogProbs).
    const changes = await lab.api.stageChanges('What does Tom eat?', 'Tom eats an apple.');
    expect(changes.stages.map((s) => [s.stage, s.step])).toEqual([['pretrain', 8], ['sft', 6], ['dpo', 4]]);
    expect(changes.tokens.map((t) => t.text).join('')).toBe('Tom eats an apple.<|end|>');
    const state = decodeCheckpoint((await lab.api.currentFile(false)).bytes);
    const tok = tokenizerFromJSON(state.tokenizer);
    const head = renderPrompt(tok, [{ role: 'user', content: 'What does Tom eat?' }]);
    const ids = Int32Array.from([...head, ...renderReply(tok, 'Tom eats an apple.')]);
    const model = new GPT(state.model, state.weights);
    const scored = await tokenLogProbs(model, ids);
    model.dispose();
    const own = scored.positions.map((p, i) => [p, scored.logProbs[i]]).filter(([p]) => p >= head.length).map(([, lp]) => lp);
    changes.tokens.forEach((t, i) => {
      expect(Math.abs(t.logProbs[2] - own[i])).toBeLessThan(1e-4);
      expect(t.deltas[0]).toBeNull();
      expect(t.deltas[2]).toBeCloseTo(t.logProbs[2] - t.logProbs[1], 9);
    });
    changes.stages.forEach((s, m) => expect(s.total).toBeCloseTo(changes.tokens.reduce((a, t) => a + t.logProbs[m], 0), 6));
    await expect(lab.api.stageChanges('What does Tom eat?', ' ')).rejects.toThrow(/nothing to score/);
    // Each parent's model is built from its checkpoint and disposed: no tensor is left behind.
    const tensors = (await lab.api.memory()).numTensors;
    await lab.api.stageChanges('What does Tom eat?', 'Tom eats an apple.');
    expect((await lab.api.memory()).numTensors).toBe(tensors);

    const mask = await lab.api.maskExample(0);
    const counted = mask.tokens.filter((t) => t.counted);
    expect(mask.tokens[0]).toMatchObject({ text: '<|user|>', counted: false, special: true });
    expect(counted.length).toBeGreaterThan(1);
    expect(counted[counted.length - 1]).toMatchObject({ text: '<|end|>', special: true });

    // A reload reopens the DPO run, resumable with its own reference log-probs.
    const again = await open(factory);
    expect(again.run()?.id).toBe(dpo.id);
    expect(again.run()?.stage).toBe('dpo');
    expect((await again.api.stageHistory()).map((h) => h.stage)).toEqual(['pretrain', 'sft']);

    // The length-bias what-if trains on a subset of the pairs; a reload resumes it on the same subset.
    await again.api.loadCheckpoint(sftAtEnd.id);
    await again.api.dpo({ steps: 2, whatIf: 'length-bias' });
    await finished(again.api);
    const biased = again.run()!;
    expect(biased.name).toMatch(/length-biased pairs/);
    const third = await open(factory);
    expect(third.notices().join(' ')).not.toMatch(/Could not restore/);
    expect(third.run()).toMatchObject({ id: biased.id, stage: 'dpo', step: 2 });
  });
});
