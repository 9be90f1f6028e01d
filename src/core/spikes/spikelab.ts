/**
 * The loss-spike lab: a pretraining loop around a LabSession that injects bad data on schedule,
 * watches every step's loss and gradient norm with the spike detector (spikes.ts) before the
 * update, and responds with the recovery policy the teacher chose:
 *
 *   none      apply the update anyway and watch the damage
 *   skip      drop the update (OLMo-core's SkipStepOptimizer)
 *   rollback  restore the newest checkpoint taken before the spike and skip the next N batches
 *             of data (PaLM, §5.1: "restart from a checkpoint roughly 100 steps before the spike
 *             started, and skip roughly 200–500 data batches")
 *   lower-lr  multiply the learning rate by `lrCut` for `lrCutSteps` steps, starting with this one
 *   filter    drop documents with 32+ repeats of a 1–13-gram from the data (OLMo 2) before they
 *             reach the model; detected spikes are then applied, as with `none`
 *
 * Every injection, detection and action is appended to `session.events` (so it lands in the
 * checkpoint and on the charts), and the detector's window, the scheduled injections and any LR
 * cut are kept in `session.extra.spikeLab`, so a resumed run watches with the same history.
 *
 * One step reads top to bottom: snapshot (rollback) → end an LR cut → due injections → batch →
 * filter → train with the detector deciding → log → recover.
 */
import * as tf from '@tensorflow/tfjs';
import type { CheckpointState, LabEvent } from '../io/checkpoint.ts';
import { filterBatch, type Injection, injectedBatch, rowText } from './inject.ts';
import { Random } from '../random.ts';
import { DEFAULT_REPETITION_FILTER, type RepetitionFilterOptions } from './repetition.ts';
import { tokenLogProbs } from '../model/sample.ts';
import type { LabSession, SessionStep } from '../train/session.ts';
import {
  createSpikeHistory,
  DEFAULT_SPIKE_CONFIG,
  detectSpike,
  observe,
  restoreSpikeHistory,
  serializeSpikeHistory,
  type SpikeConfig,
  type SpikeHistory,
  type SpikeResult,
} from './spikes.ts';
import type { StepDecision } from '../train/trainer.ts';

export type RecoveryPolicy = 'none' | 'skip' | 'rollback' | 'lower-lr' | 'filter';
export const RECOVERY_POLICIES: readonly RecoveryPolicy[] = ['none', 'skip', 'rollback', 'lower-lr', 'filter'];

export interface RecoveryConfig {
  policy: RecoveryPolicy;
  detector: SpikeConfig;
  /** rollback: steps between the in-memory checkpoints it can return to. */
  snapshotEvery: number;
  /** rollback: how many of those checkpoints are kept (the oldest is dropped). */
  snapshotsKept: number;
  /** rollback: data batches skipped after restoring, beyond those already drawn since the checkpoint. */
  skipBatches: number;
  /** lower-lr: the factor the learning rate is multiplied by… */
  lrCut: number;
  /** …for this many steps after the last spike. */
  lrCutSteps: number;
  /** filter: what counts as a repetitive document (OLMo 2: 32 repeats of a 1–13-gram). */
  filter: RepetitionFilterOptions;
  /**
   * Compare log gradient norms rather than raw ones. OLMo-core uses raw values; at LM Lab's sizes
   * (0.1 M parameters, 16 windows a batch) the gradient norm is heavy-tailed, and a normal `tiny`
   * run reaches raw z-scores of 6–10 on ordinary batches (tests/fixtures/tiny-trace.json: 6.3 at
   * step 247). On the log scale those are z ≈ 3–4 while a microwavegang batch stays near 10.
   */
  logGradNorm: boolean;
}

export const DEFAULT_RECOVERY: RecoveryConfig = {
  policy: 'none',
  detector: DEFAULT_SPIKE_CONFIG,
  snapshotEvery: 25,
  snapshotsKept: 4,
  skipBatches: 20,
  lrCut: 0.1,
  lrCutSteps: 50,
  filter: DEFAULT_REPETITION_FILTER,
  logGradNorm: true,
};

export function isRecoveryPolicy(name: string): name is RecoveryPolicy {
  return (RECOVERY_POLICIES as readonly string[]).includes(name);
}

/** Where rollback finds checkpoints: recent ones in memory by default, or the caller's store. */
export interface SnapshotStore {
  save(state: CheckpointState): void | Promise<void>;
  /** The newest checkpoint with `step` < the given step, if any. */
  newestBefore(step: number): CheckpointState | undefined | Promise<CheckpointState | undefined>;
}

/** The last `kept` checkpoints, in memory. */
export class MemorySnapshots implements SnapshotStore {
  private states: CheckpointState[] = [];
  constructor(readonly kept: number) {}

  save(state: CheckpointState): void {
    this.states = this.states.filter((s) => s.step !== state.step);
    this.states.push(state);
    this.states.sort((a, b) => a.step - b.step);
    if (this.states.length > this.kept) this.states.splice(0, this.states.length - this.kept);
  }

