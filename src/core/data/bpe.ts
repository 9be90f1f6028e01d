/**
 * Byte-level byte-pair encoding, trained in the tab: GPT-2's tokenizer (Radford et al. 2019,
 * "Language Models are Unsupervised Multitask Learners", §2.2), as nanochat and minbpe build it.
 *
 * BPE (Sennrich et al. 2016, "Neural Machine Translation of Rare Words with Subword Units") starts
 * from single symbols and repeatedly adds the most frequent adjacent pair as a new token. Byte-level
 * BPE starts from the 256 bytes of UTF-8, so every text can be encoded and nothing is unknown.
 * Text is first split by GPT-2's regex into words, numbers, punctuation and spaces (a space stays
 * in front of the word it precedes), and merges never cross those pieces: "dog." and "dog!" share
 * the token " dog".
 *
 * Layout of the ids, like CharTokenizer's: the specials first (so code that renders chats with
 * `specialId` works unchanged), then the 256 bytes, then one id per merge in the order learnt.
 * Specials are never produced by encoding plain text: "<|end|>" in a story is just bytes.
 *
 * Encoding applies the merges by rank, the lowest-ranked adjacent pair first and the leftmost of
 * equal pairs first, which is what Hugging Face's BPE model does, so the files of hf-tokenizer.ts
 * give the same ids.
 */
import { type BpeJSON, SPECIAL_TOKENS, type SpecialToken, type TextTokenizer } from '../model/tokenizer.ts';

export type { BpeJSON, TextTokenizer };

/** GPT-2's pre-split pattern (also Hugging Face's ByteLevel pre-tokenizer with use_regex). */
export const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * GPT-2's byte-to-unicode table: each byte as a printable character (printable Latin-1 bytes as
 * themselves, the rest shifted to U+0100 and up), so token strings in tokenizer.json are readable
 * ("Ġthe" for " the") and never contain a space or a control character.
 */
export const BYTE_TO_UNICODE: readonly string[] = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = [];
  let shifted = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCharCode(printable(b) ? b : 256 + shifted++);
  return table;
})();

/** Ids must fit in 16 bits: training keys a pair (a, b) as a·2^16 + b. */
export const MAX_BPE_VOCAB = 65_536;

const encoder = new TextEncoder();
// ignoreBOM: a text that starts with U+FEFF must come back with it.
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

const pairKey = (a: number, b: number) => a * 65_536 + b;

/** Checks a requested vocabulary size; the message names the bounds. */
export function checkBpeVocabSize(vocabSize: number, specials: number = SPECIAL_TOKENS.length): void {
  const least = 256 + specials;
  if (!Number.isInteger(vocabSize)) throw new Error(`bpe: the vocabulary size must be a whole number, got ${vocabSize}`);
  if (vocabSize < least) {
    throw new Error(`bpe: a vocabulary of ${vocabSize} tokens is too small: the 256 bytes and ${specials} special tokens already take ${least}`);
  }
  if (vocabSize > MAX_BPE_VOCAB) throw new Error(`bpe: a vocabulary of ${vocabSize} tokens is more than the ${MAX_BPE_VOCAB} that token ids can hold`);
}

/** A max-heap of (count, key) with stale entries skipped on pop; ties go to the smaller key. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];

  private above(i: number, j: number): boolean {
    return this.counts[i] > this.counts[j] || (this.counts[i] === this.counts[j] && this.keys[i] < this.keys[j]);
  }

  private swap(i: number, j: number): void {
    [this.counts[i], this.counts[j]] = [this.counts[j], this.counts[i]];
    [this.keys[i], this.keys[j]] = [this.keys[j], this.keys[i]];
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    for (let i = this.counts.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!this.above(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** The best pair whose count is still current, or undefined when none is left. */
  popCurrent(current: Map<number, number>): { count: number; key: number } | undefined {
    while (this.counts.length > 0) {
      const top = { count: this.counts[0], key: this.keys[0] };
      const lastCount = this.counts.pop()!;
      const lastKey = this.keys.pop()!;
      if (this.counts.length > 0) {
        this.counts[0] = lastCount;
        this.keys[0] = lastKey;
        for (let i = 0; ; ) {
          const l = 2 * i + 1;
          const r = l + 1;
          let best = i;
          if (l < this.counts.length && this.above(l, best)) best = l;
          if (r < this.counts.length && this.above(r, best)) best = r;
          if (best === i) break;
          this.swap(i, best);
          i = best;
        }
      }
      if (top.count > 0 && current.get(top.key) === top.count) return top;
    }
    return undefined;
  }
}

