/**
 * Document filters named after the ones labs use to clean a web crawl. Each is a pure function of
 * one document's text that says whether to keep it and, when not, why: a list of the rules it broke
 * with the measured value next to the threshold, so the Data view can show a student the reason.
 *
 * - Gopher's quality rules and repetition rules: Rae et al. 2021, "Scaling Language Models:
 *   Methods, Analysis & Insights from Training Gopher", Appendix A.1.1 (MassiveWeb quality
 *   filtering) and Table A1 (repetition thresholds). The thresholds below are the published ones.
 * - C4's line rules: Raffel et al. 2020, "Exploring the Limits of Transfer Learning with a Unified
 *   Text-to-Text Transformer", Section 2.2, with the details of the released implementation
 *   (tensorflow_datasets `c4_utils.py`: at least 5 words a line, at least 3 sentences a page, the
 *   policy phrases). They clean a page line by line and drop it only when too little is left.
 *   C4's list of bad words is not bundled: nothing the lab generates needs it.
 * - The share of lines ending in punctuation: FineWeb (Penedo et al. 2024, "The FineWeb Datasets"),
 *   a rule that complements Gopher's on pages made of menus and lists.
 */

/** What a filter says about one document. */
export interface Verdict {
  keep: boolean;
  /** The text to pass on: the input, or the cleaned page when a filter rewrites lines (C4). */
  text: string;
  /** One line per broken rule, e.g. "mean word length 11.2 > 10". Empty when kept. */
  reasons: string[];
}

export interface DocumentFilter {
  /** Short id, also the key of a curation report. */
  name: string;
  /** Where the rule comes from, for the view's table. */
  source: string;
  apply(text: string): Verdict;
}

/** Gopher's words: whitespace-separated tokens (the paper splits on whitespace too). */
export function words(text: string): string[] {
  return text.split(/\s+/).filter((w) => w.length > 0);
}

const fmt = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(3));

// ─── Gopher quality rules ──────────────────────────────────────────────────────────────────────

export const GOPHER_QUALITY = {
  minWords: 50,
  maxWords: 100_000,
  minMeanWordLength: 3,
  maxMeanWordLength: 10,
  /** Per word, counting "#" and "..." / "…" each. */
  maxSymbolToWord: 0.1,
  maxBulletLineShare: 0.9,
  maxEllipsisLineShare: 0.3,
  minAlphabeticWordShare: 0.8,
  /** A page must use at least this many of the stop words below. */
  minStopWords: 2,
  stopWords: ['the', 'be', 'to', 'of', 'and', 'that', 'have', 'with'] as readonly string[],
} as const;

const BULLET = /^\s*[•●○▪‣⁃◦\-*·]/u;
const ELLIPSIS_END = /(\.\.\.|…)\s*$/u;

/** The quality rules that can be switched off one by one (the others always apply). */
export type GopherQualityRule = 'alphabetic-words' | 'stop-words';

/**
 * Gopher's quality rules (Rae et al. 2021, A.1.1): keep a page with 50 to 100,000 words whose
 * mean word length is 3 to 10 characters, whose "#" and ellipses are under 0.1 per word, under 90%
 * of whose lines start with a bullet and under 30% end in an ellipsis, 80% of whose words contain
 * a letter, and which uses at least two of eight English stop words.
 */
