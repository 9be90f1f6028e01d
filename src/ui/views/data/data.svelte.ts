/**
 * The Data view's state: which filters are on and how they are tuned, the worker's last curation
 * report and page of documents, and the tokenizer it trained. Curation and BPE run in the worker
 * (src/lab/data.ts); this class holds plain data and sends settings.
 */
import * as Comlink from 'comlink';
import type { DataReport, DocPage, DocShow, TokenizerReport, TokenizerSettings } from '../../../lab/data.ts';
import type { RunSettings } from '../../../lab/types.ts';
import type { Caller } from '../../caller.ts';
import { ExperimentState } from './experiment.svelte.ts';
import { TokenizerExperimentState } from './tokenizer-experiment.svelte.ts';

export interface FilterInfo {
  /** The name in CURATION_STEPS. */
  key: string;
  label: string;
  source: string;
  about: string;
  /** The name of its variant with every published rule on, if it has one. */
  strict?: string;
}

/** The filters in the order labs run them (RefinedWeb, FineWeb): line rules and quality first, dedup last. */
export const FILTERS: readonly FilterInfo[] = [
  { key: 'c4-lines', label: 'C4 line rules', source: 'C4 (Raffel et al. 2020)', about: 'drops lines under 5 words, cookie and JavaScript notices; a page left with under 3 sentences goes' },
  { key: 'gopher-quality', label: 'Gopher quality', source: 'Gopher (Rae et al. 2021)', about: '50+ words, mean word length 3–10, few "#" and "…", stop words present', strict: 'gopher-quality-strict' },
  { key: 'gopher-repetition', label: 'Gopher repetition', source: 'Gopher (Rae et al. 2021)', about: 'repeated lines, paragraphs and n-grams', strict: 'gopher-repetition-strict' },
  { key: 'line-punctuation', label: 'Line punctuation', source: 'FineWeb (Penedo et al. 2024)', about: 'enough lines end in punctuation: menus and lists do not' },
  { key: 'exact-dedup', label: 'Exact dedup', source: 'a hash of the text', about: 'every copy after the first' },
  { key: 'near-dedup', label: 'Near dedup', source: 'MinHash-LSH (Broder 1997; Lee et al. 2022)', about: 'copies with a few words changed: estimated Jaccard similarity of 5-word shingles' },
];

/** What Pretrain trains on, as the Data view chooses it. */
export type PretrainOn = 'tales' | 'filtered' | 'raw';

/** The page's pretraining settings, which the Data view reads and sets the corpus of. */
export interface PretrainSettingsAccess {
  settings(): RunSettings;
  update(patch: Partial<RunSettings>): void;
}

export const PAGE_SIZE = 12;
/** The default near-dedup's Jaccard threshold (curate.ts; below Lee et al.'s 0.8: tales are short). */
const DEFAULT_THRESHOLD = 0.5;
/** The lesson's default: a vocabulary the tiny model can afford, trained in a second. */
export const DEFAULT_VOCAB = 512;

export class DataState {
  readonly #call: Caller;
  #on = $state<Record<string, boolean>>(Object.fromEntries(FILTERS.map((f) => [f.key, true])));
  #strict = $state<Record<string, boolean>>({});
  threshold = $state(DEFAULT_THRESHOLD);
  vocabSize = $state(DEFAULT_VOCAB);
  corpus = $state<TokenizerSettings['corpus']>('kept');
  #ran = $state.raw<string[]>([]); // the filters (keys) of the last run, in order
  #report = $state.raw<DataReport | null>(null);
  #docs = $state.raw<DocPage | null>(null);
  #show = $state<DocShow>('all');
  #tokenizer = $state.raw<TokenizerReport | null>(null);
  #curating = $state(false);
  #training = $state<{ done: number; wanted: number } | null>(null);
  #error = $state<{ of: 'filters' | 'tokenizer'; text: string } | null>(null);
  #forPretraining = $state(false);

  /** The raw crawl against the crawl through these filters, pretrained alike. */
  readonly experiment: ExperimentState;
  /** Characters against the trained BPE, at equal training time. */
  readonly tokenizerExperiment: TokenizerExperimentState;

  readonly #pretraining: PretrainSettingsAccess | undefined;

  constructor(call: Caller, pretraining?: PretrainSettingsAccess) {
    this.#call = call;
    this.#pretraining = pretraining;
    this.experiment = new ExperimentState(call, () => this.#spec());
    this.tokenizerExperiment = new TokenizerExperimentState(call);
  }

  /** The switched-on filters as curation steps, in the labs' order (a strict variant where ticked). */
  #chosen(): string[] {
    return FILTERS.filter((f) => this.#on[f.key]).map((f) => (f.strict && this.#strict[f.key] ? f.strict : f.key));
  }

  /** The same as a filters spec for a run on the crawl ("default" when it is the default): near-dedup carries the slider's threshold when it is not the default's. */
  #spec(): string {
    const threshold = Math.round(this.threshold * 100) / 100;
    const spec = this.#chosen().map((key) => (key === 'near-dedup' && threshold !== DEFAULT_THRESHOLD ? `${key}@${threshold}` : key)).join(',');
    return spec === FILTERS.map((f) => f.key).join(',') ? 'default' : spec;
  }