/** Replaces every non-overlapping occurrence of (a, b), left to right, with t. */
function mergeWord(word: number[], a: number, b: number, t: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < word.length; i++) {
    if (i + 1 < word.length && word[i] === a && word[i + 1] === b) {
      out.push(t);
      i++;
    } else out.push(word[i]);
  }
  return out;
}

export interface BpeTrainOptions {
  specials?: readonly string[];
  /** Called after each merge with how many are done and how many are wanted (for a progress bar). */
  onMerge?: (done: number, wanted: number) => void;
}

export class BpeTokenizer implements TextTokenizer {
  readonly specials: readonly string[];
  /** The merges in the order they were learnt, as pairs of ids. */
  readonly merges: readonly (readonly [number, number])[];
  private readonly bytes: Uint8Array[] = [];
  private readonly ranks = new Map<number, { rank: number; id: number }>();
  private readonly cache = new Map<string, number[]>();

  /** Builds the vocabulary by replaying the merges; a merge whose bytes equal an existing token reuses its id. */
  constructor(merges: readonly (readonly [number, number])[], specials: readonly string[] = SPECIAL_TOKENS) {
    this.specials = specials;
    this.merges = merges;
    const byBytes = new Map<string, number>();
    specials.forEach((s) => this.bytes.push(encoder.encode(s)));
    for (let b = 0; b < 256; b++) {
      byBytes.set(String.fromCharCode(b), this.bytes.length);
      this.bytes.push(Uint8Array.of(b));
    }
    merges.forEach(([a, b], rank) => {
      const base = specials.length;
      if (!(a >= base && a < this.bytes.length && b >= base && b < this.bytes.length)) {
        throw new Error(`bpe: merge ${rank} joins ids ${a} and ${b}, but only ids ${base} to ${this.bytes.length - 1} exist at that point`);
      }
      const joined = new Uint8Array(this.bytes[a].length + this.bytes[b].length);
      joined.set(this.bytes[a]);
      joined.set(this.bytes[b], this.bytes[a].length);
      const key = String.fromCharCode(...joined);
      let id = byBytes.get(key);
      if (id === undefined) {
        id = this.bytes.length;
        byBytes.set(key, id);
        this.bytes.push(joined);
      }
      if (!this.ranks.has(pairKey(a, b))) this.ranks.set(pairKey(a, b), { rank, id });
    });
  }

