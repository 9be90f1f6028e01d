/**
 * The one loop of the Data view's experiments (curation.ts: raw against filtered crawl;
 * tokenizer-experiment.ts: characters against BPE): a pretraining run that was training is paused
 * first (two at once would halve both), then each arm's session is stepped under the runner's
 * tensor lock with the helper workers sharing its steps, until the arm has had enough or Stop,
 * then finished and disposed. Only one experiment runs at a time; nothing is saved: they are
 * demonstrations, not runs to continue.
 */
import type { LabSession, SessionStep } from '../core/train/session.ts';
import type { LabRunner } from './runner.ts';

/** How one arm is stepped: when it has had enough, what to do after each step, how to finish. */
export interface ArmLoop<R> {
  enough(session: LabSession): boolean;
  /** After each step, outside the lock; `ms` is how long the step took under it. */
  afterStep?(step: SessionStep & { ms: number }): unknown;
  /** Under the lock, once the arm has had enough: its final figures. */
  finish(session: LabSession): Promise<R>;
}

const nextTask = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export class ExperimentArms {
  readonly #runner: LabRunner;
  #session: LabSession | null = null;
  #active = false;
  #stop = false;

  constructor(runner: LabRunner) {
    this.#runner = runner;
  }

  get running(): boolean {
    return this.#active;
  }

  /** Whether Stop was pressed since the experiment began. */
  get stopped(): boolean {
    return this.#stop;
  }

  /** Asks the running experiment to end after its current step. */
  stop(): void {
    if (this.#active) this.#stop = true;
  }

  /** Runs `body` as the one experiment, after pausing a training run (and saying so). */
  async run<T>(body: () => Promise<T>): Promise<T> {
    if (this.#active) throw new Error('An experiment is already running: stop it first.');
    this.#active = true;
    this.#stop = false;
    try {
      await this.#runner.command(async () => {
        if (this.#runner.status !== 'running') return;
        await this.#runner.halt('paused');
        this.#runner.notify({ notice: { level: 'info', text: 'Training paused for the data experiment; Resume continues it.' } });
      });
      return await body();
    } finally {
      this.#active = false;
      this.#session = null;
    }
  }

  /** `f` under the runner's tensor lock (a validation point between steps). */
  withTensors<T>(f: () => Promise<T>): Promise<T> {
    return this.#runner.withTensors(f);
  }

  /** Steps one arm until it has had enough (its result) or Stop (null); the session is disposed either way. */
  async arm<R>(session: LabSession, loop: ArmLoop<R>): Promise<R | null> {
    this.#session = session;
    this.#runner.shareHelpers(session, () => this.#session === session);
    try {
      while (!loop.enough(session) && !this.#stop) {
        const step = await this.#runner.withTensors(async () => {
          const t0 = performance.now();
          const result = await session.step();
          return { ...result, ms: performance.now() - t0 };
        });
        await loop.afterStep?.(step);
        await nextTask();
      }
      if (!loop.enough(session)) return null;
      return await this.#runner.withTensors(() => loop.finish(session));
    } finally {
      this.#session = null;
      await this.#runner.withTensors(() => session.dispose());
    }
  }
}
