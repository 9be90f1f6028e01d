/**
 * The Data stage in the worker: the bundled crawl cleaned by the named steps of core/data/curate.ts,
 * and a byte-level BPE tokenizer (core/data/bpe.ts) trained on what was kept or on the tales. The
 * page only sends settings and draws what comes back: curating 2,500 documents and learning
 * merges take seconds of CPU that must not freeze it. Results are plain data; the kept documents
 * and the tokenizer stay here, so the documents list pages through them and the export reads them.
 */
import bundledVocabulary from '../../corpora/vocab.json';
import { BpeTokenizer, charsPerToken } from '../core/data/bpe.ts';
import { curate, CURATION_STEPS, type CurationReport, type CurationScores, type CurationStep, type Doc, EmptyCorpusError, type LabelledDoc, nearDedupStep, scoreCuration } from '../core/data/curate.ts';
import { parseDocsJsonl } from '../core/data/docs.ts';
import { words } from '../core/data/filters.ts';
import { hfTokenizerFiles } from '../core/data/hf-tokenizer.ts';
import { countParameters, modelConfig, PRESETS, type PresetName } from '../core/model/config.ts';
import { CharTokenizer, type CharTokenizerJSON, type TokenizerJSON } from '../core/model/tokenizer.ts';
import { describeTokenizer } from '../core/data/tokenizers.ts';
import { renderChat } from '../core/post/chat.ts';
import type { LabEnv } from './runner.ts';

/** Where the worker finds the bundled crawl (fetched on first use in a browser, read from disk in Node). */
export interface DataEnv {
  loadCrawl?(): Promise<string>;
}

export interface CurationSettings {
  /** Names of CURATION_STEPS, run in the order given. */
  steps: string[];
  /** MinHash-LSH's Jaccard threshold for near-dedup (its default when absent). */
  nearDedupThreshold?: number;
}

export interface StepSummary {
  name: string;
  source: string;
  removed: number;
  /** Up to 5 of the documents it removed, with why (texts cut to EXAMPLE_CHARS). */
  examples: { id: number; reasons: string[]; text: string }[];
}

export interface DataReport {
  total: number;
  kept: number;
  keptChars: number;
  steps: StepSummary[];
  /** The teacher's line, against the generator's labels (which no step reads). */
  scores: CurationScores;
  seconds: number;
  /** Set when every document was removed: why; the tokenizer keeps the last run's kept documents. */
  empty?: string;
}

/** One row of the documents list. Statistics are of the crawled text, before any step rewrote it. */
export interface DocRow {
  id: number;
  label: string;
  /** The step that removed it; null when kept. */
  removedBy: string | null;
  reasons: string[];
  chars: number;
  words: number;
  meanWordLength: number;
  /** Share of the characters, spaces aside, that are not letters: digits, punctuation, symbols. */
  nonLetterShare: number;
  preview: string;
}

export type DocShow = 'all' | 'kept' | 'removed';

export interface DocPage {
  rows: DocRow[];
  /** Documents matching `show`. */
  matching: number;
  page: number;
  pages: number;
}

export interface TokenizerSettings {
  corpus: 'kept' | 'tales';
  vocabSize: number;
}

export interface TokenPiece {
  id: number;
  text: string;
  special: boolean;
}

export interface TokenizerReport {
  corpus: 'kept' | 'tales';
  vocabSize: number;
  trainChars: number;
  seconds: number;
  /** Each merge as the two pieces it joined, in the order learnt. */
  merges: [string, string][];
  /** On held-out text the merges never saw. */
  charsPerToken: number;
  sample: TokenPiece[];
  /** A chat rendered as the stages render it: its specials are single tokens, never bytes. */
  chat: TokenPiece[];
  model: ModelEffect;
}

/** What a BPE vocabulary changes for a model of `preset`, against the characters the checkpoints use today. */
export interface ModelEffect {
  preset: PresetName;
  blockSize: number;
  nEmbd: number;
  charVocab: number;
  bpeVocab: number;
  /** Characters of held-out text one context window holds, with each tokenizer. */
  contextChars: { char: number; bpe: number };
  embedding: { char: number; bpe: number };
  parameters: { char: number; bpe: number };
}

const EXAMPLE_CHARS = 600;
const PREVIEW_CHARS = 160;
const SAMPLE_CHARS = 700;
/** The held-out share of the kept documents (the last tenth), as `lab tokenizer --corpus crawl` holds out. */
const HELD_OUT = 0.1;
const CHAT_SAMPLE = [
  { role: 'user' as const, content: 'What does "<|end|>" mean in a story?' },
  { role: 'assistant' as const, content: 'Just letters: only the lab writes the real end of a turn.' },
];

