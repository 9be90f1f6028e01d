/**
 * Group-relative advantages and the policy-gradient loss of RL on sampled completions.
 *
 * Every prompt gets G completions; a completion's advantage is its reward minus a baseline made of
 * the *other* completions of the same prompt, so no value network is needed.
 *
 * LM Lab uses RLOO (Ahmadian et al. 2024, "Back to Basics: Revisiting REINFORCE Style Optimization
 * for Learning from Human Feedback in LLMs"; Kool et al. 2019 for the leave-one-out baseline):
 *
 *     Âᵢ = rᵢ − (1/(G−1)) Σ_{j≠i} rⱼ          (= G/(G−1) · (rᵢ − mean(r)))
 *
 * Why RLOO and not GRPO's (rᵢ − mean) / std: the leave-one-out baseline keeps the REINFORCE
 * gradient unbiased, and not dividing by the group's std avoids GRPO's over-weighting of prompts
 * that are almost always right or almost always wrong (Liu et al. 2025, "Understanding R1-Zero-Like
 * Training", Dr. GRPO). A learned reward model's scale then shows in the update, as it should.
 * GRPO's form is here too, for comparison and for the tests.
 */
import * as tf from '@tensorflow/tfjs';

function groups(rewards: readonly number[], G: number): void {
  if (!Number.isInteger(G) || G < 2) throw new Error(`advantages: the group size must be a whole number ≥ 2, got ${G}`);
  if (rewards.length % G !== 0) throw new Error(`advantages: ${rewards.length} rewards do not split into groups of ${G}`);
}

/** RLOO advantages; rewards come in groups of G consecutive completions of one prompt. */
export function rlooAdvantages(rewards: readonly number[], G: number): number[] {
  groups(rewards, G);
  const out = new Array<number>(rewards.length);
  for (let g = 0; g < rewards.length; g += G) {
    let sum = 0;
    for (let i = 0; i < G; i++) sum += rewards[g + i];
    for (let i = 0; i < G; i++) out[g + i] = rewards[g + i] - (sum - rewards[g + i]) / (G - 1);
  }
  return out;
}

/**
 * GRPO advantages (Shao et al. 2024, "DeepSeekMath", §4.1.2): Âᵢ = (rᵢ − mean(r)) / (std(r) + ε),
 * std with Bessel's correction as torch.std, the group's G completions of one prompt.
 */
export function grpoAdvantages(rewards: readonly number[], G: number, eps = 1e-4): number[] {
  groups(rewards, G);
  const out = new Array<number>(rewards.length);
  for (let g = 0; g < rewards.length; g += G) {
    const r = rewards.slice(g, g + G);
    const mean = r.reduce((a, b) => a + b, 0) / G;
    const std = Math.sqrt(r.reduce((a, b) => a + (b - mean) ** 2, 0) / (G - 1));
    for (let i = 0; i < G; i++) out[g + i] = (r[i] - mean) / (std + eps);
  }
  return out;
}

/** Whether the group of G rewards starting at `start` is all one value (to rounding). */
function flat(rewards: readonly number[], start: number, G: number): boolean {
  for (let i = 1; i < G; i++) if (Math.abs(rewards[start + i] - rewards[start]) >= 1e-9) return false;
  return true;
}

/** Share of groups whose G rewards are all equal: they give no gradient (TRL's `frac_reward_zero_std`). */
export function fracRewardZeroStd(rewards: readonly number[], G: number): number {
  groups(rewards, G);
  let n = 0;
  for (let g = 0; g < rewards.length; g += G) if (flat(rewards, g, G)) n++;
  return n / (rewards.length / G);
}

/**
 * The completions of the groups whose rewards differ, by index: the only ones the update needs. A
 * group of equal rewards has advantage 0 throughout (to rounding, ~1e-17) and adds to the
 * gradient nothing but the cost of its forward and backward pass.
 */
export function learningRows(rewards: readonly number[], G: number): number[] {
  groups(rewards, G);
  const rows: number[] = [];
  for (let g = 0; g < rewards.length; g += G) if (!flat(rewards, g, G)) for (let i = 0; i < G; i++) rows.push(g + i);
  return rows;
}

/**
 * The REINFORCE loss of a batch of completions, one on-policy update per batch (so the PPO ratio
 * is 1 and clipping would be idle):
 *
 *     L = −(1/n) Σᵢ Âᵢ · Σₜ log π(oᵢₜ | prompt, oᵢ<ₜ)
 *
 * logps: [m], each completion's summed log-probability under the current policy (differentiable);
 * advantages: m numbers, constants; n: the batch's completions, when the m given are part of it:
 * the ones with an advantage (learningRows; the others' terms are 0), or one thread's share of
 * them (train/parallel.ts), whose losses then add up to the batch's. Its gradient is
 * −(1/n) Σᵢ Âᵢ ∇log π(oᵢ), the policy-gradient estimate of ∇E[r]. Summing over tokens (not
 * averaging per sequence, as GRPO does) is what makes it that estimate, and keeps wrong answers
 * from gaining by growing long (Dr. GRPO). The caller owns the result.
 */
export function policyGradientLoss(logps: tf.Tensor1D, advantages: readonly number[] | Float32Array, n = advantages.length): tf.Scalar {
  if (logps.shape[0] !== advantages.length) throw new Error(`policy loss: ${logps.shape[0]} log-probs but ${advantages.length} advantages`);
  if (!(n >= advantages.length)) throw new Error(`policy loss: ${advantages.length} completions of a batch of ${n}`);
  return tf.tidy(() => tf.div(tf.neg(tf.sum(tf.mul(logps, tf.tensor1d(advantages as number[] | Float32Array)))), n) as tf.Scalar);
}
