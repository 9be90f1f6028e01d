/**
 * The lab in the worker: one loaded run at a time, and the commands the page sends it — start,
 * pause, resume, stop, step, sample, load, fork, import, export, inject — with the run's autosaves
 * and restore in IndexedDB. The loop itself is loop.ts, the page's batched updates outbox.ts, and
 * what runs are stored and named with runs.ts.
 *
 * Everything that touches tensors goes through one lock, so a sample or a save never interleaves
 * with a step; commands that change which run is loaded go through another, one at a time.
 */
import bundledVocabulary from '../../corpora/vocab.json';
import { type CheckpointState, CheckpointError } from '../core/io/checkpoint.ts';
import { readHeader } from '../core/io/safetensors.ts';
import { cardLines, exportCheckpoint, fileKind, inspectStateDict, prepareImport, type PreparedImport } from '../core/io/share.ts';
import { CharTokenizer, type TokenizerJSON } from '../core/model/tokenizer.ts';
import type { Injection } from '../core/spikes/inject.ts';
import { isRecoveryPolicy, type RecoveryPolicy, SpikeLab } from '../core/spikes/spikelab.ts';
import type { GPTConfig } from '../core/model/config.ts';
import type { Corpus } from '../core/train/data.ts';
import { type GradientHelper, sliceCount } from '../core/train/parallel.ts';
import { LabSession } from '../core/train/session.ts';
import { pretrainRecipe } from '../core/lesson/recipes.ts';
import * as store from '../storage/index.ts';
import { TrainingLoop } from './loop.ts';
import { checkpointInfos, familyCurves, latestSaved, saveState } from './persistence.ts';
import { Outbox, Serial } from './outbox.ts';
import { Corpora, fileNameOf, forkSettings, importedSettings, presetOf, requireText, type StoredSettings, storedSettings } from './runs.ts';
import { injectionsOf, recoveryOf, spikeLabInfo, StoredSnapshots, withInjection } from './spikes.ts';
import type {
  BackendInfo,
  CheckpointInfo,
  CompareCurve,
  ImportPreview,
  LabStatus,
  LabUpdate,
  OwnText,
  RunInfo,
  RunSettings,
  RunSummary,
  SampleOptions,
} from './types.ts';

/** What the runner needs from its surroundings: a browser worker or a Node test provide these. */
export interface LabEnv {
  /** The bundled corpus's two files. */
  loadBundledCorpus(name: 'tales'): Promise<{ train: string; val: string }>;
  openStore(): Promise<store.LabDB>;
  /** Milliseconds between metric batches sent to the page. */
  logInterval?: number;
  /** Helpers that share each wasm training step's rows (data parallelism, core/train/parallel.ts); none when absent. */
  gradientHelpers?: {
    count(): number;
    start(count: number, config: GPTConfig, names: readonly string[]): Promise<GradientHelper[]>;
  };
}

/** A later stage's step around its session (SFT, DPO); a pretraining run steps its session itself. */
export interface Stepper {
  readonly session: LabSession;
  step(): Promise<unknown>;
  /** Frees the session and all the stepper holds besides it (RL's reference and reward models). */
  release?(): void;
  /** Why this run cannot train on here (an RL file whose KL reference is not in this tab); absent when it can. */
  readonly frozen?: string;
}

/** Rebuilds a stored SFT or DPO run from one of its checkpoints (stages.ts knows how). */
export interface StageFactory {
  resume(run: store.RunRecord, bytes: Uint8Array, corpus: Corpus, db: store.LabDB): Promise<Stepper>;
}

/** What a later stage is built from: the parent run's state at its newest step, saved and pinned. */
export interface StageParent {
  run: store.RunRecord;
  checkpointId: string;
  bytes: Uint8Array;
  corpus: Corpus;
}

export class LabRunner {
  readonly #env: LabEnv;
  readonly #stages: StageFactory | null;
  #stepper: Stepper | null = null; // set while an SFT or DPO run is loaded
  #db: store.LabDB | null = null;
  #backend: BackendInfo | null = null;

  #status: LabStatus = 'starting';
  #session: LabSession | null = null;
  #spikeLab: SpikeLab | null = null; // steps a pretraining session: injections, detection, recovery
  #pendingImport: { prepared: PreparedImport; fileName: string } | null = null;
  #run: store.RunRecord | null = null;
  #corpusName = '';
  #restoredFrom: RunInfo['restoredFrom'];
  #lastSavedStep = -1;
  /** The helpers of the loaded model's shape, started once and kept while later stages keep that shape. */
  #helpers: { key: string; ready: Promise<GradientHelper[]>; failed?: boolean } | null = null;

