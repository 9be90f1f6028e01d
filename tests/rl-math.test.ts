/**
 * The RL stages' mathematics against values worked out by hand: the Bradley–Terry loss and its
 * gradient, RLOO and GRPO advantages, the policy-gradient loss, the k1 / k3 KL estimators against
 * the exact KL of a small distribution, pass@k, and prioritized sampling's weights and draws.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { fracRewardZeroStd, grpoAdvantages, learningRows, policyGradientLoss, rlooAdvantages } from '../src/core/rl/advantages.ts';
import { passAtK } from '../src/core/rl/evaluate.ts';
import { exactKl, k1, k3, penalisedReward } from '../src/core/rl/kl.ts';
import { Random } from '../src/core/random.ts';
import { bradleyTerryLoss, pairStats } from '../src/core/rl/rewardmodel.ts';
import { pickWeighted, PRIORITY_FLOOR, promptWeight } from '../src/core/rl/prioritized.ts';
import { useBackend } from './helpers.ts';

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

describe('Bradley–Terry loss', () => {
  beforeAll(() => useBackend('cpu'));

  it('equals −log σ(r_c − r_r), averaged, and log 2 at a tie', async () => {
    const c = tf.tensor1d([2, 0, -1]);
    const r = tf.tensor1d([1, 0, 1]);
    const loss = bradleyTerryLoss(c, r);
    // by hand: −log σ(1) = 0.313262, −log σ(0) = 0.693147, −log σ(−2) = 2.126928
    expect((await loss.data())[0]).toBeCloseTo((0.313262 + 0.693147 + 2.126928) / 3, 5);
    tf.dispose([c, r, loss]);
  });

  it('has the gradient −σ(−z)/n in r_c and +σ(−z)/n in r_r, plus the centring term', async () => {
    const cv = [2, 0.5];
    const rv = [1, 1.5];
    const coef = 0.1;
    const grads = tf.grads((c: tf.Tensor, r: tf.Tensor) => bradleyTerryLoss(c as tf.Tensor1D, r as tf.Tensor1D, coef));
    const [gc, gr] = grads([tf.tensor1d(cv), tf.tensor1d(rv)]);
    const gcv = await gc.data();
    const grv = await gr.data();
    for (let i = 0; i < 2; i++) {
      const z = cv[i] - rv[i];
      const centre = (2 * coef * (cv[i] + rv[i])) / 2;
      expect(gcv[i]).toBeCloseTo(-sigmoid(-z) / 2 + centre, 6);
      expect(grv[i]).toBeCloseTo(sigmoid(-z) / 2 + centre, 6);
    }
    // z = 1: −σ(−1)/2 = −0.134470, centring 0.1·3 = 0.3 → 0.165530
    expect(gcv[0]).toBeCloseTo(0.16553, 5);
    tf.dispose([gc, gr]);
  });

  it('stays finite for a huge margin', async () => {
    const loss = bradleyTerryLoss(tf.tensor1d([-500]), tf.tensor1d([500]));
    expect((await loss.data())[0]).toBeCloseTo(1000, 3);
  });

  it('pair accuracy counts a tie half', () => {
    expect(pairStats([1, 0, 2], [0, 0, 3])).toEqual({ accuracy: 0.5, margin: 0 });
  });
});

describe('group advantages', () => {
  it('RLOO: reward minus the mean of the other samples of the same prompt', () => {
    // group 1: rewards 1, 0, 0, 1 → baselines 1/3, 2/3, 2/3, 1/3
    // group 2: 0.5, 0.5, 0.5, 2.5 → baselines 7/6, 7/6, 7/6, 0.5
    const a = rlooAdvantages([1, 0, 0, 1, 0.5, 0.5, 0.5, 2.5], 4);
    const want = [2 / 3, -2 / 3, -2 / 3, 2 / 3, -2 / 3, -2 / 3, -2 / 3, 2];
    a.forEach((x, i) => expect(x).toBeCloseTo(want[i], 12));
    // equivalently G/(G−1)·(r − mean)
    expect(a[7]).toBeCloseTo((4 / 3) * (2.5 - 1), 12);
  });

  it('GRPO: (r − mean) / (std + ε) with Bessel-corrected std', () => {
    // rewards 1, 0, 0, 1: mean 0.5, std √(4·0.25/3) = 0.577350
    const a = grpoAdvantages([1, 0, 0, 1], 4, 0);
    expect(a[0]).toBeCloseTo(0.5 / 0.57735027, 6);
    expect(a[1]).toBeCloseTo(-0.5 / 0.57735027, 6);
    // a group where every sample scored alike has zero advantages, not NaN
    expect(grpoAdvantages([1, 1], 2)).toEqual([0, 0]);
  });

  it('counts the groups that give no gradient', () => {
    expect(fracRewardZeroStd([1, 1, 0, 1, 0, 0], 2)).toBeCloseTo(2 / 3, 12);
  });

  it('refuses groups that do not fit', () => {
    expect(() => rlooAdvantages([1, 2, 3], 2)).toThrow(/groups of 2/);
    expect(() => rlooAdvantages([1, 2], 1)).toThrow(/≥ 2/);
  });
});

describe('policy-gradient loss', () => {
  beforeAll(() => useBackend('cpu'));

  it('is −mean(Â · log π) and its gradient in log π is −Â/n', async () => {
    // worked example: log π = [−1, −2, −0.5], Â = [1, −0.5, 2] → −(−1 + 1 − 1)/3 = 1/3
    const logps = tf.tensor1d([-1, -2, -0.5]);
    const adv = [1, -0.5, 2];
    const loss = policyGradientLoss(logps, adv);
    expect((await loss.data())[0]).toBeCloseTo(1 / 3, 6);
    const g = tf.grad((x: tf.Tensor) => policyGradientLoss(x as tf.Tensor1D, adv))(logps);
    const gv = await g.data();
    adv.forEach((a, i) => expect(gv[i]).toBeCloseTo(-a / 3, 6));
    tf.dispose([logps, loss, g]);
  });

  it('leaves out the groups of equal rewards at no cost to the loss or its gradient, given the batch size', async () => {
    // groups of 2: [1, 0] learns, [0.1, 0.1] is flat, [0.3, 0.7] learns
    const rewards = [1, 0, 0.1, 0.1, 0.3, 0.7];
    expect(learningRows(rewards, 2)).toEqual([0, 1, 4, 5]);
    expect(learningRows([0.5, 0.5, 0.5, 0.5], 2)).toEqual([]);
    const adv = rlooAdvantages(rewards, 2); // [1, −1, 0, 0, −0.4, 0.4]
    const all = [-1, -2, -0.5, -3, -0.25, -4];
    const rows = learningRows(rewards, 2);
    const whole = tf.tensor1d(all);
    const kept = tf.tensor1d(rows.map((i) => all[i]));
    const fullLoss = policyGradientLoss(whole, adv);
    const keptLoss = policyGradientLoss(kept, rows.map((i) => adv[i]), 6);
    // by hand: −(1·(−1) − 1·(−2) − 0.4·(−0.25) + 0.4·(−4))/6 = −(−1 + 2 + 0.1 − 1.6)/6 = 0.5/6
    expect((await fullLoss.data())[0]).toBeCloseTo(0.5 / 6, 6);
    expect((await keptLoss.data())[0]).toBeCloseTo(0.5 / 6, 6);
    const g = await tf.grad((x: tf.Tensor) => policyGradientLoss(x as tf.Tensor1D, rows.map((i) => adv[i]), 6))(kept).data();
    rows.forEach((i, k) => expect(g[k]).toBeCloseTo(-adv[i] / 6, 6)); // the full batch's −Â/n
    expect(() => policyGradientLoss(kept, rows.map((i) => adv[i]), 3)).toThrow(/4 completions of a batch of 3/);
    tf.dispose([whole, kept, fullLoss, keptLoss]);
  });

  it('raises the log-probability of a sample with positive advantage: a softmax policy moves toward it', async () => {
    // a one-step bandit: π = softmax(θ), sample token 0 with Â = 1, token 1 with Â = −1
    const theta = tf.variable(tf.zeros([3]));
    const f = () => {
      const lp = tf.logSoftmax(theta);
      return policyGradientLoss(tf.stack([tf.slice(lp, 0, 1), tf.slice(lp, 1, 1)]).reshape([2]) as tf.Tensor1D, [1, -1]);
    };
    const { grads } = tf.variableGrads(f);
    const g = await grads[theta.name].data();
    // d/dθ of −½(log π₀ − log π₁) = −½(e₀ − e₁) (the softmax terms cancel): [−½, ½, 0]
    expect(g[0]).toBeCloseTo(-0.5, 6);
    expect(g[1]).toBeCloseTo(0.5, 6);
    expect(g[2]).toBeCloseTo(0, 6);
    tf.dispose([theta, ...Object.values(grads)]);
  });
});

describe('KL estimators', () => {
  const p = [0.5, 0.3, 0.2];
  const q = [0.2, 0.5, 0.3];

  it('exact KL by hand', () => {
    // 0.5 ln 2.5 + 0.3 ln 0.6 + 0.2 ln(2/3) = 0.458145 − 0.153248 − 0.081093
    expect(exactKl(p, q)).toBeCloseTo(0.223804, 5);
    expect(exactKl(p, p)).toBe(0);
  });

  it('k1 and k3 average to the exact KL under the policy, and k3 is never negative', () => {
    const lp = p.map(Math.log);
    const lq = q.map(Math.log);
    // exact expectations over the three outcomes
    const e1 = k1(lp, lq).reduce((a, v, i) => a + p[i] * v, 0);
    const e3 = k3(lp, lq).reduce((a, v, i) => a + p[i] * v, 0);
    expect(e1).toBeCloseTo(exactKl(p, q), 12);
    expect(e3).toBeCloseTo(exactKl(p, q), 12);
    expect(Math.min(...k3(lp, lq))).toBeGreaterThanOrEqual(0);
    expect(Math.min(...k1(lp, lq))).toBeLessThan(0); // k1 can be negative per sample
    // and by sampling: the mean of k3 over draws from p approaches the exact KL
    const rng = new Random(7);
    let sum = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const u = rng.next();
      const x = u < 0.5 ? 0 : u < 0.8 ? 1 : 2;
      sum += k3([lp[x]], [lq[x]])[0];
    }
    expect(sum / n).toBeCloseTo(exactKl(p, q), 2);
  });

  it('penalises the reward by β times the sequence KL', () => {
    expect(penalisedReward(1, 2, 0.05)).toBeCloseTo(0.9, 12);
    expect(penalisedReward(1, 2, 0)).toBe(1);
  });
});

describe('pass@k', () => {
  it('is the unbiased 1 − C(n−c, k)/C(n, k)', () => {
    expect(passAtK(8, 0, 1)).toBe(0);
    expect(passAtK(8, 2, 1)).toBeCloseTo(0.25, 12);
    expect(passAtK(8, 1, 8)).toBe(1);
    expect(passAtK(8, 0, 8)).toBe(0);
    // n = 5, c = 2, k = 2: 1 − C(3,2)/C(5,2) = 1 − 3/10
    expect(passAtK(5, 2, 2)).toBeCloseTo(0.7, 12);
    expect(() => passAtK(4, 1, 8)).toThrow(/larger/);
  });
});

describe('prioritized sampling', () => {
  it('weights a prompt by 1 − its solve rate, an undrawn one as unsolved, never below the floor', () => {
    expect(promptWeight(undefined)).toBe(1);
    expect(promptWeight(0)).toBe(1);
    expect(promptWeight(0.25)).toBe(0.75);
    expect(promptWeight(0.875)).toBe(0.125);
    expect(promptWeight(0.95)).toBe(PRIORITY_FLOOR);
    expect(promptWeight(1)).toBe(PRIORITY_FLOOR);
  });

  it('picks each index over its share of [0, 1): weights 1 and 3 split it at 1/4', () => {
    expect(pickWeighted([1, 3], 0)).toBe(0);
    expect(pickWeighted([1, 3], 0.2499)).toBe(0);
    expect(pickWeighted([1, 3], 0.25)).toBe(1);
    expect(pickWeighted([1, 3], 0.9999)).toBe(1);
    expect(pickWeighted([0.1, 0, 1], 0.09)).toBe(0); // 0.099 of 1.1 falls in the first
    expect(pickWeighted([0.1, 0, 1], 0.1)).toBe(2); // a weight of 0 is never picked
  });

  it('draws in proportion to the weights', () => {
    const rng = new Random(7);
    const weights = [0.1, 0.4, 0.5];
    const counts = [0, 0, 0];
    const n = 20000;
    for (let i = 0; i < n; i++) counts[pickWeighted(weights, rng.next())]++;
    // binomial standard deviations are about 0.002–0.0035 of n; 0.01 is three of them or more
    counts.forEach((c, i) => expect(Math.abs(c / n - weights[i])).toBeLessThan(0.01));
  });
});
