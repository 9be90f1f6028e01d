/**
 * Run settings and the URL hash: every setting and the seed live in one table that round-trips
 * through `#corpus=tales&preset=micro&steps=200&lr=0.003&batch=4&seed=1`, so a link reproduces a
 * run. Values that do not parse, or are out of range, fall back to the defaults.
 */
import { isPresetName, PRESETS, type PresetName } from '../core/config.ts';
import type { CorpusChoice, RunSettings } from '../lab/types.ts';

export function defaultSettings(preset: PresetName = 'tiny'): RunSettings {
  return {
    corpus: 'tales',
    preset,
    steps: 500,
    learningRate: PRESETS[preset].learningRate,
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
  for (const [key, field] of NUMBERS) params.set(key, String(s[field]));
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
  if (corpus === 'tales' || corpus === 'own') s.corpus = corpus as CorpusChoice;
  for (const [key, field, min, max, integer] of NUMBERS) {
    const raw = params.get(key);
    if (raw === null || raw.trim() === '') continue;
    const value = Number(raw);
    if (Number.isFinite(value) && value >= min && value <= max && (!integer || Number.isInteger(value))) s[field] = value;
  }
  return s;
}

/** The settings a preset brings with it. */
export function presetDefaults(preset: PresetName): Pick<RunSettings, 'preset' | 'learningRate' | 'batchSize'> {
  return { preset, learningRate: PRESETS[preset].learningRate, batchSize: PRESETS[preset].batchSize };
}
