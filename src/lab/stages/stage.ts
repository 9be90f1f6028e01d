/**
 * What the lab knows of a later stage (SFT, DPO, reward model, RL): how a run of it starts from a
 * parent checkpoint, how a stored run resumes, and the few things the worker does differently for
 * it. Each stage's file (sft.ts, dpo.ts, rm.ts, rl.ts) exports one `StageEntry`; registry.ts maps
 * stage names to them, and the runner calls only the registry.
 *
 * Stages meet only through checkpoints: a stage run stores its parent checkpoint's id (pinned) under
 * `settings.stageSettings`, so the chain base → SFT → DPO, or SFT → RL, is read back from storage.
 */
import type { Stage } from '../../core/io/checkpoint.ts';
import { STAGE_PARENTS, STAGE_TITLES } from '../../core/lesson/parents.ts';
import type { Corpus } from '../../core/train/data.ts';
import type { LabSession } from '../../core/train/session.ts';
import type { TrainingStage } from '../../core/train/stage.ts';
import type * as store from '../../storage/index.ts';
import type { ChatData, LineError } from '../chat-data.ts';
import type { LabUpdate } from '../types.ts';

/** The stages that start from a parent checkpoint. */
export type LaterStage = Exclude<Stage, 'pretrain'>;

/** What a later stage is built from: the parent run's state, saved and pinned. */
export interface StageParent {
  run: store.RunRecord;
  checkpointId: string;
  /** The step the parent had reached. */
  step: number;
  bytes: Uint8Array;
}

/** What a stage reads besides its parent: the stories it keeps its validation loss on, storage, the chat data. */
export interface StageInputs {
  corpus: Corpus;
  db: store.LabDB;
  chat: ChatData;
}

/** What a stage run stores under `settings.stageSettings`, so that it can be resumed and traced back. */
export interface StoredStage<S = unknown> {
  kind: LaterStage;
  parentRunId: string;
  parentCheckpointId: string;
  parentStep: number;
  settings: S;
  /** RL against a reward model: that model's checkpoint (pinned). */
  rewardModelCheckpointId?: string;
}

/** A new stage run, ready to train. */
export interface StartedStage {
  stage: TrainingStage;
  /** The run's name: what it is, then its parent's name. */
  name: string;
  stored: StoredStage;
  /** Lines of the student's file that were left out. */
  skipped: LineError[];
}

/** The loaded run, as a stage's views and special cases see it under the tensor lock. */
export interface Loaded {
  session: LabSession | null;
  run: store.RunRecord | null;
  stage: TrainingStage | null;
  db: store.LabDB;
}

/** Runs work on the loaded run under the tensor lock (the runner). */
export interface Inspector {
  inspect<T>(f: (loaded: Loaded) => Promise<T>): Promise<T>;
}

/** What a stage's special cases may ask of the runner, from inside one of its commands. */
export interface StageHost {
  readonly db: store.LabDB;
  /** The loaded run and its stage, as they are now. */
  readonly current: { run: store.RunRecord; stage: TrainingStage } | null;
  /** Loads a stored checkpoint of `run` as the current state. */
  open(run: store.RunRecord, checkpointId: string): Promise<void>;
  notify(update: LabUpdate): void;
}

export interface StageEntry<S = never> {
  readonly name: LaterStage;
  /** How the stage is named to a student (parents.ts). */
  readonly title: string;
  /** The stages it may start from (parents.ts). */
  readonly parents: readonly Stage[];
  /** Its settings → its training configuration (src/core/lesson/recipes.ts). */
  readonly recipe: (settings: S) => unknown;
  /** The checkpoint a new run starts from when not the loaded state (RL forks the SFT model a loaded RL run or reward model came from). */
  forkPoint?(loaded: store.RunRecord, settings: S): string | undefined;
  start(parent: StageParent, settings: S, inputs: StageInputs): Promise<StartedStage>;
  /** Rebuilds a stored run from one of its checkpoints, exactly. */
  resume(run: store.RunRecord, bytes: Uint8Array, inputs: StageInputs): Promise<TrainingStage>;
  /** What the page hears when a run of this stage is loaded and after each of its steps (RL: its sampled completions). */
  progress?(stage: TrainingStage): LabUpdate;
  /** What every view hears about this stage's stored runs: sent at start-up and when one is saved (the reward models to choose from). */
  catalog?(db: store.LabDB): Promise<LabUpdate>;
  /** A file was stored while a frozen run of this stage is loaded: true when it reopened that run (the file was what it lacked), false to load the file. */
  rejoin?(host: StageHost, file: { name: string; step: number }): Promise<boolean>;
}

/** The stored stage settings of a later stage's run (absent for an imported file until it is adopted). */
export function storedStage<S = unknown>(run: store.RunRecord): StoredStage<S> | undefined {
  if (run.stage === 'pretrain') return undefined;
  return (run.settings as { stageSettings?: StoredStage<S> }).stageSettings;
}

/** What a new run of `kind` stores about its parent and settings. */
export function stageRecord<S>(kind: LaterStage, parent: StageParent, settings: S): StoredStage<S> {
  return { kind, parentRunId: parent.run.id, parentCheckpointId: parent.checkpointId, parentStep: parent.step, settings };
}

/** The name of a stage run: what it is, on whose data, then its parent's name without the parent's own stage prefix. */
export function stageRunName(what: string, parent: StageParent, own?: { name: string }): string {
  const base = parent.run.name.replace(/^(SFT|DPO|RM|RL)[^·]*· /, '');
  return `${what}${own ? ` on ${own.name}` : ''} · ${base}`;
}

/** An entry's name, title and parents as parents.ts has them, and its recipe. */
export function described<S>(name: LaterStage, recipe: (settings: S) => unknown): Pick<StageEntry<S>, 'name' | 'title' | 'parents' | 'recipe'> {
  return { name, title: STAGE_TITLES[name], parents: STAGE_PARENTS[name].parents, recipe };
}
