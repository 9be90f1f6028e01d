/**
 * Either tokenizer through the stages' contract: the one dispatch from JSON, the vocabulary a
 * preset can hold (hand-counted), bits per character (hand-computed), and a BPE tokenizer in a
 * checkpoint validated as carefully as the character one.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BpeTokenizer } from '../src/core/data/bpe.ts';
import { checkVocabForPreset, describeTokenizer, maxVocabFor, tokenizerFromJSON } from '../src/core/data/tokenizers.ts';
import { tokenizerFromVocab } from '../src/core/io/share.ts';
import { hfTokenizerJson } from '../src/core/data/hf-tokenizer.ts';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint } from '../src/core/io/checkpoint.ts';
import { PRESETS } from '../src/core/model/config.ts';
import { CharTokenizer, SPECIAL_TOKENS } from '../src/core/model/tokenizer.ts';
import { renderChat } from '../src/core/post/chat.ts';
import { bitsPerChar, corpusFor, corpusFromText, valBitsPerChar } from '../src/core/train/data.ts';
import { LabSession } from '../src/core/train/session.ts';
import { ROOT, useBackend } from './helpers.ts';

const TEXT = readFileSync(join(ROOT, 'corpora', 'tales', 'train.txt'), 'utf8').slice(0, 20_000);

describe('tokenizerFromJSON', () => {
  it('reads each kind back into its class, and refuses any other kind by name', () => {
    const bpe = BpeTokenizer.train(TEXT, 300);
    const chars = CharTokenizer.fromText(TEXT);
    const b = tokenizerFromJSON(JSON.parse(JSON.stringify(bpe.toJSON())));
    const c = tokenizerFromJSON(JSON.parse(JSON.stringify(chars.toJSON())));
    expect(b).toBeInstanceOf(BpeTokenizer);
    expect(c).toBeInstanceOf(CharTokenizer);
    expect(Array.from(b.encode(TEXT))).toEqual(Array.from(bpe.encode(TEXT)));
    expect(describeTokenizer(b)).toBe('byte-level BPE, 300 tokens');
    expect(describeTokenizer(c)).toBe(`characters, ${chars.vocabSize} tokens`);
    expect(() => tokenizerFromJSON({ kind: 'words' })).toThrow(/expected \{"kind":"char",…\} or \{"kind":"bpe",…\}, got kind "words"/);
    expect(() => tokenizerFromJSON(null)).toThrow(/got kind null/);
    expect(() => tokenizerFromJSON({ kind: 'bpe', specials: ['<|end|>', '<|end|>'], merges: [] })).toThrow(/"specials" has duplicates/);
    // A nanoGPT state dict's vocabulary may be given as the tokenizer.json that export --hf-tokenizer writes.
    expect(tokenizerFromVocab(JSON.parse(JSON.stringify(hfTokenizerJson(bpe))))).toEqual(bpe.toJSON());
  });

  it('keeps the chat specials special with BPE: plain text never makes them, chat formatting inserts them by id', () => {
    const bpe = BpeTokenizer.train(TEXT + '<|end|><|user|>', 300);
    const plain = Array.from(bpe.encode('hi <|user|> there <|end|>'));
    expect(plain.some((id) => id < SPECIAL_TOKENS.length)).toBe(false);
    const { ids } = renderChat(bpe, [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'the cat' }]);
    const user = bpe.specialId('<|user|>');
    const assistant = bpe.specialId('<|assistant|>');
    const end = bpe.specialId('<|end|>');
    expect(Array.from(ids)).toEqual([user, ...bpe.encode('hi'), end, assistant, ...bpe.encode('the cat'), end]);
  });
});

describe('the vocabulary a preset holds', () => {
  it('is the parameters outside the embedding divided by C: micro by hand', () => {
    // micro: C 32, context 16, 2 layers. A block: LayerNorms 4C, c_attn 3C² + 3C, c_proj C² + C,
    // c_fc 4C² + 4C, mlp c_proj 4C² + C = 12·1024 + 13·32 = 12,704; positions 16·32 = 512; final LN 64.
    expect(maxVocabFor(PRESETS.micro.model)).toBe(Math.floor((2 * 12_704 + 512 + 64) / 32));
    expect(maxVocabFor(PRESETS.micro.model)).toBe(812);
  });

  it('refuses a vocabulary above it with the presets that would fit, and a BPE below the bytes and specials', () => {
    const chars = (n: number) => new CharTokenizer(Array.from({ length: n - SPECIAL_TOKENS.length }, (_, i) => String.fromCodePoint(0x4e00 + i)));
    expect(() => checkVocabForPreset(chars(812), 'micro')).not.toThrow();
    expect(() => checkVocabForPreset(chars(813), 'micro')).toThrow(/813 tokens is too large for the micro preset, which holds at most 812 .*; use tiny or small or medium/);
    expect(() => checkVocabForPreset(new BpeTokenizer([], []), 'micro')).toThrow(/no <\|unk\|>, <\|user\|>, <\|assistant\|>, <\|end\|>: the chat stages need/);
    expect(() => BpeTokenizer.train(TEXT, 259)).toThrow(/259 tokens is too small: the 256 bytes and 4 special tokens already take 260/);
  });
});

describe('bits per character', () => {
  it('is nats per token × tokens per character ÷ ln 2, by hand', () => {
    // 2 nats a token, 100 tokens for 300 characters: 2/3 nat a character = 0.6667 / 0.693147 bits.
    expect(bitsPerChar(2, 100, 300)).toBeCloseTo(0.961797, 6);
    expect(() => bitsPerChar(2, 0, 300)).toThrow(/positive number of tokens and characters/);
  });

  it('is valLoss / ln 2 for the character tokenizer, astral characters counted once', () => {
    const text = 'a cat 🐈 sat.\nthe end 🐈.';
    const tok = CharTokenizer.fromText(text);
    const corpus = corpusFor('t', text, text, tok);
    expect(corpus.valChars).toBe(corpus.val.length);
    expect(valBitsPerChar(1.5, corpus)).toBeCloseTo(1.5 / Math.LN2, 12);
    const { corpus: own } = corpusFromText('t', text.repeat(10), tok);
    expect(valBitsPerChar(1.5, own)).toBeCloseTo(1.5 / Math.LN2, 12);
  });

  it('uses the validation text\'s own tokens and characters for BPE', () => {
    const tok = BpeTokenizer.train(TEXT, 300);
    const val = 'the cat sat on the rat. 🐈';
    const corpus = corpusFor('t', TEXT, val, tok);
    expect(corpus.valChars).toBe([...val].length);
    expect(valBitsPerChar(1.2, corpus)).toBeCloseTo((1.2 * tok.encode(val).length) / [...val].length / Math.LN2, 12);
    // The text is cut by characters, so the held-out characters are exact.
    const { corpus: own } = corpusFromText('t', TEXT, tok);
    expect(own.valChars).toBe([...TEXT].length - Math.floor([...TEXT].length * 0.9));
  });
});

describe('a BPE tokenizer in a checkpoint', () => {
  async function bpeCheckpoint(): Promise<{ bytes: Uint8Array; tok: BpeTokenizer }> {
    await useBackend('cpu');
    const tok = BpeTokenizer.train(TEXT, 300);
    const session = LabSession.create({ preset: 'micro', corpus: corpusFor('t', TEXT, TEXT.slice(0, 400), tok), tokenizer: tok, train: { steps: 1, batchSize: 2 } });
    await session.step();
    const bytes = await session.toCheckpointBytes();
    session.dispose();
    return { bytes, tok };
  }

  it('round-trips, with its merges, and a bad one is a clear CheckpointError', { timeout: 30_000 }, async () => {
    const { bytes, tok } = await bpeCheckpoint();
    const state = decodeCheckpoint(bytes);
    expect(state.tokenizer).toEqual(tok.toJSON());
    expect(state.model.vocabSize).toBe(300);
    expect(state.metrics[0].valBitsPerChar).toBeCloseTo(valBitsPerChar(state.metrics[0].valLoss, corpusFor('t', TEXT, TEXT.slice(0, 400), tok)), 9);
    const json = tok.toJSON();
    const refused = (t: unknown, message: RegExp) => {
      const error = (() => {
        try {
          decodeCheckpoint(encodeCheckpoint({ ...state, tokenizer: t as never }));
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(CheckpointError);
      expect((error as Error).message).toMatch(message);
    };
    refused({ ...json, merges: [[9999, 5], ...json.merges.slice(1)] }, /merge 0 joins ids 9999 and 5, but only ids 4 to 259 exist/);
    refused({ ...json, merges: [[1.5, 2], ...json.merges.slice(1)] }, /every merge must be a pair of integer ids/);
    refused({ ...json, merges: json.merges.slice(0, -1) }, /the tokenizer has 299 tokens but model_config.vocabSize is 300/);
    refused({ ...json, specials: [1, 2] }, /every entry of "specials" must be a string/);
    refused({ kind: 'bpe', specials: [] }, /bpe: expected \{"kind":"bpe"/);
  });
});