  newestBefore(step: number): CheckpointState | undefined {
    return this.states.filter((s) => s.step < step).at(-1);
  }

  get steps(): number[] {
    return this.states.map((s) => s.step);
  }
}

/** What `session.extra.spikeLab` holds. */
export interface SpikeLabState {
  config: RecoveryConfig;
  window: { loss: number[]; gradNorm: number[] };
  scheduled: Injection[];
  pending: { kind: 'microwavegang' | 'random-bytes'; left: number; of: number }[];
  lowerLr: { scale: number; until: number } | null;
}

export interface SpikeLabStep extends SessionStep {
  spike: SpikeResult;
  /** The events of this step, also appended to `session.events`. */
  events: LabEvent[];
}

const round = (x: number, digits = 4) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : x);

export class SpikeLab {
  readonly config: RecoveryConfig;
  history: SpikeHistory;
  readonly snapshots: SnapshotStore;
  /** Called with every event as it is logged (the worker forwards them to the charts). */
  onEvent?: (event: LabEvent) => void;
  private scheduled: Injection[] = [];
  private pending: SpikeLabState['pending'] = [];
  private lowerLr: SpikeLabState['lowerLr'] = null;
  private stepEvents: LabEvent[] = [];

  constructor(
    readonly session: LabSession,
    opts: { recovery?: Partial<RecoveryConfig>; injections?: Injection[]; snapshots?: SnapshotStore; onEvent?: (event: LabEvent) => void } = {},
  ) {
    const saved = session.extra.spikeLab as SpikeLabState | undefined;
    this.config = { ...DEFAULT_RECOVERY, ...saved?.config, ...opts.recovery };
    this.history = saved ? restoreSpikeHistory(saved.window, this.config.detector) : createSpikeHistory(this.config.detector);
    this.pending = saved?.pending.map((p) => ({ ...p })) ?? [];
    this.lowerLr = saved?.lowerLr ?? null;
    if (this.lowerLr) session.trainer.lrScale = this.lowerLr.scale;
    for (const inj of [...(saved?.scheduled ?? []), ...(opts.injections ?? [])]) {
      if (inj.step >= session.stepsTaken) this.schedule(inj);
    }
    this.snapshots = opts.snapshots ?? new MemorySnapshots(this.config.snapshotsKept);
    this.onEvent = opts.onEvent;
    this.save();
  }

  /** Adds an injection (the same one twice is kept once). Its step may be the next one: "inject now". */
  schedule(inj: Injection): void {
    const same = (a: Injection) => a.kind === inj.kind && a.step === inj.step;
    if (!this.scheduled.some(same)) this.scheduled.push({ ...inj });
    this.save();
  }

  /** Changes the recovery policy from the next step on (the teacher's choice in the UI). */
  setPolicy(policy: RecoveryPolicy): void {
    this.config.policy = policy;
    this.save();
  }

  get scheduledInjections(): readonly Injection[] {
    return this.scheduled;
  }

  /** Trains one step, with injection, detection and recovery. */
  async step(): Promise<SpikeLabStep> {
    const { session, config } = this;
    const { trainer } = session;
    const step = trainer.step;
    this.stepEvents = [];

    if (config.policy === 'rollback' && step % config.snapshotEvery === 0) await this.snapshot();
    if (this.lowerLr && step >= this.lowerLr.until) {
      trainer.lrScale = 1;
      this.lowerLr = null;
      this.log({ step, event: 'lr-restored', scale: 1 });
    }

    // Injections due now: an lr-spike scales this step; a data injection queues its batches.
    let lrMultiplier = 1;
    for (const inj of this.scheduled.filter((i) => i.step <= step)) {
      if (inj.kind === 'lr-spike') {
        lrMultiplier *= inj.factor;
        this.log({ step, event: 'inject', kind: inj.kind, factor: inj.factor });
      } else {
        this.pending.push({ kind: inj.kind, left: inj.batches, of: inj.batches });
      }
    }
    this.scheduled = this.scheduled.filter((i) => i.step > step);

    // The batch: always drawn, so the data position matches an uninjected run, then maybe replaced.
    let batch = trainer.nextBatch();
    const due = this.pending[0];
    if (due) {
      batch = injectedBatch(due.kind, session.tokenizer, batch.batchSize, batch.seqLen, trainer.config.seed, step);
      due.left -= 1;
      if (due.left === 0) this.pending.shift();
      const text = rowText(batch, 0, session.tokenizer);
      this.log({ step, event: 'inject', kind: due.kind, batch: due.of - due.left, of: due.of, text, tokenLosses: await this.tokenLosses(text) });
    }
    if (config.policy === 'filter') {
      // Replacement windows come from their own generator so the main data stream stays aligned.
      const report = filterBatch(batch, session.tokenizer, trainer.corpus.train, new Random(trainer.config.seed ^ Math.imul(step + 1, 0x9e3779b1)), config.filter);
      if (report.removed.length > 0) {
        batch = report.batch;
        const excerpts = [...new Set(report.removed.map((r) => r.excerpt))].slice(0, 3);
        this.log({ step, event: 'filter', removed: report.removed.length, of: batch.batchSize, longest: Math.max(...report.removed.map((r) => r.repeats)), excerpts });
      }
    }

    let verdict: SpikeResult = { spike: false, reason: null, lossZ: 0, gradNormZ: 0 };
    const decide = (loss: number, rawGradNorm: number): StepDecision => {
      const values = { loss, gradNorm: config.logGradNorm ? Math.log(Math.max(rawGradNorm, 1e-12)) : rawGradNorm };
      verdict = detectSpike(this.history, values, config.detector);
      observe(this.history, values, verdict);
      if (!verdict.spike) return 'apply';
      if (config.policy === 'lower-lr') this.cutLr(step); // read by the trainer for this very update
      return config.policy === 'skip' || config.policy === 'rollback' ? 'skip' : 'apply';
    };
    const out = await session.step({ batch, decide, lrMultiplier });

    if (verdict.spike) {
      const { result } = out;
      const action = config.policy === 'rollback' ? 'rollback' : !result.applied ? 'skip' : config.policy === 'lower-lr' ? 'lower-lr' : 'apply';
      this.log({ step, event: 'spike', reason: verdict.reason, loss: round(result.loss), gradNorm: round(result.gradNorm), lossZ: round(verdict.lossZ, 2), gradNormZ: round(verdict.gradNormZ, 2), action });
      if (action === 'skip') this.log({ step, event: 'skip' });
      if (action === 'lower-lr') this.log({ step, event: 'lower-lr', scale: this.lowerLr!.scale, until: this.lowerLr!.until });
      if (action === 'rollback') await this.rollback(step);
    }
    this.save();
    return { ...out, spike: verdict, events: this.stepEvents };
  }

