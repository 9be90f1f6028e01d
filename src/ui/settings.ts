/**
 * Run settings and the URL hash: every setting and the seed live in one table that round-trips
 * through `#corpus=tales&preset=micro&steps=200&lr=0.003&batch=4&seed=1`, so a link reproduces a
 * run. Values that do not parse, or are out of range, fall back to the defaults.
 */
import { isPresetName, PRESETS, type PresetName } from '../core/model/config.ts';
import { parseInjection } from '../core/spikes/inject.ts';
import { LESSON_PLAN } from '../core/lesson/plan.ts';
import type { CorpusChoice, RecoveryPolicy, RunSettings } from '../lab/types.ts';

/** The recovery policies, as core/spikes/spikelab.ts defines them (listed here: the page never loads tfjs). */
export const POLICIES: readonly RecoveryPolicy[] = ['none', 'skip', 'rollback', 'lower-lr', 'filter'];
const isRecoveryPolicy = (name: string): name is RecoveryPolicy => (POLICIES as readonly string[]).includes(name);

/** The page's defaults: the lesson plan's pretraining (src/core/lesson/plan.ts), the same as `npm run lab -- lesson`. */
export function defaultSettings(preset: PresetName = LESSON_PLAN.pretrain.preset): RunSettings {
  return {
    corpus: 'tales',
    preset,
    steps: LESSON_PLAN.pretrain.steps,
    learningRate: preset === LESSON_PLAN.pretrain.preset ? LESSON_PLAN.pretrain.learningRate : PRESETS[preset].learningRate,
    batchSize: PRESETS[preset].batchSize,
    seed: 1,
    autosaveEvery: 50,
    keepAutosaves: 3,
  };
}

type NumberKey = 'steps' | 'learningRate' | 'batchSize' | 'seed' | 'autosaveEvery' | 'keepAutosaves';

/** Hash key, setting, and the range a value must fall in. */
const NUMBERS: [string, NumberKey, number, number, boolean][] = [
  ['steps', 'steps', 1, 1_000_000, true],
  ['lr', 'learningRate', 1e-6, 1, false],
  ['batch', 'batchSize', 1, 512, true],
  ['seed', 'seed', 0, 2 ** 31 - 1, true],
  ['save', 'autosaveEvery', 1, 1_000_000, true],
  ['keep', 'keepAutosaves', 1, 100, true],
];

export function settingsToHash(s: RunSettings): string {
  const params = new URLSearchParams({ corpus: s.corpus, preset: s.preset });
  if (s.corpus === 'crawl') params.set('filters', s.filters ?? 'default');
  for (const [key, field] of NUMBERS) params.set(key, String(s[field]));
  // The spike lab's settings appear only when set, so a plain run's link stays short.
  if (s.policy !== undefined) params.set('policy', s.policy);
  if (s.inject) params.set('inject', s.inject);
  if (s.spikeWarmup !== undefined) params.set('warmup', String(s.spikeWarmup));
  if (s.qkLayerNorm) params.set('qkln', '1');
  if (s.zLoss) params.set('zloss', '1');
  return '#' + params.toString();
}

/**
 * Reads settings from a hash. A preset in the hash sets its own batch size and learning rate
 * unless the hash also gives them.
 */
export function settingsFromHash(hash: string, fallback: RunSettings = defaultSettings()): RunSettings {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const preset = params.get('preset');
  const s: RunSettings = preset && isPresetName(preset) && preset !== fallback.preset
    ? { ...fallback, ...presetDefaults(preset) }
    : { ...fallback };
  const corpus = params.get('corpus');
  if (corpus === 'tales' || corpus === 'crawl' || corpus === 'own') s.corpus = corpus as CorpusChoice;
  // The filters' names are checked by the worker, whose message lists the known ones.
  const filters = params.get('filters');
  if (s.corpus === 'crawl' && filters !== null && /^[a-z0-9,.@-]+$/.test(filters)) s.filters = filters;
  for (const [key, field, min, max, integer] of NUMBERS) {
    const raw = params.get(key);
    if (raw === null || raw.trim() === '') continue;
    const value = Number(raw);
    if (Number.isFinite(value) && value >= min && value <= max && (!integer || Number.isInteger(value))) s[field] = value;
  }
  const policy = params.get('policy');
  if (policy !== null && isRecoveryPolicy(policy)) s.policy = policy;
  const inject = params.get('inject');
  if (inject !== null && validInjections(inject)) s.inject = inject;
  const warmup = Number(params.get('warmup') ?? NaN);
  if (Number.isInteger(warmup) && warmup >= 2 && warmup <= 128) s.spikeWarmup = warmup;
  if (params.get('qkln') === '1') s.qkLayerNorm = true;
  if (params.get('zloss') === '1') s.zLoss = true;
  return s;
}

