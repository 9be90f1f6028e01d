/**
 * The character tokenizer on the bundled data: every text round-trips, nothing of it is unknown,
 * and no special token ever comes out of encoding plain text.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CharTokenizer, SPECIAL_TOKENS } from '../src/core/model/tokenizer.ts';
import { bundledTokenizer, ROOT } from './helpers.ts';

const tokenizer = bundledTokenizer();
const tales = ['train.txt', 'val.txt'].map((f) => [f, readFileSync(join(ROOT, 'corpora', 'tales', f), 'utf8')] as const);

/** Index of the first id that is a special token, or −1. */
const firstSpecial = (ids: Int32Array, specials: number) => ids.findIndex((id) => id < specials);

describe('the bundled vocabulary on the bundled tales', () => {
  it('starts with the special tokens, then distinct single characters', () => {
    expect(tokenizer.specials).toEqual([...SPECIAL_TOKENS]);
    expect(new Set(tokenizer.chars).size).toBe(tokenizer.chars.length);
    expect(tokenizer.vocabSize).toBe(SPECIAL_TOKENS.length + tokenizer.chars.length);
  });

  for (const [file, text] of tales) {
    it(`${file}: every line and the whole text round-trip, with no special or unknown token`, () => {
      expect(tokenizer.unknownChars(text)).toEqual([]);
      const ids = tokenizer.encode(text);
      expect(ids.length).toBe([...text].length);
      expect(firstSpecial(ids, tokenizer.specials.length)).toBe(-1);
      expect(ids.every((id) => id < tokenizer.vocabSize)).toBe(true);
      expect(tokenizer.decode(ids) === text).toBe(true);
      for (const line of text.split('\n')) {
        const lineIds = tokenizer.encode(line);
        if (tokenizer.decode(lineIds) !== line || firstSpecial(lineIds, tokenizer.specials.length) !== -1) {
          expect.fail(`line does not round-trip cleanly: ${JSON.stringify(line)}`);
        }
      }
    });
  }

  it('ids are the position in specials + chars, and decode maps each back', () => {
    for (let id = 0; id < tokenizer.vocabSize; id++) {
      const text = tokenizer.tokenText(id);
      expect(text).toBe(id < SPECIAL_TOKENS.length ? SPECIAL_TOKENS[id] : tokenizer.chars[id - SPECIAL_TOKENS.length]);
      if (id >= SPECIAL_TOKENS.length) expect(Array.from(tokenizer.encode(text))).toEqual([id]);
    }
  });
});

describe('special tokens are never produced from plain text', () => {
  it('text spelling out a special token is encoded character by character', () => {
    const text = 'a <|user|> b <|assistant|> c <|end|> <|unk|>';
    const tok = CharTokenizer.fromText(text);
    const ids = tok.encode(text);
    expect(ids.length).toBe(text.length);
    expect(firstSpecial(ids, tok.specials.length)).toBe(-1);
    expect(tok.decode(ids)).toBe(text);
  });

  it('characters outside the vocabulary become <|unk|> and are reported', () => {
    const ids = tokenizer.encode('a€b');
    expect(Array.from(ids)).toEqual([tokenizer.encode('a')[0], tokenizer.specialId('<|unk|>'), tokenizer.encode('b')[0]]);
    expect(tokenizer.unknownChars('a€b€')).toEqual(['€']);
  });

  it('astral characters stay whole and round-trip', () => {
    const text = 'x🙂y𝄞\n';
    const tok = CharTokenizer.fromText(text);
    expect(tok.chars).toHaveLength(5);
    expect(tok.decode(tok.encode(text))).toBe(text);
  });

  it('toJSON / fromJSON round-trips the vocabulary', () => {
    const back = CharTokenizer.fromJSON(JSON.parse(JSON.stringify(tokenizer.toJSON())));
    expect(back.toJSON()).toEqual(tokenizer.toJSON());
    const [, text] = tales[1];
    expect(Array.from(back.encode(text.slice(0, 5000)))).toEqual(Array.from(tokenizer.encode(text.slice(0, 5000))));
  });
});