  /**
   * Learns merges on `text` until the vocabulary holds `vocabSize` tokens (or no pair is left).
   * Counts pairs once, then after each merge updates only the words that contain the merged pair
   * (their old pairs out, their new pairs in) and keeps the counts in a heap: a full recount per
   * merge would redo the whole corpus hundreds of times.
   */
  static train(text: string, vocabSize: number, options: BpeTrainOptions = {}): BpeTokenizer {
    const specials = options.specials ?? SPECIAL_TOKENS;
    checkBpeVocabSize(vocabSize, specials.length);
    const base = specials.length;
    // 1. Unique pieces and how often each occurs.
    const pieceCounts = new Map<string, number>();
    for (const piece of text.match(GPT2_SPLIT) ?? []) pieceCounts.set(piece, (pieceCounts.get(piece) ?? 0) + 1);
    const words: number[][] = [];
    const freq: number[] = [];
    for (const [piece, n] of pieceCounts) {
      words.push(Array.from(encoder.encode(piece), (b) => b + base));
      freq.push(n);
    }
    // 2. Pair counts and, for each pair, the words that may contain it.
    const counts = new Map<number, number>();
    const where = new Map<number, Set<number>>();
    const addPairs = (w: number, sign: number) => {
      const word = words[w];
      for (let i = 0; i + 1 < word.length; i++) {
        const key = pairKey(word[i], word[i + 1]);
        counts.set(key, (counts.get(key) ?? 0) + sign * freq[w]);
        if (sign > 0) {
          let set = where.get(key);
          if (!set) where.set(key, (set = new Set()));
          set.add(w);
        }
      }
    };
    words.forEach((_, w) => addPairs(w, 1));
    const heap = new PairHeap();
    for (const [key, count] of counts) heap.push(count, key);
    // 3. Merge the most frequent pair until the vocabulary is full.
    const merges: [number, number][] = [];
    const bytesOf: string[] = [];
    const idOf = new Map<string, number>();
    for (let b = 0; b < 256; b++) {
      bytesOf[base + b] = String.fromCharCode(b);
      idOf.set(bytesOf[base + b], base + b);
    }
    const wanted = vocabSize - bytesOf.length;
    while (idOf.size + base < vocabSize) {
      const best = heap.popCurrent(counts);
      if (!best) break;
      const a = Math.floor(best.key / 65_536);
      const b = best.key % 65_536;
      const joined = bytesOf[a] + bytesOf[b];
      // The same bytes made another way keep their id, as the HF vocabulary maps strings to ids.
      let t = idOf.get(joined);
      if (t === undefined) {
        t = bytesOf.length;
        bytesOf.push(joined);
        idOf.set(joined, t);
      }
      merges.push([a, b]);
      // Every pair of a touched word, before and after, changed its count: push each with its new
      // count (older heap entries for them become stale and are skipped).
      const changed = new Set<number>();
      const pairsOf = (word: number[]) => {
        for (let i = 0; i + 1 < word.length; i++) changed.add(pairKey(word[i], word[i + 1]));
      };
      for (const w of where.get(best.key) ?? []) {
        const word = words[w];
        let has = false;
        for (let i = 0; i + 1 < word.length && !has; i++) has = word[i] === a && word[i + 1] === b;
        if (!has) continue;
        pairsOf(word);
        addPairs(w, -1);
        words[w] = mergeWord(word, a, b, t);
        addPairs(w, 1);
        pairsOf(words[w]);
      }
      where.delete(best.key);
      for (const key of changed) heap.push(counts.get(key)!, key);
      options.onMerge?.(idOf.size - 256, wanted);
    }
    return new BpeTokenizer(merges, specials);
  }

  static fromJSON(json: BpeJSON): BpeTokenizer {
    if (json?.kind !== 'bpe' || !Array.isArray(json.specials) || !Array.isArray(json.merges)) {
      throw new Error('bpe: expected {"kind":"bpe","specials":[...],"merges":[[a,b],...]}');
    }
    if (json.merges.some((m) => !Array.isArray(m) || m.length !== 2 || !m.every((x) => Number.isInteger(x)))) {
      throw new Error('bpe: every merge must be a pair of integer ids');
    }
    if (!json.specials.every((s) => typeof s === 'string' && s.length > 0)) throw new Error('bpe: every entry of "specials" must be a non-empty string');
    if (new Set(json.specials).size !== json.specials.length) throw new Error('bpe: "specials" has duplicates');
    if (json.specials.length + 256 + json.merges.length > MAX_BPE_VOCAB) throw new Error(`bpe: ${json.merges.length} merges make more than the ${MAX_BPE_VOCAB} tokens that ids can hold`);
    return new BpeTokenizer(json.merges.map(([a, b]) => [a, b] as const), json.specials.map(String));
  }

  toJSON(): BpeJSON {
    return { kind: 'bpe', specials: [...this.specials], merges: this.merges.map(([a, b]) => [a, b]) };
  }

  get vocabSize(): number {
    return this.bytes.length;
  }

  specialId(token: SpecialToken): number {
    const id = this.specials.indexOf(token);
    if (id < 0) throw new Error(`tokenizer: no special token ${token}`);
    return id;
  }

