/**
 * The training-data trace against brute force: the suffix array against sorting every suffix,
 * and the copied spans, their counts and places, and the copied share against a plain substring
 * search over small random corpora (fast-check). Then the bundled corpora: the index builds within
 * the 2 s the worker has, and finds a passage of the tales where it is.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildTraceIndex, copiedShare, longestCopiedSpans, matchingStatistics, sftAnswers, suffixArray, type TraceSource } from '../src/core/inspect/trace.ts';
import { parseSftJsonl } from '../src/core/post/chatdata.ts';
import { ROOT } from './helpers.ts';

/** Every suffix's start, sorted by comparing the suffixes symbol by symbol. */
function naiveSuffixArray(s: Int32Array): number[] {
  const cmp = (a: number, b: number) => {
    while (a < s.length && b < s.length && s[a] === s[b]) [a, b] = [a + 1, b + 1];
    return (a < s.length ? s[a] : -1) - (b < s.length ? s[b] : -1);
  };
  return [...s.keys()].sort(cmp);
}

/** Occurrences of needle in haystack, overlapping ones included. */
function count(haystack: string, needle: string): number {
  let n = 0;
  for (let i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + 1)) n++;
  return n;
}

/** The brute-force trace: for each start, the longest prefix found by indexOf in some text; spans maximal both ways. */
function bruteSpans(sources: TraceSource[], text: string, minChars: number) {
  const texts = sources.flatMap((s) => s.texts);
  const found = (piece: string) => texts.some((t) => t.includes(piece));
  const ms = [...text].map((_, i) => {
    let L = 0;
    while (i + L < text.length && found(text.slice(i, i + L + 1))) L++;
    return L;
  });
  const spans = ms.flatMap((L, i) => (L >= minChars && (i === 0 || i + L > i - 1 + ms[i - 1]) ? [{ start: i, end: i + L, occurrences: texts.reduce((a, t) => a + count(t, text.slice(i, i + L)), 0) }] : []));
  const covered = new Set<number>();
  for (const s of spans) for (let i = s.start; i < s.end; i++) covered.add(i);
  return { ms, spans, share: text.length ? covered.size / text.length : 0 };
}

describe('suffixArray (SA-IS)', () => {
  it('sorts every suffix, as sorting them one by one does', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 200 }), (body) => {
        const s = Int32Array.from([...body, 0]);
        expect(Array.from(suffixArray(s, 5))).toEqual(naiveSuffixArray(s));
      }),
      { numRuns: 300 },
    );
    // Runs and repeats, where the recursion goes deepest.
    for (const body of ['aaaaaaaaaaaa', 'abababababab', 'mississippi', 'abcabcabcabcabcab']) {
      const s = Int32Array.from([...body].map((c) => c.charCodeAt(0) - 96).concat(0));
      expect(Array.from(suffixArray(s, 27))).toEqual(naiveSuffixArray(s));
    }
  });
});

