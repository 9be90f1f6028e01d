/**
 * The glue between runs: the settings a run is stored with, the corpus a run trains on, and what a
 * fork, an import or an export is called and starts from. Pure functions, apart from the corpus
 * cache.
 */
import bundledVocabulary from '../../corpora/vocab.json';
import type { CheckpointState } from '../core/io/checkpoint.ts';
import { PRESETS, type GPTConfig, type PresetName } from '../core/model/config.ts';
import { CharTokenizer, type CharTokenizerJSON, type TextTokenizer } from '../core/model/tokenizer.ts';
import { tokenizerFromJSON } from '../core/data/tokenizers.ts';
import { isRecoveryPolicy, type RecoveryPolicy } from '../core/spikes/spikelab.ts';
import { corpusFromText, type Corpus } from '../core/train/data.ts';
import { corpusFor } from '../core/train/data.ts';
import type * as store from '../storage/index.ts';
import type { OwnText, RunSettings } from './types.ts';

/** The settings stored with a run: the form's settings plus the student's text, if any. */
export interface StoredSettings extends RunSettings {
  ownText?: OwnText;
  /** The run this one was forked from, or that run's own source: runs of one family are compared. */
  family?: string;
}

export const storedSettings = (run: store.RunRecord): StoredSettings => run.settings as unknown as StoredSettings;

/** The corpora runs train on: the bundled one read once, or the student's own text. */
export class Corpora {
  readonly #load: (name: 'tales') => Promise<{ train: string; val: string }>;
  #bundled = new Map<string, Promise<{ train: string; val: string }>>();

  constructor(load: (name: 'tales') => Promise<{ train: string; val: string }>) {
    this.#load = load;
  }

  /** The run's corpus, tokenized with `tokenizer` (a checkpoint's) or a new one built from the text. */
  async of(settings: StoredSettings, checkpoints?: TextTokenizer): Promise<{ corpus: Corpus; tokenizer: TextTokenizer }> {
    // A checkpoint's tokenizer, else the one the run was started with (the Data view's), else characters.
    const tokenizer = checkpoints ?? (settings.tokenizer ? tokenizerFromJSON(settings.tokenizer) : undefined);
    if (settings.corpus === 'own') {
      const own = requireText(settings.ownText);
      return corpusFromText(own.name, own.text, tokenizer);
    }
    if (!this.#bundled.has('tales')) this.#bundled.set('tales', this.#load('tales'));
    const { train, val } = await this.#bundled.get('tales')!;
    const tok = tokenizer ?? CharTokenizer.fromJSON(bundledVocabulary as CharTokenizerJSON); // stories and chat share it
    return { corpus: corpusFor('tales', train, val, tok), tokenizer: tok };
  }
}

/** The settings of a forked run: the source's, with another policy if given, in the source's family. */
export function forkSettings(source: store.RunRecord, policy?: RecoveryPolicy): Record<string, unknown> {
  const settings = storedSettings(source);
  return { ...settings, ...(policy ? { policy } : {}), family: settings.family ?? source.id };
}

/** A run's settings for an imported checkpoint: its own training settings, on the bundled corpus. */
export function importedSettings(state: CheckpointState): StoredSettings {
  const { train, model } = state;
  const policy = (state.extra.spikeLab as { config?: { policy?: string } } | undefined)?.config?.policy;
  return {
    corpus: 'tales',
    preset: presetOf(model) ?? 'tiny',
    steps: train.steps,
    learningRate: train.learningRate,
    batchSize: train.batchSize,
    seed: train.seed,
    autosaveEvery: 50,
    keepAutosaves: 3,
    ...(policy && isRecoveryPolicy(policy) ? { policy } : {}),
    ...(model.qkLayerNorm ? { qkLayerNorm: true } : {}),
    ...(train.zLoss ? { zLoss: true } : {}),
  };
}

/** The preset whose shape the model has, if any. */
export function presetOf(model: GPTConfig): PresetName | undefined {
  return (Object.keys(PRESETS) as PresetName[]).find((name) => {
    const p = PRESETS[name].model;
    return p.blockSize === model.blockSize && p.nLayer === model.nLayer && p.nHead === model.nHead && p.nEmbd === model.nEmbd;
  });
}

/** An exported checkpoint's file name: lm-lab-<run>-step<N>[-weights].safetensors. */
export function fileNameOf(runName: string | undefined, step: number, includeOptimizer: boolean): string {
  const base = (runName ?? 'run').replace(/[^\w.-]+/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '');
  return `lm-lab-${base}-step${step}${includeOptimizer ? '' : '-weights'}.safetensors`;
}

export function requireText(own: OwnText | undefined): OwnText {
  if (!own || own.text.length === 0) throw new Error('Choose a .txt file first (Corpus: your own text).');
  return own;
}
