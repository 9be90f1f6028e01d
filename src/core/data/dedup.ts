/**
 * Deduplication of a document collection, exact and near.
 *
 * - Exact: documents whose text hashes alike (and is alike) are copies; the first one stays.
 * - Near: MinHash (Broder 1997, "On the resemblance and containment of documents") estimates the
 *   Jaccard similarity |A ∩ B| / |A ∪ B| of two documents' sets of word n-gram shingles as the share
 *   of k random permutations under which both sets have the same smallest element. Locality-
 *   sensitive hashing by banding (Leskovec, Rajaraman & Ullman, "Mining of Massive Datasets", ch. 3)
 *   splits the k values into b bands of r rows; two documents become a candidate pair when any band
 *   matches whole, which happens with probability 1 − (1 − s^r)^b at similarity s. Candidates whose
 *   estimate reaches the threshold are duplicates. This is the recipe of Lee et al. 2022
 *   ("Deduplicating Training Data Makes Language Models Better") and of the GPT-3 and FineWeb crawls.
 */
import { Random } from '../random.ts';

/** Murmur3's 32-bit finaliser: a bijection on uint32 that mixes every input bit into every output bit. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over the UTF-16 code units, then fmix32: a fast 32-bit string hash. */
export function hash32(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/** A 64-bit hash as 16 hex digits, from two independent 32-bit lanes: the key of exact dedup. */
export function hash64(text: string): string {
  return hash32(text).toString(16).padStart(8, '0') + hash32(text, 0x9747b28c).toString(16).padStart(8, '0');
}

/**
 * Exact duplicates: for each document whose text equals an earlier one's, the index of the first.
 * Texts are grouped by hash and compared in full, so a hash collision never removes a document.
 */
export function exactDuplicates(texts: readonly string[]): Map<number, number> {
  const firstByHash = new Map<string, number[]>();
  const dupOf = new Map<number, number>();
  texts.forEach((text, i) => {
    const key = hash64(text);
    const firsts = firstByHash.get(key);
    const same = firsts?.find((j) => texts[j] === text);
    if (same !== undefined) dupOf.set(i, same);
    else if (firsts) firsts.push(i);
    else firstByHash.set(key, [i]);
  });
  return dupOf;
}

/** Words for shingling: lower case, letters and digits only, so punctuation and case changes don't count. */
export function normalisedWords(text: string): string[] {
  return text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 0);
}

/** The set of hashed word n-grams of a text (the whole text as one shingle when it is shorter). */
export function shingles(text: string, n = 5): Set<number> {
  const ws = normalisedWords(text);
  const out = new Set<number>();
  if (ws.length === 0) return out;
  if (ws.length < n) out.add(hash32(ws.join(' ')));
  for (let i = 0; i + n <= ws.length; i++) out.add(hash32(ws.slice(i, i + n).join(' ')));
  return out;
}

/** Exact Jaccard similarity |A ∩ B| / |A ∪ B|; two empty sets are identical (1). */
export function jaccard<T>(a: ReadonlySet<T>, b: ReadonlySet<T>): number {
  if (a.size === 0 && b.size === 0) return 1;
  let both = 0;
  for (const x of a) if (b.has(x)) both++;
  return both / (a.size + b.size - both);
}

/**
 * MinHash signatures with k seeded hash functions h_i(x) = fmix32(fmix32(x ^ a_i) ^ b_i): each is a
 * permutation of uint32 (a composition of bijections), so min over a set under h_i is a fair draw.
 */
export class MinHash {
  private readonly a: Uint32Array;
  private readonly b: Uint32Array;

  constructor(readonly numPerm = 128, seed = 1) {
    if (!Number.isInteger(numPerm) || numPerm < 1) throw new Error(`minhash: numPerm must be a positive integer, got ${numPerm}`);
    const rng = new Random(seed);
    const draw = () => Math.floor(rng.next() * 2 ** 32) >>> 0;
    this.a = Uint32Array.from({ length: numPerm }, draw);
    this.b = Uint32Array.from({ length: numPerm }, draw);
  }

  /** The k minima; an empty set gets all 0xffffffff, which matches only another empty set. */
  signature(set: ReadonlySet<number>): Uint32Array {
    const sig = new Uint32Array(this.numPerm).fill(0xffffffff);
    for (const x of set) {
      for (let i = 0; i < this.numPerm; i++) {
        const h = fmix32(fmix32(x ^ this.a[i]) ^ this.b[i]);
        if (h < sig[i]) sig[i] = h;
      }
    }
    return sig;
  }
}

