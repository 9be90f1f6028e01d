/**
 * What the runner keeps in IndexedDB, as plain functions of the database: a run's checkpoints as
 * the page lists them, the state written at an autosave (with its summary line, rotated to the
 * newest K autosaves), the run to restore after a reload, a fork's new run, the checkpoint a later
 * stage starts from, and the loss curves of a run's family (the forks compared in the spike lab).
 */
import type { CheckpointState, MetricRow as StoredRow } from '../core/io/checkpoint.ts';
import { readHeader } from '../core/io/safetensors.ts';
import * as store from '../storage/index.ts';
import type { RecoveryPolicy } from '../core/spikes/spikelab.ts';
import { forkSettings, storedSettings } from './runs.ts';
import type { CheckpointInfo, CompareCurve } from './types.ts';

/** A run's checkpoints, newest last, as the checkpoint list shows them. */
export async function checkpointInfos(db: store.LabDB, runId: string): Promise<CheckpointInfo[]> {
  const metas = await store.listCheckpoints(db, runId);
  return metas.map((m) => ({
    id: m.id,
    runId: m.runId,
    step: m.step,
    kind: m.kind,
    pinned: m.pinned,
    createdAt: m.createdAt,
    sizeBytes: m.sizeBytes,
    trainLoss: m.summary.trainLoss,
    valLoss: m.summary.valLoss,
  }));
}

export interface SaveRequest {
  runId: string;
  state: Pick<CheckpointState, 'step' | 'stage' | 'metrics'>;
  bytes: Uint8Array;
  kind: 'auto' | 'manual';
  tokensPerBatch: number;
  elapsedSeconds: number;
  /** Autosaves kept per run (pinned and manual ones are kept as well). */
  keepAutosaves: number;
}

/** Writes a checkpoint with its summary (last losses, tokens seen, training time) and rotates autosaves. */
export async function saveState(db: store.LabDB, req: SaveRequest): Promise<void> {
  const { state } = req;
  const last = state.metrics[state.metrics.length - 1];
  const lastVal = [...state.metrics].reverse().find((r) => typeof r.valLoss === 'number');
  const summary = { trainLoss: last?.loss, valLoss: lastVal?.valLoss, tokensSeen: state.step * req.tokensPerBatch, elapsedSeconds: req.elapsedSeconds };
  await store.saveCheckpoint(db, { runId: req.runId, step: state.step, stage: state.stage, kind: req.kind, summary, bytes: req.bytes }, { keepAutosaves: req.keepAutosaves });
}

/** After a reload: the most recent run and its most recent checkpoint (either may be missing). */
export async function latestSaved(db: store.LabDB): Promise<{ run: store.RunRecord | undefined; latest: store.CheckpointMeta | undefined }> {
  const run = await store.latestRun(db);
  const latest = run && (await store.latestCheckpoint(db, run.id));
  return { run, latest };
}

/**
 * Loss curves of `current` and the runs forked from the same run (its family), oldest first; the
 * current run's rows are the live ones. Empty when the run has no relative to compare with.
 */
export async function familyCurves(db: store.LabDB, current: store.RunRecord, currentRows: readonly StoredRow[]): Promise<CompareCurve[]> {
  const family = storedSettings(current).family ?? current.id;
  const runs = (await store.listRuns(db)).filter((r) => r.id === family || storedSettings(r).family === family);
  if (runs.length < 2) return [];
  const curves: CompareCurve[] = [];
  for (const run of runs.reverse()) {
    const isCurrent = run.id === current.id;
    let rows: readonly StoredRow[] = [];
    if (isCurrent) rows = currentRows;
    else {
      const latest = await store.latestCheckpoint(db, run.id);
      const bytes = latest && (await store.loadCheckpointBytes(db, latest.id));
      if (bytes) rows = JSON.parse(readHeader(bytes).header.metadata.metrics ?? '[]') as StoredRow[];
    }
    const policy = storedSettings(run).policy ?? 'none';
    const points = rows.filter((r) => Number.isFinite(r.loss)).map((r) => ({ x: r.step + 1, y: r.loss }));
    curves.push({ runId: run.id, name: run.name, policy, current: isCurrent, points });
  }
  return curves;
}

/** A stored checkpoint and its run; throws when either is gone. */
export async function sourceOf(db: store.LabDB, checkpointId: string): Promise<{ record: store.CheckpointRecord; run: store.RunRecord }> {
  const record = await store.loadCheckpoint(db, checkpointId);
  const run = record && (await store.getRun(db, record.runId));
  if (!record || !run) throw new Error('That checkpoint no longer exists.');
  return { record, run };
}

/** A new run whose first checkpoint is a copy of `source`'s, in the source's family, with `policy` if given. */
export async function forkRun(db: store.LabDB, source: { record: store.CheckpointRecord; run: store.RunRecord }, policy?: RecoveryPolicy): Promise<{ run: store.RunRecord; checkpointId: string; step: number }> {
  const { record } = source;
  const run = await store.createRun(db, {
    name: `${source.run.name.replace(/ \(fork at step \d+\)$/, '')} (fork at step ${record.step})`,
    stage: source.run.stage,
    preset: source.run.preset,
    settings: forkSettings(source.run, policy),
    forkedFromCheckpointId: record.id,
  });
  const copy = await store.saveCheckpoint(db, { runId: run.id, step: record.step, stage: record.stage, kind: 'manual', summary: record.summary, bytes: record.bytes });
  return { run, checkpointId: copy.id, step: record.step };
}

/**
 * The checkpoint a later stage starts from and its run: checkpoint `from` when given, else the
 * loaded run's newest checkpoint at `step` (just saved).
 */
export async function parentOf(db: store.LabDB, loaded: store.RunRecord, step: number, from?: string): Promise<{ record: store.CheckpointRecord; run: store.RunRecord }> {
  const id = from ?? (await store.listCheckpoints(db, loaded.id)).filter((m) => m.step === step).sort((a, b) => b.createdAt - a.createdAt)[0]?.id;
  const record = id ? await store.loadCheckpoint(db, id) : undefined;
  const run = record && (record.runId === loaded.id ? loaded : await store.getRun(db, record.runId));
  if (!record || !run) throw new Error(from ? 'The checkpoint to start from no longer exists.' : `Could not save the checkpoint at step ${step} to start from.`);
  return { record, run };
}
