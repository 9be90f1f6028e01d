/**
 * A BPE tokenizer through the whole lesson line: pretraining with it, SFT and DPO from that
 * checkpoint, the report card, and the file exported and imported, with no tensor left behind.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { BpeTokenizer } from '../src/core/data/bpe.ts';
import { reportCard } from '../src/core/eval/evaluate.ts';
import { decodeCheckpoint } from '../src/core/io/checkpoint.ts';
import { exportCheckpoint, prepareImport } from '../src/core/io/share.ts';
import { parseDpoJsonl, parseSftJsonl } from '../src/core/post/chatdata.ts';
import { DpoStage } from '../src/core/post/dpo.ts';
import { SftStage } from '../src/core/post/sft.ts';
import { corpusFor, valBitsPerChar } from '../src/core/train/data.ts';
import { LabSession } from '../src/core/train/session.ts';
import { ROOT, useBackend } from './helpers.ts';

const read = (path: string) => readFileSync(join(ROOT, 'corpora', path), 'utf8');

describe('a BPE tokenizer from pretraining to an imported DPO file', () => {
  it('pretrain → SFT → DPO → export → import, the tokenizer carried and recorded, numTensors flat', { timeout: 60_000 }, async () => {
    await useBackend('cpu');
    const train = read('tales/train.txt').slice(0, 30_000);
    const tok = BpeTokenizer.train(train, 400);
    const corpus = corpusFor('tales', train, read('tales/val.txt').slice(0, 2_000), tok);
    const sft = { train: parseSftJsonl(read('chat/sft_train.jsonl')).examples.slice(0, 16), val: parseSftJsonl(read('chat/sft_val.jsonl')).examples.slice(0, 4) };
    const dpo = { train: parseDpoJsonl(read('chat/dpo_train.jsonl')).examples.slice(0, 8), val: parseDpoJsonl(read('chat/dpo_val.jsonl')).examples.slice(0, 4) };
    // One step first: tfjs keeps a few tensors it makes on first use (cached constants), once per process.
    const warm = LabSession.create({ preset: 'micro', corpus, tokenizer: tok, train: { steps: 1, evalInterval: 1, batchSize: 2 } });
    await warm.step();
    warm.dispose();
    const before = tf.memory().numTensors;

    const base = LabSession.create({ preset: 'micro', corpus, tokenizer: tok, train: { steps: 3, evalInterval: 3, batchSize: 2 } });
    while (!base.done) await base.step();
    const last = base.metrics[base.metrics.length - 1];
    expect(last.valBitsPerChar).toBeCloseTo(valBitsPerChar(last.valLoss, corpus), 12);
    expect(last.valBitsPerChar).toBeLessThan(last.valLoss / Math.LN2); // a BPE token holds more than one character
    const baseBytes = await base.toCheckpointBytes();
    base.dispose();

    const sftStage = await SftStage.start(baseBytes, sft, corpus, { steps: 2, evalInterval: 2, batchSize: 4 }, { pretrainShare: 0.25 });
    while (!sftStage.done) await sftStage.step();
    const sftBytes = await sftStage.session.toCheckpointBytes();
    sftStage.release();

    const dpoStage = await DpoStage.start(sftBytes, dpo, corpus, { train: { steps: 2, evalInterval: 2, batchSize: 2 } });
    while (!dpoStage.done) await dpoStage.step();
    const card = await reportCard({
      model: dpoStage.session.model, tokenizer: dpoStage.session.tokenizer, stage: 'dpo', step: 2, extra: dpoStage.session.extra,
      stories: { val: corpus.val, chars: corpus.valChars, batchSize: 2, batches: 1, seed: 1 }, sftVal: sft.val, dpoVal: dpo.val, limit: 2,
    });
    expect(card.valBitsPerChar).toBeCloseTo(valBitsPerChar(card.valLoss, corpus), 12);
    const dpoBytes = await dpoStage.session.toCheckpointBytes();
    dpoStage.release();

    const shared = exportCheckpoint(dpoBytes, { includeOptimizer: false });
    const { state } = await prepareImport(shared);
    expect(state.stage).toBe('dpo');
    expect(state.tokenizer).toEqual(tok.toJSON());
    expect(state.model.vocabSize).toBe(400);
    expect(state.lineage.map((l) => [l.stage, l.tokenizer])).toEqual([['pretrain', 'byte-level BPE, 400 tokens'], ['sft', 'byte-level BPE, 400 tokens']]);
    // The imported file samples text through the same tokenizer.
    const again = LabSession.fromCheckpoint(decodeCheckpoint(shared), corpus);
    expect(typeof (await again.sample('Once', { maxTokens: 5 }))).toBe('string');
    again.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