/** MinHash's estimate of Jaccard similarity: the share of positions where two signatures agree. */
export function estimateJaccard(a: Uint32Array, b: Uint32Array): number {
  if (a.length !== b.length) throw new Error(`minhash: signatures of different lengths (${a.length}, ${b.length})`);
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

/** Probability that two documents of similarity s share at least one of b bands of r rows. */
export function candidateProbability(s: number, bands: number, rows: number): number {
  return 1 - (1 - s ** rows) ** bands;
}

/**
 * Bands and rows for a threshold: the (b, r) with b·r ≤ k that minimises the area of false
 * positives below the threshold plus false negatives above it (datasketch's choice, equal weights).
 */
export function lshParams(threshold: number, numPerm: number): { bands: number; rows: number } {
  if (!(threshold > 0 && threshold < 1)) throw new Error(`minhash: the Jaccard threshold must be between 0 and 1, got ${threshold}`);
  const integrate = (f: (s: number) => number, lo: number, hi: number) => {
    const steps = 200;
    let sum = 0;
    for (let i = 0; i < steps; i++) sum += f(lo + ((i + 0.5) * (hi - lo)) / steps);
    return (sum * (hi - lo)) / steps;
  };
  let best = { bands: 1, rows: numPerm, error: Infinity };
  for (let bands = 1; bands <= numPerm; bands++) {
    for (let rows = 1; bands * rows <= numPerm; rows++) {
      const fp = integrate((s) => candidateProbability(s, bands, rows), 0, threshold);
      const fn = integrate((s) => 1 - candidateProbability(s, bands, rows), threshold, 1);
      if (fp + fn < best.error) best = { bands, rows, error: fp + fn };
    }
  }
  return { bands: best.bands, rows: best.rows };
}

export interface NearDedupOptions {
  /** Jaccard similarity at which two documents count as near duplicates. */
  threshold: number;
  numPerm: number;
  /** Words per shingle. */
  shingle: number;
  seed: number;
}

// 5-word shingles and 0.8 are the settings of Lee et al. 2022 (who used more permutations).
export const NEAR_DEDUP_DEFAULTS: NearDedupOptions = { threshold: 0.8, numPerm: 128, shingle: 5, seed: 1 };

export interface NearDuplicatePair {
  /** The earlier document, which stays. */
  keep: number;
  drop: number;
  /** MinHash's estimate of their Jaccard similarity. */
  similarity: number;
}

/**
 * Near duplicates by MinHash-LSH: for each document in a group of near duplicates except the first
 * (groups are joined transitively), the pair that linked it, with the earlier document it copies.
 */
export function nearDuplicates(texts: readonly string[], options: Partial<NearDedupOptions> = {}): Map<number, NearDuplicatePair> {
  const o = { ...NEAR_DEDUP_DEFAULTS, ...options };
  const { bands, rows } = lshParams(o.threshold, o.numPerm);
  const minhash = new MinHash(o.numPerm, o.seed);
  const sigs = texts.map((t) => minhash.signature(shingles(t, o.shingle)));
  const parent = texts.map((_, i) => i);
  const root = (i: number): number => (parent[i] === i ? i : (parent[i] = root(parent[i])));
  const links = new Map<number, NearDuplicatePair>();
  for (let band = 0; band < bands; band++) {
    const buckets = new Map<string, number>();
    for (let i = 0; i < texts.length; i++) {
      const key = Array.prototype.join.call(sigs[i].subarray(band * rows, (band + 1) * rows), ',');
      const j = buckets.get(key);
      if (j === undefined) {
        buckets.set(key, i);
        continue;
      }
      if (root(i) === root(j)) continue;
      const similarity = estimateJaccard(sigs[i], sigs[j]);
      if (similarity < o.threshold) continue;
      const [a, b] = [root(i), root(j)].sort((x, y) => x - y);
      parent[b] = a;
      if (!links.has(i)) links.set(i, { keep: j, drop: i, similarity });
    }
  }
  // Report every document that is not the first of its group, whichever band linked it.
  const out = new Map<number, NearDuplicatePair>();
  for (let i = 0; i < texts.length; i++) {
    const r = root(i);
    if (r === i) continue;
    out.set(i, links.get(i) ?? { keep: r, drop: i, similarity: estimateJaccard(sigs[i], sigs[r]) });
  }
  return out;
}