export function gopherQuality(text: string, t = GOPHER_QUALITY, off: ReadonlySet<GopherQualityRule> = new Set()): string[] {
  const reasons: string[] = [];
  const ws = words(text);
  const n = ws.length;
  if (n < t.minWords) reasons.push(`${n} words < ${t.minWords}`);
  if (n > t.maxWords) reasons.push(`${n} words > ${t.maxWords}`);
  if (n === 0) return reasons;
  const meanLength = ws.reduce((s, w) => s + [...w].length, 0) / n;
  if (meanLength < t.minMeanWordLength) reasons.push(`mean word length ${fmt(meanLength)} < ${t.minMeanWordLength}`);
  if (meanLength > t.maxMeanWordLength) reasons.push(`mean word length ${fmt(meanLength)} > ${t.maxMeanWordLength}`);
  const symbols = (text.match(/#/g)?.length ?? 0) + (text.match(/\.\.\.|…/g)?.length ?? 0);
  if (symbols / n > t.maxSymbolToWord) reasons.push(`symbol-to-word ratio ${fmt(symbols / n)} > ${t.maxSymbolToWord}`);
  const lines = text.split('\n').filter((l) => l.trim().length > 0);
  if (lines.length > 0) {
    const bullets = lines.filter((l) => BULLET.test(l)).length / lines.length;
    if (bullets > t.maxBulletLineShare) reasons.push(`lines starting with a bullet ${fmt(bullets)} > ${t.maxBulletLineShare}`);
    const ellipses = lines.filter((l) => ELLIPSIS_END.test(l)).length / lines.length;
    if (ellipses > t.maxEllipsisLineShare) reasons.push(`lines ending in an ellipsis ${fmt(ellipses)} > ${t.maxEllipsisLineShare}`);
  }
  const alphabetic = ws.filter((w) => /\p{L}/u.test(w)).length / n;
  if (!off.has('alphabetic-words') && alphabetic < t.minAlphabeticWordShare) reasons.push(`words with a letter ${fmt(alphabetic)} < ${t.minAlphabeticWordShare}`);
  const stop = new Set(t.stopWords);
  const used = new Set(ws.map((w) => w.toLowerCase().replace(/^\W+|\W+$/gu, '')).filter((w) => stop.has(w)));
  if (!off.has('stop-words') && used.size < t.minStopWords) reasons.push(`${used.size} of the stop words (${t.stopWords.join(', ')}) < ${t.minStopWords}`);
  return reasons;
}

// ─── Gopher repetition rules ───────────────────────────────────────────────────────────────────

export const GOPHER_REPETITION = {
  duplicateLineShare: 0.3,
  duplicateParagraphShare: 0.3,
  duplicateLineCharShare: 0.2,
  duplicateParagraphCharShare: 0.2,
  /** n → the most a single n-gram's occurrences may cover, as a share of the characters of all words. */
  topNgramCharShare: { 2: 0.2, 3: 0.18, 4: 0.16 } as Record<number, number>,
  /** n → the most that all n-grams occurring more than once may cover. */
  duplicateNgramCharShare: { 5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.1 } as Record<number, number>,
} as const;

/** Shares of the items (lines or paragraphs), and of their characters, that repeat an earlier item. */
export function duplicateShares(items: readonly string[]): { items: number; chars: number } {
  const seen = new Set<string>();
  let dupItems = 0;
  let dupChars = 0;
  let chars = 0;
  for (const item of items) {
    chars += item.length;
    if (seen.has(item)) {
      dupItems++;
      dupChars += item.length;
    } else seen.add(item);
  }
  return { items: items.length ? dupItems / items.length : 0, chars: chars ? dupChars / chars : 0 };
}

/**
 * The characters covered by the most frequent n-gram (all its occurrences), over the characters
 * of all words: Gopher's "top n-gram character fraction".
 */
export function topNgramCharShare(ws: readonly string[], n: number): number {
  const total = ws.reduce((s, w) => s + w.length, 0);
  if (ws.length < n || total === 0) return 0;
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= ws.length; i++) {
    const g = ws.slice(i, i + n).join(' ');
    counts.set(g, (counts.get(g) ?? 0) + 1);
  }
  let best = 0;
  for (const [g, c] of counts) if (c > 1) best = Math.max(best, c * (g.length - (n - 1)));
  return best / total;
}

/**
 * The characters of n-grams that repeat an earlier n-gram, over the characters of all words:
 * Gopher's "duplicate n-gram character fraction". A repeat is counted once and skipped over, so
 * overlapping repeats do not count a word twice (as datatrove's reimplementation of the rule does).
 */
export function duplicateNgramCharShare(ws: readonly string[], n: number): number {
  const total = ws.reduce((s, w) => s + w.length, 0);
  if (ws.length < n || total === 0) return 0;
  const seen = new Set<string>();
  let dup = 0;
  for (let i = 0; i + n <= ws.length; ) {
    const g = ws.slice(i, i + n).join(' ');
    if (seen.has(g)) {
      dup += g.length - (n - 1);
      i += n;
    } else {
      seen.add(g);
      i++;
    }
  }
  return dup / total;
}

/** The repetition rules that can be switched off (the others always apply). */
export type GopherRepetitionRule = 'duplicate-ngrams';

/**
 * Gopher's repetition rules (Rae et al. 2021, A.1.1 and Table A1): drop a page whose repeated lines
 * or paragraphs pass 30% of them or 20% of their characters, whose most frequent 2-, 3- or 4-gram
 * covers more than 20%, 18% or 16% of the characters, or whose repeated 5- to 10-grams cover more
 * than 15% down to 10%.
 */
export function gopherRepetition(text: string, t = GOPHER_REPETITION, off: ReadonlySet<GopherRepetitionRule> = new Set()): string[] {
  const reasons: string[] = [];
  const lines = duplicateShares(text.split('\n').filter((l) => l.trim().length > 0));
  const paragraphs = duplicateShares(text.split(/\n{2,}/).filter((p) => p.trim().length > 0));
  if (lines.items > t.duplicateLineShare) reasons.push(`duplicate lines ${fmt(lines.items)} > ${t.duplicateLineShare}`);
  if (paragraphs.items > t.duplicateParagraphShare) reasons.push(`duplicate paragraphs ${fmt(paragraphs.items)} > ${t.duplicateParagraphShare}`);
  if (lines.chars > t.duplicateLineCharShare) reasons.push(`characters in duplicate lines ${fmt(lines.chars)} > ${t.duplicateLineCharShare}`);
  if (paragraphs.chars > t.duplicateParagraphCharShare) reasons.push(`characters in duplicate paragraphs ${fmt(paragraphs.chars)} > ${t.duplicateParagraphCharShare}`);
  const ws = words(text);
  for (const [n, max] of Object.entries(t.topNgramCharShare)) {
    const share = topNgramCharShare(ws, Number(n));
    if (share > max) reasons.push(`top ${n}-gram covers ${fmt(share)} > ${max}`);
  }
  if (!off.has('duplicate-ngrams')) for (const [n, max] of Object.entries(t.duplicateNgramCharShare)) {
    const share = duplicateNgramCharShare(ws, Number(n));
    if (share > max) {
      reasons.push(`duplicate ${n}-grams cover ${fmt(share)} > ${max}`);
      break; // the longer n-grams only say the same again
    }
  }
  return reasons;
}

// ─── Line punctuation (FineWeb) ────────────────────────────────────────────────────────────────

export const LINE_PUNCTUATION = { minShare: 0.12, ends: ['.', '!', '?', '"', "'", '…', ':', ';'] as readonly string[] };

/** FineWeb's rule: keep a page when at least 12% of its lines end in punctuation. */
export function linePunctuation(text: string, t = LINE_PUNCTUATION): string[] {
  const lines = text.split('\n').map((l) => l.trimEnd()).filter((l) => l.length > 0);
  if (lines.length === 0) return ['no lines'];
  const share = lines.filter((l) => t.ends.some((e) => l.endsWith(e))).length / lines.length;
  return share < t.minShare ? [`lines ending in punctuation ${fmt(share)} < ${t.minShare}`] : [];
}

// ─── C4 line rules ─────────────────────────────────────────────────────────────────────────────

export const C4 = {
  minWordsPerLine: 5,
  minSentences: 3,
  maxWordLength: 1000,
  terminalPunctuation: ['.', '!', '?', '"'] as readonly string[],
  policy: ['terms of use', 'privacy policy', 'cookie policy', 'uses cookies', 'use of cookies', 'use cookies'] as readonly string[],
} as const;

/** What C4's rules make of a page: the lines kept, each dropped line with its reason, the verdict. */
export interface C4Result extends Verdict {
  dropped: { line: string; reason: string }[];
}

/**
 * C4's cleaning (Raffel et al. 2020, §2.2): drop a page that contains "lorem ipsum" or a curly
 * bracket (code); drop each line that does not end in terminal punctuation, has fewer than 5 words,
 * mentions JavaScript or a cookie/privacy policy, or ends in an ellipsis; remove citation markers
 * like "[1]"; then drop the page if fewer than 3 sentences are left.
 */
export function c4Clean(text: string, t = C4): C4Result {
  const lower = text.toLowerCase();
  if (lower.includes('lorem ipsum')) return { keep: false, text: '', reasons: ['contains "lorem ipsum"'], dropped: [] };
  if (text.includes('{')) return { keep: false, text: '', reasons: ['contains a curly bracket (code)'], dropped: [] };
  const kept: string[] = [];
  const dropped: { line: string; reason: string }[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\[\d+\]|\[citation needed\]/gi, '').trim();
    if (line.length === 0) {
      if (raw.length === 0 && kept.length > 0 && kept[kept.length - 1] !== '') kept.push(''); // keeps paragraphs apart
      continue;
    }
    const l = line.toLowerCase();
    const n = words(line).length;
    let reason = '';
    if (line.endsWith('...') || line.endsWith('…')) reason = 'ends in an ellipsis';
    else if (!t.terminalPunctuation.some((p) => line.endsWith(p))) reason = 'no terminal punctuation';
    else if (n < t.minWordsPerLine) reason = `${n} words < ${t.minWordsPerLine}`;
    else if (words(line).some((w) => w.length > t.maxWordLength)) reason = `a word longer than ${t.maxWordLength}`;
    else if (l.includes('javascript')) reason = 'mentions javascript';
    else if (t.policy.some((p) => l.includes(p))) reason = 'a policy notice';
    if (reason) dropped.push({ line, reason });
    else kept.push(line);
  }
  while (kept.length > 0 && kept[kept.length - 1] === '') kept.pop();
  const cleaned = kept.join('\n');
  const sentences = countSentences(cleaned);
  if (sentences < t.minSentences) {
    return { keep: false, text: cleaned, reasons: [`${sentences} sentences left after line cleaning < ${t.minSentences}`], dropped };
  }
  return { keep: true, text: cleaned, reasons: [], dropped };
}

