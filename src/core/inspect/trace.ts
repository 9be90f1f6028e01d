/**
 * "Where did it learn that?": the longest spans of a text that occur word for word in the training
 * data, found with a suffix array over every training text at once.
 *
 * The index is the suffix array of the concatenated texts (SA-IS: Nong, Zhang & Chan 2009, "Linear
 * Suffix Array Construction by Almost Pure Induced-Sorting"), O(n) time and a few arrays of n
 * int32s. A query walks it with the matching statistics of the text (Chang & Lawler 1994): for
 * each start i, the longest prefix of text[i…] that occurs somewhere, found by narrowing the range
 * of suffixes that share it one character at a time (two binary searches per character).
 *
 * Texts are read as UTF-16 code units, as JavaScript indexes strings, so offsets are string
 * indices. Each text is followed by a separator that no query can contain, so no span crosses from
 * one text (or one SFT answer) into the next.
 */
import type { SftExample } from '../post/chatdata.ts';

/** A named body of training text: the pretraining corpus (one text), or the SFT answers (one per answer). */
export interface TraceSource {
  name: string;
  texts: readonly string[];
}

export interface TraceIndex {
  readonly sources: readonly { name: string; documents: number }[];
  /** Concatenated texts as symbols: 0 the final sentinel, 1 a separator, 2… the code units (by `symbolOf`). */
  readonly symbols: Int32Array;
  /** Suffix array of `symbols`. */
  readonly sa: Int32Array;
  /** Symbol of each UTF-16 code unit; 0 for one the training texts never contain. */
  readonly symbolOf: Int32Array;
  /** Where each text starts in `symbols`, with its source and its index within that source. */
  readonly starts: Int32Array;
  readonly sourceOf: Int32Array;
  readonly documentOf: Int32Array;
}

/** A span of the queried text that occurs word for word in the training data. */
export interface CopiedSpan {
  /** [start, end) in the queried text. */
  start: number;
  end: number;
  text: string;
  /** How many times it occurs in all the sources together. */
  occurrences: number;
  /** Where it occurs: the earliest of its (first 1024, in suffix order) occurrences. */
  source: string;
  document: number;
  offset: number;
}

const SENTINEL = 0;
const SEPARATOR = 1;

/**
 * Suffix array of s by SA-IS. s must end with a unique 0 (the sentinel) and hold symbols below K.
 * Returns the start of every suffix in lexicographic order (the sentinel's, n − 1, first).
 */
export function suffixArray(s: Int32Array, K: number): Int32Array {
  const n = s.length;
  const sa = new Int32Array(n);
  if (n === 1) return sa;
  // 1. Types: S if the suffix at i is smaller than the one at i + 1, else L; LMS = S after an L.
  const sType = new Uint8Array(n);
  sType[n - 1] = 1;
  for (let i = n - 2; i >= 0; i--) sType[i] = s[i] < s[i + 1] || (s[i] === s[i + 1] && sType[i + 1] === 1) ? 1 : 0;
  const isLms = (i: number) => i > 0 && sType[i] > sType[i - 1];
  const counts = new Int32Array(K);
  for (let i = 0; i < n; i++) counts[s[i]]++;
  const bucket = new Int32Array(K);
  const heads = () => {
    for (let c = 0, sum = 0; c < K; c++) {
      bucket[c] = sum;
      sum += counts[c];
    }
  };
  const tails = () => {
    for (let c = 0, sum = 0; c < K; c++) bucket[c] = sum += counts[c];
  };
  const induce = () => {
    heads(); // L-type suffixes, left to right, each right after the suffix one longer
    for (let i = 0; i < n; i++) {
      const j = sa[i] - 1;
      if (j >= 0 && sType[j] === 0) sa[bucket[s[j]]++] = j;
    }
    tails(); // S-type suffixes, right to left
    for (let i = n - 1; i >= 0; i--) {
      const j = sa[i] - 1;
      if (j >= 0 && sType[j] === 1) sa[--bucket[s[j]]] = j;
    }
  };
  let m = 0;
  for (let i = 1; i < n; i++) if (sType[i] > sType[i - 1]) m++;
  const lms = new Int32Array(m);
  for (let i = 1, k = 0; i < n; i++) if (sType[i] > sType[i - 1]) lms[k++] = i;
  // 2. Sort the LMS substrings: LMS positions at their buckets' ends, then induce.
  sa.fill(-1);
  tails();
  for (let k = 0; k < m; k++) sa[--bucket[s[lms[k]]]] = lms[k];
  induce();
  // 3. Name the LMS substrings in sorted order; equal substrings share a name.
  const names = new Int32Array(n).fill(-1);
  let name = -1;
  let prev = -1;
  for (let r = 0; r < n; r++) {
    const p = sa[r];
    if (!isLms(p)) continue;
    let same = prev >= 0;
    for (let d = 0; same; d++) {
      if (s[p + d] !== s[prev + d] || sType[p + d] !== sType[prev + d]) same = false;
      else if (d > 0 && (isLms(p + d) || isLms(prev + d))) break;
    }
    if (!same) name++;
    names[p] = name;
    prev = p;
  }
  // 4. Order the LMS suffixes: by the names directly when all differ, else recursively.
  const reduced = new Int32Array(m); // ends with the sentinel's name, 0
  for (let k = 0; k < m; k++) reduced[k] = names[lms[k]];
  let order: Int32Array;
  if (name + 1 < m) order = suffixArray(reduced, name + 1);
  else {
    order = new Int32Array(m);
    for (let k = 0; k < m; k++) order[reduced[k]] = k;
  }
  // 5. Induce the whole array from the sorted LMS suffixes, placed at their buckets' ends.
  sa.fill(-1);
  tails();
  for (let r = m - 1; r >= 0; r--) {
    const i = lms[order[r]];
    sa[--bucket[s[i]]] = i;
  }
  induce();
  return sa;
}

