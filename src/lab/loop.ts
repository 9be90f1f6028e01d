/**
 * The training loop, as it runs in the worker: the loaded session trained step by step with a
 * yield to the event loop in between (so pause and stop get through), its new metric rows sent
 * after each step, autosaves when due, and a live sample line when the time budget allows.
 *
 * One pass of the loop reads top to bottom: train one step → send its rows → autosave when due →
 * live line when due → yield → end when asked to, when another run is loaded, or when out of steps.
 */
import type { LabSession } from '../core/train/session.ts';
import { LIVE_SAMPLE, LiveSampler } from './live.ts';
import type { LabStatus, LabUpdate, MetricRow, RunInfo, RunSummary } from './types.ts';

/** What the loop needs from the runner that owns it. */
export interface LoopHost {
  /** The loaded session: the loop ends when another is loaded. */
  session(): LabSession | null;
  /** What takes `session`'s steps: its stage or its spike lab, or the session itself. */
  stepperOf(session: LabSession): { step(): Promise<unknown> };
  /** True when the run has a spike lab whose state the page shows. */
  hasSpikeLab(): boolean;
  spikeLabUpdate(): LabUpdate;
  /** Runs tensor work one piece at a time (a step, a sample, a save). */
  withTensors<T>(f: () => Promise<T> | T): Promise<T>;
  autosaveEvery(): number;
  save(kind: 'auto'): Promise<void>;
  emit(update: LabUpdate, now?: boolean): void;
  runInfo(): RunInfo | null;
  summary(): RunSummary | null;
  setStatus(status: LabStatus): void;
  /** The loop stopped on an error: report it and leave the run in the error state. */
  failed(message: string): void;
}

const nextTask = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export class TrainingLoop {
  readonly #host: LoopHost;
  #running: Promise<void> | null = null;
  #haltRequested = false;
  #elapsedBefore = 0; // training seconds before the loop now running started
  #runningSince: number | null = null;
  #sentRows = 0; // rows of session.metrics already sent to the page
  #live = new LiveSampler();
  #liveOn = true;

  constructor(host: LoopHost) {
    this.#host = host;
  }

  get running(): boolean {
    return this.#running !== null;
  }

  /** A session was loaded: its rows so far are sent, its training time so far is `elapsed` seconds. */
  reset(session: LabSession, elapsed: number): void {
    this.#elapsedBefore = elapsed;
    this.#sentRows = session.metrics.length;
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

  /** Starts training the loaded session, unless a loop already runs. */
  start(): void {
    const session = this.#host.session();
    if (this.#running || !session) return;
    this.#host.setStatus('running');
    this.#running = this.#train(session).finally(() => {
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

  /** One step of `session`, its rows sent to the page (also used by Step). */
  async step(session: LabSession): Promise<void> {
    const host = this.#host;
    const stepper = host.stepperOf(session);
    const eventsBefore = session.events.length;
    await host.withTensors(() => stepper.step());
    const events = session.events.slice(eventsBefore);
    if (events.some((e) => e.event === 'rollback')) {
      // The run went back to a checkpoint: the charts redraw from there; the events stay.
      this.#sentRows = session.metrics.length;
      host.emit({ rows: session.metrics.slice(), events: session.events.slice(), resetRows: true, run: host.runInfo(), summary: host.summary() });
    } else {
      const rows: MetricRow[] = session.metrics.slice(this.#sentRows);
      this.#sentRows = session.metrics.length;
      host.emit({ rows, run: host.runInfo(), summary: host.summary() });
    }
    if (host.hasSpikeLab() && events.length > 0) host.emit(host.spikeLabUpdate());
  }

  async #train(session: LabSession): Promise<void> {
    const host = this.#host;
    const started = performance.now();
    this.#runningSince = started;
    try {
      while (!this.#haltRequested && host.session() === session && !session.done) {
        const t0 = performance.now();
        await this.step(session);
        this.#live.stepped(performance.now() - t0);
        if (session.stepsTaken % host.autosaveEvery() === 0) await host.save('auto');
        if (this.#liveOn && session.stage === 'pretrain' && this.#live.due) await this.#liveLine(session);
        await nextTask();
      }
      if (!this.#haltRequested && session.done) {
        await host.save('auto');
        host.setStatus('done');
      }
    } catch (e) {
      host.failed(`Training stopped: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.#elapsedBefore += (performance.now() - started) / 1000;
      this.#runningSince = null;
      host.emit({ summary: host.summary() }, true);
    }
  }

  /** Writes one live line with the current weights and sends it with its step. */
  async #liveLine(session: LabSession): Promise<void> {
    const t0 = performance.now();
    const text = await this.#host.withTensors(() => session.sample(LIVE_SAMPLE.prompt, LIVE_SAMPLE));
    this.#live.sampled(performance.now() - t0);
    this.#host.emit({ live: [{ step: session.stepsTaken, text: LIVE_SAMPLE.prompt + text }] });
  }
}
