/**
 * Checkpoints: opaque .safetensors files (made and parsed in src/core) plus a small summary.
 *
 * Metadata and bytes live in two stores so that listing a run's checkpoints never reads the
 * weights. A save writes both, moves the run's lastStep and rotates old autosaves in ONE
 * transaction, and resolves only after it has committed: a tab closed mid-save, or a full disk,
 * leaves the previous checkpoint as it was.
 *
 * "Newest" means most recently saved, not highest step: after a rollback to step 100 the next
 * autosave at step 150 is where training is, even if an abandoned step-300 checkpoint remains.
 */
import type { IDBPTransaction } from 'idb';
import { runRange, type CheckpointMeta, type CheckpointRecord, type LabDB, type LabSchema } from './db.ts';
import { commit } from './transaction.ts';

export const DEFAULT_KEEP_AUTOSAVES = 3;

export type NewCheckpoint = Omit<CheckpointRecord, 'id' | 'createdAt' | 'sizeBytes' | 'pinned'> & {
  id?: string;
  pinned?: boolean;
};

type SaveTransaction = IDBPTransaction<LabSchema, ('runs' | 'checkpoints' | 'checkpointBytes')[], 'readwrite'>;

export interface SaveOptions {
  /** How many `auto` checkpoints of the run to keep (the newest ones); pinned and manual ones are always kept. */
  keepAutosaves?: number;
  /**
   * Called after every write is queued and before the commit. A seam for tests: throwing, or
   * calling tx.abort(), simulates a tab closed in the middle of a save.
   */
  onBeforeCommit?: (tx: SaveTransaction) => void;
}

/** Saves a checkpoint and rotates the run's autosaves; resolves once it is committed. */
export async function saveCheckpoint(
  db: LabDB,
  input: NewCheckpoint,
  { keepAutosaves = DEFAULT_KEEP_AUTOSAVES, onBeforeCommit }: SaveOptions = {},
): Promise<CheckpointMeta> {
  if (!Number.isInteger(keepAutosaves) || keepAutosaves < 1) {
    throw new RangeError(`keepAutosaves must be a whole number ≥ 1, got ${keepAutosaves}`);
  }
  const tx = db.transaction(['runs', 'checkpoints', 'checkpointBytes'], 'readwrite');
  return commit(tx, async () => {
    const runs = tx.objectStore('runs');
    const checkpoints = tx.objectStore('checkpoints');
    const run = await runs.get(input.runId);
    if (!run) throw new Error(`No run with id ${input.runId}`);

    // createdAt doubles as the save order, so it must grow even if two saves share a millisecond.
    const previous = await checkpoints.index('by-run-created').openCursor(runRange(input.runId), 'prev');
    const { bytes, ...fields } = input;
    const meta: CheckpointMeta = {
      ...fields,
      id: input.id ?? crypto.randomUUID(),
      createdAt: Math.max(Date.now(), (previous?.value.createdAt ?? 0) + 1),
      pinned: input.pinned ?? false,
      sizeBytes: bytes.byteLength,
    };

    await tx.objectStore('checkpointBytes').add({ id: meta.id, bytes: ownBuffer(bytes) });
    await checkpoints.add(meta);
    await runs.put({ ...run, lastStep: meta.step, updatedAt: Date.now() });
    await rotateAutosaves(tx, input.runId, keepAutosaves);
    onBeforeCommit?.(tx);
    return meta;
  });
}

/**
 * Storing a typed array stores its whole underlying buffer, so a view into a larger buffer
 * (e.g. a slice of a serialisation arena) is copied out first.
 */
function ownBuffer(bytes: Uint8Array): Uint8Array {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  return whole ? bytes : bytes.slice();
}

/** Keeps the newest `keep` unpinned autosaves of a run and deletes the older ones. */
async function rotateAutosaves(tx: SaveTransaction, runId: string, keep: number): Promise<void> {
  const checkpoints = tx.objectStore('checkpoints');
  const newestFirst = (await checkpoints.index('by-run-created').getAll(runRange(runId))).reverse();
  const expired = newestFirst.filter((c) => c.kind === 'auto' && !c.pinned).slice(keep);
  await Promise.all(
    expired.flatMap((c) => [checkpoints.delete(c.id), tx.objectStore('checkpointBytes').delete(c.id)]),
  );
}

/** A run's checkpoints without their bytes, by step (then save order). */
export function listCheckpoints(db: LabDB, runId: string): Promise<CheckpointMeta[]> {
  return db.getAllFromIndex('checkpoints', 'by-run-step', runRange(runId));
}

export function getCheckpoint(db: LabDB, id: string): Promise<CheckpointMeta | undefined> {
  return db.get('checkpoints', id);
}

export async function loadCheckpointBytes(db: LabDB, id: string): Promise<Uint8Array | undefined> {
  return (await db.get('checkpointBytes', id))?.bytes;
}

/** Metadata and bytes read together, so they are from the same committed state. */
export async function loadCheckpoint(db: LabDB, id: string): Promise<CheckpointRecord | undefined> {
  const tx = db.transaction(['checkpoints', 'checkpointBytes']);
  const [meta, stored] = await Promise.all([
    tx.objectStore('checkpoints').get(id),
    tx.objectStore('checkpointBytes').get(id),
  ]);
  return meta && stored ? { ...meta, bytes: stored.bytes } : undefined;
}

/** The run's most recently saved checkpoint: where a reloaded page resumes. */
export async function latestCheckpoint(db: LabDB, runId: string): Promise<CheckpointMeta | undefined> {
  const index = db.transaction('checkpoints').store.index('by-run-created');
  return (await index.openCursor(runRange(runId), 'prev'))?.value;
}

/** The checkpoint with the highest step below `step` (the newest of equals): where a rollback goes. */
export async function checkpointBefore(
  db: LabDB,
  runId: string,
  step: number,
): Promise<CheckpointMeta | undefined> {
  // Keys are [runId, step, createdAt]. A prefix sorts before every longer key that starts with
  // it, so the upper bound [runId, step] lies below every checkpoint at `step` itself.
  const range = IDBKeyRange.bound([runId, -Infinity], [runId, step]);
  const index = db.transaction('checkpoints').store.index('by-run-step');
  return (await index.openCursor(range, 'prev'))?.value;
}

/** Pins (never rotated away) or unpins a checkpoint. An unpinned autosave is rotated at the next save. */
export async function pinCheckpoint(db: LabDB, id: string, pinned: boolean): Promise<CheckpointMeta> {
  const tx = db.transaction('checkpoints', 'readwrite');
  return commit(tx, async () => {
    const meta = await tx.store.get(id);
    if (!meta) throw new Error(`No checkpoint with id ${id}`);
    const updated = { ...meta, pinned };
    await tx.store.put(updated);
    return updated;
  });
}

export async function deleteCheckpoint(db: LabDB, id: string): Promise<void> {
  const tx = db.transaction(['checkpoints', 'checkpointBytes'], 'readwrite');
  await commit(tx, () =>
    Promise.all([tx.objectStore('checkpoints').delete(id), tx.objectStore('checkpointBytes').delete(id)]),
  );
}
