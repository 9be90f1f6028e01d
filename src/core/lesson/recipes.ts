/**
 * Each stage's recipe: one pure function from what a student sets (or leaves alone) to what the
 * stage trains with. The page (through the worker), the command line and the lesson all call these,
 * so the same settings give the same run everywhere; what is not set is the lesson plan's.
 *
 *   train      steps, peak learning rate and its floor, warm-up, evaluation interval, batch, seed,
 *              sized to the run by the rules in src/core/train/schedule.ts
 *   the rest   the stage's own: data mixture (story share), what-ifs, β, the reward…
 *
 * A recipe checks its settings and throws a message a student can act on. A later stage's other
 * training settings are its parent's (LabSession.fromParent says which it overrode).
 */
import { isPresetName, type GPTConfig, PRESETS, type PresetName, type TrainConfig } from '../model/config.ts';
import { DPO_LOSS_TYPES, type DpoLossType } from '../post/dpo.ts';
import type { PromptSampling, RewardSource, RlSettings } from '../rl/settings.ts';
import { evalIntervalFor, floorRate, warmupFor } from '../train/schedule.ts';
import { type DpoWhatIf, LESSON_PLAN, type SftWhatIf, type StageTiming, WHAT_IFS } from './plan.ts';

/** What every training stage lets a student set; the plan's when absent. */
export interface TrainSettings {
  steps?: number;
  learningRate?: number;
  batchSize?: number;
  evalInterval?: number;
  seed?: number;
}

/** The stage's schedule from its plan timing and the settings given. */
export function trainFor(timing: StageTiming, s: TrainSettings, defaults: { learningRate?: number; batchSize?: number } = {}): Partial<TrainConfig> {
  const steps = whole('steps', s.steps ?? timing.steps, 1);
  const learningRate = positive('learning rate', s.learningRate ?? defaults.learningRate ?? timing.learningRate);
  const batchSize = s.batchSize ?? defaults.batchSize;
  return {
    steps,
    learningRate,
    minLearningRate: floorRate(learningRate),
    warmupSteps: timing.warmup === false ? 0 : warmupFor(steps),
    evalInterval: s.evalInterval === undefined ? evalIntervalFor(steps, timing.evaluations) : whole('evaluation interval', s.evalInterval, 1),
    ...(batchSize !== undefined ? { batchSize: whole('batch size', batchSize, 1) } : {}),
    ...(s.seed !== undefined ? { seed: whole('seed', s.seed, -Infinity) } : {}),
  };
}

// ── pretrain ──────────────────────────────────────────────────────────────────────────────────

export interface PretrainSettings extends TrainSettings {
  preset?: PresetName;
  schedule?: 'cosine' | 'wsd';
  warmupSteps?: number;
  /** A final annealing phase: the last `steps` steps decay linearly to `lr`. */
  anneal?: { steps: number; lr: number };
  /** PaLM's z-loss: a coefficient, or true for PaLM's 1e-4; 0, false or absent is off. */
  zLoss?: number | boolean;
  qkLayerNorm?: boolean;
}

export interface PretrainRecipe {
  preset: PresetName;
  train: Partial<TrainConfig>;
  model: Partial<GPTConfig>;
}

export function pretrainRecipe(s: PretrainSettings = {}): PretrainRecipe {
  const plan = LESSON_PLAN.pretrain;
  const preset = s.preset ?? plan.preset;
  if (!isPresetName(preset)) throw new Error(`unknown preset "${preset}"; choose one of ${Object.keys(PRESETS).join(', ')}`);
  // Another preset than the plan's keeps its own learning rate.
  const train = trainFor(plan, s, { learningRate: preset === plan.preset ? plan.learningRate : PRESETS[preset].learningRate });
  if (s.schedule !== undefined) {
    if (s.schedule !== 'cosine' && s.schedule !== 'wsd') throw new Error(`the schedule must be cosine or wsd, got "${s.schedule}"`);
    train.schedule = s.schedule;
  }
  if (s.warmupSteps !== undefined) train.warmupSteps = whole('warm-up', s.warmupSteps, 0);
  if (s.anneal) train.anneal = { steps: whole('annealing steps', s.anneal.steps, 0), lr: atLeast('annealing rate', s.anneal.lr, 0) };
  if (s.zLoss) train.zLoss = s.zLoss === true ? 1e-4 : atLeast('z-loss', s.zLoss, 0);
  return { preset, train, model: s.qkLayerNorm ? { qkLayerNorm: true } : {} };
}

// ── SFT ───────────────────────────────────────────────────────────────────────────────────────

export interface SftSettings extends TrainSettings {
  /** Share of each batch that is story text. */
  pretrainShare?: number;
  whatIf?: SftWhatIf;
}

export interface SftRecipe {
  train: Partial<TrainConfig>;
  pretrainShare: number;
  whatIf?: SftWhatIf;
}

export function sftRecipe(s: SftSettings = {}): SftRecipe {
  const plan = LESSON_PLAN.sft;
  const whatIf = knownWhatIf('sft', s.whatIf);
  if (s.pretrainShare !== undefined && !(s.pretrainShare >= 0 && s.pretrainShare < 1)) throw new Error(`the story share must be at least 0 and below 1, got ${s.pretrainShare}`);
  if (whatIf === 'no-pretrain-text' && s.pretrainShare) throw new Error('the no-pretrain-text what-if and a story share above 0 contradict each other');
  const pretrainShare = whatIf === 'no-pretrain-text' ? 0 : (s.pretrainShare ?? plan.pretrainShare);
  return { train: trainFor(plan, s), pretrainShare, ...(whatIf ? { whatIf } : {}) };
}

// ── DPO ───────────────────────────────────────────────────────────────────────────────────────

