/**
 * The Data view's experiment: the same pretraining on the raw crawl and on the crawl through the
 * view's filters, run in the worker (src/lab/curation.ts); this class holds both validation curves
 * as they arrive, the final figures and samples, progress, and Stop.
 */
import * as Comlink from 'comlink';
import { type Arm, CURATION_EXPERIMENT } from '../../../core/data/curation-plan.ts';
import type { CurationOutcome, CurationProgress } from '../../../lab/curation.ts';
import type { Caller } from '../../caller.ts';

export class ExperimentState {
  readonly #call: Caller;
  /** The filtered run's filters, as the view's switches set them: "c4-lines,…,near-dedup"; '' when every switch is off. */
  readonly #filters: () => string;
  steps = $state(CURATION_EXPERIMENT.steps);
  seed = $state(1);
  #curves = $state.raw<Record<Arm, [number, number][]>>({ raw: [], filtered: [] });
  #at = $state.raw<{ arm: Arm; step: number; steps: number } | null>(null);
  #outcome = $state.raw<CurationOutcome | null>(null);
  #running = $state(false);
  #error = $state<string | null>(null);

  constructor(call: Caller, filters: () => string) {
    this.#call = call;
    this.#filters = filters;
  }

  get curves(): Record<Arm, [number, number][]> { return this.#curves; }
  /** Where the run stands while it trains; null otherwise. */
  get at(): { arm: Arm; step: number; steps: number } | null { return this.#at; }
  get outcome(): CurationOutcome | null { return this.#outcome; }
  get running(): boolean { return this.#running; }
  get error(): string | null { return this.#error; }

  async start(): Promise<void> {
    const filters = this.#filters();
    if (!filters) {
      this.#error = 'Switch at least one filter on: with none, both runs would train on the raw crawl.';
      return;
    }
    const settings = { steps: this.steps, seed: this.seed, filters };
    const progress = Comlink.proxy((p: CurationProgress) => {
      this.#curves = { ...this.#curves, [p.arm]: p.curve };
      this.#at = { arm: p.arm, step: p.step, steps: p.steps };
    });
    this.#error = null;
    this.#outcome = null;
    this.#curves = { raw: [], filtered: [] };
    this.#running = true;
    try {
      this.#outcome = await this.#call((api) => api.curationExperiment(settings, progress), false);
    } catch (e) {
      this.#error = e instanceof Error ? e.message : String(e);
    } finally {
      this.#running = false;
      this.#at = null;
    }
  }

  stop(): Promise<void> {
    return this.#call((api) => api.stopCurationExperiment(), false);
  }
}
