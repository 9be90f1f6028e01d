/**
 * The curation experiment's settings (curation-experiment.ts runs it), in a file without tfjs so
 * the page can show them: the lesson's preset, and about the fewest steps at which the filtered run
 * beats the raw one by the lesson's margin on seeds 1–3 while both runs fit a class's few minutes
 * on a laptop without a GPU (docs/results/data.md has the figures).
 */
import type { PresetName } from '../model/config.ts';

export const CURATION_EXPERIMENT = Object.freeze({
  preset: 'tiny' as PresetName,
  steps: 800,
  filters: 'default',
  /** Validation losses along each run, for the chart. */
  evaluations: 10,
  /** Windows of the held-out tales the final losses average: more than a curve point's, the same windows for both runs. */
  finalEvalBatches: 32,
  /** Samples from each run, from the start of a document (a blank line), at this temperature. */
  samples: 3,
  sampleTokens: 160,
  temperature: 0.8,
});

/** The raw crawl's run, then the filtered crawl's. */
export type Arm = 'raw' | 'filtered';
export const ARMS: readonly Arm[] = ['raw', 'filtered'];
