/**
 * The page's view of the lab: what the worker last reported, the settings form, and verbs that
 * send commands. The worker owns tfjs and the model; this class only holds plain data.
 */
import * as Comlink from 'comlink';
import type { LabApi } from '../lab/api.ts';
import type {
  BackendInfo,
  BackendPreference,
  CheckpointInfo,
  LabStatus,
  LabUpdate,
  MetricRow,
  Notice,
  OwnText,
  RunInfo,
  RunSettings,
  RunSummary,
  SampleOptions,
} from '../lab/types.ts';
import type { LiveLine, ProbedToken, RewardModelInfo, SampleRow } from '../lab/types.ts';
import { workerErrorText } from '../lab/worker-error.ts';
import type { MeasureApi } from '../../workers/measure.worker.ts';
import { NO_THREADS_WORKER, STUCK, STUCK_AFTER_MS, watchStuck } from '../lab/worker-watch.ts';
import { requestPersistence, storageEstimate } from '../storage/health.ts';
import { appendRows, emptySeries, type Series } from './series.ts';
import { defaultSettings, lessonHash, presetDefaults, settingsFromHash, type ViewName, viewFromHash } from './settings.ts';
import { TrainerLock } from './tab-lock.ts';
import { messageOf } from './format.ts';
import { ShareState } from './views/share/share.svelte.ts';
import { SpikeLabView } from './views/spikes/spikes.svelte.ts';
import { TraceBook } from './traces.svelte.ts';

const BACKEND_KEY = 'lm-lab.backend';
const BACKEND_NAMES: Record<string, string> = { webgpu: 'WebGPU', wasm: 'WebAssembly', cpu: 'CPU' };

/** A request to the worker for a panel that shows its own result; `busy` false for a background read. */

export interface StorageState {
  usage: number;
  quota: number;
  persisted: boolean | 'unsupported';
}

export interface SampleState {
  text: string;
  /** The written tokens with their probabilities (text without the prompt). */
  tokens: ProbedToken[];
  busy: boolean;
  step: number | null; // the step whose weights produced the text
  error: string | null;
}

/** Live lines kept on the page (the newest last). */
const LIVE_LINES = 40;

export class Lab {
  #worker: Worker | null = null;
  #api: Comlink.Remote<LabApi> | null = null;
  /** false once the threaded wasm build hung while the worker started: later workers start without it. */
  #wasmThreads = true;
  /** The training worker created before the lock is granted, so that its scripts load meanwhile. */
  #spare: Worker | null = null;

  #status = $state<LabStatus>('starting');
  #backend = $state<BackendInfo | null>(null);
  /** While `auto` times the backends (first visit, or re-measure): what it has timed and is timing. */
  #measuring = $state<string | null>(null);
  /** The Backend panel's WebGPU check: running, its result, or null before it is asked for. */
  #agreement = $state<{ running: true } | { agree: boolean; summary: string } | null>(null);
  #backendPreference = $state<BackendPreference>('auto');
  #run = $state<RunInfo | null>(null);
  #series = $state.raw<Series>(emptySeries());
  #rows = $state.raw<MetricRow[]>([]); // the loaded run's rows as logged: the stage charts read every key
  #summary = $state.raw<RunSummary | null>(null);
  #checkpoints = $state.raw<CheckpointInfo[]>([]);
  #notice = $state<Notice | null>(null);
  #settings = $state<RunSettings>(defaultSettings());
  #ownText = $state.raw<OwnText | null>(null);
  #sample = $state<SampleState>({ text: '', tokens: [], busy: false, step: null, error: null });
  #storage = $state<StorageState | null>(null);
  #pending = $state(0); // commands sent and not yet answered
  #view = $state<ViewName | null>(null); // null until chosen: then the loaded run's stage
  #live = $state.raw<LiveLine[]>([]);
  #elsewhere = $state(false); // another tab of this profile holds the trainer
  // null until the worker's updates bring them: until then the RL view asks for them itself
  #rlSamples = $state.raw<SampleRow[] | null>(null);
  #rewardModels = $state.raw<RewardModelInfo[] | null>(null);
  readonly #lock = new TrainerLock(() => this.#granted(), () => this.#release());

