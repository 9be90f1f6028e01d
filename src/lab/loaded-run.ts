/**
 * The run the lab has loaded: its stage and its record, and what follows from them — its
 * checkpoints (autosaves, their rotation, the list the page shows) and how the page sees it (where
 * it stands, its summary, the stage's own progress). The runner makes one each time it loads a run.
 */
import type { CheckpointState, MetricRow } from '../core/io/checkpoint.ts';
import { describeTokenizer } from '../core/data/tokenizers.ts';
import type { TrainingStage } from '../core/train/stage.ts';
import * as store from '../storage/index.ts';
import type { TrainingLoop } from './loop.ts';
import { checkpointInfos, saveState } from './persistence.ts';
import { type StoredSettings, storedSettings } from './runs.ts';
import { SpikeLabStage, spikeLabInfo } from './spikes.ts';
import { catalogOf, stageEntry } from './stages/registry.ts';
import type { CheckpointInfo, LabUpdate, RunInfo, RunSummary } from './types.ts';

/** What a loaded run uses of the lab around it. */
export interface RunContext {
  db: store.LabDB;
  loop: TrainingLoop;
  backend: string;
  withTensors<T>(f: () => Promise<T> | T): Promise<T>;
  notify(update: LabUpdate): void;
}

export class LoadedRun {
  /** The step of the newest checkpoint written or loaded: saving it again is skipped. */
  savedStep = -1;

  readonly #ctx: RunContext;

  constructor(
    readonly stage: TrainingStage,
    public run: store.RunRecord,
    readonly corpusName: string,
    /** Set when the run was restored from storage after a reload. */
    readonly restoredFrom: RunInfo['restoredFrom'],
    ctx: RunContext,
  ) {
    this.#ctx = ctx;
  }

  get session() {
    return this.stage.session;
  }

  get settings(): StoredSettings {
    return storedSettings(this.run);
  }

  /** A pretraining run's spike lab; null for a later stage. */
  get spikeLab() {
    return this.stage instanceof SpikeLabStage ? this.stage.lab : null;
  }

  /** Saves the current state unless this step is already saved. A full disk is reported, not fatal. */
  async save(kind: 'auto' | 'manual'): Promise<void> {
    const { session } = this;
    if (session.stepsTaken === this.savedStep || session.stepsTaken === 0) return;
    const bytes = await this.#ctx.withTensors(() => session.toCheckpointBytes({ includeOptimizer: true }));
    try {
      await this.store({ step: session.stepsTaken, stage: session.stage, metrics: session.metrics }, bytes, kind);
    } catch (e) {
      if (!(e instanceof store.StorageFullError)) throw e;
      this.#ctx.notify({ notice: { level: 'error', text: `${e.message} Training goes on; the newest checkpoint that fit is kept.` } });
    }
    await this.sendCheckpoints();
  }

  /** Writes a checkpoint of the run: an autosave, a saved state, or a snapshot rollback asked for. */
  async store(state: Pick<CheckpointState, 'step' | 'stage' | 'metrics'>, bytes: Uint8Array, kind: 'auto' | 'manual' = 'auto'): Promise<void> {
    const { db, loop } = this.#ctx;
    const { tokensPerBatch } = this.session.trainer;
    await saveState(db, { runId: this.run.id, state, bytes, kind, tokensPerBatch, elapsedSeconds: loop.elapsed(), keepAutosaves: this.settings.keepAutosaves });
    this.savedStep = state.step;
  }

  checkpoints(): Promise<CheckpointInfo[]> {
    return checkpointInfos(this.#ctx.db, this.run.id);
  }

  /** Sends the run's checkpoints, and what its stage lists of its stored runs (a reward model's list changes when one is saved). */
  async sendCheckpoints(): Promise<void> {
    this.#ctx.notify({ checkpoints: await this.checkpoints() });
    const catalog = await catalogOf(this.run.stage, this.#ctx.db);
    if (catalog) this.#ctx.notify(catalog);
  }

  info(): RunInfo {
    const { run, session, stage } = this;
    const { ownText: _text, stageSettings: _stage, family: _family, ...settings } = this.settings as StoredSettings & { stageSettings?: unknown };
    return {
      id: run.id,
      name: run.name,
      stage: session.stage,
      settings,
      corpusName: this.corpusName,
      step: session.stepsTaken,
      totalSteps: session.trainer.config.steps,
      restoredFrom: this.restoredFrom,
      ...(stage.frozen ? { frozen: stage.frozen } : {}),
    };
  }

  summary(): RunSummary {
    const { session } = this;
    const { loop, backend } = this.#ctx;
    const s = session.summary();
    return {
      parameters: s.parameters,
      tokensSeen: s.tokensSeen,
      tokensPerParameter: s.tokensPerParameter,
      elapsedSeconds: loop.elapsed(),
      backend,
      gradClip: session.trainer.config.gradClip,
      vocabSize: session.model.config.vocabSize,
      tokenizer: describeTokenizer(session.tokenizer),
      valBitsPerChar: latest(session.metrics, 'valBitsPerChar'),
      liveShare: loop.liveShare,
      workers: session.trainer.lastStepThreads,
    };
  }

  /**
   * Where the run stands, added to what the loop sends: its step and summary, and with a step's
   * rows the stage's own (the spike lab when it logged events, RL's samples).
   */
  progress(update: LabUpdate): LabUpdate {
    const lab = this.spikeLab;
    const spike = lab && update.events?.length ? { spikeLab: spikeLabInfo(lab) } : {};
    const own = update.rows ? stageEntry(this.run.stage)?.progress?.(this.stage) : undefined;
    return { run: this.info(), summary: this.summary(), ...spike, ...own };
  }

  /** What the page is sent when the run is loaded: its whole history, replacing the charts'. */
  loadedUpdate(): LabUpdate {
    const { session } = this;
    const lab = this.spikeLab;
    return { rows: session.metrics.slice(), events: session.events.slice(), resetRows: true, ...this.progress({ rows: [] }), spikeLab: lab && spikeLabInfo(lab) };
  }
}

/** The latest logged value of a metric, or null before the first. */
function latest(rows: readonly MetricRow[], key: string): number | null {
  for (let i = rows.length - 1; i >= 0; i--) if (typeof rows[i][key] === 'number') return rows[i][key];
  return null;
}
