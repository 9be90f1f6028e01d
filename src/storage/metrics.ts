/**
 * Metrics: one row per logged step, stored under [runId, step] so a run's rows come back sorted.
 *
 * Rows are appended in batches (one transaction per log interval, not per step). A row logged
 * again for the same step replaces the old one, so replaying steps after a resume is harmless.
 */
import { runRange, type LabDB, type MetricRow } from './db.ts';
import { commit } from './transaction.ts';

export async function appendMetrics(db: LabDB, runId: string, rows: MetricRow[]): Promise<void> {
  if (rows.length === 0) return;
  const tx = db.transaction('metrics', 'readwrite');
  await commit(tx, () => Promise.all(rows.map((row) => tx.store.put({ runId, step: row.step, row }))));
}

/** All rows of a run, sorted by step. */
export async function loadMetrics(db: LabDB, runId: string): Promise<MetricRow[]> {
  const stored = await db.getAll('metrics', runRange(runId));
  return stored.map((s) => s.row);
}

/**
 * Deletes the rows after `afterStep`. Called when resuming from, or rolling back to, an older
 * checkpoint, so the charts show the history of the weights actually loaded.
 */
export async function truncateMetrics(db: LabDB, runId: string, afterStep: number): Promise<void> {
  const tx = db.transaction('metrics', 'readwrite');
  const after = IDBKeyRange.bound([runId, afterStep], [runId, Infinity], true, false);
  await commit(tx, () => tx.store.delete(after));
}
