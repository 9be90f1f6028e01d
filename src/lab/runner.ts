/**
 * The lab in the worker: one loaded run at a time and its lifecycle — a new pretraining run, a
 * later stage from the loaded one, pause, resume, stop, step, sample, load, fork — with the run's
 * autosaves and restore in IndexedDB. The loop itself is loop.ts, the loaded run's checkpoints and
 * what the page sees of it loaded-run.ts, the page's batched updates outbox.ts; each later stage is
 * an entry of stages/registry.ts, pretraining stages/pretrain.ts; import and export are
 * transfer.ts, the spike lab's commands spike-commands.ts, the helper workers helper-pool.ts.
 *
 * Everything that touches tensors goes through one lock, so a sample or a save never interleaves
 * with a step; commands that change which run is loaded go through another, one at a time.
 */
import { readHeader } from '../core/io/safetensors.ts';
import { checkParent } from '../core/lesson/parents.ts';
import { tokenizerFromJSON } from '../core/data/tokenizers.ts';
import { LabSession } from '../core/train/session.ts';
import type { TrainingStage } from '../core/train/stage.ts';
import * as store from '../storage/index.ts';
import type { ChatData, LineError } from './chat-data.ts';
import { HelperPool, type HelperStarter } from './helper-pool.ts';
import { TrainingLoop } from './loop.ts';
import { LoadedRun } from './loaded-run.ts';
import { Outbox, Serial } from './outbox.ts';
import { forkRun, latestSaved, parentOf, sourceOf } from './persistence.ts';
import { Corpora, type StoredSettings, storedSettings } from './runs.ts';
import { newPretrainRun, pretrainingStage } from './stages/pretrain.ts';
import { catalogOf, STAGES, type StageSettings, stageEntry } from './stages/registry.ts';
import type { LaterStage, Loaded, StageEntry, StageHost } from './stages/stage.ts';
import type { BackendInfo, CheckpointInfo, LabStatus, LabUpdate, OwnText, ProbedToken, RecoveryPolicy, RunInfo, RunSettings, SampleOptions } from './types.ts';

/** What the runner needs from its surroundings: a browser worker or a Node test provide these. */
export interface LabEnv {
  /** The bundled corpus's two files. */
  loadBundledCorpus(name: 'tales'): Promise<{ train: string; val: string }>;
  /** The bundled crawl's JSONL, for runs on the crawl (fetched on first use in a browser). */
  loadCrawl?(): Promise<string>;
  openStore(): Promise<store.LabDB>;
  /** Milliseconds between metric batches sent to the page. */
  logInterval?: number;
  /** Helpers that share each wasm training step's rows (data parallelism, core/train/parallel.ts); none when absent. */
  gradientHelpers?: HelperStarter;
}

export class LabRunner implements StageHost {
  readonly #chat: ChatData;
  readonly #openStore: () => Promise<store.LabDB>;
  #db: store.LabDB | null = null;
  #backend: BackendInfo | null = null;

  #status: LabStatus = 'starting';
  #loaded: LoadedRun | null = null;

  readonly #loop: TrainingLoop;
  readonly #outbox: Outbox;
  readonly #helpers: HelperPool;
  readonly #tensors = new Serial();
  readonly #commands = new Serial();
  readonly #corpora: Corpora;

  constructor(env: LabEnv, chat: ChatData) {
    this.#chat = chat;
    this.#outbox = new Outbox(env.logInterval ?? 250);
    this.#corpora = new Corpora((name) => env.loadBundledCorpus(name), env.loadCrawl && (() => env.loadCrawl!()));
    this.#helpers = new HelperPool(env.gradientHelpers, (text) => this.notify({ notice: { level: 'warning', text } }));
    this.#loop = new TrainingLoop({
      loaded: () => this.#loaded?.stage ?? null,
      withTensors: (f) => this.withTensors(f),
      report: (update, now) => this.notify({ ...update, ...this.#loaded?.progress(update) }, now),
      autosave: async (last) => {
        const loaded = this.#loaded!;
        if (last || loaded.session.stepsTaken % loaded.settings.autosaveEvery === 0) await loaded.save('auto');
      },
      setStatus: (status, error) => {
        if (error) this.notify({ notice: { level: 'error', text: error } });
        this.#setStatus(status);
      },
    });
    this.#openStore = env.openStore;
  }

