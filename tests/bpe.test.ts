import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { BpeTokenizer, BYTE_TO_UNICODE, charsPerToken, GPT2_SPLIT, MAX_BPE_VOCAB, type TextTokenizer } from '../src/core/data/bpe.ts';
import { CharTokenizer, SPECIAL_TOKENS } from '../src/core/model/tokenizer.ts';

const read = (name: string) => readFileSync(new URL(`../corpora/${name}`, import.meta.url), 'utf8');
const utf8 = (s: string) => new TextEncoder().encode(s);

/**
 * BPE by the book, for comparison: recount every pair of every word before each merge, take the
 * most frequent (ties to the smaller pair of ids), merge it everywhere.
 */
function naiveMerges(text: string, merges: number): [number, number][] {
  const base = SPECIAL_TOKENS.length;
  const counts = new Map<string, number>();
  for (const piece of text.match(GPT2_SPLIT) ?? []) counts.set(piece, (counts.get(piece) ?? 0) + 1);
  let words = [...counts].map(([piece, n]) => ({ ids: Array.from(utf8(piece), (b) => b + base), n }));
  const out: [number, number][] = [];
  for (let next = base + 256; out.length < merges; next++) {
    const pairs = new Map<number, number>();
    for (const w of words) for (let i = 0; i + 1 < w.ids.length; i++) pairs.set(w.ids[i] * 65536 + w.ids[i + 1], (pairs.get(w.ids[i] * 65536 + w.ids[i + 1]) ?? 0) + w.n);
    let best = -1;
    let bestCount = 0;
    for (const [key, c] of pairs) if (c > bestCount || (c === bestCount && key < best)) [best, bestCount] = [key, c];
    if (best < 0) break;
    const [a, b] = [Math.floor(best / 65536), best % 65536];
    out.push([a, b]);
    words = words.map((w) => {
      const ids: number[] = [];
      for (let i = 0; i < w.ids.length; i++) {
        if (w.ids[i] === a && w.ids[i + 1] === b) {
          ids.push(next);
          i++;
        } else ids.push(w.ids[i]);
      }
      return { ids, n: w.n };
    });
  }
  return out;
}

describe('byte-level BPE', () => {
  // ids: 4 specials, then byte b at 4 + b ('a' = 101, 'b' = 102, 'c' = 103, 'd' = 104), merges from 260.
  it('learns the merges of a hand-worked example', () => {
    // "aaabdaaabac" (one piece). Pairs: aa ×4, ab ×2, the rest ×1 → merge aa (Z = 260), left to
    // right: Z a b d Z a b a c. Now Za ×2 and ab ×2 tie; the smaller pair of ids (a = 101 < Z)
    // wins → ab (Y = 261): Z Y d Z Y a c. ZY ×2 → X = 262 ("aaab"): X d X a c.
    const tok = BpeTokenizer.train('aaabdaaabac', 263);
    expect(tok.merges).toEqual([[101, 101], [101, 102], [260, 261]]);
    expect([260, 261, 262].map((id) => tok.tokenText(id))).toEqual(['aa', 'ab', 'aaab']);
    expect([...tok.encode('aaabdaaabac')]).toEqual([262, 104, 262, 101, 103]);
    // Encoding applies the merges by rank: "aab" is aa + b (rank 0 first), not a + ab.
    expect([...tok.encode('aab')]).toEqual([260, 102]);
  });

  it('splits text the way GPT-2 does before merging', () => {
    expect("Hello world's 123 !!  x\n\n".match(GPT2_SPLIT)).toEqual(['Hello', ' world', "'s", ' 123', ' !!', ' ', ' x', '\n\n']);
    // Merges never cross pieces: "dog." and "dog!" share " dog".
    const tok = BpeTokenizer.train(' dog. dog! dog? dog, dog', 264);
    expect(tok.tokenText(tok.vocabSize - 1)).toBe(' dog');
    expect(tok.encode(' dog.')[0]).toBe(tok.encode(' dog!')[0]);
  });

  it('learns the same merges as a full recount per merge', () => {
    const text = read('tales/val.txt').slice(0, 30_000) + ' ☃☃ 🙂🙂 aaaaaaaa';
    const tok = BpeTokenizer.train(text, 560);
    expect(tok.merges).toEqual(naiveMerges(text, tok.merges.length));
    expect(tok.merges.length).toBe(300);
  });

  it('maps bytes to characters as GPT-2 does', () => {
    expect(new Set(BYTE_TO_UNICODE).size).toBe(256);
    expect(BYTE_TO_UNICODE[' '.charCodeAt(0)]).toBe('Ġ');
    expect(BYTE_TO_UNICODE['\n'.charCodeAt(0)]).toBe('Ċ');
    expect(BYTE_TO_UNICODE['a'.charCodeAt(0)]).toBe('a');
    expect(BYTE_TO_UNICODE.every((c) => !/\s/.test(c))).toBe(true);
  });

  it('stops when no pair is left, and refuses vocabulary sizes it cannot make', () => {
    expect(BpeTokenizer.train('ab', 1000).vocabSize).toBe(261);
    expect(() => BpeTokenizer.train('abc', 259)).toThrow('bpe: a vocabulary of 259 tokens is too small: the 256 bytes and 4 special tokens already take 260');
    expect(() => BpeTokenizer.train('abc', MAX_BPE_VOCAB + 1)).toThrow(/more than the 65536 that token ids can hold/);
    expect(() => BpeTokenizer.train('abc', 300.5)).toThrow(/whole number/);
    const bytesOnly = BpeTokenizer.train('abc', 260);
    expect([...bytesOnly.encode('ab')]).toEqual([101, 102]);
  });
});

