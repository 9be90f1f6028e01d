/**
 * The lab's IndexedDB database: record types, schema versions and the upgrade path between them.
 *
 * Everything a reload needs lives here (runs, checkpoints, metrics), so the schema only grows by
 * versioned upgrades that carry old records forward; a student's week of training must survive an
 * update of the page.
 *
 *   version 1  runs; checkpoints with their bytes inline (listing them read every weight file)
 *   version 2  checkpoint bytes move to their own store so listing is cheap; checkpoints gain
 *              `pinned` and `sizeBytes`; a metrics store for the charts
 */
import { wrap, type DBSchema, type IDBPDatabase, type IDBPTransaction } from 'idb';
import { toStorageError } from './errors.ts';

export const SCHEMA_VERSION = 2;
export const DEFAULT_DB_NAME = 'lm-lab';

export type Stage = 'pretrain' | 'sft' | 'dpo' | 'rm' | 'rl';

export interface RunRecord {
  id: string;
  name: string;
  createdAt: number; // ms since epoch
  updatedAt: number; // bumped by every change; the most recent one is "where you left off"
  stage: Stage;
  preset: string;
  parentRunId?: string; // an SFT run's pretrain run, a DPO run's SFT run
  forkedFromCheckpointId?: string;
  settings: Record<string, unknown>; // plain JSON: corpus, seed, lr, recovery policy…
  lastStep: number;
}

export interface CheckpointSummary {
  trainLoss?: number;
  valLoss?: number;
  tokensSeen?: number;
  [k: string]: unknown;
}

/** What the UI lists: everything about a checkpoint except its bytes. */
export interface CheckpointMeta {
  id: string;
  runId: string;
  step: number;
  stage: string;
  createdAt: number; // strictly increasing within a run: it is the save order (see checkpoints.ts)
  kind: 'auto' | 'manual' | 'import';
  pinned: boolean; // pinned checkpoints are never rotated away
  sizeBytes: number;
  summary: CheckpointSummary;
}

/** A checkpoint with its .safetensors file, which this layer stores but never parses. */
export interface CheckpointRecord extends CheckpointMeta {
  bytes: Uint8Array;
}

/** One logged step: loss, gradNorm, lr, tokensPerSec, valLoss… whichever were measured. */
export interface MetricRow {
  step: number;
  [name: string]: number;
}

export interface LabSchema extends DBSchema {
  runs: {
    key: string;
    value: RunRecord;
    indexes: { 'by-updated': number };
  };
  checkpoints: {
    key: string;
    value: CheckpointMeta;
    indexes: {
      'by-run-step': [string, number, number]; // [runId, step, createdAt]: equal steps, newest last
      'by-run-created': [string, number]; // [runId, createdAt]: save order
    };
  };
  checkpointBytes: {
    key: string; // the checkpoint's id
    value: { id: string; bytes: Uint8Array };
  };
  metrics: {
    key: [string, number]; // [runId, step]: rows come back grouped by run and sorted by step
    value: { runId: string; step: number; row: MetricRow };
  };
}

export type LabDB = IDBPDatabase<LabSchema>;

/**
 * Every key of one run in a store or index keyed by [runId, number, …]. Array keys compare
 * element by element and steps and times are finite, so ±Infinity bracket the whole run.
 */
export function runRange(runId: string): IDBKeyRange {
  return IDBKeyRange.bound([runId, -Infinity], [runId, Infinity]);
}

/**
 * Opens (creating or upgrading as needed) the lab's database.
 * `factory` lets tests give each case its own fake IndexedDB.
 */
export function openLabStore(name = DEFAULT_DB_NAME, factory?: IDBFactory): Promise<LabDB> {
  return openAtVersion(name, SCHEMA_VERSION, factory) as Promise<LabDB>;
}

/**
 * Opens the database at a given schema version. Only tests ask for an older one, to build a
 * database exactly as an earlier release of the page left it.
 *
 * This is idb's openDB with two changes: it takes an IDBFactory, and an upgrade step that fails
 * aborts the upgrade (so the database stays at its old version, intact) instead of committing
 * half a migration.
 */
export async function openAtVersion(
  name: string,
  version: number,
  factory: IDBFactory = indexedDB,
): Promise<IDBPDatabase> {
  const request = factory.open(name, version);
  let upgradeError: unknown;
  request.addEventListener('upgradeneeded', (event) => {
    const db = wrap(request.result) as IDBPDatabase;
    const tx = wrap(request.transaction!) as unknown as UpgradeTransaction;
    tx.done.catch(() => {}); // a failed upgrade is reported by the open request below
    upgrade(db, event.oldVersion, version, tx).catch((error) => {
      upgradeError = error;
      try {
        tx.abort();
      } catch {
        // already finished; the open request reports the error
      }
    });
  });
  let db: IDBPDatabase;
  try {
    db = (await wrap(request)) as IDBPDatabase;
  } catch (error) {
    // The open request only says "aborted"; the upgrade's own error says why.
    throw await toStorageError(upgradeError ?? error);
  }
  // Another tab (a newer page) wants to upgrade: let it, instead of blocking it forever.
  db.addEventListener('versionchange', () => db.close());
  return db;
}

type UpgradeTransaction = IDBPTransaction<unknown, string[], 'versionchange'>;

/** Brings a database from `oldVersion` to `newVersion` one version at a time. */
async function upgrade(
  db: IDBPDatabase,
  oldVersion: number,
  newVersion: number,
  tx: UpgradeTransaction,
): Promise<void> {
  if (oldVersion < 1 && newVersion >= 1) createVersion1(db);
  if (oldVersion < 2 && newVersion >= 2) await upgradeToVersion2(db, tx);
}

function createVersion1(db: IDBPDatabase): void {
  const runs = db.createObjectStore('runs', { keyPath: 'id' });
  runs.createIndex('by-updated', 'updatedAt');
  const checkpoints = db.createObjectStore('checkpoints', { keyPath: 'id' });
  checkpoints.createIndex('by-run', 'runId');
}

async function upgradeToVersion2(
  db: IDBPDatabase,
  tx: UpgradeTransaction,
): Promise<void> {
  db.createObjectStore('checkpointBytes', { keyPath: 'id' });
  db.createObjectStore('metrics', { keyPath: ['runId', 'step'] });
  const checkpoints = tx.objectStore('checkpoints');
  checkpoints.deleteIndex('by-run');
  checkpoints.createIndex('by-run-step', ['runId', 'step', 'createdAt']);
  checkpoints.createIndex('by-run-created', ['runId', 'createdAt']);

  // Move each checkpoint's bytes out of its record; older records get the new fields' defaults.
  const bytesStore = tx.objectStore('checkpointBytes');
  for (let cursor = await checkpoints.openCursor(); cursor; cursor = await cursor.continue()) {
    const { bytes, ...meta } = cursor.value as CheckpointMeta & { bytes: Uint8Array };
    await bytesStore.put({ id: meta.id, bytes });
    await cursor.update({ ...meta, pinned: meta.pinned ?? false, sizeBytes: bytes.byteLength });
  }
}
