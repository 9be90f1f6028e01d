/**
 * Estimators of KL(π ‖ π_ref) from tokens sampled from π (Schulman 2020, "Approximating KL
 * Divergence", http://joschu.net/blog/kl-approx.html). With r = π_ref(x) / π(x) and x ~ π:
 *
 *     k1 = −log r = log π(x) − log π_ref(x)        unbiased, high variance, can be negative
 *     k3 = (r − 1) − log r                         unbiased, lower variance, never negative
 *
 * Both average to the exact KL = Σₓ π(x) log(π(x) / π_ref(x)). Summed over a completion's tokens,
 * k1 is the sequence's log-likelihood ratio, whose mean is the sequence-level KL.
 *
 * LM Lab puts k1 into the reward (RLHF as in Ziegler et al. 2019 and TRL's RLOOTrainer):
 * r̃ᵢ = rᵢ − β · Σₜ k1ᵢₜ, with no gradient through the penalty. The policy-gradient estimate of
 * r̃ is then an unbiased estimate of ∇(E[r] − β·KL). (GRPO instead adds β·k3 to the loss per token.)
 */

/** log π(x) − log π_ref(x), for each sampled token. */
export function k1(logpPolicy: readonly number[], logpRef: readonly number[]): number[] {
  return logpPolicy.map((lp, i) => lp - logpRef[i]);
}

/** (π_ref/π − 1) − log(π_ref/π), for each sampled token. */
export function k3(logpPolicy: readonly number[], logpRef: readonly number[]): number[] {
  return logpPolicy.map((lp, i) => {
    const logRatio = logpRef[i] - lp;
    return Math.expm1(logRatio) - logRatio;
  });
}

/** Exact KL(p ‖ q) = Σ p log(p/q) of two distributions over the same outcomes (terms with p = 0 are 0). */
export function exactKl(p: readonly number[], q: readonly number[]): number {
  return p.reduce((sum, pi, i) => (pi > 0 ? sum + pi * Math.log(pi / q[i]) : sum), 0);
}

/** The KL-penalised reward of one completion: r − β · Σₜ k1ₜ. */
export function penalisedReward(reward: number, sequenceK1: number, beta: number): number {
  return reward - beta * sequenceK1;
}
