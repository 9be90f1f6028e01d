/**
 * The lesson plan: the one set of settings that the page's defaults, `npm run lab -- lesson`, and
 * `pretrain` / `sft` / `dpo` without tuning flags all use, so that a student who changes nothing
 * sees every stage do what it exists to teach:
 *
 *   pretrain  the tiny model learns the stories' words and the world's facts
 *   sft       it learns to answer in the chat format, from what pretraining taught it, while a
 *             share of every batch is still story text, so it keeps telling stories
 *   dpo       it learns to prefer the better of two replies (length-balanced pairs), with the
 *             chosen replies' likelihood in the loss (RPO) so the answers SFT taught stay likely
 *
 * The numbers are about the fewest steps at which every stage reaches its targets on seeds 1-3
 * (measured with `npm run lab -- lesson`): fewer pretraining steps cost SFT held-out answers, fewer
 * SFT steps leave some replies running on into story text, and fewer DPO steps leave it preferring
 * the wrong answer on more held-out pairs. The figures, and the wall time on a machine without a
 * GPU, are in docs/results/lesson.md.
 * Stages that later work adds (a reward model, RL) get their own keys here.
 */
import type { PresetName } from '../model/config.ts';
import type { DpoLossType } from '../post/dpo.ts';

/** How long a stage trains and how fast: what every stage's recipe sizes its schedule from (recipes.ts). */
export interface StageTiming {
  steps: number;
  learningRate: number;
  /** Validation losses over the run; the interval between them follows the steps (schedule.ts). */
  evaluations: number;
  /** False where the first steps should already move at the full rate; true when absent. */
  warmup?: boolean;
}

export interface PretrainPlan extends StageTiming {
  preset: PresetName;
}

export interface SftPlan extends StageTiming {
  /**
   * Share of each batch's rows that are windows of pretraining text, trained with the ordinary
   * next-token loss next to the chat rows: what keeps the stories' loss from rising (forgetting).
   */
  pretrainShare: number;
}

export interface DpoPlan extends StageTiming {
  beta: number;
  lossType: DpoLossType;
  /** Weight of the chosen replies' mean NLL next to the DPO loss (RPO); 0 is plain DPO. */
  rpoAlpha: number;
  /** Story windows per pair in each batch, with their next-token loss added (keeps the stories). */
  pretrainShare: number;
}

/** The reward model (src/core/rl/rewardmodel.ts), from the SFT model, on the DPO pairs. */
export interface RmPlan extends StageTiming {
  /** Preference pairs a step. 16 left held-out accuracy wandering over the last 150 of 300 steps; 32 settles in 200 (docs/results/reward-model.md). */
  batchSize: number;
  /** TRL's center_rewards_coefficient: keeps the scores near 0, which RL's β assumes. */
  centerCoef: number;
  /** Weight of the chosen replies' next-token loss beside the Bradley–Terry loss (GRM, Yang et al. 2024). */
  lmCoef: number;
}

/** RL from the SFT model (src/core/rl/policy.ts): RLOO, k1 KL in the reward. */
export interface RlPlan extends StageTiming {
  /** Completions per prompt (the RLOO group). */
  groupSize: number;
  /**
   * Prompts per step, with verifiers and against the reward model: 16 × G = 8 lets RL with verifiers
   * see each training question about nine times in 300 steps; the hacking runs keep 8, their pace.
   */
  promptsPerStep: { verifier: number; model: number };
  maxNewTokens: number;
  /** Partial credit for a wrong reply's right prefix with verifiable rewards (src/core/rl/verifiers.ts). */
  partialCredit: number;
  /** β with verifiable rewards (nothing to hack) and against the reward model. */
  klCoef: { verifier: number; model: number };
}

export interface LessonPlan {
  pretrain: PretrainPlan;
  sft: SftPlan;
  dpo: DpoPlan;
  rm: RmPlan;
  rl: RlPlan;
}

const plan: LessonPlan = {
  pretrain: { preset: 'tiny', steps: 3000, learningRate: 3e-3, evaluations: 12 },
  sft: { steps: 1800, learningRate: 3e-3, pretrainShare: 0.25, evaluations: 9 },
  dpo: { steps: 250, learningRate: 3e-4, beta: 0.1, lossType: 'sigmoid', rpoAlpha: 3, pretrainShare: 0.25, evaluations: 5 },
  rm: { steps: 200, learningRate: 1e-3, batchSize: 32, centerCoef: 0.01, lmCoef: 3, evaluations: 4 },
  // The policy is a trained model and RL's steps are few: they move at the full rate from the first.
  rl: { steps: 300, learningRate: 3e-4, groupSize: 8, promptsPerStep: { verifier: 16, model: 8 }, maxNewTokens: 48, partialCredit: 0.4, klCoef: { verifier: 0, model: 0.5 }, evaluations: 3, warmup: false },
};
for (const stage of Object.values(plan)) Object.freeze(stage);
Object.freeze(plan.rl.klCoef);
Object.freeze(plan.rl.promptsPerStep);

/** The plan (frozen: a page or command that wants other settings copies it). */
export const LESSON_PLAN: Readonly<LessonPlan> = Object.freeze(plan);

/**
 * The "what if" switches: the failure modes a lesson can opt into, never the default.
 *   noPretrainText  SFT on chat alone (pretrainShare 0): the stories' loss rises, the model forgets
 *   lengthBias      DPO on the pairs whose chosen reply is the shorter one, without the RPO term:
 *                   the margin grows fastest by making every reply shorter, and replies collapse
 */
export const WHAT_IFS = {
  sft: { 'no-pretrain-text': 'SFT on chat alone, no story text in the batches: watch the stories loss rise (forgetting).' },
  dpo: {
    'length-bias':
      'DPO on pairs whose chosen reply is always the shorter one, without the RPO term: the margin can grow by making both replies unlikely, and the shorter reply always wins, so replies shrink towards nothing.',
  },
} as const;
export type SftWhatIf = keyof typeof WHAT_IFS.sft;
export type DpoWhatIf = keyof typeof WHAT_IFS.dpo;