export interface DpoSettings extends TrainSettings {
  beta?: number;
  lossType?: DpoLossType;
  /** Weight of the chosen replies' NLL (RPO). */
  rpoAlpha?: number;
  pretrainShare?: number;
  whatIf?: DpoWhatIf;
}

export interface DpoRecipe {
  train: Partial<TrainConfig>;
  beta: number;
  lossType: DpoLossType;
  rpoAlpha: number;
  pretrainShare: number;
  /** Train only on the pairs whose chosen reply is the shorter one (the length-bias what-if). */
  lengthBiasedPairs: boolean;
  whatIf?: DpoWhatIf;
}

export function dpoRecipe(s: DpoSettings = {}): DpoRecipe {
  const plan = LESSON_PLAN.dpo;
  const whatIf = knownWhatIf('dpo', s.whatIf);
  const biased = whatIf === 'length-bias';
  const lossType = s.lossType ?? plan.lossType;
  if (!DPO_LOSS_TYPES.includes(lossType)) throw new Error(`the DPO loss must be one of ${DPO_LOSS_TYPES.join(', ')}, got "${lossType}"`);
  return {
    train: trainFor(plan, s),
    beta: positive('β', s.beta ?? plan.beta),
    lossType,
    // The length-bias what-if has nothing to anchor the chosen replies or the stories, unless asked.
    rpoAlpha: atLeast('RPO weight', s.rpoAlpha ?? (biased ? 0 : plan.rpoAlpha), 0),
    pretrainShare: atLeast('story share', s.pretrainShare ?? (biased ? 0 : plan.pretrainShare), 0),
    lengthBiasedPairs: biased,
    ...(whatIf ? { whatIf } : {}),
  };
}

// ── reward model ──────────────────────────────────────────────────────────────────────────────

export interface RmSettings extends TrainSettings {
  centerCoef?: number;
  lmCoef?: number;
}

export interface RmRecipe {
  train: Partial<TrainConfig>;
  centerCoef: number;
  lmCoef: number;
}

export function rmRecipe(s: RmSettings = {}): RmRecipe {
  const plan = LESSON_PLAN.rm;
  return {
    train: trainFor(plan, s, { batchSize: plan.batchSize }),
    centerCoef: atLeast('centring coefficient', s.centerCoef ?? plan.centerCoef, 0),
    lmCoef: atLeast('LM coefficient', s.lmCoef ?? plan.lmCoef, 0),
  };
}

// ── RL ────────────────────────────────────────────────────────────────────────────────────────

export const REWARD_SOURCES: readonly RewardSource[] = ['verifier', 'model'];
export const PROMPT_SAMPLINGS: readonly PromptSampling[] = ['uniform', 'prioritized'];

/** RL's own settings for each reward source when nothing is set: the lesson plan's. */
export const RL_DEFAULTS: Readonly<Record<RewardSource, Readonly<RlSettings>>> = (() => {
  const rl = LESSON_PLAN.rl;
  const common = { groupSize: rl.groupSize, maxNewTokens: rl.maxNewTokens, evalQuestions: 64 };
  return Object.freeze({
    // Prioritized with verifiers, where "solved" means something; uniform against a reward model,
    // whose score is no success rate.
    verifier: Object.freeze({ reward: 'verifier', klCoef: rl.klCoef.verifier, promptsPerStep: rl.promptsPerStep.verifier, promptSampling: 'prioritized', partialCredit: rl.partialCredit, ...common }),
    model: Object.freeze({ reward: 'model', klCoef: rl.klCoef.model, promptsPerStep: rl.promptsPerStep.model, promptSampling: 'uniform', partialCredit: 0, ...common }),
  } as const);
})();

export interface RlRecipeSettings extends TrainSettings, Partial<Omit<RlSettings, 'reward'>> {
  reward?: RewardSource;
}

export interface RlRecipe {
  train: Partial<TrainConfig>;
  /** Checked by RlStage when it starts (policy.ts), which owns their meaning. */
  settings: RlSettings;
}

const RL_KEYS = ['klCoef', 'groupSize', 'promptsPerStep', 'promptSampling', 'maxNewTokens', 'evalQuestions', 'partialCredit'] as const;

export function rlRecipe(s: RlRecipeSettings = {}): RlRecipe {
  const reward = s.reward ?? 'verifier';
  if (!REWARD_SOURCES.includes(reward)) throw new Error(`the reward must be verifier or model, got "${reward}"`);
  const settings: RlSettings = { ...RL_DEFAULTS[reward] };
  for (const key of RL_KEYS) if (s[key] !== undefined) (settings as unknown as Record<string, unknown>)[key] = s[key];
  return { train: trainFor(LESSON_PLAN.rl, s), settings };
}

// ── checks ────────────────────────────────────────────────────────────────────────────────────

function knownWhatIf<S extends 'sft' | 'dpo'>(stage: S, name: string | undefined): keyof (typeof WHAT_IFS)[S] | undefined {
  if (name === undefined) return undefined;
  const known = Object.keys(WHAT_IFS[stage]);
  if (!known.includes(name)) throw new Error(`the what-if for ${stage} must be ${known.join(' or ')}, got "${name}"`);
  return name as keyof (typeof WHAT_IFS)[S];
}

function whole(what: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) throw new Error(`the ${what} must be a whole number${min > -Infinity ? ` ≥ ${min}` : ''}, got ${v}`);
  return v;
}

function positive(what: string, v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) throw new Error(`the ${what} must be a number above 0, got ${v}`);
  return v;
}

function atLeast(what: string, v: number, min: number): number {
  if (!(v >= min) || !Number.isFinite(v)) throw new Error(`the ${what} must be a number ≥ ${min}, got ${v}`);
  return v;
}
