/**
 * The page's view of post-training: the SFT and DPO forms, the student's own JSONL files (checked
 * here, line by line, before anything is sent), the earlier stages' metric rows, report cards,
 * side-by-side replies and the loss-mask example. The worker does every computation (stages.ts).
 */
import { parseDpoJsonl, parseSftJsonl } from '../core/post/chatdata.ts';
import type { CompareOptions, LineError, MaskedChat, StageHistory, StageReply, StageReport } from '../lab/stages.ts';
import type { MetricRow } from '../lab/types.ts';
import type { Lab } from './lab.svelte.ts';
import { defaultDpoForm, defaultSftForm, type DpoForm, type SftForm } from './settings.ts';

export type StageName = 'pretrain' | 'sft' | 'dpo' | 'rm' | 'rl';

export interface OwnFile {
  name: string;
  text: string;
  examples: number;
  errors: LineError[];
}

export type { SftForm, DpoForm };

/** The rows of each stage of the loaded run's chain, and where each starts on a shared step axis. */
export interface StageRows {
  rows: Record<StageName, MetricRow[]>;
  offsets: Record<StageName, number | null>; // null: the stage is not in the chain
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** One shared empty list, so that a stage without rows does not redraw its charts on every update. */
const NO_ROWS: MetricRow[] = [];

export class Stages {
  readonly #lab: Lab;
  #sft = $state<SftForm>(defaultSftForm());
  #dpo = $state<DpoForm>(defaultDpoForm());
  #own = $state.raw<{ sft: OwnFile | null; dpo: OwnFile | null }>({ sft: null, dpo: null });
  #history = $state.raw<StageHistory[]>([]);
  #historyRun = $state<string | null>(null);
  #cards = $state.raw<StageReport[]>([]);
  #cardsBusy = $state(false);
  #replies = $state.raw<StageReply[]>([]);
  #compareBusy = $state(false);
  #mask = $state.raw<MaskedChat | null>(null);
  #error = $state<{ cards: string | null; compare: string | null }>({ cards: null, compare: null });

  constructor(lab: Lab) {
    this.#lab = lab;
  }

  get sft(): SftForm { return this.#sft; }
  get dpo(): DpoForm { return this.#dpo; }
  get own() { return this.#own; }
  get history(): StageHistory[] { return this.#history; }
  get cards(): StageReport[] { return this.#cards; }
  get cardsBusy(): boolean { return this.#cardsBusy; }
  get replies(): StageReply[] { return this.#replies; }
  get compareBusy(): boolean { return this.#compareBusy; }
  get mask(): MaskedChat | null { return this.#mask; }
  get errors() { return this.#error; }

  /** The loaded run's stage, or null when nothing is loaded. */
  get stage(): StageName | null {
    return this.#lab.run?.stage ?? null;
  }

  /** Whether SFT or DPO may start now: the loaded model must be of the parent stage and trained. */
  get can() {
    const lab = this.#lab;
    const settled = !lab.busy && ['paused', 'stopped', 'done'].includes(lab.status) && (lab.run?.step ?? 0) > 0;
    return {
      sft: settled && this.stage === 'pretrain',
      dpo: settled && this.stage === 'sft',
      ask: lab.run !== null && lab.status !== 'loading' && lab.status !== 'starting',
    };
  }

  /** Rows per stage: the parents' from their checkpoints, the loaded run's as they stream in. */
  get stageRows(): StageRows {
    const rows: StageRows['rows'] = { pretrain: NO_ROWS, sft: NO_ROWS, dpo: NO_ROWS, rm: NO_ROWS, rl: NO_ROWS };
    const offsets: StageRows['offsets'] = { pretrain: null, sft: null, dpo: null, rm: null, rl: null };
    const current = this.#lab.run;
    if (!current) return { rows, offsets };
    let offset = 0;
    const parents = this.#historyRun === current.id ? this.#history : [];
    for (const h of parents) {
      rows[h.stage] = h.rows;
      offsets[h.stage] = offset;
      offset += h.step;
    }
    rows[current.stage] = this.#lab.rows;
    offsets[current.stage] = offset;
    return { rows, offsets };
  }

  updateSft(patch: Partial<SftForm>): void {
    this.#sft = { ...this.#sft, ...patch };
  }

  updateDpo(patch: Partial<DpoForm>): void {
    this.#dpo = { ...this.#dpo, ...patch };
  }

  /** Reads a student's JSONL file and reports every line that cannot be used (it will be skipped). */
  async chooseOwn(kind: 'sft' | 'dpo', file: File): Promise<void> {
    const text = await file.text();
    const { examples, errors } = kind === 'sft' ? parseSftJsonl(text) : parseDpoJsonl(text);
    this.#own = { ...this.#own, [kind]: { name: file.name, text, examples: examples.length, errors } };
  }

  clearOwn(kind: 'sft' | 'dpo'): void {
    this.#own = { ...this.#own, [kind]: null };
  }

  startSft(): Promise<void> {
    const { steps, learningRate, noPretrainText } = this.#sft;
    const own = this.#own.sft;
    return this.#lab.send((api) => api.sft({ steps, ...(learningRate ? { learningRate } : {}), ...(noPretrainText ? { whatIf: 'no-pretrain-text' as const } : {}), ...(own && own.examples > 0 ? { ownData: { name: own.name, text: own.text } } : {}) }));
  }

  startDpo(): Promise<void> {
    const own = this.#own.dpo;
    const { lengthBias, ...form } = $state.snapshot(this.#dpo);
    return this.#lab.send((api) => api.dpo({ ...form, ...(lengthBias ? { whatIf: 'length-bias' as const } : {}), ...(own && own.examples > 0 ? { ownData: { name: own.name, text: own.text } } : {}) }));
  }

  /** Fetches the earlier stages' rows for the loaded run (once per run). */
  async refreshHistory(): Promise<void> {
    const api = this.#lab.api;
    const runId = this.#lab.run?.id ?? null;
    if (!api || !runId || runId === this.#historyRun) return;
    try {
      const history = await api.stageHistory();
      if (this.#lab.run?.id !== runId) return;
      this.#history = history;
      this.#historyRun = runId;
    } catch {
      // the charts keep what they had; the next run change retries
    }
  }

  async refreshCards(): Promise<void> {
    const api = this.#lab.api;
    if (!api || this.#cardsBusy) return;
    this.#cardsBusy = true;
    this.#error = { ...this.#error, cards: null };
    try {
      this.#cards = await api.reportCards();
    } catch (e) {
      this.#error = { ...this.#error, cards: messageOf(e) };
    } finally {
      this.#cardsBusy = false;
    }
  }

  async compare(opts: CompareOptions): Promise<void> {
    const api = this.#lab.api;
    if (!api || this.#compareBusy) return;
    this.#compareBusy = true;
    this.#error = { ...this.#error, compare: null };
    try {
      this.#replies = await api.compare(opts);
    } catch (e) {
      this.#error = { ...this.#error, compare: messageOf(e) };
    } finally {
      this.#compareBusy = false;
    }
  }

  async showMask(index: number): Promise<void> {
    const api = this.#lab.api;
    if (!api) return;
    try {
      this.#mask = await api.maskExample(index);
    } catch {
      // shown again on the next request
    }
  }
}
