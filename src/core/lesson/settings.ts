/**
 * What a student may set for each training stage, one descriptor a setting: the recipe's key, its
 * command-line flag, its kind and range, a line of help, and its default, read from the recipe made
 * with nothing set (so a default shown anywhere is the one a run gets). The command line parses its
 * flags and writes its --help from these; the page can label its fields from the same list.
 *
 * A value is checked by the recipe itself first (its message, the lesson's words), then against the
 * descriptor's kind and range for what the recipe leaves to the stage (RL's sizes, say).
 */
import type { Stage } from '../io/checkpoint.ts';
import { defaultTrainConfig, PRESETS, type TrainConfig } from '../model/config.ts';
import { DPO_LOSS_TYPES } from '../post/dpo.ts';
import { FORMAT_REWARD } from '../rl/verifiers.ts';
import { LESSON_PLAN, WHAT_IFS } from './plan.ts';
import { dpoRecipe, pretrainRecipe, PROMPT_SAMPLINGS, REWARD_SOURCES, RL_DEFAULTS, rlRecipe, rmRecipe, sftRecipe } from './recipes.ts';

export type SettingKind = 'number' | 'whole' | 'choice' | 'bool' | 'text';

/** The range a number must fall in. */
export interface NumberRange {
  whole?: boolean;
  min?: number;
  /** True when `min` itself is refused (a rate must be above 0). */
  above?: boolean;
  /** An upper bound, itself refused. */
  below?: number;
}

export interface SettingSpec extends Omit<NumberRange, 'whole'> {
  /** The recipe's setting it fills. */
  key: string;
  /** Its name on the command line (--flag) and as the page's field id. */
  flag: string;
  kind: SettingKind;
  /** How messages name it: "the ${noun} must be …". */
  noun: string;
  choices?: readonly string[];
  /** For kind text: what was written, as the setting (throws why not). */
  read?: (text: string) => unknown;
  /** What a run gets when it is not set; absent: the parent's, or off. */
  default?: number | string;
  /** How help writes a value when there is no default: N, STEPS[:LR]. */
  placeholder?: string;
  help: string;
}

type Recipe = (settings: Record<string, unknown>) => unknown;
const RECIPES: Readonly<Record<Stage, Recipe>> = { pretrain: pretrainRecipe, sft: sftRecipe, dpo: dpoRecipe, rm: rmRecipe, rl: rlRecipe } as Record<Stage, Recipe>;

/** Steps, rate, batch, evaluations and seed: what every stage's recipe reads (recipes.ts trainFor). */
function trainSpecs(train: Partial<TrainConfig>, evaluations: number, inherited: string): SettingSpec[] {
  return [
    { key: 'steps', flag: 'steps', kind: 'whole', noun: 'steps', min: 1, default: train.steps, help: 'training steps; the warm-up and evaluations follow them' },
    { key: 'learningRate', flag: 'lr', kind: 'number', noun: 'learning rate', min: 0, above: true, default: train.learningRate, help: 'peak learning rate; the schedule ends at a tenth of it' },
    { key: 'batchSize', flag: 'batch-size', kind: 'whole', noun: 'batch size', min: 1, default: train.batchSize, placeholder: 'N', help: `rows a step${train.batchSize === undefined ? ` (${inherited})` : ''}` },
    { key: 'evalInterval', flag: 'eval-interval', kind: 'whole', noun: 'evaluation interval', min: 1, default: train.evalInterval, help: `steps between evaluations (absent: ${evaluations} over the run)` },
    { key: 'seed', flag: 'seed', kind: 'whole', noun: 'seed', default: train.seed, placeholder: 'N', help: `the data order's seed${train.seed === undefined ? ` (${inherited})` : ''}` },
  ];
}

const pretrain = pretrainRecipe();
const pretrainTrain = defaultTrainConfig(pretrain.preset, pretrain.train);
const sft = sftRecipe();
const dpo = dpoRecipe();
const rm = rmRecipe();
const rl = rlRecipe();
const [verifier, model] = [RL_DEFAULTS.verifier, RL_DEFAULTS.model];
const orModel = (key: keyof typeof verifier) => (verifier[key] === model[key] ? '' : ` (${model[key]} against a reward model)`);
const PARENT = "the parent's";