  get status(): LabStatus {
    return this.#status;
  }

  /** The loaded run (null when none), as it is now: outside the locks, read it, do not step it. */
  get current(): LoadedRun | null {
    return this.#loaded;
  }

  get db(): store.LabDB {
    if (!this.#db) throw new Error('The lab is still starting.');
    return this.#db;
  }

  /** Registers the page's one callback and sends it the whole current state. */
  subscribe(listener: (update: LabUpdate) => unknown): void {
    this.#outbox.listen(listener);
    this.notify({ status: this.#status, run: this.#loaded?.info() ?? null, summary: this.#loaded?.summary() ?? null }, true);
  }

  /** Opens storage, restores the most recent run, if any, and sends what each stage lists; the backend is chosen by the caller. */
  async init(backend: BackendInfo): Promise<void> {
    this.#backend = backend;
    this.#db = await this.#openStore();
    await this.command(() => this.#restoreLatest());
    for (const name of Object.keys(STAGES) as LaterStage[]) await this.publish(name);
  }

  pretrain(settings: RunSettings, ownText?: OwnText): Promise<void> {
    return this.command(async () => {
      await this.halt('paused');
      await this.#newRun(settings, ownText);
      this.#loop.start();
    });
  }

  pause(): Promise<void> {
    return this.halt('paused');
  }

  resume(): Promise<void> {
    return this.command(async () => {
      const stage = this.#loaded?.stage;
      if (!stage || this.#status === 'running') return;
      if (stage.frozen) throw new Error(stage.frozen);
      if (stage.done) {
        this.notify({ status: 'done', notice: { level: 'info', text: 'This run has taken all its steps. Press Pretrain to start a new one.' } });
        return;
      }
      this.notify({ notice: null }, false);
      this.#loop.start();
    });
  }

  /** Stops training and saves a checkpoint at the current step. */
  stop(): Promise<void> {
    return this.command(async () => {
      const loaded = this.#loaded;
      if (!loaded) return;
      await this.halt('stopped');
      await loaded.save('auto');
      this.notify({ notice: { level: 'info', text: `Stopped at step ${loaded.session.stepsTaken} and saved a checkpoint. Resume continues; Pretrain starts a new run.` } });
    });
  }

  /** One step, starting a run from the settings if none is loaded. */
  stepOnce(settings: RunSettings, ownText?: OwnText): Promise<void> {
    return this.command(async () => {
      if (this.#status === 'running') return;
      if (!this.#loaded) await this.#newRun(settings, ownText);
      const loaded = this.#loaded!;
      const { stage } = loaded;
      if (stage.done) return;
      if (stage.frozen) throw new Error(stage.frozen);
      await this.#loop.step(stage);
      if (stage.session.stepsTaken % loaded.settings.autosaveEvery === 0) await loaded.save('auto');
      this.#setStatus(stage.done ? 'done' : 'paused');
    });
  }

  /** Turns the lines sampled while pretraining on or off. */
  setLiveSamples(on: boolean): void {
    this.#loop.setLive(on);
  }

  async sample(opts: SampleOptions): Promise<{ text: string; tokens: ProbedToken[]; step: number }> {
    const session = this.#loaded?.session;
    if (!session) throw new Error('There is no model yet: press Pretrain or Step first.');
    return this.withTensors(async () => ({ ...(await session.sampleTokens(opts.prompt, opts)), step: session.stepsTaken }));
  }

  /** Makes a checkpoint the current state of its run; Resume continues from it. */
  loadCheckpoint(id: string): Promise<void> {
    return this.command(async () => {
      const meta = await store.getCheckpoint(this.db, id);
      const run = meta && (await store.getRun(this.db, meta.runId));
      if (!meta || !run) throw new Error('That checkpoint no longer exists.');
      await this.halt('paused');
      await this.open(run, id);
      this.notify({ notice: { level: 'info', text: `Loaded the checkpoint at step ${meta.step}. Resume continues training from there.` } });
    });
  }

  /** Starts a new run from a copy of a checkpoint, leaving the original run as it is; with `policy`, another recovery policy (to compare). */
  forkCheckpoint(id: string, policy?: RecoveryPolicy): Promise<void> {
    return this.command(async () => {
      const source = await sourceOf(this.db, id);
      await this.halt('paused');
      await this.#loaded?.save('auto'); // the run being left keeps its last steps (and its whole curve to compare)
      const { run, checkpointId, step } = await forkRun(this.db, source, policy);
      await this.open(run, checkpointId);
      const withPolicy = policy ? ` with recovery "${policy}"` : '';
      this.notify({ notice: { level: 'info', text: `Forked a new run from step ${step}${withPolicy}. The original run is unchanged; Resume trains the fork.` } });
    });
  }

  async pinCheckpoint(id: string, pinned: boolean): Promise<void> {
    await store.pinCheckpoint(this.db, id, pinned);
    await this.#loaded?.sendCheckpoints();
  }

  async deleteCheckpoint(id: string): Promise<void> {
    await store.deleteCheckpoint(this.db, id);
    await this.#loaded?.sendCheckpoints();
  }

  async listCheckpoints(): Promise<CheckpointInfo[]> {
    return this.#loaded ? this.#loaded.checkpoints() : [];
  }

  /**
   * Starts a later stage from the loaded run's current step (or the checkpoint the stage's entry
   * forks): that state is saved and pinned as the parent, and the stage trains as a new run.
   */
  startStage<K extends LaterStage>(name: K, settings: StageSettings[K]): Promise<{ skipped: LineError[] }> {
    const entry = STAGES[name] as unknown as StageEntry<StageSettings[K]>;
    return this.command(async () => {
      await this.halt('paused');
      const loaded = this.#loaded;
      const from = loaded ? entry.forkPoint?.(loaded.run, settings) : undefined;
      if (!loaded || (loaded.session.stepsTaken === 0 && !from)) throw new Error('Train a model first: a later stage starts from a trained checkpoint.');
      await loaded.save('manual');
      const db = this.db;
      const { session } = loaded;
      const { run, record } = await parentOf(db, loaded.run, session.stepsTaken, from);
      checkParent(name, run.stage);
      this.#setStatus('loading');
      const { corpus } = await this.#corpora.of(storedSettings(run), session.tokenizer);
      const parent = { run, checkpointId: record.id, step: record.step, bytes: record.bytes };
      const started = await this.withTensors(() => entry.start(parent, settings, { corpus, db, chat: this.#chat }));
      try {
        await store.pinCheckpoint(db, record.id, true); // the parent must outlive autosave rotation
        const child = await store.createRun(db, {
          name: started.name,
          stage: name,
          preset: run.preset,
          parentRunId: run.id,
          settings: { ...run.settings, stageSettings: started.stored },
        });
        this.#replace(started.stage, child, loaded.corpusName, 0, undefined);
      } catch (e) {
        started.stage.release();
        throw e;
      }
      this.notify({ notice: null, checkpoints: [] });
      this.#loop.start();
      return { skipped: started.skipped };
    });
  }

  /** Lends the helper workers to a session that is not the loaded run (the Data view's experiment) while `isCurrent()`. */
  shareHelpers(session: LabSession, isCurrent: () => boolean): void {
    this.#helpers.share(session, this.#backend?.backend, isCurrent);
  }

  /** Runs `f` on the loaded run under the tensor lock (report cards, side-by-side replies, the RL view). */
  inspect<T>(f: (loaded: Loaded) => Promise<T>): Promise<T> {
    const db = this.db;
    return this.withTensors(() => f({ session: this.#loaded?.session ?? null, run: this.#loaded?.run ?? null, stage: this.#loaded?.stage ?? null, db }));
  }

  /** Loads a stored checkpoint of `run` as the current state (call inside `command`). */
  async open(run: store.RunRecord, checkpointId: string, restored = false): Promise<void> {
    const db = this.db;
    this.#setStatus('loading');
    const record = await store.loadCheckpoint(db, checkpointId);
    if (!record) throw new Error('That checkpoint no longer exists.');
    const tokenizer = tokenizerFromJSON(JSON.parse(readHeader(record.bytes).header.metadata.tokenizer));
    const { corpus } = await this.#corpora.of(storedSettings(run), tokenizer);
    const entry = stageEntry(run.stage);
    const stage = entry ? await entry.resume(run, record.bytes, { corpus, db, chat: this.#chat }) : this.#pretraining(LabSession.fromCheckpoint(record.bytes, corpus), run);
    const elapsed = typeof record.summary.elapsedSeconds === 'number' ? record.summary.elapsedSeconds : 0;
    const loaded = this.#replace(stage, run, corpus.name, elapsed, restored ? { step: record.step, savedAt: record.createdAt } : undefined);
    loaded.savedStep = record.step;
    this.#setStatus(stage.done ? 'done' : 'paused');
    await loaded.sendCheckpoints();
  }

  /** Patches the loaded run's stored settings (a new injection, another recovery policy). */
  async updateSettings(patch: Partial<StoredSettings>): Promise<void> {
    const loaded = this.#loaded!;
    loaded.run = await store.updateRun(this.db, loaded.run.id, { settings: { ...loaded.run.settings, ...patch } });
    this.notify({ run: loaded.info() }, false);
  }

  /** Sends what `stage`'s entry lists of its stored runs (the reward models), if anything. */
  async publish(stage: store.Stage): Promise<void> {
    const catalog = await catalogOf(stage, this.db);
    if (catalog) this.notify(catalog);
  }

  /** Sends the page an update: at once, or with the next batch. */
  notify(update: LabUpdate, now = true): void {
    this.#outbox.emit(update, now);
  }

  /** Asks a running loop to end after its current step, waits for it, then reports `status`. */
  async halt(status: 'paused' | 'stopped'): Promise<void> {
    await this.#loop.halt();
    if (this.#loaded && ['running', 'paused', 'stopped'].includes(this.#status)) this.#setStatus(status);
    this.#outbox.flush();
  }

  /** Runs tensor work one piece at a time: a step, a sample, a save. */
  withTensors<T>(f: () => Promise<T> | T): Promise<T> {
    return this.#tensors.run(f);
  }

  /** Runs commands that change which run is loaded one at a time (a command must not wait on another). */
  command<T>(f: () => Promise<T>): Promise<T> {
    return this.#commands.run(f).catch((e) => {
      if (this.#status === 'loading') this.#setStatus(!this.#loaded ? 'idle' : this.#loaded.stage.done ? 'done' : 'paused');
      throw e;
    });
  }

  // ---- runs -------------------------------------------------------------------------------

  async #newRun(settings: RunSettings, ownText?: OwnText): Promise<void> {
    this.#setStatus('loading');
    const { run, session } = await newPretrainRun(this.db, this.#corpora, settings, ownText);
    this.#replace(this.#pretraining(session, run), run, session.trainer.corpus.name, 0, undefined);
    this.notify({ notice: null, checkpoints: [] });
  }

  #pretraining(session: LabSession, run: store.RunRecord): TrainingStage {
    return pretrainingStage(this.db, session, run, (state, bytes) => this.#loaded!.store(state, bytes));
  }

  /** After a reload: the most recent run, at its most recent checkpoint. */
  async #restoreLatest(): Promise<void> {
    const { run, latest } = await latestSaved(this.db);
    if (!run || !latest) {
      this.#setStatus('idle');
      if (run) this.notify({ notice: { level: 'info', text: `Your last run (${run.name}) stopped before its first autosave, so there is nothing to resume. Press Pretrain to start again.` } });
      return;
    }
    try {
      await this.open(run, latest.id, true);
    } catch (e) {
      this.#setStatus('idle');
      this.notify({ notice: { level: 'warning', text: `Could not restore your last run (${run.name}): ${e instanceof Error ? e.message : String(e)}` } });
    }
  }

  #replace(stage: TrainingStage, run: store.RunRecord, corpusName: string, elapsed: number, restoredFrom: RunInfo['restoredFrom']): LoadedRun {
    this.#loaded?.stage.release();
    const context = { db: this.db, loop: this.#loop, backend: this.#backend?.backend ?? 'unknown', withTensors: this.withTensors.bind(this), notify: (u: LabUpdate) => this.notify(u) };
    const loaded = (this.#loaded = new LoadedRun(stage, run, corpusName, restoredFrom, context));
    this.#loop.reset(stage, elapsed);
    this.#helpers.share(stage.session, this.#backend?.backend, () => this.#loaded === loaded);
    this.notify(loaded.loadedUpdate());
    return loaded;
  }

  #setStatus(status: LabStatus): void {
    this.#status = status;
    this.notify({ status, run: this.#loaded?.info() ?? null }, true);
  }
}