/** Sentences as runs of text ending in ".", "!" or "?" (optionally inside a closing quote). */
export function countSentences(text: string): number {
  return text.match(/[^.!?]*\p{L}[^.!?]*[.!?]+["']?/gu)?.length ?? 0;
}

// ─── The filters as a list ─────────────────────────────────────────────────────────────────────

const rule = (name: string, source: string, check: (text: string) => string[]): DocumentFilter => ({
  name,
  source,
  apply(text) {
    const reasons = check(text);
    return { keep: reasons.length === 0, text, reasons };
  },
});

export const c4Filter: DocumentFilter = { name: 'c4-lines', source: 'C4 (Raffel et al. 2020)', apply: (text) => c4Clean(text) };
/** Gopher's quality rules as a filter, with the named rules switched off. */
export function gopherQualityFilter(off: readonly GopherQualityRule[] = []): DocumentFilter {
  const name = off.length ? `gopher-quality (without ${off.join(', ')})` : 'gopher-quality';
  return rule(name, 'Gopher (Rae et al. 2021)', (t) => gopherQuality(t, GOPHER_QUALITY, new Set(off)));
}

/** Gopher's repetition rules as a filter, with the named rules switched off. */
export function gopherRepetitionFilter(off: readonly GopherRepetitionRule[] = []): DocumentFilter {
  const name = off.length ? `gopher-repetition (without ${off.join(', ')})` : 'gopher-repetition';
  return rule(name, 'Gopher (Rae et al. 2021)', (t) => gopherRepetition(t, GOPHER_REPETITION, new Set(off)));
}
export const linePunctuationFilter = rule('line-punctuation', 'FineWeb (Penedo et al. 2024)', (t) => linePunctuation(t));