  /** The loss-spike lab (events, policy, lesson) and checkpoint sharing (export, import). */
  readonly spikes = new SpikeLabView((f, busy) => this.call(f, busy));
  readonly share = new ShareState((f) => this.call(f));
  /** Where the text each view shows was copied from, traced on request between training steps. */
  readonly traces = new TraceBook((f) => this.call(f, false), () => this.#run?.id);

  get status(): LabStatus { return this.#status; }
  get backend(): BackendInfo | null { return this.#backend; }
  get measuring(): string | null { return this.#measuring; }
  get agreement() { return this.#agreement ?? (this.#backend?.agreement ? { agree: this.#backend.agreement.agree, summary: this.#backend.agreement.summary } : null); }
  get backendPreference(): BackendPreference { return this.#backendPreference; }
  get run(): RunInfo | null { return this.#run; }
  get series(): Series { return this.#series; }
  get rows(): MetricRow[] { return this.#rows; }
  /** The worker, for requests of the views' own state (chain.svelte.ts and each view's folder). */
  get api(): Comlink.Remote<LabApi> | null { return this.#api; }
  get summary(): RunSummary | null { return this.#summary; }
  get checkpoints(): CheckpointInfo[] { return this.#checkpoints; }
  get notice(): Notice | null { return this.#notice; }
  get settings(): RunSettings { return this.#settings; }
  get ownText(): OwnText | null { return this.#ownText; }
  get sample(): SampleState { return this.#sample; }
  get storage(): StorageState | null { return this.#storage; }
  get busy(): boolean { return this.#pending > 0; }
  get stepsTaken(): number { return this.#run?.step ?? 0; }
  /** The open view: the one chosen (bar or `#view=`), else the loaded run's stage, else pretraining. */
  get view(): ViewName { return this.#view ?? this.#run?.stage ?? 'pretrain'; }
  /** Lines sampled while pretraining, oldest first. */
  get live(): LiveLine[] { return this.#live; }
  /** The loaded RL run's latest samples and the stored reward models, as the updates bring them; null: none has. */
  get rlSamples(): SampleRow[] | null { return this.#rlSamples; }
  get rewardModels(): RewardModelInfo[] | null { return this.#rewardModels; }
  /** True while another tab of this browser profile trains (this one has no worker). */
  get elsewhere(): boolean { return this.#elsewhere; }

  /** What each button may do right now. */
  get can() {
    const s = this.#status;
    const ready = !this.busy && s !== 'starting' && s !== 'loading';
    const hasText = this.#settings.corpus !== 'own' || this.#ownText !== null;
    const frozen = this.#run?.frozen !== undefined; // loaded, but it cannot train here
    return {
      pretrain: ready && s !== 'running' && hasText,
      pause: s === 'running',
      resume: ready && s === 'paused' && !frozen,
      stop: s === 'running' || (ready && s === 'paused'),
      step: ready && (s === 'paused' || s === 'idle' || s === 'error') && (this.#run !== null || hasText) && !frozen,
      sample: this.#run !== null && s !== 'loading',
      edit: s !== 'running' && s !== 'loading',
    };
  }

  constructor() {
    if (typeof location !== 'undefined') {
      this.#settings = settingsFromHash(location.hash);
      this.#view = viewFromHash(location.hash);
      // A link to another view pasted into this tab changes only the hash: open that view.
      addEventListener('hashchange', () => {
        this.#view = viewFromHash(location.hash) ?? this.#view;
      });
    }
    try {
      const saved = localStorage.getItem(BACKEND_KEY);
      if (saved === 'webgpu' || saved === 'wasm' || saved === 'cpu') this.#backendPreference = saved;
    } catch {
      // storage disabled: always start on auto
    }
  }

  /**
   * Starts the lab: this tab becomes the one trainer of the profile if no other tab is (one writer
   * to IndexedDB), else it says where training runs and waits (`takeOver` moves it here).
   */
  async start(): Promise<void> {
    // The worker's scripts load (a second or more) while this tab claims the lock and the page renders.
    this.#spare = this.#newWorker();
    this.#elsewhere = !(await this.#lock.claim());
    if (this.#elsewhere) {
      this.#spare?.terminate();
      this.#spare = null;
    }
  }

  #newWorker(): Worker {
    return new Worker(new URL('../../workers/lab.worker.ts', import.meta.url), { type: 'module', name: this.#wasmThreads ? 'lab' : NO_THREADS_WORKER });
  }

  /** Asks the tab that trains to save and stop; this tab's trainer starts once it has. */
  takeOver(): void {
    if (!this.#elsewhere) return;
    this.#notice = { level: 'info', text: 'Asking the other tab to save and hand over…' };
    this.#lock.takeOver();
  }

  /** This tab holds the trainer lock: start the worker (it restores the newest run). */
  #granted(): void {
    this.#elsewhere = false;
    if (this.#notice?.text.startsWith('Asking the other tab')) this.#notice = null;
    void this.#startWorker();
  }

  /** Another tab takes over: save the run where it stands, stop the worker, and say so. */
  async #release(): Promise<void> {
    if (this.#api) {
      if (this.#status === 'running' || this.#status === 'paused') await this.stop().catch(() => {});
      this.#api[Comlink.releaseProxy]();
    }
    this.#worker?.terminate();
    this.#worker = null;
    this.#api = null;
    this.#elsewhere = true;
    this.#status = 'starting';
  }

  /** Starts the worker, picks a backend, and restores the last run if there is one. */
  async #startWorker(): Promise<void> {
    this.#status = 'starting';
    const worker = this.#spare ?? this.#newWorker();
    this.#spare = null;
    this.#worker = worker;
    worker.addEventListener('error', (e) => this.#fail(`The training worker failed to load: ${workerErrorText(e)}`));
    const api = Comlink.wrap<LabApi>(worker);
    this.#api = api;
    await api.subscribe(Comlink.proxy((update: LabUpdate) => this.#apply(update)));
    const watch = watchStuck(() => api.alive());
    let stuck = false;
    await this.#command(async (api) => {
      const progress = Comlink.proxy((text: string) => { this.#measuring = text; });
      try {
        // auto: the remembered choice, or (a first visit) wasm at once while the backends are timed alongside
        const init = api.init(this.#backendPreference, { preset: this.#settings.preset, measureLater: true }, progress);
        const answer = await Promise.race([init, watch.stuck]);
        if (answer === STUCK) stuck = true;
        else this.#backend = answer;
      } finally {
        watch.stop();
        this.#measuring = null;
      }
    });
    if (stuck) return this.#restartWithoutThreads(worker);
    void this.refreshStorage(true);
    if (this.#backend?.measureAlongside) void this.#measureAlongside(this.#settings.preset);
  }

  /**
   * A first visit trains on wasm at once; another worker times wasm and WebGPU on `preset` and
   * remembers the faster. The lab switches only if WebGPU is faster, and says so; while a run
   * trains it only says so (the Backend panel switches, and the next load starts on it).
   */
  async #measureAlongside(preset: RunSettings['preset']): Promise<void> {
    const worker = new Worker(new URL('../../workers/measure.worker.ts', import.meta.url), { type: 'module', name: 'measure' });
    const api = Comlink.wrap<MeasureApi>(worker);
    try {
      this.#measuring = 'timing…';
      const measured = await api.measure(preset, Comlink.proxy((text: string) => { this.#measuring = text; }));
      const current = this.#backend;
      if (!current || this.#backendPreference !== 'auto') return; // the student chose meanwhile
      const figures = measured.reason; // "measured on tiny: wasm 7,100 tok/s · WebGPU 9,800 tok/s → webgpu"
      if (measured.backend === current.backend) {
        this.#backend = { ...current, reason: measured.reason, measurements: measured.measurements, measuredPreset: measured.measuredPreset, measureAlongside: false };
      } else if (this.#status === 'running') {
        this.#notice = { level: 'info', text: `${BACKEND_NAMES[measured.backend] ?? measured.backend} trains faster here (${figures}): it is used from the next load, or now from the Backend panel.` };
      } else {
        this.#notice = { level: 'info', text: `${BACKEND_NAMES[measured.backend] ?? measured.backend} trains faster here (${figures}): switching to it.` };
        await this.setBackend('auto');
      }
    } catch (e) {
      this.#notice = { level: 'warning', text: `Timing the backends failed (${messageOf(e)}): the lab stays on ${BACKEND_NAMES[this.#backend?.backend ?? ''] ?? 'its backend'}.` };
    } finally {
      this.#measuring = null;
      api[Comlink.releaseProxy]();
      worker.terminate();
    }
  }

  /**
   * Checks that WebGPU computes what WebAssembly computes (a few training steps of the run's preset,
   * core/backend/agreement.ts), in a worker of its own so the training worker's model is untouched.
   */
  async checkAgreement(): Promise<void> {
    const worker = new Worker(new URL('../../workers/measure.worker.ts', import.meta.url), { type: 'module', name: 'agreement' });
    const api = Comlink.wrap<MeasureApi>(worker);
    this.#agreement = { running: true };
    try {
      const a = await api.agreement(this.#settings.preset);
      this.#agreement = { agree: a.agree, summary: a.summary };
      if (!a.agree && this.#backend?.backend === 'webgpu') {
        this.#notice = { level: 'warning', text: `WebGPU's numbers disagree with WebAssembly's here (${a.summary}): switching to WebAssembly.` };
        await this.setBackend('wasm');
      }
    } catch (e) {
      this.#agreement = { agree: false, summary: `the check could not run: ${messageOf(e)}` };
    } finally {
      api[Comlink.releaseProxy]();
      worker.terminate();
    }
  }

  /** The worker's thread stopped answering while it started (Firefox's threaded wasm, src/lab/worker-watch.ts): start it again without wasm threads. */
  #restartWithoutThreads(worker: Worker): Promise<void> {
    this.#api?.[Comlink.releaseProxy]();
    worker.terminate();
    if (!this.#wasmThreads) {
      this.#fail(`The training worker stopped answering while it started (for ${STUCK_AFTER_MS / 1000} s, even without WebAssembly threads). Reload the page to try again.`);
      return Promise.resolve();
    }
    this.#wasmThreads = false;
    this.#notice = { level: 'info', text: `WebAssembly with threads did not start in this browser within ${STUCK_AFTER_MS / 1000} s: the lab runs it on one thread per worker (its helper workers still share the steps).` };
    return this.#startWorker();
  }

  /** Restarts the worker on another backend; the run continues from its last checkpoint. */
  async setBackend(preference: BackendPreference): Promise<void> {
    this.#backendPreference = preference;
    try {
      localStorage.setItem(BACKEND_KEY, preference);
    } catch {
      // not remembered across reloads, but still applied now
    }
    if (this.#status === 'running') await this.pause();
    this.#api?.[Comlink.releaseProxy]();
    this.#worker?.terminate();
    this.#backend = null;
    this.#run = null;
    this.#series = emptySeries();
    this.#summary = null;
    await this.#startWorker();
  }

  updateSettings(patch: Partial<RunSettings>): void {
    const next = { ...this.#settings, ...patch };
    // A new preset brings its own batch size and learning rate.
    if (patch.preset && patch.preset !== this.#settings.preset) Object.assign(next, presetDefaults(patch.preset));
    this.#settings = next;
    this.#writeHash();
  }

  /** Opens a view (the pipeline bar); the URL says which, so a link opens it. */
  selectView(view: ViewName): void {
    this.#view = view;
    this.#writeHash();
  }

  #writeHash(): void {
    if (typeof history === 'undefined') return;
    history.replaceState(null, '', lessonHash(this.#settings, this.spikes.lesson, this.#view ?? undefined));
  }

  /** Turns the worker's sampled lines while pretraining on or off. */
  setLiveSamples(on: boolean): Promise<void> {
    return this.#command((api) => api.setLiveSamples(on));
  }

  async chooseOwnText(file: File): Promise<void> {
    const text = await file.text();
    this.#ownText = { name: file.name, text };
    this.updateSettings({ corpus: 'own' });
  }

  pretrain(): Promise<void> {
    const text = this.#settings.corpus === 'own' ? this.#ownText ?? undefined : undefined;
    return this.#command((api) => api.pretrain($state.snapshot(this.#settings), text));
  }

  pause(): Promise<void> { return this.#command((api) => api.pause()); }
  resume(): Promise<void> { return this.#command((api) => api.resume()); }
  stop(): Promise<void> { return this.#command((api) => api.stop()); }

  step(): Promise<void> {
    const text = this.#settings.corpus === 'own' ? this.#ownText ?? undefined : undefined;
    return this.#command((api) => api.stepOnce($state.snapshot(this.#settings), text));
  }

  async regenerate(opts: SampleOptions): Promise<void> {
    if (!this.#api || this.#sample.busy) return;
    this.#sample = { ...this.#sample, busy: true, error: null };
    try {
      const { text, tokens, step } = await this.#api.sample(opts);
      this.#sample = { text, tokens, busy: false, step, error: null };
    } catch (e) {
      this.#sample = { ...this.#sample, busy: false, error: messageOf(e) };
    }
  }

  loadCheckpoint(id: string): Promise<void> { return this.#command((api) => api.loadCheckpoint(id)); }
  pinCheckpoint(id: string, pinned: boolean): Promise<void> { return this.#command((api) => api.pinCheckpoint(id, pinned)); }
  deleteCheckpoint(id: string): Promise<void> { return this.#command((api) => api.deleteCheckpoint(id)); }
  forkCheckpoint(id: string): Promise<void> { return this.#command((api) => api.forkCheckpoint(id)); }

  dismissNotice(): void {
    this.#notice = null;
  }

  /** Reads the storage estimate; the first call also asks the browser to keep our data. */
  async refreshStorage(askPersistence = false): Promise<void> {
    const persisted = askPersistence ? await requestPersistence().catch(() => false as const) : this.#storage?.persisted ?? false;
    const estimate = await storageEstimate();
    this.#storage = estimate ? { ...estimate, persisted } : null;
  }

  /** A read-only snapshot for browser tests and the console. */
  snapshot() {
    const s = this.#series;
    return {
      status: this.#status,
      step: this.stepsTaken,
      stage: this.#run?.stage ?? null,
      view: this.view,
      elsewhere: this.#elsewhere,
      live: this.#live.map((l) => l.step),
      backend: this.#backend?.backend ?? null,
      workers: this.#summary?.workers ?? null,
      runId: this.#run?.id ?? null,
      points: { loss: s.loss.length, valLoss: s.valLoss.length, gradNorm: s.gradNorm.length, lr: s.lr.length, tokensPerSec: s.tokensPerSec.length },
      loss: s.loss.map((p) => p.y),
      gradNorm: s.gradNorm.map((p) => p.y),
      checkpoints: this.#checkpoints.map((c) => ({ step: c.step, pinned: c.pinned, kind: c.kind })),
      notice: this.#notice?.text ?? null,
    };
  }

  #apply(update: LabUpdate): void {
    if (update.status !== undefined) this.#status = update.status;
    if (update.run !== undefined) {
      // A different run was loaded (restored, forked, started): the form shows its settings.
      if (update.run && update.run.id !== this.#run?.id) {
        this.#live = [];
        if (this.#rlSamples !== null) this.#rlSamples = []; // the samples were the last run's
        this.#settings = { ...this.#settings, ...update.run.settings };
        this.#writeHash();
      }
      this.#run = update.run;
    }
    if (update.rows !== undefined) {
      this.#series = appendRows(update.resetRows ? emptySeries() : this.#series, update.rows);
      this.#rows = update.resetRows ? update.rows : this.#rows.concat(update.rows);
    }
    if (update.summary !== undefined) this.#summary = update.summary;
    if (update.checkpoints !== undefined) {
      this.#checkpoints = update.checkpoints;
      void this.refreshStorage();
    }
    if (update.notice !== undefined) this.#notice = update.notice;
    if (update.live?.length) this.#live = this.#live.concat(update.live).slice(-LIVE_LINES);
    if (update.rlSamples !== undefined) this.#rlSamples = update.rlSamples;
    if (update.rewardModels !== undefined) this.#rewardModels = update.rewardModels;
    this.spikes.apply(update);
  }

  /**
   * A command for a panel that shows its own result or error (spike lab, import). A background
   * read (`busy` false) does not disable the buttons while it runs.
   */
  async call<T>(f: (api: Comlink.Remote<LabApi>) => Promise<T>, busy = true): Promise<T> {
    if (!this.#api) throw new Error('The lab is still starting.');
    if (busy) this.#pending += 1;
    try {
      return await f(this.#api);
    } finally {
      if (busy) this.#pending -= 1;
    }
  }

  /** Sends a command as the buttons do: counted as pending, a failure shown as the notice. */
  send(f: (api: Comlink.Remote<LabApi>) => Promise<unknown>): Promise<void> {
    return this.#command(f);
  }

  async #command(f: (api: Comlink.Remote<LabApi>) => Promise<unknown>): Promise<void> {
    if (!this.#api) return;
    this.#pending += 1;
    try {
      await f(this.#api);
    } catch (e) {
      this.#notice = { level: 'error', text: messageOf(e) };
    } finally {
      this.#pending -= 1;
    }
  }

  #fail(text: string): void {
    this.#status = 'error';
    this.#notice = { level: 'error', text };
  }
}
