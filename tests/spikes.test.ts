import { describe, expect, it } from 'vitest';
import { Random } from '../src/core/random';
import {
  DEFAULT_SPIKE_CONFIG,
  RunningWindow,
  createSpikeHistory,
  detectSpike,
  observe,
  restoreSpikeHistory,
  serializeSpikeHistory,
  type SpikeHistory,
} from '../src/core/spikes/spikes';

const config = DEFAULT_SPIKE_CONFIG; // window 128, warm-up 64, threshold 6

/**
 * A full window whose loss alternates 2.0, 2.2 (mean 2.1, population std 0.1) and whose gradient
 * norm alternates 0.9, 1.1 (mean 1.0, std 0.1). 128 is even, so each value appears 64 times and
 * a loss of 2.1 + k·0.1 has z = k exactly.
 */
function alternatingHistory(): SpikeHistory {
  const h = createSpikeHistory(config);
  for (let i = 0; i < 128; i++) {
    h.loss.push(i % 2 === 0 ? 2.0 : 2.2);
    h.gradNorm.push(i % 2 === 0 ? 0.9 : 1.1);
  }
  return h;
}

describe('RunningWindow', () => {
  it('wraps around, keeping only the newest values, oldest first', () => {
    const w = new RunningWindow(3);
    [1, 2, 3, 4].forEach((v) => w.push(v));
    expect(w.toArray()).toEqual([2, 3, 4]);
    w.push(5);
    expect(w.toArray()).toEqual([3, 4, 5]);
    expect(w.size).toBe(3);
    // mean of 3,4,5 is 4; population variance (1 + 0 + 1) / 3
    expect(w.mean()).toBe(4);
    expect(w.std()).toBeCloseTo(Math.sqrt(2 / 3), 12);
  });

  it('refuses NaN and Infinity, which would poison the mean', () => {
    const w = new RunningWindow(3);
    expect(() => w.push(NaN)).toThrow();
    expect(() => w.push(Infinity)).toThrow();
    expect(w.size).toBe(0);
  });

  it('survives a round trip through a plain array and keeps wrapping the same way', () => {
    const w = new RunningWindow(3);
    [1, 2, 3, 4, 5].forEach((v) => w.push(v));
    const restored = RunningWindow.fromArray(3, JSON.parse(JSON.stringify(w.toArray())));
    expect(restored.toArray()).toEqual([3, 4, 5]);
    w.push(6);
    restored.push(6);
    expect(restored.toArray()).toEqual([4, 5, 6]);
    expect(restored.toArray()).toEqual(w.toArray());
    // more values than capacity: the newest ones win
    expect(RunningWindow.fromArray(2, [1, 2, 3]).toArray()).toEqual([2, 3]);
  });

  it('round-trips a whole spike history through JSON', () => {
    const h = alternatingHistory();
    h.loss.push(7); // make the ring's write position non-zero
    const saved = JSON.parse(JSON.stringify(serializeSpikeHistory(h)));
    const back = restoreSpikeHistory(saved, config);
    expect(back.loss.toArray()).toEqual(h.loss.toArray());
    expect(back.gradNorm.toArray()).toEqual(h.gradNorm.toArray());
    expect(back.loss.toArray().at(-1)).toBe(7);
  });
});

