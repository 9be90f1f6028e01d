/**
 * What the worker tells the page, batched: one update per log interval through the page's one
 * callback. Rows and events are appended, every other field replaced by its newest value; `now`
 * sends at once (status changes, notices).
 */
import type { LabUpdate } from './types.ts';

export class Outbox {
  readonly #interval: number;
  #box: LabUpdate = {};
  #timer: ReturnType<typeof setTimeout> | null = null;
  #listener: ((update: LabUpdate) => unknown) | null = null;

  /** `interval`: milliseconds between batches. */
  constructor(interval: number) {
    this.#interval = interval;
  }

  /** The page's one callback; a new one replaces the old. */
  listen(listener: (update: LabUpdate) => unknown): void {
    this.#listener = listener;
  }

  /** Queues an update; rows are appended, other fields replaced. `now` sends at once. */
  emit(update: LabUpdate, now = false): void {
    const box = this.#box;
    if (update.rows) {
      if (update.resetRows) {
        box.rows = update.rows;
        box.resetRows = true;
        box.events = update.events ?? [];
        delete box.rlSamples; // another run's
      } else {
        box.rows = box.rows ? box.rows.concat(update.rows) : update.rows;
      }
    }
    if (update.events && !update.resetRows) box.events = box.events ? box.events.concat(update.events) : update.events;
    if (update.live) box.live = box.live ? box.live.concat(update.live) : update.live;
    for (const key of ['status', 'run', 'summary', 'checkpoints', 'notice', 'spikeLab', 'rlSamples', 'rewardModels'] as const) {
      if (key in update) (box as Record<string, unknown>)[key] = update[key];
    }
    if (now) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.#interval);
  }

  /** Sends what is queued. */
  flush(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const update = this.#box;
    this.#box = {};
    if (Object.keys(update).length === 0 || !this.#listener) return;
    Promise.resolve(this.#listener(update)).catch(() => {}); // the page may have gone away
  }
}

/** Runs async work one piece at a time, in the order asked; a failure does not block what follows. */
export class Serial {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(f: () => Promise<T> | T): Promise<T> {
    const result = this.#tail.then(f);
    this.#tail = result.catch(() => {});
    return result;
  }
}