/** The assistant turns of SFT conversations: what an SFT model was trained to write. */
export function sftAnswers(examples: readonly SftExample[]): string[] {
  return examples.flatMap((e) => e.messages.filter((m) => m.role === 'assistant').map((m) => m.content));
}

/** Builds the index over every text of every source. */
export function buildTraceIndex(sources: readonly TraceSource[]): TraceIndex {
  const texts = sources.flatMap((src, k) => src.texts.map((text, d) => ({ text, source: k, document: d })));
  const n = texts.reduce((a, t) => a + t.text.length + 1, 0) + 1;
  const symbolOf = new Int32Array(65536);
  for (const { text } of texts) for (let i = 0; i < text.length; i++) symbolOf[text.charCodeAt(i)] = 1;
  let K = 2;
  for (let c = 0; c < 65536; c++) if (symbolOf[c]) symbolOf[c] = K++; // in code-unit order, so the array sorts as the strings do
  const symbols = new Int32Array(n);
  const starts = new Int32Array(texts.length);
  let at = 0;
  texts.forEach(({ text }, k) => {
    starts[k] = at;
    for (let i = 0; i < text.length; i++) symbols[at++] = symbolOf[text.charCodeAt(i)];
    symbols[at++] = SEPARATOR;
  });
  symbols[at] = SENTINEL;
  return {
    sources: sources.map((s) => ({ name: s.name, documents: s.texts.length })),
    symbols,
    sa: suffixArray(symbols, K),
    symbolOf,
    starts,
    sourceOf: Int32Array.from(texts, (t) => t.source),
    documentOf: Int32Array.from(texts, (t) => t.document),
  };
}

/** The suffixes in [lo, hi), which share their first d symbols, whose symbol d is c: [lo′, hi′). */
function narrow(index: TraceIndex, lo: number, hi: number, d: number, c: number): [number, number] {
  const { sa, symbols } = index;
  const at = (r: number) => symbols[sa[r] + d];
  let a = lo;
  let b = hi;
  while (a < b) {
    const mid = (a + b) >>> 1;
    if (at(mid) < c) a = mid + 1;
    else b = mid;
  }
  const first = a;
  b = hi;
  while (a < b) {
    const mid = (a + b) >>> 1;
    if (at(mid) <= c) a = mid + 1;
    else b = mid;
  }
  return [first, a];
}

interface Match {
  length: number;
  /** The suffixes that start with the match: [lo, hi) of the suffix array. */
  lo: number;
  hi: number;
}

/** Extends a match of q[i…] of `from.length` symbols, one symbol at a time, as far as the index allows. */
function extend(index: TraceIndex, q: Int32Array, i: number, from: Match): Match {
  let { length: d, lo, hi } = from;
  while (i + d < q.length && q[i + d] !== SENTINEL) {
    const [a, b] = narrow(index, lo, hi, d, q[i + d]);
    if (a === b) break;
    [lo, hi] = [a, b];
    d++;
  }
  return { length: d, lo, hi };
}