export const STAGE_SETTINGS: Readonly<Record<Stage, readonly SettingSpec[]>> = Object.freeze({
  pretrain: [
    { key: 'preset', flag: 'preset', kind: 'choice', noun: 'preset', choices: Object.keys(PRESETS), default: pretrain.preset, help: 'model size' },
    ...trainSpecs(pretrainTrain, LESSON_PLAN.pretrain.evaluations, 'the preset\'s'),
    { key: 'schedule', flag: 'schedule', kind: 'choice', noun: 'schedule', choices: ['cosine', 'wsd'], default: pretrainTrain.schedule, help: 'the learning-rate schedule (wsd: warm-up, stable, decay)' },
    { key: 'warmupSteps', flag: 'warmup', kind: 'whole', noun: 'warm-up', min: 0, default: pretrainTrain.warmupSteps, help: 'warm-up steps (absent: a tenth of the steps, at most 100)' },
    { key: 'anneal', flag: 'anneal', kind: 'text', noun: 'annealing', read: readAnneal, placeholder: 'STEPS[:LR]', help: 'the last STEPS steps decay linearly to LR (default 0)' },
    { key: 'zLoss', flag: 'z-loss', kind: 'number', noun: 'z-loss', min: 0, placeholder: 'C', help: "PaLM's z-loss with coefficient C (PaLM's is 1e-4); off when absent" },
    { key: 'qkLayerNorm', flag: 'qk-layernorm', kind: 'bool', noun: 'QK LayerNorm', help: 'LayerNorm on queries and keys (a new model only)' },
  ],
  sft: [
    ...trainSpecs(sft.train, LESSON_PLAN.sft.evaluations, PARENT),
    { key: 'pretrainShare', flag: 'pretrain-share', kind: 'number', noun: 'story share', min: 0, below: 1, default: sft.pretrainShare, help: "share of each batch's rows that are story text (keeps the stories)" },
    { key: 'whatIf', flag: 'what-if', kind: 'choice', noun: 'what-if for sft', choices: Object.keys(WHAT_IFS.sft), help: 'chat alone, no story text: watch the stories loss rise (forgetting)' },
  ],
  dpo: [
    ...trainSpecs(dpo.train, LESSON_PLAN.dpo.evaluations, PARENT),
    { key: 'beta', flag: 'beta', kind: 'number', noun: 'β', min: 0, above: true, default: dpo.beta, help: 'β: how far the policy may move from the SFT model' },
    { key: 'lossType', flag: 'loss', kind: 'choice', noun: 'DPO loss', choices: DPO_LOSS_TYPES, default: dpo.lossType, help: 'the preference loss (DPO, IPO, SLiC hinge)' },
    { key: 'rpoAlpha', flag: 'rpo-alpha', kind: 'number', noun: 'RPO weight', min: 0, default: dpo.rpoAlpha, help: "weight of the chosen replies' NLL beside the DPO loss (RPO; 0: plain DPO; 0 under the length-bias what-if)" },
    { key: 'pretrainShare', flag: 'pretrain-share', kind: 'number', noun: 'story share', min: 0, default: dpo.pretrainShare, help: 'story windows per pair in each batch (0 under the length-bias what-if)' },
    { key: 'whatIf', flag: 'what-if', kind: 'choice', noun: 'what-if for dpo', choices: Object.keys(WHAT_IFS.dpo), help: 'only the pairs whose chosen reply is the shorter, no RPO: watch the replies collapse' },
  ],
  rm: [
    ...trainSpecs(rm.train, LESSON_PLAN.rm.evaluations, PARENT),
    { key: 'centerCoef', flag: 'center-coef', kind: 'number', noun: 'centring coefficient', min: 0, default: rm.centerCoef, help: 'keeps the scores near 0, which RL\'s β assumes' },
    { key: 'lmCoef', flag: 'lm-coef', kind: 'number', noun: 'LM coefficient', min: 0, default: rm.lmCoef, help: "weight of the chosen replies' next-token loss (0: the pair loss alone)" },
  ],
  rl: [
    ...trainSpecs(rl.train, LESSON_PLAN.rl.evaluations, PARENT),
    { key: 'reward', flag: 'reward', kind: 'choice', noun: 'reward', choices: REWARD_SOURCES, default: rl.settings.reward, help: 'programs check the answers, or a reward model scores them (needs --rm)' },
    { key: 'klCoef', flag: 'kl-coef', kind: 'number', noun: 'KL coefficient', min: 0, default: verifier.klCoef, help: `β of the KL penalty to the SFT model${orModel('klCoef')}` },
    { key: 'groupSize', flag: 'group-size', kind: 'whole', noun: 'group size', min: 2, default: verifier.groupSize, help: `completions per prompt (the RLOO group)${orModel('groupSize')}` },
    { key: 'promptsPerStep', flag: 'prompts-per-step', kind: 'whole', noun: 'prompts per step', min: 1, default: verifier.promptsPerStep, help: `prompts a step${orModel('promptsPerStep')}` },
    { key: 'promptSampling', flag: 'prompt-sampling', kind: 'choice', noun: 'prompt sampling', choices: PROMPT_SAMPLINGS, default: verifier.promptSampling, help: `prioritized draws the unsolved more often${orModel('promptSampling')}` },
    { key: 'maxNewTokens', flag: 'max-new-tokens', kind: 'whole', noun: 'reply length limit', min: 1, default: verifier.maxNewTokens, help: `tokens a reply may have${orModel('maxNewTokens')}` },
    { key: 'partialCredit', flag: 'partial-credit', kind: 'number', noun: 'partial credit', min: 0, below: 1 - FORMAT_REWARD, default: verifier.partialCredit, help: `credit for a wrong reply's right prefix${orModel('partialCredit')}` },
    { key: 'evalQuestions', flag: 'eval-questions', kind: 'whole', noun: 'evaluation questions', min: 0, default: verifier.evalQuestions, help: 'held-out checkable questions decoded at each evaluation' },
  ],
});

