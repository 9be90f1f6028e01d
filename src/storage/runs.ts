/**
 * Runs: one training run (a pretrain, an SFT or a DPO stage) with its settings and progress.
 * Its checkpoints and metrics hang off it by `runId` and are deleted with it.
 */
import { runRange, type LabDB, type RunRecord } from './db.ts';
import { commit } from './transaction.ts';

export type NewRun = Omit<RunRecord, 'id' | 'createdAt' | 'updatedAt' | 'lastStep'> & {
  id?: string;
  lastStep?: number;
};

/** The fields a run may change after it is created. */
export type RunUpdate = Partial<Pick<RunRecord, 'name' | 'settings' | 'lastStep'>>;

export async function createRun(db: LabDB, input: NewRun): Promise<RunRecord> {
  const now = Date.now();
  const run: RunRecord = {
    ...input,
    id: input.id ?? crypto.randomUUID(),
    createdAt: now,
    updatedAt: now,
    lastStep: input.lastStep ?? 0,
  };
  const tx = db.transaction('runs', 'readwrite');
  // add, not put: an id collision is a bug, not an overwrite
  await commit(tx, () => tx.store.add(run));
  return run;
}

export function getRun(db: LabDB, id: string): Promise<RunRecord | undefined> {
  return db.get('runs', id);
}

/** All runs, newest first. */
export async function listRuns(db: LabDB): Promise<RunRecord[]> {
  const runs = await db.getAll('runs');
  return runs.sort((a, b) => b.createdAt - a.createdAt);
}

/** The run touched most recently: the one to reopen when the page loads. */
export async function latestRun(db: LabDB): Promise<RunRecord | undefined> {
  const cursor = await db.transaction('runs').store.index('by-updated').openCursor(null, 'prev');
  return cursor?.value;
}

export async function updateRun(db: LabDB, id: string, patch: RunUpdate): Promise<RunRecord> {
  const tx = db.transaction('runs', 'readwrite');
  return commit(tx, async () => {
    const run = await tx.store.get(id);
    if (!run) throw new Error(`No run with id ${id}`);
    const updated: RunRecord = { ...run, ...patch, updatedAt: Date.now() };
    await tx.store.put(updated);
    return updated;
  });
}

/** Deletes a run with all its checkpoints (and their bytes) and metrics, in one transaction. */
export async function deleteRun(db: LabDB, id: string): Promise<void> {
  const tx = db.transaction(['runs', 'checkpoints', 'checkpointBytes', 'metrics'], 'readwrite');
  await commit(tx, async () => {
    const checkpoints = tx.objectStore('checkpoints');
    const ids = await checkpoints
      .index('by-run-step')
      .getAllKeys(runRange(id));
    await Promise.all([
      tx.objectStore('runs').delete(id),
      ...ids.map((checkpointId) => checkpoints.delete(checkpointId)),
      ...ids.map((checkpointId) => tx.objectStore('checkpointBytes').delete(checkpointId)),
      tx.objectStore('metrics').delete(runRange(id)),
    ]);
  });
}