describe('longestCopiedSpans and copiedShare', () => {
  const letters = (chars: string, max: number) => fc.array(fc.constantFrom(...chars), { maxLength: max }).map((a) => a.join(''));
  const corpus = fc.array(fc.record({ name: fc.constantFrom('tales', 'sft'), texts: fc.array(letters('abc', 40), { minLength: 1, maxLength: 4 }) }), { minLength: 1, maxLength: 3 });

  it('agree with a brute-force substring search on small random corpora', () => {
    fc.assert(
      fc.property(corpus, letters('abcd', 60), fc.integer({ min: 1, max: 6 }), (sources, text, minChars) => {
        const index = buildTraceIndex(sources);
        const brute = bruteSpans(sources, text, minChars);
        expect(Array.from(matchingStatistics(index, text))).toEqual(brute.ms);
        const spans = longestCopiedSpans(index, text, minChars);
        expect(spans.map(({ start, end, occurrences }) => ({ start, end, occurrences }))).toEqual(brute.spans);
        for (const s of spans) {
          expect(s.text).toBe(text.slice(s.start, s.end));
          const named = sources.filter((src) => src.name === s.source).map((src) => src.texts[s.document]); // names may repeat here
          expect(named.some((t) => t !== undefined && t.slice(s.offset, s.offset + s.text.length) === s.text)).toBe(true); // it is where it says
        }
        expect(copiedShare(index, text, minChars)).toBeCloseTo(brute.share, 12);
      }),
      { numRuns: 300 },
    );
  });

  it('agree with it on texts stitched from pieces of the corpus (long copies, overlapping spans)', () => {
    const stitched = corpus.chain((sources) => {
      const all = sources.flatMap((s) => s.texts).join('');
      const piece = fc.tuple(fc.nat(all.length), fc.nat(30), letters('abcd', 2)).map(([at, n, glue]) => all.slice(at, at + n) + glue);
      return fc.tuple(fc.constant(sources), fc.array(piece, { maxLength: 5 }).map((p) => p.join('')), fc.integer({ min: 1, max: 12 }));
    });
    fc.assert(
      fc.property(stitched, ([sources, text, minChars]) => {
        const index = buildTraceIndex(sources);
        const brute = bruteSpans(sources, text, minChars);
        expect(longestCopiedSpans(index, text, minChars).map(({ start, end, occurrences }) => ({ start, end, occurrences }))).toEqual(brute.spans);
        expect(copiedShare(index, text, minChars)).toBeCloseTo(brute.share, 12);
      }),
      { numRuns: 300 },
    );
  });

  it('never joins two texts, and reports the earliest place (hand-worked)', () => {
    const index = buildTraceIndex([
      { name: 'a', texts: ['xx the cat sat', 'on the mat'] },
      { name: 'b', texts: ['the cat sat on the mat'] },
    ]);
    // "sat on the mat" occurs only in b: a's texts end at "sat" and start at "on".
    const spans = longestCopiedSpans(index, 'the cat sat on the mat!', 5);
    expect(spans).toEqual([{ start: 0, end: 22, text: 'the cat sat on the mat', occurrences: 1, source: 'b', document: 0, offset: 0 }]);
    const [cat] = longestCopiedSpans(index, 'a cat sat', 5);
    expect(cat).toMatchObject({ text: ' cat sat', occurrences: 2, source: 'a', document: 0, offset: 6 });
    expect(copiedShare(index, 'xx the dog', 3)).toBeCloseTo(7 / 10, 12); // "xx the " is copied, "dog" is not
    expect(copiedShare(index, '', 20)).toBe(0);
    expect(longestCopiedSpans(index, 'é the cat', 3).map((s) => s.text)).toEqual([' the cat']); // a character never seen ends a match
    expect(() => longestCopiedSpans(index, 'x', 0)).toThrow(/minChars/);
  });
});

describe('the bundled corpora', () => {
  // How long the index takes to build is the bench's to measure; here, that it finds what it must.
  it('index the tales and the SFT answers, and find a passage of the tales at its offset', () => {
    const tales = readFileSync(join(ROOT, 'corpora', 'tales', 'train.txt'), 'utf8');
    const answers = sftAnswers(parseSftJsonl(readFileSync(join(ROOT, 'corpora', 'chat', 'sft_train.jsonl'), 'utf8')).examples);
    const index = buildTraceIndex([{ name: 'tales/train.txt', texts: [tales] }, { name: 'sft answers', texts: answers }]);

    const passage = tales.slice(123_456, 123_456 + 200);
    const query = `«${passage}»`; // guillemets: not in the tales, so the span is exactly the passage
    const spans = longestCopiedSpans(index, query, 20);
    expect(spans.map((s) => s.text)).toEqual([passage]);
    expect(spans[0].source).toBe('tales/train.txt');
    expect(tales.slice(spans[0].offset, spans[0].offset + 200)).toBe(passage);
    expect(spans[0].offset).toBe(tales.indexOf(passage));
    expect(copiedShare(index, query, 20)).toBeCloseTo(200 / 202, 12);

    // A long verbatim copy is one span.
    const long = `«${tales.slice(500_000, 504_000)}»`;
    const [copy] = longestCopiedSpans(index, long, 20);
    expect(copy).toMatchObject({ start: 1, end: 4001, source: 'tales/train.txt' });

    const answer = answers.find((a) => a.length > 12 && !tales.includes(a))!;
    const [fromSft] = longestCopiedSpans(index, answer, answer.length);
    expect(fromSft).toMatchObject({ source: 'sft answers', text: answer });
    expect(answers[fromSft.document].slice(fromSft.offset, fromSft.offset + answer.length)).toBe(answer);
    expect(fromSft.occurrences).toBe(answers.reduce((n, a) => n + count(a, answer), 0));
  });
});