  readonly #loop: TrainingLoop;
  readonly #outbox: Outbox;
  readonly #tensors = new Serial();
  readonly #commands = new Serial();
  readonly #corpora: Corpora;

  constructor(env: LabEnv, stages: StageFactory | null = null) {
    this.#env = env;
    this.#stages = stages;
    this.#outbox = new Outbox(env.logInterval ?? 250);
    this.#corpora = new Corpora((name) => env.loadBundledCorpus(name));
    this.#loop = new TrainingLoop({
      session: () => this.#session,
      stepperOf: (session) => (this.#stepper?.session === session ? this.#stepper : session),
      hasSpikeLab: () => this.#spikeLab !== null,
      spikeLabUpdate: () => ({ spikeLab: this.#spikeLab && spikeLabInfo(this.#spikeLab) }),
      withTensors: (f) => this.#withTensors(f),
      autosaveEvery: () => this.#settings().autosaveEvery,
      save: (kind) => this.#save(kind),
      emit: (update, now) => this.#emit(update, now),
      runInfo: () => this.#runInfo(),
      summary: () => this.#summary(),
      setStatus: (status) => this.#setStatus(status),
      failed: (message) => {
        this.#emit({ status: 'error', notice: { level: 'error', text: message } }, true);
        this.#status = 'error';
      },
    });
  }

  get status(): LabStatus {
    return this.#status;
  }

  /** Registers the page's one callback and sends it the whole current state. */
  subscribe(listener: (update: LabUpdate) => unknown): void {
    this.#outbox.listen(listener);
    this.#emit({ status: this.#status, run: this.#runInfo(), summary: this.#summary() }, true);
  }

  /** Opens storage and restores the most recent run, if any; the backend is chosen by the caller. */
  async init(backend: BackendInfo): Promise<void> {
    this.#backend = backend;
    this.#db = await this.#env.openStore();
    await this.#command(() => this.#restoreLatest());
  }

  pretrain(settings: RunSettings, ownText?: OwnText): Promise<void> {
    return this.#command(async () => {
      await this.#halt('paused');
      await this.#newRun(settings, ownText);
      this.#loop.start();
    });
  }

  pause(): Promise<void> {
    return this.#halt('paused');
  }

  resume(): Promise<void> {
    return this.#command(async () => {
      if (!this.#session || this.#status === 'running') return;
      if (this.#stepper?.frozen) throw new Error(this.#stepper.frozen);
      if (this.#session.done) {
        this.#emit({ status: 'done', notice: { level: 'info', text: 'This run has taken all its steps. Press Pretrain to start a new one.' } }, true);
        return;
      }
      this.#emit({ notice: null });
      this.#loop.start();
    });
  }

  /** Stops training and saves a checkpoint at the current step. */
  stop(): Promise<void> {
    return this.#command(async () => {
      if (!this.#session) return;
      await this.#halt('stopped');
      await this.#save('auto');
      this.#emit({ notice: { level: 'info', text: `Stopped at step ${this.#session.stepsTaken} and saved a checkpoint. Resume continues; Pretrain starts a new run.` } }, true);
    });
  }

  /** One step, starting a run from the settings if none is loaded. */
  stepOnce(settings: RunSettings, ownText?: OwnText): Promise<void> {
    return this.#command(async () => {
      if (this.#status === 'running') return;
      if (!this.#session) await this.#newRun(settings, ownText);
      const session = this.#session!;
      if (session.done) return;
      if (this.#stepper?.frozen) throw new Error(this.#stepper.frozen);
      await this.#loop.step(session);
      if (session.stepsTaken % this.#settings().autosaveEvery === 0) await this.#save('auto');
      this.#setStatus(session.done ? 'done' : 'paused');
    });
  }

  /** Turns the lines sampled while pretraining on or off. */
  setLiveSamples(on: boolean): void {
    this.#loop.setLive(on);
  }

  async sample(opts: SampleOptions): Promise<{ text: string; step: number }> {
    const session = this.#session;
    if (!session) throw new Error('There is no model yet: press Pretrain or Step first.');
    return this.#withTensors(async () => ({
      text: await session.sample(opts.prompt, opts),
      step: session.stepsTaken,
    }));
  }

  /** Makes a checkpoint the current state of its run; Resume continues from it. */
  loadCheckpoint(id: string): Promise<void> {
    return this.#command(async () => {
      const db = this.#requireDb();
      const meta = await store.getCheckpoint(db, id);
      const run = meta && (await store.getRun(db, meta.runId));
      if (!meta || !run) throw new Error('That checkpoint no longer exists.');
      await this.#halt('paused');
      await this.#open(run, id);
      this.#emit({ notice: { level: 'info', text: `Loaded the checkpoint at step ${meta.step}. Resume continues training from there.` } }, true);
    });
  }

  /** Starts a new run from a copy of a checkpoint, leaving the original run as it is. */
  forkCheckpoint(id: string, policy?: RecoveryPolicy): Promise<void> {
    return this.#command(async () => {
      const db = this.#requireDb();
      const record = await store.loadCheckpoint(db, id);
      const source = record && (await store.getRun(db, record.runId));
      if (!record || !source) throw new Error('That checkpoint no longer exists.');
      await this.#halt('paused');
      await this.#save('auto'); // the run being left keeps its last steps (and its whole curve to compare)
      const run = await store.createRun(db, {
        name: `${source.name.replace(/ \(fork at step \d+\)$/, '')} (fork at step ${record.step})`,
        stage: source.stage,
        preset: source.preset,
        settings: forkSettings(source, policy),
        forkedFromCheckpointId: id,
      });
      const copy = await store.saveCheckpoint(db, { runId: run.id, step: record.step, stage: record.stage, kind: 'manual', summary: record.summary, bytes: record.bytes });
      await this.#open(run, copy.id);
      const withPolicy = policy ? ` with recovery "${policy}"` : '';
      this.#emit({ notice: { level: 'info', text: `Forked a new run from step ${record.step}${withPolicy}. The original run is unchanged; Resume trains the fork.` } }, true);
    });
  }

  async pinCheckpoint(id: string, pinned: boolean): Promise<void> {
    await store.pinCheckpoint(this.#requireDb(), id, pinned);
    await this.#sendCheckpoints();
  }

  async deleteCheckpoint(id: string): Promise<void> {
    await store.deleteCheckpoint(this.#requireDb(), id);
    await this.#sendCheckpoints();
  }

  /** A checkpoint's .safetensors file, to download; without the optimizer moments it is about a third the size. */
  async checkpointFile(id: string, includeOptimizer = true): Promise<{ bytes: Uint8Array; fileName: string }> {
    const db = this.#requireDb();
    const record = await store.loadCheckpoint(db, id);
    if (!record) throw new Error('That checkpoint no longer exists.');
    const run = await store.getRun(db, record.runId);
    return { bytes: exportCheckpoint(record.bytes, { includeOptimizer }), fileName: fileNameOf(run?.name, record.step, includeOptimizer) };
  }

  /** The current model as a .safetensors file, at the step it has reached. */
  async currentFile(includeOptimizer = true): Promise<{ bytes: Uint8Array; fileName: string }> {
    const session = this.#session;
    if (!session) throw new Error('There is no model yet: press Pretrain or Step first.');
    const bytes = await this.#withTensors(() => session.toCheckpointBytes({ includeOptimizer }));
    return { bytes, fileName: fileNameOf(this.#run?.name, session.stepsTaken, includeOptimizer) };
  }

  /**
   * Checks a received file completely and returns its card; nothing is stored until `acceptImport`.
   * A plain nanoGPT state dict does not record its number of heads: without `nHead` the answer
   * lists the choices instead of a card.
   */
  async previewImport(bytes: Uint8Array, fileName: string, nHead?: number): Promise<ImportPreview | { headChoices: number[]; lines: string[] }> {
    this.#pendingImport = null;
    if (fileKind(bytes) === 'nanogpt' && nHead === undefined) {
      const shape = inspectStateDict(bytes);
      return {
        headChoices: shape.headChoices,
        lines: [`nanoGPT state dict: vocab ${shape.vocabSize}, block ${shape.blockSize}, ${shape.nLayer} layers, C=${shape.nEmbd}`],
      };
    }
    const prepared = await prepareImport(bytes, { nHead, tokenizer: bundledVocabulary as TokenizerJSON, corpus: 'tales', sourceName: fileName });
    this.#pendingImport = { prepared, fileName };
    const { summary } = prepared.card;
    return { fileName, kind: prepared.card.kind, lines: cardLines(prepared.card), step: summary.step, stage: summary.stage, sizeBytes: prepared.card.sizeBytes };
  }

  cancelImport(): void {
    this.#pendingImport = null;
  }

  /** Stores the previewed file as the first checkpoint of a new run and loads it; no existing run is touched. */
  acceptImport(): Promise<void> {
    return this.#command(async () => {
      const pending = this.#pendingImport;
      if (!pending) throw new CheckpointError('There is no checked file to load: drop it again.');
      this.#pendingImport = null;
      const db = this.#requireDb();
      const { state, bytes } = pending.prepared;
      await this.#halt('paused');
      const run = await store.createRun(db, {
        name: `${pending.fileName} (imported at step ${state.step})`,
        stage: state.stage,
        preset: presetOf(state.model) ?? 'custom',
        settings: importedSettings(state) as unknown as Record<string, unknown>,
      });
      const last = state.metrics[state.metrics.length - 1];
      const copy = await store.saveCheckpoint(db, { runId: run.id, step: state.step, stage: state.stage, kind: 'import', summary: { trainLoss: last?.loss }, bytes });
      // A frozen RL run waits for its KL reference or reward model: if this file is what it lacked, it stays loaded and trains on.
      const waiting = this.#stepper?.frozen ? this.#run : null;
      const waitingAt = waiting && (await store.latestCheckpoint(db, waiting.id));
      if (waiting && waitingAt) {
        const lacked = this.#stepper!.frozen;
        await this.#open(waiting, waitingAt.id);
        const still = this.#stepper?.frozen;
        if (still !== lacked) {
          const stored = `Stored ${pending.fileName} (step ${state.step}) as a run of its own. It is ${still ? 'one of the two files' : 'what'} "${waiting.name}" lacked, so that run stays loaded`;
          const then = still ? `. ${still}` : this.#session?.done ? ' and is whole again: its before / after card and β comparison work, and new RL runs fork its SFT model.' : ' and is whole again: Resume continues it.';
          this.#emit({ notice: { level: 'info', text: stored + then } }, true);
          return;
        }
      }
      await this.#open(run, copy.id);
      const corpusNote = state.corpus === 'tales' ? '' : ` It was trained on "${state.corpus}", which this tab does not have: training continues on the bundled tales.`;
      const then = this.#stepper?.frozen ?? 'Resume continues training from there.';
      this.#emit({ notice: { level: 'info', text: `Loaded ${pending.fileName} into a new run at step ${state.step}. ${then}${corpusNote}` } }, true);
    });
  }

  /** Schedules an injection for the next step (the teacher's button); forks of the run replay it. */
  inject(inj: Omit<Injection, 'step'>): Promise<void> {
    return this.#command(async () => {
      const lab = this.#spikeLab;
      const session = this.#session;
      if (!lab || !session || lab.session !== session) throw new Error('Start a pretraining run first: injections go into its next batches.');
      const injection = { ...inj, step: session.stepsTaken };
      lab.schedule(injection);
      await this.#updateSettings({ inject: withInjection(this.#settings(), injection) });
      this.#emit({ spikeLab: spikeLabInfo(lab) }, true);
    });
  }

  /** Changes the recovery policy from the next step on. */
  setPolicy(policy: RecoveryPolicy): Promise<void> {
    return this.#command(async () => {
      if (!isRecoveryPolicy(policy)) throw new Error(`Unknown recovery policy "${policy}".`);
      this.#spikeLab?.setPolicy(policy);
      if (this.#run) await this.#updateSettings({ policy });
      if (this.#spikeLab) this.#emit({ spikeLab: spikeLabInfo(this.#spikeLab) }, true);
    });
  }

  /** Loss curves of the current run and of the runs forked from the same run, to overlay. */
  async compareCurves(): Promise<CompareCurve[]> {
    const db = this.#requireDb();
    return this.#run ? familyCurves(db, this.#run, this.#session?.metrics ?? []) : [];
  }

  /**
   * Starts a later stage (SFT, DPO) from the loaded run's current step: that state is saved and
   * pinned as the parent, `build` makes the stage from it, and the stage trains as a new run.
   */
  startStage(build: (parent: StageParent) => Promise<{ stepper: Stepper; name: string; settings: Record<string, unknown> }>, fromCheckpointId?: string): Promise<void> {
    return this.#command(async () => {
      await this.#halt('paused');
      const session = this.#session;
      let run = this.#run;
      if (!session || !run || (session.stepsTaken === 0 && !fromCheckpointId)) throw new Error('Train a model first: a later stage starts from a trained checkpoint.');
      await this.#save('manual');
      const db = this.#requireDb();
      let record: store.CheckpointRecord | undefined;
      if (fromCheckpointId) {
        // A stored checkpoint other than the loaded state (RL's β comparison forks one SFT checkpoint twice).
        record = await store.loadCheckpoint(db, fromCheckpointId);
        run = (record && (await store.getRun(db, record.runId))) ?? null;
        if (!record || !run) throw new Error('The checkpoint to start from no longer exists.');
      } else {
        const metas = await store.listCheckpoints(db, run.id);
        const meta = metas.filter((m) => m.step === session.stepsTaken).sort((a, b) => b.createdAt - a.createdAt)[0];
        record = meta && (await store.loadCheckpoint(db, meta.id));
        if (!record) throw new Error(`Could not save the checkpoint at step ${session.stepsTaken} to start from.`);
      }
      await store.pinCheckpoint(db, record.id, true); // the parent must outlive autosave rotation
      this.#setStatus('loading');
      const { corpus } = await this.#corpora.of(storedSettings(run), session.tokenizer);
      const built = await this.#withTensors(() => build({ run, checkpointId: record.id, bytes: record.bytes, corpus }));
      const child = await store.createRun(db, {
        name: built.name,
        stage: built.stepper.session.stage,
        preset: run.preset,
        parentRunId: run.id,
        settings: { ...(run.settings as unknown as StoredSettings), ...built.settings },
      });
      this.#replaceSession(built.stepper.session, child, this.#corpusName, 0, undefined, built.stepper);
      this.#emit({ notice: null, checkpoints: [] }, true);
      this.#loop.start();
    });
  }

  /** Runs `f` on the loaded run under the tensor lock (report cards, side-by-side replies). */
  inspect<T>(f: (current: { session: LabSession | null; run: store.RunRecord | null; db: store.LabDB; stepper: Stepper | null }) => Promise<T>): Promise<T> {
    const db = this.#requireDb();
    return this.#withTensors(() => f({ session: this.#session, run: this.#run, db, stepper: this.#stepper }));
  }

  async listCheckpoints(): Promise<CheckpointInfo[]> {
    if (!this.#db || !this.#run) return [];
    return checkpointInfos(this.#db, this.#run.id);
  }

  // ---- runs -------------------------------------------------------------------------------

  async #newRun(settings: RunSettings, ownText?: OwnText): Promise<void> {
    const db = this.#requireDb();
    this.#setStatus('loading');
    const stored: StoredSettings = { ...settings, ...(settings.corpus === 'own' ? { ownText: requireText(ownText) } : {}) };
    const { corpus, tokenizer } = await this.#corpora.of(stored);
    const { preset, train, model } = pretrainRecipe(settings);
    const session = LabSession.create({ preset, corpus, tokenizer, train, model });
    const run = await store.createRun(db, {
      name: `${corpus.name} · ${settings.preset} · seed ${settings.seed}`,
      stage: 'pretrain',
      preset: settings.preset,
      settings: stored as unknown as Record<string, unknown>,
    });
    this.#replaceSession(session, run, corpus.name, 0, undefined);
    this.#emit({ notice: null, checkpoints: [] }, true);
  }

  /** Loads a stored checkpoint of `run` as the current session. */
  async #open(run: store.RunRecord, checkpointId: string, restored = false): Promise<void> {
    const db = this.#requireDb();
    this.#setStatus('loading');
    const record = await store.loadCheckpoint(db, checkpointId);
    if (!record) throw new Error('That checkpoint no longer exists.');
    const settings = storedSettings(run);
    const tokenizer = CharTokenizer.fromJSON(JSON.parse(readHeader(record.bytes).header.metadata.tokenizer) as TokenizerJSON);
    const { corpus } = await this.#corpora.of(settings, tokenizer);
    const stepper = run.stage !== 'pretrain' && this.#stages ? await this.#stages.resume(run, record.bytes, corpus, db) : null;
    const session = stepper?.session ?? LabSession.fromCheckpoint(record.bytes, corpus);
    const elapsed = typeof record.summary.elapsedSeconds === 'number' ? record.summary.elapsedSeconds : 0;
    this.#replaceSession(session, run, corpus.name, elapsed, restored ? { step: record.step, savedAt: record.createdAt } : undefined, stepper);
    this.#lastSavedStep = record.step;
    this.#setStatus(session.done ? 'done' : 'paused');
    await this.#sendCheckpoints();
  }

  /** After a reload: the most recent run, at its most recent checkpoint. */
  async #restoreLatest(): Promise<void> {
    const db = this.#requireDb();
    const { run, latest } = await latestSaved(db);
    if (!run || !latest) {
      this.#setStatus('idle');
      if (run) this.#emit({ notice: { level: 'info', text: `Your last run (${run.name}) stopped before its first autosave, so there is nothing to resume. Press Pretrain to start again.` } }, true);
      return;
    }
    try {
      await this.#open(run, latest.id, true);
    } catch (e) {
      this.#setStatus('idle');
      this.#emit({ notice: { level: 'warning', text: `Could not restore your last run (${run.name}): ${messageOf(e)}` } }, true);
    }
  }

  #replaceSession(session: LabSession, run: store.RunRecord, corpusName: string, elapsed: number, restoredFrom: RunInfo['restoredFrom'], stepper: Stepper | null = null): void {
    if (this.#stepper?.release) this.#stepper.release(); // a stage's release frees its session too
    else this.#session?.dispose();
    this.#session = session;
    this.#spikeLab = !stepper && session.stage === 'pretrain' ? this.#wrapInSpikeLab(session, run) : null;
    this.#stepper = stepper ?? this.#spikeLab;
    this.#run = run;
    this.#corpusName = corpusName;
    this.#restoredFrom = restoredFrom;
    this.#lastSavedStep = -1;
    this.#loop.reset(session, elapsed);
    this.#shareSteps(session);
    const spikeLab = this.#spikeLab && spikeLabInfo(this.#spikeLab);
    this.#emit({ run: this.#runInfo(), rows: session.metrics.slice(), events: session.events.slice(), resetRows: true, summary: this.#summary(), spikeLab }, true);
  }

  /**
   * Gives the session's trainer the helper workers, on wasm, once they have started (its first
   * steps run alone meanwhile). Helpers of another model shape are closed and new ones started.
   */
  #shareSteps(session: LabSession): void {
    const env = this.#env.gradientHelpers;
    const count = sliceCount(session.trainer.config.batchSize, session.model.config.blockSize, env?.count() ?? 0) - 1;
    if (!env || count === 0 || this.#backend?.backend !== 'wasm') return; // micro's batches are too small to share
    const { names } = session.trainer.optimizer;
    const key = JSON.stringify([session.model.config, names]);
    if (this.#helpers?.failed) return; // said once; this worker trains alone from then on
    if (this.#helpers?.key !== key) {
      void this.#helpers?.ready.then((old) => Promise.all(old.map((h) => h.close()))).catch(() => undefined);
      this.#helpers = { key, ready: env.start(count, session.model.config, names) };
    }
    const helpers = this.#helpers;
    helpers.ready.then(
      (started) => {
        if (this.#session !== session) return;
        session.trainer.helpers = started;
        session.trainer.onHelpersLost = (reason) => {
          helpers.failed = true; // not started again for later runs: they would fail the same way
          this.#emit({ notice: { level: 'warning', text: `A helper worker stopped (${reason}); training goes on in one worker, more slowly. Nothing is lost.` } }, true);
        };
      },
      (e) => {
        if (helpers.failed) return;
        helpers.failed = true;
        this.#emit({ notice: { level: 'warning', text: `Training on one worker: the helper workers did not start (${messageOf(e)}).` } }, true);
      },
    );
  }

  /** Pretraining steps go through the spike lab: injections, detection before the update, recovery. */
  #wrapInSpikeLab(session: LabSession, run: store.RunRecord): SpikeLab {
    const settings = storedSettings(run);
    const snapshots = new StoredSnapshots(this.#requireDb(), run.id, (state, bytes) => this.#storeState(state, bytes));
    return new SpikeLab(session, {
      recovery: recoveryOf(settings),
      injections: injectionsOf(settings),
      snapshots,
      onEvent: (event) => this.#emit({ events: [event] }),
    });
  }

  async #updateSettings(patch: Partial<StoredSettings>): Promise<void> {
    const run = this.#run!;
    this.#run = await store.updateRun(this.#requireDb(), run.id, { settings: { ...run.settings, ...patch } });
    this.#emit({ run: this.#runInfo() });
  }

  /** Asks a running loop to end after its current step, waits for it, then reports `status`. */
  async #halt(status: 'paused' | 'stopped'): Promise<void> {
    await this.#loop.halt();
    if (this.#session && ['running', 'paused', 'stopped'].includes(this.#status)) this.#setStatus(status);
    this.#outbox.flush();
  }

  // ---- checkpoints ------------------------------------------------------------------------

  /** Saves the current state unless this step is already saved. A full disk is reported, not fatal. */
  async #save(kind: 'auto' | 'manual'): Promise<void> {
    const session = this.#session;
    const run = this.#run;
    if (!session || !run || session.stepsTaken === this.#lastSavedStep || session.stepsTaken === 0) return;
    const bytes = await this.#withTensors(() => session.toCheckpointBytes({ includeOptimizer: true }));
    try {
      await this.#storeState({ step: session.stepsTaken, stage: session.stage, metrics: session.metrics }, bytes, kind);
    } catch (e) {
      if (!(e instanceof store.StorageFullError)) throw e;
      this.#emit({ notice: { level: 'error', text: `${e.message} Training goes on; the newest checkpoint that fit is kept.` } }, true);
    }
    await this.#sendCheckpoints();
  }

  /** Writes a checkpoint of the current run: an autosave, a saved state, or a snapshot rollback asked for. */
  async #storeState(state: Pick<CheckpointState, 'step' | 'stage' | 'metrics'>, bytes: Uint8Array, kind: 'auto' | 'manual' = 'auto'): Promise<void> {
    await saveState(this.#requireDb(), {
      runId: this.#run!.id,
      state,
      bytes,
      kind,
      tokensPerBatch: this.#session?.trainer.tokensPerBatch ?? 0,
      elapsedSeconds: this.#loop.elapsed(),
      keepAutosaves: this.#settings().keepAutosaves,
    });
    this.#lastSavedStep = state.step;
  }

  async #sendCheckpoints(): Promise<void> {
    this.#emit({ checkpoints: await this.listCheckpoints() }, true);
  }

  // ---- what the page sees -----------------------------------------------------------------

  #settings(): StoredSettings {
    return this.#run!.settings as unknown as StoredSettings;
  }

  #runInfo(): RunInfo | null {
    const run = this.#run;
    const session = this.#session;
    if (!run || !session) return null;
    const { ownText: _text, stageSettings: _stage, family: _family, ...settings } = storedSettings(run) as StoredSettings & { stageSettings?: unknown };
    return {
      id: run.id,
      name: run.name,
      stage: session.stage,
      settings,
      corpusName: this.#corpusName,
      step: session.stepsTaken,
      totalSteps: session.trainer.config.steps,
      restoredFrom: this.#restoredFrom,
      ...(this.#stepper?.frozen ? { frozen: this.#stepper.frozen } : {}),
    };
  }

  #summary(): RunSummary | null {
    const session = this.#session;
    if (!session) return null;
    const s = session.summary();
    return {
      parameters: s.parameters,
      tokensSeen: s.tokensSeen,
      tokensPerParameter: s.tokensPerParameter,
      elapsedSeconds: this.#loop.elapsed(),
      backend: this.#backend?.backend ?? 'unknown',
      gradClip: session.trainer.config.gradClip,
      vocabSize: session.model.config.vocabSize,
      liveShare: this.#loop.liveShare,
      workers: session.trainer.lastStepThreads,
    };
  }

  #setStatus(status: LabStatus): void {
    this.#status = status;
    this.#emit({ status, run: this.#runInfo() }, true);
  }

  #emit(update: LabUpdate, now = false): void {
    this.#outbox.emit(update, now);
  }

  // ---- locks ------------------------------------------------------------------------------

  /** Runs tensor work one piece at a time: a step, a sample, a save. */
  #withTensors<T>(f: () => Promise<T> | T): Promise<T> {
    return this.#tensors.run(f);
  }

  /** Runs commands that change which run is loaded one at a time. */
  #command(f: () => Promise<void>): Promise<void> {
    return this.#commands.run(f).catch((e) => {
      if (this.#status === 'loading') this.#setStatus(this.#session ? 'paused' : 'idle');
      throw e;
    });
  }

  #requireDb(): store.LabDB {
    if (!this.#db) throw new Error('The lab is still starting.');
    return this.#db;
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
