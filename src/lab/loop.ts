/**
 * The training loop, as it runs in the worker: the loaded stage trained step by step with a yield
 * to the event loop in between (so pause and stop get through), its new metric rows sent after
 * each step, autosaves when due, and a live sample line when the time budget allows.
 *
 * One pass of the loop reads top to bottom: train one step → send its rows → autosave when due →
 * live line when due → yield → end when asked to, when another run is loaded, or when out of steps.
 */
import type { TrainingStage } from '../core/train/stage.ts';
import { LIVE_SAMPLE, LiveSampler } from './live.ts';
import type { LabStatus, LabUpdate, MetricRow } from './types.ts';

/** What the loop needs from the runner that owns it. */
export interface LoopHost {
  /** The loaded run's stage: the loop ends when another is loaded. */
  loaded(): TrainingStage | null;
  /** Runs tensor work one piece at a time (a step, a sample, a save). */
  withTensors<T>(f: () => Promise<T> | T): Promise<T>;
  /** Sends the page a step's rows and events, or a live line; the host adds where the run stands. */
  report(update: LabUpdate, now?: boolean): void;
  /** After a step: saves a checkpoint when one is due, and always when `last`. */
  autosave(last: boolean): Promise<void>;
  /** The loop started, finished, or stopped on an error (`error` says which). */
  setStatus(status: LabStatus, error?: string): void;
}

const nextTask = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export class TrainingLoop {
  readonly #host: LoopHost;
  #running: Promise<void> | null = null;
  #haltRequested = false;
  #elapsedBefore = 0; // training seconds before the loop now running started
  #runningSince: number | null = null;
  #sentRows = 0; // rows of the session's metrics already sent to the page
  #live = new LiveSampler();
  #liveOn = true;

  constructor(host: LoopHost) {
    this.#host = host;
  }

  get running(): boolean {
    return this.#running !== null;
  }

  /** A stage was loaded: its rows so far are sent, its training time so far is `elapsed` seconds. */
  reset(stage: TrainingStage, elapsed: number): void {
    this.#elapsedBefore = elapsed;
    this.#sentRows = stage.session.metrics.length;
    this.#live = new LiveSampler();
  }

  /** Turns the live lines on or off. */
  setLive(on: boolean): void {
    this.#liveOn = on;
  }

  /** Share of the training time spent on live lines (the first left out). */
  get liveShare(): number {
    return this.#live.share;
  }

  /** Training seconds of the loaded run, across reloads, the running loop included. */
  elapsed(): number {
    return this.#elapsedBefore + (this.#runningSince === null ? 0 : (performance.now() - this.#runningSince) / 1000);
  }

  /** Starts training the loaded stage, unless a loop already runs. */
  start(): void {
    const stage = this.#host.loaded();
    if (this.#running || !stage) return;
    this.#host.setStatus('running');
    this.#running = this.#train(stage).finally(() => {
      this.#running = null;
    });
  }

  /** Asks the running loop to end after its current step and waits for it. */
  async halt(): Promise<void> {
    if (!this.#running) return;
    this.#haltRequested = true;
    await this.#running;
    this.#haltRequested = false;
  }

  /** One step of `stage`, its rows sent to the page (also used by Step). */
  async step(stage: TrainingStage): Promise<void> {
    const { session } = stage;
    const eventsBefore = session.events.length;
    await this.#host.withTensors(() => stage.step());
    const events = session.events.slice(eventsBefore);
    if (events.some((e) => e.event === 'rollback')) {
      // The run went back to a checkpoint: the charts redraw from there; the events stay.
      this.#sentRows = session.metrics.length;
      this.#host.report({ rows: session.metrics.slice(), events: session.events.slice(), resetRows: true });
    } else {
      const rows: MetricRow[] = session.metrics.slice(this.#sentRows);
      this.#sentRows = session.metrics.length;
      this.#host.report({ rows, ...(events.length > 0 ? { events } : {}) });
    }
  }

  async #train(stage: TrainingStage): Promise<void> {
    const host = this.#host;
    const started = performance.now();
    this.#runningSince = started;
    try {
      while (!this.#haltRequested && host.loaded() === stage && !stage.done) {
        const t0 = performance.now();
        await this.step(stage);
        this.#live.stepped(performance.now() - t0);
        await host.autosave(false);
        if (this.#liveOn && stage.session.stage === 'pretrain' && this.#live.due) await this.#liveLine(stage);
        await nextTask();
      }
      if (!this.#haltRequested && stage.done) {
        await host.autosave(true);
        host.setStatus('done');
      }
    } catch (e) {
      host.setStatus('error', `Training stopped: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.#elapsedBefore += (performance.now() - started) / 1000;
      this.#runningSince = null;
      host.report({}, true);
    }
  }

  /** Writes one live line with the current weights and sends it with its step. */
  async #liveLine(stage: TrainingStage): Promise<void> {
    const { session } = stage;
    const t0 = performance.now();
    const { text, tokens } = await this.#host.withTensors(() => session.sampleTokens(LIVE_SAMPLE.prompt, LIVE_SAMPLE));
    this.#live.sampled(performance.now() - t0);
    this.#host.report({ live: [{ step: session.stepsTaken, text: LIVE_SAMPLE.prompt + text, prompt: LIVE_SAMPLE.prompt, tokens }] });
  }
}
