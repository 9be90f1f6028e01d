/**
 * The glue between runs: the settings a run is stored with, the corpus a run trains on, and what a
 * fork, an import or an export is called and starts from. Pure functions, apart from the corpus
 * cache.
 */
import bundledVocabulary from '../../corpora/vocab.json';
import { crawlCorpusName, crawlFiltersOf, crawlSteps, curatedText } from '../core/data/crawl-corpus.ts';
import type { LabelledDoc } from '../core/data/curate.ts';
import { parseDocsJsonl } from '../core/data/docs.ts';
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

/** The corpora runs train on: the bundled ones read once, or the student's own text. */
export class Corpora {
  readonly #load: (name: 'tales') => Promise<{ train: string; val: string }>;
  readonly #loadCrawl: (() => Promise<string>) | undefined;
  #tales: Promise<{ train: string; val: string }> | null = null;
  #crawl: Promise<LabelledDoc[]> | null = null;
  /** The crawl's training text by filters: curating takes a second or two, and a run's reloads ask again. */
  #crawlTexts = new Map<string, string>();

  constructor(load: (name: 'tales') => Promise<{ train: string; val: string }>, loadCrawl?: () => Promise<string>) {
    this.#load = load;
    this.#loadCrawl = loadCrawl;
  }

  /**
   * The run's corpus, tokenized with a checkpoint's tokenizer, else the one the run was started with
   * (the Data view's), else the bundled vocabulary (a new one built from the text, for the student's
   * own). The crawl trains on what its filters keep and validates on the held-out tales
   * (core/data/crawl-corpus.ts); its characters outside the vocabulary (the made-up script) become <|unk|>.
   */
  async of(settings: StoredSettings, checkpoints?: TextTokenizer): Promise<{ corpus: Corpus; tokenizer: TextTokenizer }> {
    const tokenizer = checkpoints ?? (settings.tokenizer ? tokenizerFromJSON(settings.tokenizer) : undefined);
    if (settings.corpus === 'own') {
      const own = requireText(settings.ownText);
      return corpusFromText(own.name, own.text, tokenizer);
    }
    const tok = tokenizer ?? CharTokenizer.fromJSON(bundledVocabulary as CharTokenizerJSON); // stories and chat share it
    const tales = await (this.#tales ??= this.#load('tales'));
    if (settings.corpus !== 'crawl') return { corpus: corpusFor('tales', tales.train, tales.val, tok), tokenizer: tok };
    const filters = settings.filters ?? 'default';
    let text = this.#crawlTexts.get(filters);
    if (text === undefined) this.#crawlTexts.set(filters, (text = curatedText(await this.#crawlDocs(), crawlSteps(filters)).text));
    return { corpus: corpusFor(crawlCorpusName(filters), text, tales.val, tok), tokenizer: tok };
  }

  #crawlDocs(): Promise<LabelledDoc[]> {
    const load = this.#loadCrawl;
    if (!load) return Promise.reject(new Error('The crawl is not available here.'));
    this.#crawl ??= load().then((text) => parseDocsJsonl(text, 'crawl/docs.jsonl'));
    return this.#crawl;
  }
}

/** The settings of a forked run: the source's, with another policy if given, in the source's family. */
export function forkSettings(source: store.RunRecord, policy?: RecoveryPolicy): Record<string, unknown> {
  const settings = storedSettings(source);
  return { ...settings, ...(policy ? { policy } : {}), family: settings.family ?? source.id };
}

/** A run's settings for an imported checkpoint: its own training settings, on the bundled corpus it names (the tales when it names none). */
export function importedSettings(state: CheckpointState): StoredSettings {
  const { train, model } = state;
  const policy = (state.extra.spikeLab as { config?: { policy?: string } } | undefined)?.config?.policy;
  const filters = crawlFiltersOf(state.corpus);
  return {
    corpus: filters === undefined ? 'tales' : 'crawl',
    ...(filters === undefined ? {} : { filters }),
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