export function modelEffect(preset: PresetName, charVocab: number, bpeVocab: number, charCpt: number, bpeCpt: number): ModelEffect {
  const { blockSize, nEmbd } = PRESETS[preset].model;
  return {
    preset,
    blockSize,
    nEmbd,
    charVocab,
    bpeVocab,
    contextChars: { char: blockSize * charCpt, bpe: blockSize * bpeCpt },
    embedding: { char: charVocab * nEmbd, bpe: bpeVocab * nEmbd },
    parameters: { char: countParameters(modelConfig(preset, charVocab)), bpe: countParameters(modelConfig(preset, bpeVocab)) },
  };
}

function stepsFor(settings: CurationSettings): CurationStep[] {
  const t = settings.nearDedupThreshold;
  if (t !== undefined && !(t > 0 && t <= 1)) throw new Error(`near-dedup: the Jaccard threshold must be above 0 and at most 1, got ${t}`);
  return settings.steps.map((name) => {
    const make = CURATION_STEPS[name];
    if (!make) throw new Error(`unknown filter "${name}"; the filters are ${Object.keys(CURATION_STEPS).join(', ')}`);
    return name === 'near-dedup' && t !== undefined ? nearDedupStep({ threshold: t }) : make();
  });
}

function docRow(d: LabelledDoc, removedBy: string | null, reasons: string[]): DocRow {
  const ws = words(d.text);
  const visible = d.text.match(/\S/gu)?.length ?? 0;
  const letters = d.text.match(/\p{L}/gu)?.length ?? 0;
  return {
    id: d.id,
    label: d.label,
    removedBy,
    reasons,
    chars: [...d.text].length,
    words: ws.length,
    meanWordLength: ws.length ? ws.reduce((s, w) => s + [...w].length, 0) / ws.length : 0,
    nonLetterShare: visible ? 1 - letters / visible : 0,
    preview: d.text.slice(0, PREVIEW_CHARS),
  };
}

function pieces(tok: BpeTokenizer, ids: ArrayLike<number>): TokenPiece[] {
  return Array.from(ids, (id) => ({ id, text: tok.decode([id]), special: id < tok.specials.length }));
}

export class DataLab {
  readonly #env: Pick<LabEnv, 'loadBundledCorpus'> & DataEnv;
  #crawl: Promise<LabelledDoc[]> | null = null;
  #report: CurationReport | null = null;
  /** id → why its step removed it, for the documents list (the report keeps only 5 examples a step). */
  #reasons = new Map<number, string[]>();
  #kept: Doc[] | null = null;
  #tokenizer: BpeTokenizer | null = null;
  #forPretraining = false;

  constructor(env: Pick<LabEnv, 'loadBundledCorpus'> & DataEnv) {
    this.#env = env;
  }

  /** The bundled crawl's documents, read once. */
  crawlDocs(): Promise<LabelledDoc[]> {
    const load = this.#env.loadCrawl;
    if (!load) return Promise.reject(new Error('The crawl is not available here.'));
    this.#crawl ??= load().then((text) => parseDocsJsonl(text, 'crawl/docs.jsonl'));
    return this.#crawl;
  }

