import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { filterRepetitiveDocuments, longestRepeatRun } from '../src/core/spikes/repetition';

const codes = (s: string) => Array.from(s, (c) => c.codePointAt(0)!);

const story =
  'Once upon a time, a little fox lived at the edge of a quiet wood. Every morning she ran ' +
  'down to the river to drink, and every evening she came home to sleep.';

/** The naive definition: for every period n and start s, count consecutive copies directly. */
function naiveLongestRepeat(tokens: number[], maxN: number): { n: number; repeats: number } {
  const len = tokens.length;
  let best = { n: len > 0 ? 1 : 0, repeats: len > 0 ? 1 : 0 };
  for (let n = 1; n <= maxN; n++) {
    for (let s = 0; s + n <= len; s++) {
      let k = 1;
      const copyMatches = (k: number) => {
        for (let j = 0; j < n; j++) if (tokens[s + k * n + j] !== tokens[s + j]) return false;
        return true;
      };
      while (s + (k + 1) * n <= len && copyMatches(k)) k++;
      if (k > best.repeats) best = { n, repeats: k };
    }
  }
  return best;
}

describe('longestRepeatRun', () => {
  it('finds 100 copies of "M" as a 1-gram', () => {
    // n = 1 has a stretch of 99 equal neighbours: floor(99 / 1) + 1 = 100 copies
    expect(longestRepeatRun(codes('M'.repeat(100)))).toEqual({ n: 1, repeats: 100, start: 0 });
  });

  it('finds 40 copies of "abc" as a 3-gram, not as a 6-gram', () => {
    // n = 3: stretch of 117, floor(117 / 3) + 1 = 40; n = 6: floor(114 / 6) + 1 = 20
    expect(longestRepeatRun(codes('abc'.repeat(40)))).toEqual({ n: 3, repeats: 40, start: 0 });
  });

  it('reports where the run starts and counts only complete copies', () => {
    // "xy" then "ab" × 5 then "a": the trailing "a" is not a complete copy
    expect(longestRepeatRun(codes('xy' + 'ab'.repeat(5) + 'a'))).toEqual({ n: 2, repeats: 5, start: 2 });
  });

  it('ignores periods longer than maxN', () => {
    const fourteen = 'abcdefghijklmn'; // a 14-gram
    expect(longestRepeatRun(codes(fourteen.repeat(3)), 13).repeats).toBe(1);
    expect(longestRepeatRun(codes(fourteen.repeat(3)), 14)).toEqual({ n: 14, repeats: 3, start: 0 });
  });

  it('handles empty and one-token sequences', () => {
    expect(longestRepeatRun([])).toEqual({ n: 0, repeats: 0, start: 0 });
    expect(longestRepeatRun([7])).toEqual({ n: 1, repeats: 1, start: 0 });
  });

  it('agrees with the naive definition on random sequences', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 60 }),
        fc.integer({ min: 1, max: 6 }),
        (tokens, maxN) => {
          const fast = longestRepeatRun(tokens, maxN);
          expect({ n: fast.n, repeats: fast.repeats }).toEqual(naiveLongestRepeat(tokens, maxN));
          // and the reported start really holds that many copies
          for (let k = 1; k < fast.repeats; k++) {
            for (let j = 0; j < fast.n; j++) {
              expect(tokens[fast.start + k * fast.n + j]).toBe(tokens[fast.start + j]);
            }
          }
        },
      ),
      { seed: 42, numRuns: 500 },
    );
  });

  // A quadratic scan would make this run for minutes: the test's timeout guards it, not a clock.
  it('finds the run in a million "M"s', () => {
    const run = longestRepeatRun(new Uint8Array(1_000_000).fill(77));
    expect(run).toEqual({ n: 1, repeats: 1_000_000, start: 0 });
  });
});

describe('filterRepetitiveDocuments', () => {
  it('removes microwavegang and "abcabc…" documents and keeps a normal story', () => {
    const docs = [story, 'M'.repeat(100), 'abc'.repeat(40), 'The end.'];
    const { kept, removed } = filterRepetitiveDocuments(docs);
    expect(kept).toEqual([story, 'The end.']);
    expect(removed.map(({ index, n, repeats }) => ({ index, n, repeats }))).toEqual([
      { index: 1, n: 1, repeats: 100 },
      { index: 2, n: 3, repeats: 40 },
    ]);
  });

  it('keeps 31 repeats and removes 32 (the OLMo 2 boundary)', () => {
    // "The cat sat. " is 13 characters, so the run starts at 13; neither neighbour of the run
    // continues the "ab" pattern, so the counts are exact
    const doc = (k: number) => 'The cat sat. ' + 'ab'.repeat(k) + ' The end.';
    expect(filterRepetitiveDocuments([doc(31)])).toEqual({ kept: [doc(31)], removed: [] });
    const { kept, removed } = filterRepetitiveDocuments([doc(32)]);
    expect(kept).toEqual([]);
    expect(removed).toEqual([{ index: 0, n: 2, repeats: 32, start: 13, excerpt: 'ab'.repeat(20) + '…' }]);
  });

  it('shows whole copies of the repeated n-gram in the excerpt, at most 40 characters', () => {
    const { removed } = filterRepetitiveDocuments(['Hi ' + 'M'.repeat(100), 'abc'.repeat(40)]);
    expect(removed[0].excerpt).toBe('M'.repeat(40) + '…');
    expect(removed[0].start).toBe(3);
    // 40 / 3 → 13 whole copies (39 characters)
    expect(removed[1].excerpt).toBe('abc'.repeat(13) + '…');
    // a run shorter than 40 characters is shown whole, with no ellipsis
    const short = filterRepetitiveDocuments(['xyz' + 'M'.repeat(5)], { minRepeats: 5 });
    expect(short.removed[0].excerpt).toBe('MMMMM');
  });

  it('counts characters, not UTF-16 units: 32 emoji are a 1-gram repeated 32 times', () => {
    const { removed } = filterRepetitiveDocuments(['🙂'.repeat(32)]);
    expect(removed).toEqual([{ index: 0, n: 1, repeats: 32, start: 0, excerpt: '🙂'.repeat(32) }]);
  });

  it('takes partial options', () => {
    expect(filterRepetitiveDocuments(['aaab'], { minRepeats: 3 }).removed).toHaveLength(1);
    expect(filterRepetitiveDocuments(['aaab'], { minRepeats: 4 }).removed).toHaveLength(0);
    expect(filterRepetitiveDocuments(['abab'.repeat(10)], { maxN: 1 }).kept).toHaveLength(1);
  });
});