describe('a BPE tokenizer trained on the tales', () => {
  let tok: BpeTokenizer;
  const train = read('tales/train.txt');
  const val = read('tales/val.txt');

  beforeAll(() => {
    // About 2 MB: the training stories and the held-out ones (its time is measured by the command line, not here).
    tok = BpeTokenizer.train(train + val, 1024);
  });

  it('trains 2 MB to exactly 1,024 tokens', () => {
    expect(Buffer.byteLength(train + val)).toBeGreaterThan(2_000_000);
    expect(tok.vocabSize).toBe(1024);
  });

  it('compresses held-out tales to at least 2.5 characters per token', () => {
    const held = BpeTokenizer.train(train, 1024);
    expect(charsPerToken(held, val)).toBeGreaterThanOrEqual(2.5);
    // Twice the vocabulary, shorter sequences.
    expect(charsPerToken(BpeTokenizer.train(train, 2048), val)).toBeGreaterThan(charsPerToken(held, val));
  });

  it('learns the most frequent pair first', () => {
    const [a, b] = tok.merges[0];
    const pair = tok.tokenText(a) + tok.tokenText(b);
    expect(pair).toBe('he');
  });

  it('decodes what it encodes, for any text: emoji, accents, scripts, controls, a byte-order mark', () => {
    for (const s of ['', 'Tom eats carrots.', '🙂👍🏽 née 日本語 ᚠᚢᚦ', '\u0000\u0007\uFEFFx', 'a\r\n\tb  \n\n', "it's 12,345 o'clock"]) {
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (s) => tok.decode(tok.encode(s)) === s), { numRuns: 2000 });
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (s) => tok.decode(tok.encode(s)) === s), { numRuns: 500 });
  });

  // A rescan per merge would make this take minutes: the test's timeout is the guard, not an assertion.
  it('encodes a long run of one character exactly', () => {
    const runs = BpeTokenizer.train('z'.repeat(1000), 270);
    const run = 'z'.repeat(200_000);
    const ids = runs.encode(run);
    // Doubling merges up to 512 z's in a token: 200,000 = 390 × 512 + 320 (256 + 64).
    expect(runs.encode('z'.repeat(512)).length).toBe(1);
    expect(ids.length).toBe(392);
    expect(runs.decode(ids)).toBe(run);
  });

  it('encodes to UTF-8 bytes exactly, lone surrogates as U+FFFD like any encoder', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (s) => {
      expect(tok.decodeBytes(tok.encode(s))).toEqual(utf8(s));
    }), { numRuns: 500 });
    expect(tok.decode(tok.encode('a\uD800b'))).toBe('a\uFFFDb');
    // A token sequence cut inside a character still gives its bytes.
    const ids = tok.encode('🙂');
    expect(tok.decodeBytes(ids.slice(0, 1))).toEqual(utf8('🙂').slice(0, tok.tokenBytes(ids[0]).length));
  });

  it('keeps the chat specials whole and never makes them from plain text', () => {
    expect(tok.specials).toEqual(SPECIAL_TOKENS);
    for (const s of SPECIAL_TOKENS) expect(tok.tokenText(tok.specialId(s))).toBe(s);
    const ids = tok.encode('<|user|>Hi<|end|><|assistant|>Hello<|end|><|unk|>');
    expect([...ids].every((id) => id >= SPECIAL_TOKENS.length)).toBe(true);
    expect(tok.decode(ids)).toBe('<|user|>Hi<|end|><|assistant|>Hello<|end|><|unk|>');
    // A chat renders specials by id, and they decode as their names.
    expect(tok.decode([tok.specialId('<|user|>'), ...tok.encode('Hi'), tok.specialId('<|end|>')])).toBe('<|user|>Hi<|end|>');
    // Even trained on text full of them, no token spells a special.
    const chatty = BpeTokenizer.train('<|user|>hi<|end|>'.repeat(200), 300);
    for (let id = 4; id < chatty.vocabSize; id++) expect(SPECIAL_TOKENS).not.toContain(chatty.tokenText(id));
    expect([...chatty.encode('<|end|>')].every((id) => id >= 4)).toBe(true);
    expect(() => tok.specialId('<|system|>' as never)).toThrow(/no special token/);
  });

  it('offers the surface of the character tokenizer, specials at the same ids', () => {
    const char = CharTokenizer.fromText('Tom eats carrots.');
    const both: TextTokenizer[] = [char, tok];
    for (const t of both) {
      for (const s of SPECIAL_TOKENS) expect(t.specialId(s)).toBe(char.specialId(s));
      expect(t.decode(t.encode('Tom eats carrots.'))).toBe('Tom eats carrots.');
      expect(t.unknownChars('Tom')).toEqual([]);
    }
  });

  it('round-trips through JSON and refuses what is not a BPE tokenizer', () => {
    const back = BpeTokenizer.fromJSON(JSON.parse(JSON.stringify(tok.toJSON())));
    expect(back.vocabSize).toBe(tok.vocabSize);
    expect([...back.encode(val.slice(0, 5000))]).toEqual([...tok.encode(val.slice(0, 5000))]);
    expect(() => BpeTokenizer.fromJSON({ kind: 'char', specials: [], chars: [] } as never)).toThrow(/expected \{"kind":"bpe"/);
    expect(() => BpeTokenizer.fromJSON({ kind: 'bpe', specials: [], merges: [[1, 2, 3]] } as never)).toThrow(/pair of integer ids/);
    expect(() => BpeTokenizer.fromJSON({ kind: 'bpe', specials: [], merges: [[300, 2]] })).toThrow(/merge 0 joins ids 300 and 2, but only ids 0 to 255 exist/);
  });
});
