/**
 * The anneal experiment's defaults and result types (the experiment is anneal.ts): this file
 * imports nothing, so the page reads it without tfjs.
 */
export const ANNEAL_DEFAULTS = Object.freeze({
  /** The lesson's model and peak rate: the default lesson's pretraining, shortened. */
  preset: 'tiny' as const,
  steps: 1500,
  learningRate: 3e-3,
  /** Share of the steps the decay takes (MiniCPM and Hägele et al. decay over 10–20%). */
  decayFraction: 0.2,
  /** Where the early branch's model ends, as a share of the steps. */
  earlyShare: 0.5,
  finalEvalBatches: 32,
});

export interface AnnealPlan {
  steps: number;
  decaySteps: number;
  /** The step at which the early branch leaves the stable run and starts its decay. */
  earlyBranch: number;
  /** The step at which the stable run starts its own decay (steps − decaySteps). */
  lateBranch: number;
}

export interface AnnealArm {
  name: 'cosine' | 'wsd' | 'wsd-early';
  /** Tokens the finished model trained on. */
  tokens: number;
  /** Steps this arm cost on top of the runs before it (the early branch: its decay only). */
  extraSteps: number;
  finalValLoss: number;
  /** The decay: its first step, the loss there and at the end, and the drop between them. */
  decay?: { from: number; before: number; after: number; drop: number };
  /** Validation loss by step, for the chart (the branch's starts where it leaves the stable run). */
  curve: { step: number; valLoss: number; lr: number }[];
}

export interface AnnealResult {
  plan: AnnealPlan;
  arms: AnnealArm[];
  /** WSD's final loss minus cosine's, at equal tokens (negative: WSD ends lower). */
  wsdMinusCosine: number;
  /** The clean-data arm, when asked for (anneal-clean.ts). */
  clean?: CleanDecayResult;
}

/** One decay of the clean-data arm: the data it decayed on, the loss before and after, its curve. */
export interface DataDecay {
  /** The corpus's name ("crawl:none", "crawl:default"). */
  corpus: string;
  before: number;
  after: number;
  drop: number;
  curve: { step: number; valLoss: number; lr: number }[];
}

/**
 * The clean-data arm: a WSD stable run on the raw crawl (the mixture), then two decays of the same
 * length branched from its checkpoint at `plan.lateBranch`, one on the mixture and one on the
 * filtered crawl, both validated on the clean held-out tales.
 */
export interface CleanDecayResult {
  plan: AnnealPlan;
  /** Tokens each finished model trained on (stable run plus its decay). */
  tokens: number;
  /** The stable run's curve up to the branch (the mixture). */
  stable: { step: number; valLoss: number; lr: number }[];
  mixture: DataDecay;
  clean: DataDecay;
  /** The clean decay's final loss minus the mixture decay's (negative: the clean data helped). */
  cleanMinusMixture: number;
}

