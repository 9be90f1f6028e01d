import { describe, expect, it } from 'vitest';
import { Random } from '../src/core/random.ts';
import {
  candidateProbability,
  estimateJaccard,
  exactDuplicates,
  fmix32,
  jaccard,
  lshParams,
  MinHash,
  nearDuplicates,
  normalisedWords,
  shingles,
} from '../src/core/data/dedup.ts';

/** Two random sets of integers whose exact Jaccard similarity is spread over (0, 1). */
function randomPair(rng: Random): [Set<number>, Set<number>] {
  const shared = 1 + rng.int(200);
  const onlyA = rng.int(200);
  const onlyB = rng.int(200);
  let next = rng.int(1 << 30);
  const take = (n: number) => Array.from({ length: n }, () => (next = (next + 1 + rng.int(1000)) >>> 0));
  const common = take(shared);
  return [new Set([...common, ...take(onlyA)]), new Set([...common, ...take(onlyB)])];
}

describe('MinHash', () => {
  it("estimates exact Jaccard within MinHash's sampling error on random pairs", () => {
    // The estimate is a mean of k Bernoulli(J) draws: standard error sqrt(J(1 − J)/k) ≤ 0.5/sqrt(k).
    const rng = new Random(7);
    const pairs = Array.from({ length: 300 }, () => randomPair(rng));
    const errors = (k: number) => {
      const mh = new MinHash(k, 3);
      return pairs.map(([a, b]) => estimateJaccard(mh.signature(a), mh.signature(b)) - jaccard(a, b));
    };
    for (const k of [128, 512]) {
      const e = errors(k);
      const bound = 0.5 / Math.sqrt(k);
      const meanAbs = e.reduce((s, x) => s + Math.abs(x), 0) / e.length;
      const bias = e.reduce((s, x) => s + x, 0) / e.length;
      expect(meanAbs, `k=${k}`).toBeLessThan(bound); // E|error| ≈ 0.8 σ ≤ 0.8 · bound
      expect(Math.abs(bias), `k=${k}`).toBeLessThan(bound / 4); // unbiased: 300 pairs average it out
      expect(Math.max(...e.map(Math.abs)), `k=${k}`).toBeLessThan(4 * bound);
    }
    const spread = pairs.map(([a, b]) => jaccard(a, b));
    expect(Math.min(...spread)).toBeLessThan(0.1);
    expect(Math.max(...spread)).toBeGreaterThan(0.7);
  });

  it('gives identical sets identical signatures, and depends on its seed', () => {
    const a = new Set([1, 2, 3, 400, 5000]);
    const mh = new MinHash(64, 1);
    expect(estimateJaccard(mh.signature(a), mh.signature(new Set(a)))).toBe(1);
    expect(new MinHash(64, 2).signature(a)).not.toEqual(mh.signature(a));
    expect(estimateJaccard(mh.signature(new Set()), mh.signature(new Set()))).toBe(1);
    expect(estimateJaccard(mh.signature(new Set()), mh.signature(a))).toBe(0);
  });

  it('uses a bijective mixer, so distinct shingles never collide inside a permutation', () => {
    const seen = new Set<number>();
    for (let x = 0; x < 100_000; x++) seen.add(fmix32(x * 40503));
    expect(seen.size).toBe(100_000);
  });

  it('refuses signatures of different lengths and a bad permutation count', () => {
    expect(() => estimateJaccard(new Uint32Array(3), new Uint32Array(4))).toThrow(/different lengths/);
    expect(() => new MinHash(0)).toThrow(/positive integer/);
  });
});

describe('shingles', () => {
  it('are word 5-grams that ignore case and punctuation', () => {
    expect(normalisedWords('Tom, the RABBIT!  ate 3 carrots.')).toEqual(['tom', 'the', 'rabbit', 'ate', '3', 'carrots']);
    expect(shingles('a b c d e f g').size).toBe(3);
    expect(shingles('A b, c d e f g.')).toEqual(shingles('a b c d e f g'));
    expect(shingles('too short', 5).size).toBe(1);
    expect(shingles('', 5).size).toBe(0);
  });

  it('lose at most n shingles per changed word', () => {
    const ws = Array.from({ length: 100 }, (_, i) => `w${i}`);
    const a = shingles(ws.join(' '), 5);
    ws[50] = 'changed';
    const b = shingles(ws.join(' '), 5);
    // 96 shingles each; 5 contain word 50: J = 91 / (96 + 5).
    expect(jaccard(a, b)).toBeCloseTo(91 / 101, 10);
  });
});

describe('LSH banding', () => {
  it('puts the S-curve near the threshold', () => {
    for (const t of [0.5, 0.7, 0.8]) {
      const { bands, rows } = lshParams(t, 128);
      expect(bands * rows).toBeLessThanOrEqual(128);
      expect(Math.abs((1 / bands) ** (1 / rows) - t), `t=${t}: b=${bands} r=${rows}`).toBeLessThan(0.12);
      expect(candidateProbability(t + 0.15, bands, rows)).toBeGreaterThan(0.9);
      expect(candidateProbability(t - 0.25, bands, rows)).toBeLessThan(0.15);
    }
    expect(() => lshParams(1.2, 128)).toThrow(/between 0 and 1/);
  });
});

const STORY = `Once upon a time there was a little fox called Sam who lived in the meadow. Every morning Sam
walked to the river to see his friend the otter, and they played by the water until lunch. One day the
otter had lost his black boat, so Sam looked under the bushes and behind the old log until he found it in
the tall grass. The otter was so happy that he gave Sam a basket of apples, and they ate them together.`;

describe('deduplication', () => {
  it('finds exact copies and keeps the first', () => {
    const texts = ['a', 'b', 'a', 'c', 'b', 'a'];
    expect([...exactDuplicates(texts)]).toEqual([[2, 0], [4, 1], [5, 0]]);
  });

  it('finds a near copy and leaves a different story alone', () => {
    const near = STORY.replace('little fox', 'small fox').replace('black boat', 'blue boat');
    const other = `Mia the mouse lived in the village and made scarves for everyone. One cold winter day the wind
blew so hard that the hen had no scarf to wear, so Mia cut some pink wool and sewed all afternoon. In the
evening she walked to the farm and gave the hen a warm pink scarf, and the hen thanked her with some corn.`;
    expect(jaccard(shingles(STORY), shingles(near))).toBeGreaterThan(0.7);
    const found = nearDuplicates([STORY, other, near], { threshold: 0.5 });
    expect([...found.keys()]).toEqual([2]);
    expect(found.get(2)).toMatchObject({ keep: 0, drop: 2 });
    expect(found.get(2)!.similarity).toBeGreaterThan(0.5);
    // A stricter threshold than the pair's similarity lets it through.
    expect(nearDuplicates([STORY, other, near], { threshold: 0.95 }).size).toBe(0);
  });
});
