/**
 * The Data view's experiment: the same pretraining on the raw crawl and on the crawl through the
 * view's filters, run in the worker (src/lab/curation.ts); ArmsRun holds both validation curves as
 * they arrive, the final figures and samples, and progress; this class adds the settings and Stop.
 */
import { type Arm, CURATION_EXPERIMENT } from '../../../core/data/curation-plan.ts';
import type { CurationOutcome, CurationProgress } from '../../../lab/curation.ts';
import type { Caller } from '../../caller.ts';
import { ArmsRun } from './arms-run.svelte.ts';

export class ExperimentState extends ArmsRun<Arm, { arm: Arm; step: number; steps: number }, CurationOutcome> {
  readonly #call: Caller;
  /** The filtered run's filters, as the view's switches set them: "c4-lines,…,near-dedup"; '' when every switch is off. */
  readonly #filters: () => string;
  steps = $state(CURATION_EXPERIMENT.steps);
  seed = $state(1);

  constructor(call: Caller, filters: () => string) {
    super(() => ({ raw: [], filtered: [] }));
    this.#call = call;
    this.#filters = filters;
  }

  async start(): Promise<void> {
    const filters = this.#filters();
    if (!filters) return this.fail('Switch at least one filter on: with none, both runs would train on the raw crawl.');
    const settings = { steps: this.steps, seed: this.seed, filters };
    await this.run(
      (p: CurationProgress) => ({ arm: p.arm, step: p.step, steps: p.steps }),
      (progress) => this.#call((api) => api.curationExperiment(settings, progress), false),
    );
  }

  stop(): Promise<void> {
    return this.#call((api) => api.stopCurationExperiment(), false);
  }
}
