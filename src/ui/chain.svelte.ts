/**
 * The chain the loaded model descends from (base → SFT → DPO): each stage's metric rows, the
 * report card of every stage and their replies side by side. Several views and the pipeline bar
 * read it, so the app holds one for the tab; the worker does every computation (src/lab/stages/reports.ts).
 */
import type { CompareOptions, StageHistory, StageReply, StageReport } from '../lab/stages/reports.ts';
import type { MetricRow, RunInfo } from '../lab/types.ts';
import { messageOf } from './format.ts';
import type { Lab } from './lab.svelte.ts';

export type StageName = RunInfo['stage'];

/** The rows of each stage of the loaded run's chain, and where each starts on a shared step axis. */
export interface StageRows {
  rows: Record<StageName, MetricRow[]>;
  offsets: Record<StageName, number | null>; // null: the stage is not in the chain
}

/** One shared empty list, so that a stage without rows does not redraw its charts on every update. */
const NO_ROWS: MetricRow[] = [];

export class Chain {
  readonly #lab: Lab;
  #history = $state.raw<StageHistory[]>([]);
  #historyRun = $state<string | null>(null);
  #cards = $state.raw<StageReport[]>([]);
  #cardsBusy = $state(false);
  #replies = $state.raw<StageReply[]>([]);
  #compareBusy = $state(false);
  #error = $state<{ cards: string | null; compare: string | null }>({ cards: null, compare: null });

  constructor(lab: Lab) {
    this.#lab = lab;
  }

  get history(): StageHistory[] { return this.#history; }
  get cards(): StageReport[] { return this.#cards; }
  get cardsBusy(): boolean { return this.#cardsBusy; }
  get replies(): StageReply[] { return this.#replies; }
  get compareBusy(): boolean { return this.#compareBusy; }
  get errors() { return this.#error; }

  /** Whether the loaded model can be asked (report card, replies): one is loaded and ready. */
  get canAsk(): boolean {
    const lab = this.#lab;
    return lab.run !== null && lab.status !== 'loading' && lab.status !== 'starting';
  }

  /** The run of `stage` in the loaded chain: the loaded run itself, or one of its parents. */
  runOf(stage: StageName): { name: string; stage: string } | null {
    if (this.#lab.run?.stage === stage) return this.#lab.run;
    const h = this.#history.find((r) => r.stage === stage);
    return h ? { name: h.name, stage } : null;
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
}
