/**
 * The sweep's defaults, shared by the command line and the page (this file imports nothing, so the
 * page reads it without tfjs). The budgets were chosen so that each one's lowest loss falls inside
 * its window of sizes and the whole sweep fits in a lesson on two cores (docs/results/scaling.md).
 * Batch and learning rate are the `tiny` preset's, the ones the lesson was tuned with, and the
 * rate is the same at every size: a rate tuned per size would lower each point a little and could
 * move the optimum, a choice a student can make on the command line but not one this lab makes.
 */
export const SWEEP_DEFAULTS = Object.freeze({
  budgets: Object.freeze([2e10, 6e10, 2e11]) as readonly number[],
  sizes: 5,
  batchSize: 16,
  learningRate: 3e-3,
  /** Validation batches of the final loss: more than a training run's 8, the fit compares small differences. */
  finalEvalBatches: 32,
});

/** "2e10, 6e10, 2e11" → numbers, or a message naming what is wrong (the page's field and `--budgets`). */
export function parseBudgets(written: string | undefined): number[] {
  if (written === undefined) return [...SWEEP_DEFAULTS.budgets];
  const budgets = written.split(',').map((w) => w.trim());
  const bad = budgets.find((w) => w === '' || !Number.isFinite(Number(w)));
  if (bad !== undefined) throw new Error(`budgets must be FLOP counts separated by commas, e.g. 2e10,6e10,2e11; "${bad}" is not a number`);
  return budgets.map(Number);
}
