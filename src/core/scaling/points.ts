/**
 * The finished points of a sweep, wherever they were trained (this tab, the command line, a class's
 * machines): what a checkpoint's `extra.scaling` holds, read back with a reason when it holds none,
 * and their IsoFLOP fit with parameters counted with or without the embedding tables. No tfjs here:
 * the page fits dropped files itself.
 */
import type { CheckpointState } from '../io/checkpoint.ts';
import { parameterCounts } from './family.ts';
import { isoFlopFit, type IsoFlopFit } from './fit.ts';

/** One finished run: what the command line prints and a checkpoint's `extra.scaling` holds. */
export interface SweepResult {
  budget: number;
  params: number;
  nonEmbeddingParams: number;
  tokens: number;
  steps: number;
  valLoss: number;
  seconds: number;
  seed: number;
}

const RESULT_KEYS = ['budget', 'params', 'nonEmbeddingParams', 'tokens', 'steps', 'valLoss', 'seconds', 'seed'] as const;

/** The sweep point a checkpoint stands for, or why it stands for none (a file dropped by mistake). */
export function pointFromCheckpoint(state: Pick<CheckpointState, 'extra' | 'model'>): SweepResult | string {
  const s = state.extra.scaling as Record<string, unknown> | undefined;
  if (s === undefined || typeof s !== 'object' || s === null) return 'it is not a point of a scaling sweep (no extra.scaling in its metadata)';
  for (const key of RESULT_KEYS) if (typeof s[key] !== 'number' || !Number.isFinite(s[key])) return `its extra.scaling.${key} is not a number`;
  const counted = parameterCounts(state.model);
  if (counted.params !== s.params) return `its extra.scaling.params (${String(s.params)}) does not match its model (${counted.params})`;
  return s as unknown as SweepResult;
}

export interface SweepSummary extends IsoFlopFit {
  /** How parameters were counted for this fit. */
  embeddings: boolean;
}

/** Step 3: the IsoFLOP fit of the results, with parameters counted with or without the embedding tables. */
export function summarizeSweep(results: readonly SweepResult[], opts: { embeddings: boolean }): SweepSummary {
  const budgets = new Set(results.map((r) => r.budget));
  for (const b of budgets) {
    const n = new Set(results.filter((r) => r.budget === b).map((r) => r.params)).size;
    if (n < 3) throw new Error(`budget ${b.toExponential(1)} has ${n} model size${n === 1 ? '' : 's'}; a parabola needs at least 3`);
  }
  const points = results.map((r) => ({ budget: r.budget, params: opts.embeddings ? r.params : r.nonEmbeddingParams, tokens: r.tokens, valLoss: r.valLoss }));
  return { ...isoFlopFit(points), embeddings: opts.embeddings };
}

/** The points as CSV, one row each, with the budget's fitted optimum beside them (empty when it has none). */
export function pointsCsv(results: readonly SweepResult[], summary: SweepSummary | null): string {
  const header = ['budget', 'params', 'nonEmbeddingParams', 'tokens', 'steps', 'valLoss', 'seconds', 'seed', `optimalParams${summary?.embeddings === false ? 'NonEmbedding' : ''}`, 'optimalTokens'];
  const rows = [...results].sort((a, b) => a.budget - b.budget || a.params - b.params).map((r) => {
    const fit = summary?.fits.find((f) => f.budget === r.budget);
    return [r.budget, r.params, r.nonEmbeddingParams, r.tokens, r.steps, r.valLoss, r.seconds, r.seed, fit ? Math.round(fit.optimalParams) : '', fit ? Math.round(fit.optimalTokens) : ''].join(',');
  });
  return [header.join(','), ...rows].join('\n') + '\n';
}