/** The longest prefix of q[i…] found in the index. */
function longestMatch(index: TraceIndex, q: Int32Array, i: number): Match {
  return extend(index, q, i, { length: 0, lo: 0, hi: index.sa.length });
}

/** q[i…end) as a match when it occurs whole in the index, else null. */
function occurrence(index: TraceIndex, q: Int32Array, i: number, end: number): Match | null {
  const m = extend(index, q.subarray(0, end), i, { length: 0, lo: 0, hi: index.sa.length });
  return m.length === end - i ? m : null;
}

/** Where a position of the concatenation lies: its source, text within that source, and offset. */
function locate(index: TraceIndex, position: number): { source: string; document: number; offset: number } {
  let a = 0;
  let b = index.starts.length - 1;
  while (a < b) {
    const mid = (a + b + 1) >>> 1;
    if (index.starts[mid] <= position) a = mid;
    else b = mid - 1;
  }
  return { source: index.sources[index.sourceOf[a]].name, document: index.documentOf[a], offset: position - index.starts[a] };
}

/**
 * Matching statistics of text against the index: ms[i] = the length of the longest prefix of
 * text[i…] that occurs in a training text.
 */
export function matchingStatistics(index: TraceIndex, text: string): Int32Array {
  const q = Int32Array.from({ length: text.length }, (_, i) => index.symbolOf[text.charCodeAt(i)]);
  return Int32Array.from({ length: text.length }, (_, i) => longestMatch(index, q, i).length);
}

/**
 * The spans of text, at least minChars long, that occur word for word in the training data and
 * cannot be extended either way (right-maximal: the longest match from their start; left-maximal:
 * not inside the match from the character before). In order of start; they may overlap.
 *
 * Why not the matching statistic at every start: a verbatim copy of L characters would cost
 * O(L²·log n), since each start re-walks the copy. The end of the match from start j,
 * j + ms[j], never falls as j grows (ms[j+1] ≥ ms[j] − 1), so after a match from i that ends at e,
 * the next maximal span starts at the first j > i whose match covers q[e]; "q[j…e] occurs" holds
 * for every j from that one on, so a binary search over j finds it, in O(L·log L·log n) per span.
 */
export function longestCopiedSpans(index: TraceIndex, text: string, minChars: number): CopiedSpan[] {
  if (!Number.isInteger(minChars) || minChars < 1) throw new Error(`trace: minChars must be a positive integer, got ${minChars}`);
  const q = Int32Array.from({ length: text.length }, (_, i) => index.symbolOf[text.charCodeAt(i)]);
  const spans: CopiedSpan[] = [];
  if (text.length === 0) return spans;
  let i = 0;
  let match = longestMatch(index, q, 0);
  for (;;) {
    const end = i + match.length;
    if (match.length >= minChars) {
      let first = index.sa[match.lo];
      for (let r = match.lo + 1; r < Math.min(match.hi, match.lo + 1024); r++) first = Math.min(first, index.sa[r]);
      spans.push({ start: i, end, text: text.slice(i, end), occurrences: match.hi - match.lo, ...locate(index, first) });
    }
    if (end >= text.length) return spans;
    let [a, b] = [i + 1, end + 1]; // the first j in [a, b) whose match covers q[end]; b = end + 1 if none does
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (occurrence(index, q, mid, end + 1)) b = mid;
      else a = mid + 1;
    }
    i = a;
    match = extend(index, q, i, (i <= end && occurrence(index, q, i, end + 1)) || { length: 0, lo: 0, hi: index.sa.length });
  }
}

/**
 * The share of text's characters that lie inside a copied span of at least minChars characters
 * (20 on the report card): |∪ spans| / |text|, 0 for an empty text.
 */
export function copiedShare(index: TraceIndex, text: string, minChars = 20): number {
  if (text.length === 0) return 0;
  let covered = 0;
  let upTo = 0;
  for (const { start, end } of longestCopiedSpans(index, text, minChars)) {
    covered += Math.max(0, end - Math.max(start, upTo));
    upTo = Math.max(upTo, end);
  }
  return covered / text.length;
}
