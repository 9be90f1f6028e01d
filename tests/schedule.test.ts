import { describe, expect, it } from 'vitest';
import { learningRate, type ScheduleConfig } from '../src/core/train/schedule';

// maxLr 1e-3, minLr 1e-4, warmup 10, total 110: the cosine runs over the 100 steps 10..110
const cosine: ScheduleConfig = { kind: 'cosine', maxLr: 1e-3, minLr: 1e-4, warmupSteps: 10, totalSteps: 110 };

describe('cosine schedule', () => {
  it('warms up linearly: maxLr · (step + 1) / warmupSteps', () => {
    expect(learningRate(0, cosine)).toBeCloseTo(1e-4, 15); // 1e-3 · 1/10
    expect(learningRate(4, cosine)).toBeCloseTo(5e-4, 15); // 1e-3 · 5/10
    expect(learningRate(9, cosine)).toBeCloseTo(1e-3, 15); // last warm-up step reaches maxLr
  });

  it('starts the cosine at maxLr, crosses (max + min) / 2 at its midpoint, ends at minLr', () => {
    expect(learningRate(10, cosine)).toBeCloseTo(1e-3, 15); // ratio 0, coeff 1
    expect(learningRate(60, cosine)).toBeCloseTo(5.5e-4, 15); // ratio ½, coeff ½
    // step 35: ratio ¼, coeff ½(1 + cos(π/4)) = 0.853553…, lr = 1e-4 + 0.853553 · 9e-4
    expect(learningRate(35, cosine)).toBeCloseTo(1e-4 + 0.5 * (1 + Math.SQRT1_2) * 9e-4, 15);
    expect(learningRate(110, cosine)).toBeCloseTo(1e-4, 15); // ratio 1, coeff 0
  });

  it('holds minLr beyond totalSteps', () => {
    expect(learningRate(111, cosine)).toBe(1e-4);
    expect(learningRate(10_000, cosine)).toBe(1e-4);
  });

  it('never rises after the warm-up', () => {
    let prev = Infinity;
    for (let step = 10; step <= 120; step++) {
      const lr = learningRate(step, cosine);
      expect(lr).toBeLessThanOrEqual(prev);
      prev = lr;
    }
  });
});

describe('wsd schedule', () => {
  // 1000 steps, decayFraction 0.2: warm up over 0..99, flat to 799, linear decay over 800..1000
  const wsd: ScheduleConfig = { kind: 'wsd', maxLr: 1e-3, minLr: 1e-5, warmupSteps: 100, totalSteps: 1000 };

  it('warms up, then holds maxLr through the stable phase', () => {
    expect(learningRate(0, wsd)).toBeCloseTo(1e-5, 15); // 1e-3 · 1/100
    expect(learningRate(99, wsd)).toBeCloseTo(1e-3, 15);
    expect(learningRate(100, wsd)).toBe(1e-3);
    expect(learningRate(799, wsd)).toBe(1e-3);
  });

  it('decays linearly to minLr over the final 20% of steps', () => {
    expect(learningRate(800, wsd)).toBeCloseTo(1e-3, 15);
    expect(learningRate(900, wsd)).toBeCloseTo((1e-3 + 1e-5) / 2, 15); // halfway: 5.05e-4
    expect(learningRate(950, wsd)).toBeCloseTo(1e-3 - 0.75 * (1e-3 - 1e-5), 15); // 2.575e-4
    expect(learningRate(1000, wsd)).toBeCloseTo(1e-5, 15);
    expect(learningRate(5000, wsd)).toBe(1e-5);
  });

  it('honours decayFraction', () => {
    const half = { ...wsd, decayFraction: 0.5 }; // decay over 500..1000
    expect(learningRate(499, half)).toBe(1e-3);
    expect(learningRate(750, half)).toBeCloseTo((1e-3 + 1e-5) / 2, 15);
  });
});

describe('final annealing phase', () => {
  it('goes linearly from the schedule value to anneal.lr over the last steps', () => {
    // anneal over 1000..1100 of a 1100-step wsd whose stable phase would still be at maxLr there
    const cfg: ScheduleConfig = {
      kind: 'wsd', maxLr: 1e-3, minLr: 1e-4, warmupSteps: 10, totalSteps: 1100,
      decayFraction: 0, anneal: { steps: 100, lr: 0 },
    };
    expect(learningRate(999, cfg)).toBe(1e-3);
    expect(learningRate(1000, cfg)).toBeCloseTo(1e-3, 15);
    expect(learningRate(1050, cfg)).toBeCloseTo(5e-4, 15);
    expect(learningRate(1100, cfg)).toBe(0);
    expect(learningRate(2000, cfg)).toBe(0); // stays at anneal.lr, not minLr
  });

  it('starts from wherever the cosine was', () => {
    // anneal over 60..110 of the cosine above: starts at the midpoint value 5.5e-4, ends at 0
    const cfg = { ...cosine, anneal: { steps: 50, lr: 0 } };
    expect(learningRate(59, cfg)).toBeCloseTo(learningRate(59, cosine), 15);
    expect(learningRate(60, cfg)).toBeCloseTo(5.5e-4, 15);
    expect(learningRate(85, cfg)).toBeCloseTo(2.75e-4, 15);
    expect(learningRate(110, cfg)).toBe(0);
  });
});