  private log(event: LabEvent): void {
    this.session.events.push(event);
    this.stepEvents.push(event);
    this.onEvent?.(event);
  }

  private cutLr(step: number): void {
    this.lowerLr = { scale: this.config.lrCut, until: step + this.config.lrCutSteps };
    this.session.trainer.lrScale = this.config.lrCut;
  }

  /** −log p of each character of `text` after the ones before it, under the model as it is now. */
  private async tokenLosses(text: string): Promise<number[]> {
    const { logProbs } = await tokenLogProbs(this.session.model, this.session.tokenizer.encode(text));
    return logProbs.map((lp) => round(-lp, 3));
  }

  /** The run as it is before this step's update, for rollback to return to. */
  private async snapshot(): Promise<void> {
    this.save();
    const state = await this.session.toCheckpoint();
    await this.snapshots.save({ ...state, metrics: [...state.metrics], events: [...state.events], extra: structuredClone(state.extra) });
  }

  /**
   * PaLM's recovery: back to the newest checkpoint from before `step`, with the data stream moved
   * on past every batch drawn since then and `skipBatches` more. Without such a checkpoint the
   * update is just skipped.
   */
  private async rollback(step: number): Promise<void> {
    const state = await this.snapshots.newestBefore(step);
    if (!state) {
      this.log({ step, event: 'skip', note: 'no checkpoint from before the spike to roll back to' });
      return;
    }
    const { trainer } = this.session;
    const dataPosition = trainer.rng.state;
    const droppedInjected = this.pending.reduce((n, p) => n + p.left, 0);
    restoreInPlace(this.session, state);
    trainer.rng.state = dataPosition;
    for (let i = 0; i < this.config.skipBatches; i++) trainer.nextBatch();
    const saved = state.extra.spikeLab as SpikeLabState | undefined;
    if (saved) this.history = restoreSpikeHistory(saved.window, this.config.detector);
    this.pending = [];
    this.lowerLr = saved?.lowerLr ?? null;
    trainer.lrScale = this.lowerLr?.scale ?? 1;
    this.log({ step, event: 'rollback', to: state.step, skippedBatches: this.config.skipBatches, droppedInjected });
  }

  private save(): void {
    const state: SpikeLabState = {
      config: this.config,
      window: serializeSpikeHistory(this.history),
      scheduled: this.scheduled.map((i) => ({ ...i })),
      pending: this.pending.map((p) => ({ ...p })),
      lowerLr: this.lowerLr,
    };
    this.session.extra = { ...this.session.extra, spikeLab: state };
  }
}

/**
 * Puts a session back to a checkpoint of its own run without rebuilding it: weights, optimizer
 * moments, step, data position; metrics from the checkpoint's step on are dropped (they are
 * about to be redone). Events are kept: they are the log of what happened, rollbacks included.
 */
export function restoreInPlace(session: LabSession, state: CheckpointState): void {
  tf.tidy(() => {
    for (const [name, variable] of session.model.params) {
      const values = state.weights.get(name);
      if (!values) throw new Error(`restore: the checkpoint has no ${name}`);
      variable.assign(tf.tensor(values, variable.shape));
    }
  });
  if (state.optimizer) session.trainer.optimizer.load(state.optimizer.m, state.optimizer.v, state.optimizer.t);
  session.trainer.step = state.step;
  session.trainer.rng.state = state.dataState.rngState;
  session.metrics = session.metrics.filter((m) => m.step < state.step);
}