  /**
   * One piece of the pre-split: its bytes, then repeatedly the lowest-ranked adjacent pair merged,
   * the leftmost of equals first. The pairs wait in a heap over a linked list of the symbols, so a
   * long piece (a run of one character, a blob without spaces) costs n log n, not n² of rescans.
   */
  private encodePiece(piece: string): number[] {
    const cached = this.cache.get(piece);
    if (cached) return cached;
    const base = this.specials.length;
    const ids = Array.from(encoder.encode(piece), (b) => b + base);
    const n = ids.length;
    const next = Int32Array.from({ length: n }, (_, i) => (i + 1 < n ? i + 1 : -1));
    const prev = Int32Array.from({ length: n }, (_, i) => i - 1);
    const version = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    // A candidate: rank, left and right positions, and their versions when it was pushed.
    const heap: number[][] = [];
    const less = (x: number[], y: number[]) => x[0] < y[0] || (x[0] === y[0] && x[1] < y[1]);
    const push = (i: number) => {
      const j = next[i];
      if (j < 0) return;
      const m = this.ranks.get(pairKey(ids[i], ids[j]));
      if (!m) return;
      heap.push([m.rank, i, j, version[i], version[j], m.id]);
      for (let k = heap.length - 1; k > 0; ) {
        const parent = (k - 1) >> 1;
        if (!less(heap[k], heap[parent])) break;
        [heap[k], heap[parent]] = [heap[parent], heap[k]];
        k = parent;
      }
    };
    const pop = () => {
      const top = heap[0];
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        for (let k = 0; ; ) {
          const l = 2 * k + 1;
          const r = l + 1;
          let best = k;
          if (l < heap.length && less(heap[l], heap[best])) best = l;
          if (r < heap.length && less(heap[r], heap[best])) best = r;
          if (best === k) break;
          [heap[k], heap[best]] = [heap[best], heap[k]];
          k = best;
        }
      }
      return top;
    };
    for (let i = 0; i + 1 < n; i++) push(i);
    while (heap.length > 0) {
      const [, i, j, vi, vj, id] = pop();
      if (!alive[i] || !alive[j] || next[i] !== j || version[i] !== vi || version[j] !== vj) continue;
      ids[i] = id;
      version[i]++;
      alive[j] = 0;
      next[i] = next[j];
      if (next[j] >= 0) prev[next[j]] = i;
      if (prev[i] >= 0) push(prev[i]);
      push(i);
    }
    const word: number[] = [];
    for (let i = 0; i < n; i++) if (alive[i]) word.push(ids[i]);
    if (piece.length < 256 && this.cache.size < 50_000) this.cache.set(piece, word);
    return word;
  }

  /** Plain text to ids. Lone UTF-16 surrogates become U+FFFD, as in any UTF-8 encoder. */
  encode(text: string): Int32Array {
    const ids: number[] = [];
    for (const piece of text.match(GPT2_SPLIT) ?? []) for (const id of this.encodePiece(piece)) ids.push(id);
    return Int32Array.from(ids);
  }

  /** The bytes that ids stand for; a cut through a character leaves its bytes partial. */
  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    let length = 0;
    for (let i = 0; i < ids.length; i++) length += this.bytes[ids[i]]?.length ?? 0;
    const out = new Uint8Array(length);
    let at = 0;
    for (let i = 0; i < ids.length; i++) {
      const b = this.bytes[ids[i]];
      if (!b) continue;
      out.set(b, at);
      at += b.length;
    }
    return out;
  }

  /** Ids to text; bytes that do not form a character (a cut-off prefix) decode as U+FFFD. */
  decode(ids: ArrayLike<number>): string {
    return decoder.decode(this.decodeBytes(ids));
  }

  /** One token as text: a special's name, or its bytes decoded (partial characters as U+FFFD). */
  tokenText(id: number): string {
    if (id < this.specials.length) return this.specials[id] ?? '';
    return this.bytes[id] ? decoder.decode(this.bytes[id]) : '';
  }

  tokenBytes(id: number): Uint8Array {
    return this.bytes[id] ?? new Uint8Array();
  }

  /** One token as GPT-2 writes it in tokenizer.json: each byte through BYTE_TO_UNICODE ("Ġthe"). */
  tokenSymbol(id: number): string {
    if (id < this.specials.length) return this.specials[id] ?? '';
    return Array.from(this.tokenBytes(id), (b) => BYTE_TO_UNICODE[b]).join('');
  }

  /** Byte-level BPE knows every character; kept so it can stand in for CharTokenizer. */
  unknownChars(_text: string): string[] {
    return [];
  }
}

/** Characters per token of a text: how much a tokenizer compresses it. */
export function charsPerToken(tok: { encode(text: string): ArrayLike<number> }, text: string): number {
  const n = tok.encode(text).length;
  return n === 0 ? 0 : [...text].length / n;
}
