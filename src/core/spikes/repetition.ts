/**
 * OLMo 2's repeated n-gram filter: drop any pretraining document that contains a run of 32 or
 * more consecutive repeats of some 1- to 13-gram. A microwavegang document ("MMMM…") is the
 * extreme case, a 1-gram repeated thousands of times; "abcabcabc…" is a 3-gram run.
 *
 * The naive formula, for a period n and a start s:
 *
 *     repeats(n, s) = the largest k with tokens[s + j·n .. s + (j+1)·n) == tokens[s .. s+n) for all j < k
 *
 * and a document is removed when max over n ≤ maxN and s of repeats(n, s) ≥ minRepeats. Checked
 * directly that is O(len² · maxN). Instead, for each period n we scan once for the longest stretch
 * where tokens[i] == tokens[i + n]: a stretch of length L is a segment of length L + n with period
 * n, which holds floor((L + n) / n) = floor(L / n) + 1 complete copies. That is O(len · maxN).
 *
 * Our tokenizer works on characters, so documents are compared character by character (Unicode
 * code points, so an emoji counts as one token, as it does in the tokenizer).
 */

export interface RepeatRun {
  /** Period of the repeated n-gram (0 for an empty sequence). */
  n: number;
  /** Complete consecutive copies of the n-gram. */
  repeats: number;
  /** Index of the first token of the run. */
  start: number;
}

/**
 * The longest run of a repeated n-gram, n = 1..maxN. Ties go to the smaller n, then to the
 * earlier run. Any non-empty sequence is at least one copy of its first token: {n: 1, repeats: 1}.
 */
export function longestRepeatRun(tokens: ArrayLike<number>, maxN = 13): RepeatRun {
  const len = tokens.length;
  const best: RepeatRun = { n: len > 0 ? 1 : 0, repeats: len > 0 ? 1 : 0, start: 0 };
  for (let n = 1; n <= maxN && n < len; n++) {
    let run = 0; // length of the current stretch of i with tokens[i] == tokens[i + n]
    for (let i = 0; i + n < len; i++) {
      run = tokens[i] === tokens[i + n] ? run + 1 : 0;
      const repeats = Math.floor(run / n) + 1;
      if (repeats > best.repeats) {
        best.n = n;
        best.repeats = repeats;
        best.start = i - run + 1;
      }
    }
  }
  return best;
}

export interface RepetitionFilterOptions {
  /** Remove a document with this many consecutive copies or more (OLMo 2: 32). */
  minRepeats: number;
  /** Longest n-gram to look for (OLMo 2: 13). */
  maxN: number;
}

export const DEFAULT_REPETITION_FILTER: RepetitionFilterOptions = { minRepeats: 32, maxN: 13 };

export interface RemovedDocument {
  /** Position of the document in the input array. */
  index: number;
  n: number;
  repeats: number;
  /** Code-point index where the run starts. */
  start: number;
  /** A few copies of the repeated n-gram, for the UI to show what was removed. */
  excerpt: string;
}

// Enough characters to recognise the pattern at a glance without flooding a table cell.
const EXCERPT_CHARS = 40;

/** Split documents into those kept and those with a run of at least `minRepeats` copies. */
export function filterRepetitiveDocuments(
  docs: readonly string[],
  opts: Partial<RepetitionFilterOptions> = {},
): { kept: string[]; removed: RemovedDocument[] } {
  const { minRepeats, maxN } = { ...DEFAULT_REPETITION_FILTER, ...opts };
  const kept: string[] = [];
  const removed: RemovedDocument[] = [];
  docs.forEach((doc, index) => {
    const chars = Array.from(doc); // code points
    const codes = chars.map((c) => c.codePointAt(0)!);
    const run = longestRepeatRun(codes, maxN);
    if (run.repeats < minRepeats) {
      kept.push(doc);
      return;
    }
    const unit = chars.slice(run.start, run.start + run.n).join('');
    const shown = Math.max(1, Math.min(run.repeats, Math.floor(EXCERPT_CHARS / run.n)));
    const excerpt = unit.repeat(shown) + (shown < run.repeats ? '…' : '');
    removed.push({ index, n: run.n, repeats: run.repeats, start: run.start, excerpt });
  });
  return { kept, removed };
}