  /** Runs the steps over the crawl. Every document removed is a report with `empty` set, not an error: the view shows who removed them. */
  async curate(settings: CurationSettings): Promise<DataReport> {
    const docs = await this.crawlDocs();
    const steps = stepsFor(settings).map((s) => this.#remembering(s));
    this.#reasons = new Map();
    const started = performance.now();
    let report: CurationReport;
    let empty: string | undefined;
    try {
      report = curate(docs, steps);
      this.#kept = report.kept;
    } catch (e) {
      if (!(e instanceof EmptyCorpusError)) throw e;
      report = e.report;
      empty = e.message;
    }
    this.#report = report;
    return {
      total: report.total,
      kept: report.kept.length,
      keptChars: report.kept.reduce((n, d) => n + d.text.length, 0),
      steps: report.steps.map((s) => ({ ...s, examples: s.examples.map((x) => ({ ...x, text: x.text.slice(0, EXAMPLE_CHARS) })) })),
      scores: scoreCuration(report, docs),
      seconds: (performance.now() - started) / 1000,
      ...(empty !== undefined ? { empty } : {}),
    };
  }

  /** Wraps a step so the reasons of every removal are kept (curate keeps only a few examples per step). */
  #remembering(step: CurationStep): CurationStep {
    return {
      ...step,
      run: (docs) => {
        const out = step.run(docs);
        docs.forEach((d, i) => out.keep[i] || this.#reasons.set(d.id, out.reasons[i]));
        return out;
      },
    };
  }

  /** A page of the crawl's documents (all, kept or removed by the last run), with their statistics. */
  async documents(page: number, pageSize = 20, show: DocShow = 'all'): Promise<DocPage> {
    const docs = await this.crawlDocs();
    const removedBy = this.#report?.removedBy ?? new Map<number, string>();
    const matching = show === 'all' ? docs : docs.filter((d) => removedBy.has(d.id) === (show === 'removed'));
    const pages = Math.max(1, Math.ceil(matching.length / pageSize));
    const p = Math.min(Math.max(0, Math.floor(page)), pages - 1);
    const rows = matching.slice(p * pageSize, (p + 1) * pageSize).map((d) => docRow(d, removedBy.get(d.id) ?? null, this.#reasons.get(d.id) ?? []));
    return { rows, matching: matching.length, page: p, pages };
  }

  /** Training text and held-out text: the kept documents (their last tenth held out), or the tales' two files. */
  async #texts(corpus: TokenizerSettings['corpus']): Promise<{ train: string; val: string }> {
    if (corpus === 'tales') return this.#env.loadBundledCorpus('tales');
    if (!this.#kept) throw new Error('Run the filters first: the tokenizer learns from the documents they keep.');
    const texts = this.#kept.map((d) => d.text.trim());
    const cut = Math.max(1, Math.floor(texts.length * (1 - HELD_OUT)));
    return { train: texts.slice(0, cut).join('\n\n'), val: texts.slice(cut).join('\n\n') || texts.join('\n\n') };
  }

  /** Learns merges until the vocabulary holds `vocabSize` tokens; `onProgress` hears (merges done, wanted) every 50 ms or so. */
  async trainTokenizer(settings: TokenizerSettings, onProgress?: (done: number, wanted: number) => unknown): Promise<TokenizerReport> {
    const { train, val } = await this.#texts(settings.corpus);
    const started = performance.now();
    let last = 0;
    const tok = BpeTokenizer.train(train, settings.vocabSize, {
      onMerge: (done, wanted) => {
        const now = performance.now();
        if (now - last < 50 && done < wanted) return;
        last = now;
        void onProgress?.(done, wanted);
      },
    });
    const seconds = (performance.now() - started) / 1000;
    this.#tokenizer = tok;
    const chars = CharTokenizer.fromJSON(bundledVocabulary as CharTokenizerJSON);
    const bpeCpt = charsPerToken(tok, val);
    const piece = (id: number) => tok.decode([id]);
    const chat = renderChat(tok, CHAT_SAMPLE).ids;
    return {
      corpus: settings.corpus,
      vocabSize: tok.vocabSize,
      trainChars: train.length,
      seconds,
      merges: tok.merges.map(([a, b]) => [piece(a), piece(b)]),
      charsPerToken: bpeCpt,
      sample: pieces(tok, tok.encode(val.slice(0, SAMPLE_CHARS))),
      chat: pieces(tok, chat),
      model: modelEffect('tiny', chars.vocabSize, tok.vocabSize, charsPerToken(chars, val), bpeCpt),
    };
  }

  /**
   * Whether new pretraining runs use the trained tokenizer (the student's choice; characters
   * otherwise). Returns the tokenizer pretraining will use, as a student reads it.
   */
  usePretrainingTokenizer(on: boolean): string {
    if (on && !this.#tokenizer) throw new Error('Train a tokenizer first.');
    this.#forPretraining = on;
    return this.#forPretraining ? describeTokenizer(this.#tokenizer!) : 'characters';
  }

  /** The tokenizer trained last, whether or not pretraining uses it (the tokenizer experiment's); null before one is. */
  trainedTokenizer(): BpeTokenizer | null {
    return this.#tokenizer;
  }

  /** The tokenizer a new pretraining run takes, when the student chose the trained one. */
  pretrainingTokenizer(): TokenizerJSON | undefined {
    return this.#forPretraining ? this.#tokenizer?.toJSON() : undefined;
  }

  /** The trained tokenizer as Hugging Face's tokenizer.json and tokenizer_config.json. */
  tokenizerFiles(): { 'tokenizer.json': string; 'tokenizer_config.json': string } {
    if (!this.#tokenizer) throw new Error('Train a tokenizer first.');
    return hfTokenizerFiles(this.#tokenizer);
  }
}
