/**
 * The page's side of a worker that may get stuck. Firefox ESR 153 sometimes never finishes starting
 * the threaded wasm build (4 of 10 module workers measured): its thread workers never report in,
 * and the worker's own thread waits for them, answering nothing and running no timer. Only the
 * page can notice that, by a call that goes unanswered; it then starts the worker again under
 * NO_THREADS_WORKER, whose wasm loads the build without threads (workers/lab.worker.ts).
 */

/** The training worker's name when its wasm must start without threads. */
export const NO_THREADS_WORKER = 'lab:no-threads';

/** How long the worker's thread may go without answering before it counts as stuck (its synchronous tasks while it starts, wasm and a restored run, take well under a second). */
export const STUCK_AFTER_MS = 3_000;

export const STUCK = Symbol('stuck');

/**
 * Calls `alive` every second; `stuck` resolves once no call has been answered for `limit` ms.
 * `stop` ends the watch (the pending promise then never resolves).
 */
export function watchStuck(alive: () => Promise<unknown>, limit = STUCK_AFTER_MS): { stuck: Promise<typeof STUCK>; stop: () => void } {
  let answered = Date.now();
  let timer: ReturnType<typeof setInterval> | undefined;
  const stuck = new Promise<typeof STUCK>((done) => {
    timer = setInterval(() => {
      if (Date.now() - answered > limit) {
        clearInterval(timer);
        done(STUCK);
        return;
      }
      alive().then(() => { answered = Date.now(); }, () => undefined);
    }, 1000);
  });
  return { stuck, stop: () => clearInterval(timer) };
}
