/**
 * Data parallelism in Node: worker threads that each hold a copy of the model and compute the
 * gradient of their share of every batch (the mathematics is in src/core/train/parallel.ts).
 *
 * Node's wasm backend runs on one thread, so on a machine of n cores the trainer's thread and n − 1
 * helpers each take 1/n of the rows. Threads pay only on wasm: the cpu backend is for checks, and a
 * GPU (in the browser) has its own parallelism.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { GPTConfig } from '../src/core/model/config.ts';
import type { Decoded } from '../src/core/model/decode.ts';
import { type DecodeJob, type GradientHelper, type LogProbJob, type SliceJob, type SliceResult, sliceCount } from '../src/core/train/parallel.ts';
import type { Trainer } from '../src/core/train/trainer.ts';

/** Threads a step uses by default: one a core, at most 4 (past that a tiny batch's slices are too thin to pay). */
export function defaultThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

/** A job for a thread: which of a helper's methods, and its argument. */
export type ThreadJob = { kind: 'gradient'; job: SliceJob } | { kind: 'decode'; job: DecodeJob } | { kind: 'logProbs'; job: LogProbJob };

export interface ThreadMessage {
  id: number;
  result?: SliceResult | Decoded | Float32Array;
  error?: string;
}

/**
 * The thread's first lines: it runs TypeScript as this process does, through tsx's loader, which
 * Node 20 does not pass on to worker threads by itself.
 */
const THREAD_BOOT = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
  .then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./gradient-thread.ts', import.meta.url).href)}); })`;

class ThreadHelper implements GradientHelper {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (r: never) => void; reject: (e: Error) => void }>();
  private failure: Error | null = null;

  constructor(private readonly worker: Worker) {
    // An idle helper does not keep the process alive; one with a job does, until it answers.
    worker.unref();
    worker.on('message', (m: ThreadMessage) => {
      const waiting = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (this.pending.size === 0) worker.unref();
      if (m.error !== undefined) waiting?.reject(new Error(`gradient thread: ${m.error}`));
      else waiting?.resolve(m.result as never);
    });
    const fail = (e: Error) => {
      this.failure = e;
      for (const w of this.pending.values()) w.reject(e);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`gradient thread exited (code ${code})`)));
  }

  gradient(job: SliceJob): Promise<SliceResult> {
    return this.ask({ kind: 'gradient', job });
  }

  decode(job: DecodeJob): Promise<Decoded> {
    return this.ask({ kind: 'decode', job });
  }

  logProbs(job: LogProbJob): Promise<Float32Array> {
    return this.ask({ kind: 'logProbs', job });
  }

  private ask<T>(message: ThreadJob): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: never) => void, reject });
      this.worker.ref();
      this.worker.postMessage({ id, ...message });
    });
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}

/**
 * Starts `count` helper threads for a model of `config` whose weights travel flat in `names`
 * order, on the wasm backend; resolves once every thread has its backend and model.
 */
export async function startGradientThreads(count: number, config: GPTConfig, names: readonly string[]): Promise<GradientHelper[]> {
  const starting = Array.from({ length: count }, () => new Promise<GradientHelper>((resolve, reject) => {
    const worker = new Worker(THREAD_BOOT, { eval: true, workerData: { config, names } });
    worker.once('message', (m: { ready?: boolean; error?: string }) => {
      if (m.ready) resolve(new ThreadHelper(worker));
      else {
        void worker.terminate();
        reject(new Error(`gradient thread did not start: ${m.error}`));
      }
    });
    worker.once('error', reject);
  }));
  const settled = await Promise.allSettled(starting);
  const started = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(started.map((h) => h.close()));
    throw (failed as PromiseRejectedResult).reason;
  }
  return started;
}

/** Stops helper threads (closing none is fine). */
export async function closeGradientThreads(helpers: readonly GradientHelper[]): Promise<void> {
  await Promise.all(helpers.map((h) => h.close()));
}

/**
 * Shares a trainer's steps with `threads` − 1 helper threads when it trains on wasm, and returns
 * what stops them. If they cannot start, the trainer goes on alone and `warn` says why.
 */
export async function shareSteps(trainer: Trainer, threads: number, backend: string, warn: (message: string) => void): Promise<() => Promise<void>> {
  // Batches too small to share (micro's) need no threads at all.
  const slices = sliceCount(trainer.config.batchSize, trainer.model.config.blockSize, threads - 1);
  if (slices <= 1 || backend !== 'wasm') return async () => {};
  try {
    const helpers = await startGradientThreads(slices - 1, trainer.model.config, trainer.optimizer.names);
    trainer.helpers = helpers;
    trainer.onHelpersLost = (reason) => warn(`training on one thread from here on: ${reason}`);
    return async () => {
      trainer.helpers = [];
      await closeGradientThreads(helpers);
    };
  } catch (e) {
    warn(`training on one thread: ${e instanceof Error ? e.message : String(e)}`);
    return async () => {};
  }
}
