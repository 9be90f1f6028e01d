/**
 * The loss-spike lab as the worker runs it: every pretraining run steps through a `SpikeLab`, what
 * a run's settings tell it (policy, scheduled injections, detector warm-up), and where rollback
 * finds its checkpoints, which here are the run's own checkpoints in IndexedDB rather than copies
 * in memory. The teacher's commands on it are spike-commands.ts.
 */
import { decodeCheckpoint, encodeCheckpoint, type CheckpointState, type MetricRow } from '../core/io/checkpoint.ts';
import { formatInjection, type Injection, parseInjection } from '../core/spikes/inject.ts';
import { DEFAULT_RECOVERY, type RecoveryConfig, type SnapshotStore, SpikeLab } from '../core/spikes/spikelab.ts';
import type { TrainingStage } from '../core/train/stage.ts';
import * as store from '../storage/index.ts';
import type { RunSettings, SpikeLabInfo } from './types.ts';

/** A pretraining run as the loop steps it: through its spike lab (injections, detection before the update, recovery). */
export class SpikeLabStage implements TrainingStage {
  constructor(readonly lab: SpikeLab) {}

  get session() {
    return this.lab.session;
  }

  get done(): boolean {
    return this.lab.session.done;
  }

  async step(): Promise<MetricRow> {
    await this.lab.step();
    return this.session.metrics[this.session.metrics.length - 1];
  }

  release(): void {
    this.session.dispose();
  }
}

/** The spike lab of a pretraining run: its settings' policy and injections, rollback to its stored checkpoints. */
export function spikeLabStage(session: SpikeLab['session'], settings: RunSettings, snapshots: SnapshotStore): SpikeLabStage {
  return new SpikeLabStage(new SpikeLab(session, { recovery: recoveryOf(settings), injections: injectionsOf(settings), snapshots }));
}

/** The injections a run's settings schedule ('microwavegang@30x2,lr-spike@60x30'). */
export function injectionsOf(settings: RunSettings): Injection[] {
  if (!settings.inject) return [];
  return settings.inject.split(',').map((spec) => parseInjection(spec));
}

/** `settings.inject` with one more injection. */
export function withInjection(settings: RunSettings, inj: Injection): string {
  return [...(settings.inject ? settings.inject.split(',') : []), formatInjection(inj)].join(',');
}

/**
 * The recovery settings of a run: its policy, and the detector's warm-up if a lesson shortened it.
 * The window stays twice the warm-up, as in OLMo-core (64 and 128): a short lesson on `micro`
 * then compares against recent steps, not against the steep fall of the first ones.
 */
export function recoveryOf(settings: RunSettings): Partial<RecoveryConfig> {
  const detector = { ...DEFAULT_RECOVERY.detector };
  if (settings.spikeWarmup !== undefined) Object.assign(detector, { warmup: settings.spikeWarmup, window: 2 * settings.spikeWarmup });
  // Rollback returns to the run's autosaves: a snapshot is due exactly when an autosave is.
  return { policy: settings.policy ?? 'none', detector, snapshotEvery: settings.autosaveEvery };
}

export function spikeLabInfo(lab: SpikeLab): SpikeLabInfo {
  const { policy, detector } = lab.config;
  return { policy, scheduled: lab.scheduledInjections.map(formatInjection), ...detector };
}

/**
 * Rollback's checkpoints: the run's checkpoints in IndexedDB. `save` stores a snapshot only when
 * the run has no checkpoint at that step yet (usually the autosave of the step before made one).
 */
export class StoredSnapshots implements SnapshotStore {
  constructor(
    private readonly db: store.LabDB,
    private readonly runId: string,
    private readonly saveBytes: (state: CheckpointState, bytes: Uint8Array) => Promise<void>,
  ) {}

  async save(state: CheckpointState): Promise<void> {
    const newest = await store.checkpointBefore(this.db, this.runId, state.step + 1);
    if (newest?.step === state.step) return;
    await this.saveBytes(state, encodeCheckpoint(state));
  }

  async newestBefore(step: number): Promise<CheckpointState | undefined> {
    const meta = await store.checkpointBefore(this.db, this.runId, step);
    const bytes = meta && (await store.loadCheckpointBytes(this.db, meta.id));
    return bytes ? decodeCheckpoint(bytes) : undefined;
  }
}