/** True when every comma-separated part reads as KIND@STEP[xN]. */
export function validInjections(list: string): boolean {
  try {
    return list.split(',').every((spec) => parseInjection(spec) !== undefined);
  } catch {
    return false;
  }
}

/** Controls a lesson link can hide or lock (show disabled), by name. */
export const LESSON_CONTROLS = ['settings', 'inject', 'policy', 'stability', 'compare', 'teacher'] as const;
export type LessonControl = (typeof LESSON_CONTROLS)[number];

export interface LessonView {
  hide: LessonControl[];
  lock: LessonControl[];
}

/** Reads `hide=inject,policy&lock=settings` from a hash; unknown names are ignored. */
export function lessonFromHash(hash: string): LessonView {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const names = (key: string) =>
    (params.get(key) ?? '').split(',').filter((n): n is LessonControl => (LESSON_CONTROLS as readonly string[]).includes(n));
  return { hide: names('hide'), lock: names('lock') };
}

/** The hash of the settings, the lesson's hidden and locked controls, and the open view. */
export function lessonHash(s: RunSettings, lesson: LessonView, view?: ViewName): string {
  let hash = settingsToHash(s);
  if (lesson.hide.length) hash += `&hide=${lesson.hide.join(',')}`;
  if (lesson.lock.length) hash += `&lock=${lesson.lock.join(',')}`;
  if (view) hash += `&view=${view}`;
  return hash;
}

/**
 * The page's views, in pipeline order: the data, one per training stage, then the spike lab and sharing. A view is
 * addressable as `#view=sft` next to the run settings.
 */
export const VIEWS = ['data', 'pretrain', 'sft', 'dpo', 'rm', 'rl', 'spikes', 'scaling', 'inside', 'class', 'share'] as const;
export type ViewName = (typeof VIEWS)[number];

export const isViewName = (name: string): name is ViewName => (VIEWS as readonly string[]).includes(name);

/** Reads `view=sft` from a hash; null when absent or unknown. */
export function viewFromHash(hash: string): ViewName | null {
  const name = new URLSearchParams(hash.replace(/^#/, '')).get('view');
  return name !== null && isViewName(name) ? name : null;
}

/** The settings a preset brings with it. */
export function presetDefaults(preset: PresetName): Pick<RunSettings, 'preset' | 'learningRate' | 'batchSize'> {
  return { preset, learningRate: PRESETS[preset].learningRate, batchSize: PRESETS[preset].batchSize };
}

export interface SftForm {
  steps: number;
  learningRate: number | null; // null: the lesson plan's
  /** The "no story text in SFT batches" what-if (shows forgetting); off by default. */
  noPretrainText: boolean;
}

export interface DpoForm {
  steps: number;
  learningRate: number;
  beta: number;
  lossType: 'sigmoid' | 'ipo' | 'hinge';
  /** The "length-biased pairs" what-if (shows the replies collapse); off by default. */
  lengthBias: boolean;
}

/** The forms' defaults: the lesson plan's settings, the same as `npm run lab -- lesson`. */
export function defaultSftForm(): SftForm {
  return { steps: LESSON_PLAN.sft.steps, learningRate: LESSON_PLAN.sft.learningRate, noPretrainText: false };
}
export function defaultDpoForm(): DpoForm {
  const { steps, learningRate, beta, lossType } = LESSON_PLAN.dpo;
  return { steps, learningRate, beta, lossType, lengthBias: false };
}