  get on(): Record<string, boolean> { return this.#on; }
  get strict(): Record<string, boolean> { return this.#strict; }
  get report(): DataReport | null { return this.#report; }
  get docs(): DocPage | null { return this.#docs; }
  get show(): DocShow { return this.#show; }
  get tokenizer(): TokenizerReport | null { return this.#tokenizer; }
  /** Whether new pretraining runs use the trained tokenizer (characters otherwise). */
  get forPretraining(): boolean { return this.#forPretraining; }
  get curating(): boolean { return this.#curating; }
  /** Merges learnt so far while the worker trains; null when it is not training. */
  get training(): { done: number; wanted: number } | null { return this.#training; }
  /** The last failure of the filters or of the tokenizer, shown by the panel whose button caused it. */
  errorOf(panel: 'filters' | 'tokenizer'): string | null { return this.#error?.of === panel ? this.#error.text : null; }
  get busy(): boolean { return this.#curating || this.#training !== null; }

  /** What Pretrain trains on: the tales, or the crawl (raw when its filters are "none"). */
  get pretrainOn(): PretrainOn {
    const s = this.#pretraining?.settings();
    return s?.corpus !== 'crawl' ? 'tales' : s.filters === 'none' ? 'raw' : 'filtered';
  }

  /** Sets Pretrain's corpus; the filtered crawl goes through the filters switched on now (and follows them each time they run). */
  setPretrainOn(choice: PretrainOn): void {
    if (choice === 'tales') this.#pretraining?.update({ corpus: 'tales', filters: undefined });
    else this.#pretraining?.update({ corpus: 'crawl', filters: choice === 'raw' ? 'none' : this.#spec() || 'none' });
  }

  /** Documents the filter removed in the last run; null when it did not run. */
  removedBy(key: string): number | null {
    const i = this.#ran.indexOf(key);
    return i < 0 ? null : (this.#report?.steps[i]?.removed ?? null);
  }

  /** The steps of the last run as its switches name them, in the report's order. */
  get stepLabels(): string[] {
    return this.#ran.map((key) => FILTERS.find((f) => f.key === key)?.label ?? key);
  }

  /** A step's name in the core ("gopher-quality (without alphabetic-words)") as its switch names it. */
  labelOf(stepName: string): string {
    return FILTERS.find((f) => stepName === f.key || stepName.startsWith(`${f.key} `) || stepName === f.strict)?.label ?? stepName;
  }

  /** Runs the chosen filters in the worker, then shows the first page of documents. */
  async curate(): Promise<void> {
    const chosen = FILTERS.filter((f) => this.#on[f.key]);
    const steps = this.#chosen();
    this.#error = null;
    this.#curating = true;
    try {
      this.#report = await this.#call((api) => api.curate({ steps, nearDedupThreshold: this.threshold }), false);
      this.#ran = chosen.map((f) => f.key);
      if (this.pretrainOn === 'filtered') this.setPretrainOn('filtered');
      await this.page(0);
    } catch (e) {
      this.#fail('filters', e);
    } finally {
      this.#curating = false;
    }
  }

  async page(page: number, show: DocShow = this.#show): Promise<void> {
    this.#show = show;
    this.#docs = await this.#call((api) => api.documents(page, PAGE_SIZE, show), false);
  }

  async trainTokenizer(): Promise<void> {
    const settings = { corpus: this.corpus, vocabSize: this.vocabSize };
    const progress = Comlink.proxy((done: number, wanted: number) => { this.#training = { done, wanted }; });
    this.#error = null;
    this.#training = { done: 0, wanted: 0 };
    try {
      this.#tokenizer = await this.#call((api) => api.trainTokenizer(settings, progress), false);
    } catch (e) {
      this.#fail('tokenizer', e);
    } finally {
      this.#training = null;
    }
  }

  /** Chooses the trained tokenizer (or characters) for the next pretraining runs. */
  async useForPretraining(on: boolean): Promise<void> {
    try {
      await this.#call((api) => api.usePretrainingTokenizer(on), false);
      this.#forPretraining = on;
    } catch (e) {
      this.#fail('tokenizer', e);
    }
  }

  /** The trained tokenizer's two Hugging Face files, to download. */
  files(): Promise<{ 'tokenizer.json': string; 'tokenizer_config.json': string }> {
    return this.#call((api) => api.tokenizerFiles(), false);
  }

  #fail(of: 'filters' | 'tokenizer', e: unknown): void {
    this.#error = { of, text: e instanceof Error ? e.message : String(e) };
  }
}