/**
 * The setting `spec` of `stage` from what was written (a flag's text, or true for a bool); throws
 * the recipe's message, or the descriptor's where the recipe leaves the check to the stage.
 */
export function readSetting(stage: Stage, spec: SettingSpec, written: string | boolean): unknown {
  const value = valueOf(spec, written);
  RECIPES[stage]({ [spec.key]: value }); // the recipe's own checks, on this setting alone
  const problem = rangeProblem(spec, value);
  if (problem) throw new Error(problem);
  return value;
}

function valueOf(spec: SettingSpec, written: string | boolean): unknown {
  if (spec.kind === 'bool') return written === true;
  const text = String(written);
  if (spec.kind === 'text') return spec.read ? spec.read(text) : text;
  if (spec.kind === 'choice') return text;
  const value = text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(value)) throw new Error(`the ${spec.noun} must be ${expected(rangeOf(spec))}, got "${text}"`);
  return value;
}

function rangeProblem(spec: SettingSpec, value: unknown): string | null {
  if (spec.kind === 'choice' && spec.choices && !spec.choices.includes(value as string)) return `the ${spec.noun} must be ${orList(spec.choices)}, got "${value}"`;
  if ((spec.kind === 'number' || spec.kind === 'whole') && !inRange(rangeOf(spec), value as number)) return `the ${spec.noun} must be ${expected(rangeOf(spec))}, got ${value}`;
  return null;
}

const rangeOf = (spec: SettingSpec): NumberRange => ({ ...spec, whole: spec.kind === 'whole' });

export function inRange(r: NumberRange, v: number): boolean {
  if (!Number.isFinite(v) || (r.whole && !Number.isInteger(v))) return false;
  if (r.min !== undefined && (r.above ? v <= r.min : v < r.min)) return false;
  return r.below === undefined || v < r.below;
}

/** "a whole number ≥ 1", "a number above 0", "a number in [0, 1)": how every range is said. */
export function expected(r: NumberRange): string {
  const what = r.whole ? 'a whole number' : 'a number';
  if (r.min !== undefined && r.below !== undefined) return `${what} in [${r.min}, ${r.below})`;
  if (r.min !== undefined) return `${what} ${r.above ? 'above' : '≥'} ${r.min}`;
  return what;
}

/** "a, b or c". */
export function orList(items: readonly string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

/** STEPS or STEPS:LR, the annealing phase as written. */
function readAnneal(text: string): { steps: number; lr: number } {
  const [steps, lr = '0'] = text.split(':');
  if (!/^\d+$/.test(steps) || lr.trim() === '' || !Number.isFinite(Number(lr)) || Number(lr) < 0) throw new Error(`the annealing must be STEPS or STEPS:LR, got "${text}"`);
  return { steps: Number(steps), lr: Number(lr) };
}
