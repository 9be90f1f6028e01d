import 'fake-indexeddb/auto'; // IDBKeyRange and the IDB classes idb checks against
import { IDBFactory, IDBObjectStore } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  SCHEMA_VERSION,
  StorageFullError,
  appendMetrics,
  checkpointBefore,
  createRun,
  deleteCheckpoint,
  deleteRun,
  getCheckpoint,
  getRun,
  isQuotaExceeded,
  latestCheckpoint,
  latestRun,
  listCheckpoints,
  listRuns,
  loadCheckpoint,
  loadCheckpointBytes,
  loadMetrics,
  openAtVersion,
  openLabStore,
  pinCheckpoint,
  requestPersistence,
  saveCheckpoint,
  storageEstimate,
  truncateMetrics,
  updateRun,
  type LabDB,
  type NewCheckpoint,
} from '../src/storage/index.ts';
import { commit } from '../src/storage/transaction.ts';

// Each test gets its own empty IndexedDB.
let factory: IDBFactory;
let db: LabDB;
beforeEach(async () => {
  factory = new IDBFactory();
  db = await openLabStore('lm-lab', factory);
});
afterEach(() => {
  db.close();
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

function fileOf(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

function newRun(name = 'shakespeare') {
  return createRun(db, { name, stage: 'pretrain', preset: 'micro', settings: { corpus: 'shakespeare', seed: 1 } });
}

function checkpoint(runId: string, step: number, extra: Partial<NewCheckpoint> = {}): NewCheckpoint {
  return {
    runId,
    step,
    stage: 'pretrain',
    kind: 'auto',
    summary: { trainLoss: 5 - step / 100 },
    bytes: fileOf(64, step),
    ...extra,
  };
}

const steps = (list: { step: number }[]) => list.map((c) => c.step);

/** Makes put/add on one object store throw the error a browser throws when the disk is full. */
function failWritesTo(storeName: string) {
  for (const method of ['put', 'add'] as const) {
    const original = IDBObjectStore.prototype[method];
    vi.spyOn(IDBObjectStore.prototype, method).mockImplementation(function (this: IDBObjectStore, ...args) {
      if (this.name === storeName) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      return original.apply(this, args as Parameters<typeof original>);
    });
  }
}

describe('database', () => {
  it('a new database is created at the current schema version with every store', () => {
    expect(db.version).toBe(SCHEMA_VERSION);
    expect([...db.objectStoreNames].sort()).toEqual(['checkpointBytes', 'checkpoints', 'metrics', 'runs']);
  });

  it('a version 1 database with checkpoints opens as version 2 without losing them', async () => {
    db.close();
    const v1 = await openAtVersion('old-lab', 1, factory);
    expect([...v1.objectStoreNames].sort()).toEqual(['checkpoints', 'runs']);
    const run = { id: 'r1', name: 'old', createdAt: 1, updatedAt: 1, stage: 'pretrain', preset: 'tiny', settings: {}, lastStep: 200 };
    await v1.put('runs', run);
    // Version 1 records: bytes inline, no pinned, no sizeBytes.
    const old = [100, 200].map((step) => ({
      id: `c${step}`, runId: 'r1', step, stage: 'pretrain', createdAt: step, kind: 'auto', summary: { valLoss: 2 }, bytes: fileOf(1000 + step, step),
    }));
    for (const c of old) await v1.put('checkpoints', c);
    v1.close();

    db = await openLabStore('old-lab', factory);
    expect(db.version).toBe(2);
    expect(await getRun(db, 'r1')).toEqual(run);
    const listed = await listCheckpoints(db, 'r1');
    expect(listed).toEqual(
      old.map(({ bytes, ...meta }) => ({ ...meta, pinned: false, sizeBytes: bytes.byteLength })),
    );
    for (const c of old) expect(await loadCheckpointBytes(db, c.id)).toEqual(c.bytes);
    expect((await latestCheckpoint(db, 'r1'))?.id).toBe('c200');
    // The new store works on an upgraded database.
    await appendMetrics(db, 'r1', [{ step: 1, loss: 3 }]);
    expect(await loadMetrics(db, 'r1')).toEqual([{ step: 1, loss: 3 }]);
  });

  it('an upgrade that fails part-way leaves the version 1 database as it was', async () => {
    db.close();
    const v1 = await openAtVersion('broken-lab', 1, factory);
    const good = { id: 'c1', runId: 'r1', step: 1, stage: 'pretrain', createdAt: 1, kind: 'auto', summary: {}, bytes: fileOf(10, 1) };
    const broken = { id: 'c2', runId: 'r1', step: 2, stage: 'pretrain', createdAt: 2, kind: 'auto', summary: {} }; // no bytes
    await v1.put('checkpoints', good);
    await v1.put('checkpoints', broken);
    v1.close();

    await expect(openLabStore('broken-lab', factory)).rejects.toThrow(TypeError); // the cause, not just "aborted"

    const reopened = await openAtVersion('broken-lab', 1, factory);
    expect(reopened.version).toBe(1);
    expect([...reopened.objectStoreNames].sort()).toEqual(['checkpoints', 'runs']);
    expect(await reopened.getAll('checkpoints')).toEqual([good, broken]);
    reopened.close();
  });
});

describe('runs', () => {
  it('create, get, list newest first, update, latestRun', async () => {
    const now = vi.spyOn(Date, 'now');
    now.mockReturnValue(1000);
    const a = await newRun('a');
    now.mockReturnValue(2000);
    const b = await createRun(db, { name: 'b', stage: 'sft', preset: 'tiny', parentRunId: a.id, settings: { lr: 1e-4 } });
    expect(await getRun(db, a.id)).toEqual(a);
    expect(b).toMatchObject({ lastStep: 0, createdAt: 2000, updatedAt: 2000, parentRunId: a.id });
    expect((await listRuns(db)).map((r) => r.name)).toEqual(['b', 'a']);
    expect((await latestRun(db))?.id).toBe(b.id);

    now.mockReturnValue(3000);
    const updated = await updateRun(db, a.id, { name: 'a2', lastStep: 42, settings: { seed: 7 } });
    expect(updated).toMatchObject({ name: 'a2', lastStep: 42, settings: { seed: 7 }, updatedAt: 3000, createdAt: 1000 });
    expect(await getRun(db, a.id)).toEqual(updated);
    expect((await latestRun(db))?.id).toBe(a.id); // touched last
    expect((await listRuns(db)).map((r) => r.name)).toEqual(['b', 'a2']); // still by creation
    await expect(updateRun(db, 'nope', { name: 'x' })).rejects.toThrow(/No run/);
  });

  it('latestRun of an empty database is undefined', async () => {
    expect(await latestRun(db)).toBeUndefined();
  });

  it('deleting a run removes its checkpoints, their bytes and its metrics, and nothing else', async () => {
    const gone = await newRun('gone');
    const kept = await newRun('kept');
    const c1 = await saveCheckpoint(db, checkpoint(gone.id, 10));
    const c2 = await saveCheckpoint(db, checkpoint(gone.id, 20, { kind: 'manual' }));
    const other = await saveCheckpoint(db, checkpoint(kept.id, 10));
    await appendMetrics(db, gone.id, [{ step: 1, loss: 4 }, { step: 2, loss: 3.9 }]);
    await appendMetrics(db, kept.id, [{ step: 1, loss: 4.1 }]);

    await deleteRun(db, gone.id);

    expect(await getRun(db, gone.id)).toBeUndefined();
    expect(await listCheckpoints(db, gone.id)).toEqual([]);
    expect(await db.count('checkpoints')).toBe(1);
    for (const c of [c1, c2]) expect(await loadCheckpointBytes(db, c.id)).toBeUndefined();
    expect(await db.count('checkpointBytes')).toBe(1);
    expect(await loadMetrics(db, gone.id)).toEqual([]);

    expect(await getRun(db, kept.id)).toBeDefined();
    expect(await loadCheckpointBytes(db, other.id)).toEqual(fileOf(64, 10));
    expect(await loadMetrics(db, kept.id)).toEqual([{ step: 1, loss: 4.1 }]);
  });
});

describe('checkpoints', () => {
  it('save, list and load round-trip the bytes exactly; listing carries no bytes', async () => {
    const run = await newRun();
    const bytes = fileOf(100_000, 3);
    const meta = await saveCheckpoint(db, checkpoint(run.id, 500, { bytes, summary: { trainLoss: 1.5, valLoss: 1.7, tokensSeen: 64_000 } }));

    expect(meta).toMatchObject({ runId: run.id, step: 500, kind: 'auto', pinned: false, sizeBytes: 100_000 });
    expect(meta).not.toHaveProperty('bytes');
    const listed = await listCheckpoints(db, run.id);
    expect(listed).toEqual([meta]);
    expect(listed[0]).not.toHaveProperty('bytes');
    expect(await getCheckpoint(db, meta.id)).toEqual(meta);

    const loaded = await loadCheckpointBytes(db, meta.id);
    expect(loaded).toBeInstanceOf(Uint8Array);
    expect(loaded).toEqual(bytes);
    expect(await loadCheckpoint(db, meta.id)).toEqual({ ...meta, bytes });
    expect((await getRun(db, run.id))?.lastStep).toBe(500);
  });

  it('a view into a larger buffer is stored as just its own bytes', async () => {
    const run = await newRun();
    const arena = fileOf(10_000, 9);
    const view = arena.subarray(1000, 1100);
    const meta = await saveCheckpoint(db, checkpoint(run.id, 1, { bytes: view }));
    const loaded = (await loadCheckpointBytes(db, meta.id))!;
    expect(loaded).toEqual(view);
    expect(loaded.buffer.byteLength).toBe(100);
  });

  it('an interrupted save leaves the previous checkpoint loadable and the list unchanged', async () => {
    const run = await newRun();
    const good = await saveCheckpoint(db, checkpoint(run.id, 100));
    const listBefore = await listCheckpoints(db, run.id);

    // Abort after every write (bytes, metadata, lastStep, rotation) is queued: a tab closed mid-save.
    await expect(
      saveCheckpoint(db, checkpoint(run.id, 200), { keepAutosaves: 1, onBeforeCommit: (tx) => tx.abort() }),
    ).rejects.toThrow();
    // The same, by an exception instead of an abort.
    await expect(
      saveCheckpoint(db, checkpoint(run.id, 300), {
        keepAutosaves: 1,
        onBeforeCommit: () => {
          throw new Error('crash');
        },
      }),
    ).rejects.toThrow('crash');

    expect(await listCheckpoints(db, run.id)).toEqual(listBefore);
    expect(await db.count('checkpointBytes')).toBe(1);
    expect(await loadCheckpointBytes(db, good.id)).toEqual(fileOf(64, 100));
    expect((await latestCheckpoint(db, run.id))?.id).toBe(good.id);
    expect((await getRun(db, run.id))?.lastStep).toBe(100);
  });

  it('rotation keeps exactly the newest K autosaves plus every pinned and manual checkpoint', async () => {
    const run = await newRun();
    const other = await newRun('other');
    const otherAuto = await saveCheckpoint(db, checkpoint(other.id, 1));
    const manual = await saveCheckpoint(db, checkpoint(run.id, 50, { kind: 'manual' }));
    const imported = await saveCheckpoint(db, checkpoint(run.id, 0, { kind: 'import' }));
    const pinnedAuto = await saveCheckpoint(db, checkpoint(run.id, 100, { pinned: true }));
    const autos = [];
    for (const step of [200, 300, 400, 500, 600]) autos.push(await saveCheckpoint(db, checkpoint(run.id, step), { keepAutosaves: 2 }));

    expect(steps(await listCheckpoints(db, run.id))).toEqual([0, 50, 100, 500, 600]);
    for (const c of autos.slice(0, 3)) expect(await loadCheckpointBytes(db, c.id)).toBeUndefined();
    for (const c of [manual, imported, pinnedAuto, ...autos.slice(3)]) expect(await loadCheckpointBytes(db, c.id)).toBeDefined();
    expect(await listCheckpoints(db, other.id)).toEqual([otherAuto]); // other runs are not rotated

    // An unpinned autosave becomes an ordinary autosave again and rotates at the next save.
    await pinCheckpoint(db, pinnedAuto.id, false);
    await saveCheckpoint(db, checkpoint(run.id, 700), { keepAutosaves: 2 });
    expect(steps(await listCheckpoints(db, run.id))).toEqual([0, 50, 600, 700]);
  });

  it('pinning protects an autosave from rotation', async () => {
    const run = await newRun();
    const first = await saveCheckpoint(db, checkpoint(run.id, 1), { keepAutosaves: 1 });
    expect((await pinCheckpoint(db, first.id, true)).pinned).toBe(true);
    await saveCheckpoint(db, checkpoint(run.id, 2), { keepAutosaves: 1 });
    await saveCheckpoint(db, checkpoint(run.id, 3), { keepAutosaves: 1 });
    expect(steps(await listCheckpoints(db, run.id))).toEqual([1, 3]);
    await expect(pinCheckpoint(db, 'nope', true)).rejects.toThrow(/No checkpoint/);
  });

  it('keepAutosaves below 1 is refused rather than deleting the checkpoint just saved', async () => {
    const run = await newRun();
    await expect(saveCheckpoint(db, checkpoint(run.id, 1), { keepAutosaves: 0 })).rejects.toThrow(RangeError);
    expect(await listCheckpoints(db, run.id)).toEqual([]);
  });

  it('a checkpoint for a run that does not exist is refused and nothing is written', async () => {
    await expect(saveCheckpoint(db, checkpoint('ghost', 1))).rejects.toThrow(/No run/);
    expect(await db.count('checkpoints')).toBe(0);
    expect(await db.count('checkpointBytes')).toBe(0);
  });

  it('deleteCheckpoint removes the metadata and the bytes', async () => {
    const run = await newRun();
    const a = await saveCheckpoint(db, checkpoint(run.id, 1));
    const b = await saveCheckpoint(db, checkpoint(run.id, 2));
    await deleteCheckpoint(db, a.id);
    expect(await listCheckpoints(db, run.id)).toEqual([b]);
    expect(await loadCheckpointBytes(db, a.id)).toBeUndefined();
    expect(await loadCheckpoint(db, a.id)).toBeUndefined();
  });

  it('latestCheckpoint is the most recently saved, even after a rollback to a lower step', async () => {
    const run = await newRun();
    expect(await latestCheckpoint(db, run.id)).toBeUndefined();
    vi.spyOn(Date, 'now').mockReturnValue(5000); // every save in the same millisecond
    await saveCheckpoint(db, checkpoint(run.id, 100), { keepAutosaves: 10 });
    await saveCheckpoint(db, checkpoint(run.id, 300), { keepAutosaves: 10 });
    expect((await latestCheckpoint(db, run.id))?.step).toBe(300);
    const resumed = await saveCheckpoint(db, checkpoint(run.id, 150), { keepAutosaves: 10 });
    expect(await latestCheckpoint(db, run.id)).toEqual(resumed);
    expect((await getRun(db, run.id))?.lastStep).toBe(150);
  });

  it('checkpointBefore finds the newest checkpoint strictly below a step', async () => {
    const run = await newRun();
    const other = await newRun('other');
    await saveCheckpoint(db, checkpoint(other.id, 150));
    const at = new Map<number, string>();
    for (const step of [100, 200, 300]) at.set(step, (await saveCheckpoint(db, checkpoint(run.id, step), { keepAutosaves: 10 })).id);

    expect((await checkpointBefore(db, run.id, 300))?.id).toBe(at.get(200));
    expect((await checkpointBefore(db, run.id, 250))?.id).toBe(at.get(200));
    expect((await checkpointBefore(db, run.id, 200))?.id).toBe(at.get(100));
    expect((await checkpointBefore(db, run.id, 1000))?.id).toBe(at.get(300));
    expect(await checkpointBefore(db, run.id, 100)).toBeUndefined();

    // Two checkpoints at one step (an autosave and a manual save): the later one wins.
    const manual = await saveCheckpoint(db, checkpoint(run.id, 200, { kind: 'manual', id: 'aaa-sorts-first' }));
    expect((await checkpointBefore(db, run.id, 300))?.id).toBe(manual.id);
  });
});

describe('storage full', () => {
  for (const store of ['checkpointBytes', 'runs']) {
    it(`a quota error writing ${store} raises StorageFullError and loses nothing already saved`, async () => {
      const run = await newRun();
      const good = await saveCheckpoint(db, checkpoint(run.id, 100));
      await appendMetrics(db, run.id, [{ step: 100, loss: 2 }]);
      const listBefore = await listCheckpoints(db, run.id);
      vi.stubGlobal('navigator', { storage: { estimate: async () => ({ usage: 812_300_000, quota: 1_000_000_000 }) } });

      failWritesTo(store);
      const error = await saveCheckpoint(db, checkpoint(run.id, 200, { bytes: fileOf(1 << 20, 1) }), { keepAutosaves: 1 }).catch((e) => e);
      vi.restoreAllMocks();

      expect(error).toBeInstanceOf(StorageFullError);
      expect(error.message).toBe(
        "The browser's storage for this site is full (used 812 MB of 1000 MB). " +
          'Delete old runs or checkpoints, or download checkpoints to keep them.',
      );
      expect((error.cause as DOMException).name).toBe('QuotaExceededError');
      expect(await listCheckpoints(db, run.id)).toEqual(listBefore);
      expect(await db.count('checkpointBytes')).toBe(1);
      expect(await loadCheckpointBytes(db, good.id)).toEqual(fileOf(64, 100));
      expect((await getRun(db, run.id))?.lastStep).toBe(100);
      expect(await loadMetrics(db, run.id)).toEqual([{ step: 100, loss: 2 }]);
    });
  }

  it('a quota error in a metrics batch writes none of the batch', async () => {
    const run = await newRun();
    failWritesTo('metrics');
    await expect(appendMetrics(db, run.id, [{ step: 1, loss: 3 }])).rejects.toBeInstanceOf(StorageFullError);
    vi.restoreAllMocks();
    expect(await loadMetrics(db, run.id)).toEqual([]);
  });

  it('a quota error reported only when the transaction aborts is recognised too', async () => {
    const quota = new DOMException('commit failed', 'QuotaExceededError');
    const done = Promise.reject(quota);
    const error = await commit({ abort: () => {}, done }, async () => {
      await done; // the browser aborts the commit; the work sees the transaction's error
    }).catch((e) => e);
    expect(error).toBeInstanceOf(StorageFullError);
    // Without a usage estimate the message still says what to do.
    expect(error.message).toBe(
      "The browser's storage for this site is full. Delete old runs or checkpoints, or download checkpoints to keep them.",
    );
  });

  it('recognises every way browsers name a quota error', () => {
    expect(isQuotaExceeded({ name: 'QuotaExceededError' })).toBe(true);
    expect(isQuotaExceeded({ name: 'NS_ERROR_DOM_QUOTA_REACHED' })).toBe(true); // older Firefox
    expect(isQuotaExceeded({ name: 'Error', code: 22 })).toBe(true); // older WebKit
    expect(isQuotaExceeded(new DOMException('x', 'ConstraintError'))).toBe(false);
    expect(isQuotaExceeded(new DOMException('x', 'AbortError'))).toBe(false);
    expect(isQuotaExceeded(null)).toBe(false);
    expect(isQuotaExceeded('QuotaExceededError')).toBe(false);
  });

  it('other errors pass through unchanged', async () => {
    const boom = new DOMException('nope', 'ConstraintError');
    const error = await commit({ abort: () => {}, done: Promise.resolve() }, async () => {
      throw boom;
    }).catch((e) => e);
    expect(error).toBe(boom);
  });
});

describe('metrics', () => {
  it('rows come back sorted by step; a step logged again replaces its row', async () => {
    const run = await newRun();
    const other = await newRun('other');
    await appendMetrics(db, run.id, [{ step: 3, loss: 2.5 }, { step: 1, loss: 3, lr: 1e-3 }]);
    await appendMetrics(db, run.id, [{ step: 2, loss: 2.8, gradNorm: 0.9 }, { step: 3, loss: 2.4 }]);
    await appendMetrics(db, other.id, [{ step: 2, loss: 9 }]);
    await appendMetrics(db, run.id, []);
    expect(await loadMetrics(db, run.id)).toEqual([
      { step: 1, loss: 3, lr: 1e-3 },
      { step: 2, loss: 2.8, gradNorm: 0.9 },
      { step: 3, loss: 2.4 },
    ]);
  });

  it('truncateMetrics deletes only the rows after the step, only for that run', async () => {
    const run = await newRun();
    const other = await newRun('other');
    const rows = [10, 20, 30, 40].map((step) => ({ step, loss: 100 / step }));
    await appendMetrics(db, run.id, rows);
    await appendMetrics(db, other.id, rows);
    await truncateMetrics(db, run.id, 20);
    expect(steps(await loadMetrics(db, run.id))).toEqual([10, 20]);
    expect(steps(await loadMetrics(db, other.id))).toEqual([10, 20, 30, 40]);
    await truncateMetrics(db, run.id, 0);
    expect(await loadMetrics(db, run.id)).toEqual([]);
  });
});

describe('storage health', () => {
  it('requestPersistence reports the browser answer, or unsupported', async () => {
    expect(await requestPersistence(undefined)).toBe('unsupported');
    expect(await requestPersistence({ estimate: async () => ({}) })).toBe('unsupported'); // as in a worker
    expect(await requestPersistence({ persist: async () => true })).toBe(true);
    expect(await requestPersistence({ persist: async () => false })).toBe(false);
    vi.stubGlobal('navigator', { storage: { persist: async () => true } });
    expect(await requestPersistence()).toBe(true);
  });

  it('storageEstimate gives usage and quota, or null', async () => {
    expect(await storageEstimate(undefined)).toBeNull();
    expect(await storageEstimate({ estimate: async () => ({ usage: 5, quota: 10 }) })).toEqual({ usage: 5, quota: 10 });
    expect(await storageEstimate({ estimate: async () => ({}) })).toBeNull();
    expect(await storageEstimate({ estimate: () => Promise.reject(new Error('denied')) })).toBeNull();
  });
});
