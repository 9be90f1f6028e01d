/**
 * Prioritized sampling of RL prompts (Kimi Team 2025, "Kimi k1.5: Scaling Reinforcement Learning
 * with LLMs", its sampling strategies): each prompt is drawn with probability proportional to
 * 1 − s, where s is the share of its samples that were right when it was last drawn.
 *
 * Why: a prompt the policy always solves gives a group of equal rewards, and RLOO gives such a
 * group no gradient at all; drawn uniformly, such prompts took a quarter or more of every step's
 * samples in the lesson. Drawing by what is still unsolved spends the samples where there is
 * something to learn. A prompt never drawn counts as unsolved, so every prompt is tried early.
 *
 * The weight never falls below PRIORITY_FLOOR: a solved prompt is still drawn now and then (a
 * tenth as often as an unsolved one), so what the policy forgets shows up in its rate and it is
 * drawn again.
 */

/** The least weight of a prompt, however often it was solved. */
export const PRIORITY_FLOOR = 0.1;

/** A prompt's weight from its last solve rate in [0, 1] (undefined: never drawn). */
export function promptWeight(solveRate: number | undefined): number {
  return Math.max(PRIORITY_FLOOR, 1 - (solveRate ?? 0));
}

/** The index that a uniform number u in [0, 1) picks when each index is drawn in proportion to its weight. */
export function pickWeighted(weights: readonly number[], u: number): number {
  let rest = u * weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < weights.length; i++) if ((rest -= weights[i]) < 0) return i;
  return weights.length - 1; // u within rounding of 1
}
