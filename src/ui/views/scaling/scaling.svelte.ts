/**
 * The Scaling view's state: the sweep the student picks (budgets, sizes, seed), its progress while
 * the worker trains it (src/lab/scaling.ts), the stored points and their IsoFLOP fit, redrawn
 * when the student switches how parameters are counted. The fit is the core's pure function,
 * computed here from the points (core/scaling/points.ts).
 */
import * as Comlink from 'comlink';
import bundledVocabulary from '../../../../corpora/vocab.json';
import { CharTokenizer, type CharTokenizerJSON } from '../../../core/model/tokenizer.ts';
import { lessonReference } from '../../../core/scaling/family.ts';
import { pointsCsv, summarizeSweep, type SweepSummary } from '../../../core/scaling/points.ts';
import { parseBudgets, SWEEP_DEFAULTS } from '../../../core/scaling/sweep-defaults.ts';
import type { PointRow, ScalingProgress } from '../../../lab/scaling.ts';
import type { Lab } from '../../lab.svelte.ts';

/** Chinchilla's compute-optimal tokens per parameter (Hoffmann et al. 2022). */
export const CHINCHILLA = 20;
export const LESSON = lessonReference(CharTokenizer.fromJSON(bundledVocabulary as CharTokenizerJSON).vocabSize);

export class ScalingState {
  readonly #lab: Lab;
  #budgetsText = $state(SWEEP_DEFAULTS.budgets.map((b) => b.toExponential(0).replace('+', '')).join(', '));
  #sizes = $state<number>(SWEEP_DEFAULTS.sizes);
  #seed = $state(1);
  #embeddings = $state(true);
  #points = $state.raw<PointRow[]>([]);
  #progress = $state.raw<ScalingProgress | null>(null);
  #running = $state(false);
  #message = $state('');

  constructor(lab: Lab) {
    this.#lab = lab;
  }

  get budgetsText(): string { return this.#budgetsText; }
  set budgetsText(v: string) { this.#budgetsText = v; }
  get sizes(): number { return this.#sizes; }
  set sizes(v: number) { this.#sizes = v; }
  get seed(): number { return this.#seed; }
  set seed(v: number) { this.#seed = v; }
  get embeddings(): boolean { return this.#embeddings; }
  set embeddings(v: boolean) { this.#embeddings = v; }
  get points(): readonly PointRow[] { return this.#points; }
  get progress(): ScalingProgress | null { return this.#progress; }
  get running(): boolean { return this.#running; }
  get message(): string { return this.#message; }
  /** The worker has started (its API answers): the stored points can be read. */
  get ready(): boolean { return this.#lab.status !== 'starting'; }


  /** The fit of the stored points, counted as the switch says; its problem instead when it cannot be drawn. */
  readonly fit = $derived.by((): { summary: SweepSummary | null; problem: string } => {
    if (this.#points.length === 0) return { summary: null, problem: '' };
    try {
      return { summary: summarizeSweep(this.#points, { embeddings: this.#embeddings }), problem: '' };
    } catch (e) {
      return { summary: null, problem: e instanceof Error ? e.message : String(e) };
    }
  });

  async refresh(): Promise<void> {
    const api = this.#lab.api;
    if (api) this.#points = await api.scalingPoints();
  }

  /** Runs the sweep in the worker: the points already stored are skipped, so this also resumes. */
  async start(): Promise<void> {
    const api = this.#lab.api;
    if (!api || this.#running) return;
    this.#running = true;
    this.#message = '';
    try {
      const request = { budgets: parseBudgets(this.#budgetsText), sizes: this.#sizes, seed: this.#seed };
      const { stopped } = await api.scalingRun(request, Comlink.proxy((p: ScalingProgress) => {
        this.#progress = p;
        if (p.done) void this.refresh();
      }));
      this.#message = stopped ? 'Stopped: the finished points are kept; Run goes on from the next one.' : 'Sweep finished.';
    } catch (e) {
      this.#message = e instanceof Error ? e.message : String(e);
    } finally {
      this.#running = false;
      await this.refresh();
    }
  }

  async stop(): Promise<void> {
    await this.#lab.api?.scalingStop();
  }

  async clear(): Promise<void> {
    await this.#lab.api?.scalingClear();
    this.#progress = null;
    await this.refresh();
  }

  /** Checkpoint files of points trained elsewhere (a classmate's); the ones that are not points are named with why. */
  async addFiles(files: readonly File[]): Promise<void> {
    const api = this.#lab.api;
    if (!api) return;
    const refused: string[] = [];
    for (const file of files) {
      const bytes = new Uint8Array(await file.arrayBuffer());
      const added = await api.scalingAddFile(file.name, Comlink.transfer(bytes, [bytes.buffer]));
      if (typeof added === 'string') refused.push(added);
    }
    this.#message = refused.length ? `Left out: ${refused.join('; ')}` : `Added ${files.length} point${files.length === 1 ? '' : 's'}.`;
    await this.refresh();
  }

  csv(): string {
    return pointsCsv(this.#points, this.fit.summary);
  }

  json(): string {
    return JSON.stringify({ points: this.#points, fit: this.fit.summary, lesson: LESSON, chinchillaTokensPerParam: CHINCHILLA }, null, 2);
  }
}
