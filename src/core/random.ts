/**
 * A small seeded random number generator whose whole state is one 32-bit integer.
 *
 * Why not Math.random or a library: a checkpoint must record the exact position of the data
 * sampler so that a resumed run draws the same batches as an uninterrupted one. mulberry32 has a
 * single uint32 of state, which we can store in checkpoint metadata and restore bit for bit, and
 * it gives the same numbers in the browser, the worker and Node.
 */
export class Random {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** The full generator state; `new Random(0).state = saved` resumes the exact sequence. */
  get state(): number {
    return this.s;
  }
  set state(value: number) {
    this.s = value >>> 0;
  }

  /** Uniform float in [0, 1). mulberry32 (Tommy Ettinger, public domain). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal sample (Box-Muller). */
  normal(): number {
    const u = 1 - this.next(); // (0, 1], so log(u) is finite
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** One element of a non-empty array, uniformly. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }
}
