/**
 * The RL stage's own settings, apart from the policy that uses them, so that the recipes
 * (src/core/lesson/recipes.ts) can name them without importing the policy, which imports the recipes.
 */
export type RewardSource = 'verifier' | 'model';
/** How a step draws its prompts: uniformly, or more often the ones still unsolved (prioritized.ts). */
export type PromptSampling = 'uniform' | 'prioritized';

/** The RL stage's own settings (the optimiser's come from the TrainConfig). */
export interface RlSettings {
  reward: RewardSource;
  /**
   * β of the KL penalty. 0 for verifiable rewards (nothing to hack); 0.5 against a reward model, whose
   * scores spread about 0.3 within a group: at TRL's 0.05 the policy still drifts and the reward
   * model is hacked, more slowly, and at 0.2 it loses some of its right answers (docs/results/reward-model.md).
   */
  klCoef: number;
  /** G: completions per prompt, the group the RLOO baseline is taken over. */
  groupSize: number;
  /** P: prompts per step; a step samples P·G completions. */
  promptsPerStep: number;
  /**
   * Prioritized with verifiers, where "solved" means something; uniform against a reward model,
   * whose score is no success rate.
   */
  promptSampling: PromptSampling;
  maxNewTokens: number;
  /** Held-out checkable questions decoded at each evaluation. */
  evalQuestions: number;
  /** Weight of the verifiers' partial credit for a wrong reply's right prefix (verifiers.ts), in [0, 1 − FORMAT_REWARD). */
  partialCredit: number;
}