describe('detectSpike', () => {
  it('stays quiet over a noisy, decreasing loss curve', () => {
    // loss = 1.5 + 2.5·exp(-t/300) + 0.05·N(0,1), grad norm = 0.5 + 1.5·exp(-t/200) + 0.05·N(0,1):
    // the kind of curve a healthy run draws. Falling values give negative z, and 6σ of Gaussian
    // noise does not happen in 2000 draws, so every step must be accepted.
    const rng = new Random(1234);
    const h = createSpikeHistory(config);
    let spikes = 0;
    let maxZ = -Infinity;
    for (let t = 0; t < 2000; t++) {
      const value = {
        loss: 1.5 + 2.5 * Math.exp(-t / 300) + 0.05 * rng.normal(),
        gradNorm: 0.5 + 1.5 * Math.exp(-t / 200) + 0.05 * rng.normal(),
      };
      const r = detectSpike(h, value, config);
      if (r.spike) spikes++;
      maxZ = Math.max(maxZ, r.lossZ, r.gradNormZ);
      observe(h, value, r);
    }
    expect(spikes).toBe(0);
    expect(maxZ).toBeLessThan(config.zThreshold);
    expect(maxZ).toBeGreaterThan(1); // the z-scores were really computed, not left at 0
  });

  it('flags a 10σ loss at exactly that step, and keeps it out of the window', () => {
    const h = createSpikeHistory(config);
    const flagged: number[] = [];
    for (let t = 0; t < 300; t++) {
      const base = { loss: t % 2 === 0 ? 2.0 : 2.2, gradNorm: t % 2 === 0 ? 0.9 : 1.1 };
      // step 250: mean 2.1, std 0.1, so 3.1 is z = (3.1 - 2.1) / 0.1 = 10
      const value = t === 250 ? { loss: 3.1, gradNorm: 1.0 } : base;
      const r = detectSpike(h, value, config);
      if (r.spike) {
        flagged.push(t);
        expect(r.reason).toBe('loss');
        expect(r.lossZ).toBeCloseTo(10, 6);
        expect(r.gradNormZ).toBeCloseTo(0, 6);
      }
      const before = h.loss.size;
      const accepted = observe(h, value, r);
      expect(accepted).toBe(!r.spike);
      if (t >= 128) expect(h.loss.size).toBe(before); // full window stays full either way
    }
    expect(flagged).toEqual([250]);
    expect(h.loss.toArray()).not.toContain(3.1);
  });

  it('flags a 10σ gradient norm with reason grad-norm', () => {
    // grad-norm window: mean 1.0, std 0.1, so 2.0 is z = 10
    const r = detectSpike(alternatingHistory(), { loss: 2.1, gradNorm: 2.0 }, config);
    expect(r).toMatchObject({ spike: true, reason: 'grad-norm' });
    expect(r.gradNormZ).toBeCloseTo(10, 6);
    expect(r.lossZ).toBeCloseTo(0, 6);
  });

  it('names the loss first when both spike', () => {
    const r = detectSpike(alternatingHistory(), { loss: 3.1, gradNorm: 2.0 }, config);
    expect(r.reason).toBe('loss');
  });

  it('uses a strict threshold: z = 5.9 passes, z = 6.1 is a spike', () => {
    const h = alternatingHistory();
    const below = detectSpike(h, { loss: 2.69, gradNorm: 1.0 }, config);
    const above = detectSpike(h, { loss: 2.71, gradNorm: 1.0 }, config);
    expect(below.lossZ).toBeCloseTo(5.9, 6);
    expect(below.spike).toBe(false);
    expect(above.lossZ).toBeCloseTo(6.1, 6);
    expect(above.spike).toBe(true);
  });

  it('ignores downward spikes (OLMo-core only skips upward ones)', () => {
    const r = detectSpike(alternatingHistory(), { loss: 1.1, gradNorm: 0.0 }, config);
    expect(r.lossZ).toBeCloseTo(-10, 6);
    expect(r.gradNormZ).toBeCloseTo(-10, 6);
    expect(r).toMatchObject({ spike: false, reason: null });
  });

  it('floors the std of a flat window at 0.1% of its mean', () => {
    const h = createSpikeHistory(config);
    for (let i = 0; i < 64; i++) {
      h.loss.push(2.0);
      h.gradNorm.push(1.0);
    }
    // std 0, floor 0.001 · 2.0 = 0.002: 2.01 is z = 5, 2.02 is z = 10
    const small = detectSpike(h, { loss: 2.01, gradNorm: 1.0 }, config);
    const big = detectSpike(h, { loss: 2.02, gradNorm: 1.0 }, config);
    expect(small.lossZ).toBeCloseTo(5, 6);
    expect(small.spike).toBe(false);
    expect(big.lossZ).toBeCloseTo(10, 6);
    expect(big.spike).toBe(true);
    // the unchanged value is z = 0, not 0/0
    expect(detectSpike(h, { loss: 2.0, gradNorm: 1.0 }, config).lossZ).toBe(0);
  });

  it('flags nothing but NaN/Infinity while warming up (fewer than 64 values)', () => {
    const h = createSpikeHistory(config);
    for (let i = 0; i < 63; i++) {
      h.loss.push(2.0 + 0.01 * (i % 3));
      h.gradNorm.push(1.0);
    }
    const huge = detectSpike(h, { loss: 1000, gradNorm: 1000 }, config);
    expect(huge).toEqual({ spike: false, reason: null, lossZ: 0, gradNormZ: 0 });
    expect(detectSpike(h, { loss: NaN, gradNorm: 1 }, config).reason).toBe('nan');
    // the 64th accepted value ends the warm-up
    observe(h, { loss: 2.0, gradNorm: 1.0 }, huge);
    expect(detectSpike(h, { loss: 1000, gradNorm: 1.0 }, config).reason).toBe('loss');
  });

  it('flags NaN and Infinity in either value immediately, even with an empty window', () => {
    const empty = createSpikeHistory(config);
    for (const value of [
      { loss: NaN, gradNorm: 1 },
      { loss: Infinity, gradNorm: 1 },
      { loss: 2, gradNorm: NaN },
      { loss: 2, gradNorm: -Infinity },
    ]) {
      expect(detectSpike(empty, value, config)).toMatchObject({ spike: true, reason: 'nan' });
      expect(detectSpike(alternatingHistory(), value, config).reason).toBe('nan');
    }
    // and observe() does not push them (push would throw if it tried)
    const r = detectSpike(empty, { loss: NaN, gradNorm: 1 }, config);
    expect(observe(empty, { loss: NaN, gradNorm: 1 }, r)).toBe(false);
    expect(empty.loss.size).toBe(0);
  });
});
