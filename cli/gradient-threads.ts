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
import { nodeEndpoint } from './node-endpoint.ts';
import { connectHelper } from '../src/core/train/helper.ts';
import { type GradientHelper, sliceCount } from '../src/core/train/parallel.ts';
import type { Trainer } from '../src/core/train/trainer.ts';

/** Threads a step uses by default: one a core, at most 4 (past that a tiny batch's slices are too thin to pay). */
export function defaultThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

/**
 * The thread's first lines: it runs TypeScript as this process does, through tsx's loader, which
 * Node 20 does not pass on to worker threads by itself.
 */
const THREAD_BOOT = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
  .then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./gradient-thread.ts', import.meta.url).href)}); })`;

/** One thread, connected: an idle helper does not keep the process alive; one with a job does, until it answers. */
function startThread(config: GPTConfig, names: readonly string[]): Promise<GradientHelper> {
  const worker = new Worker(THREAD_BOOT, { eval: true });
  worker.unref();
  const died = new Promise<never>((_, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`gradient thread exited (code ${code})`)));
  });
  const close = async () => {
    worker.removeAllListeners('exit');
    await worker.terminate();
  };
  return connectHelper({ endpoint: nodeEndpoint(worker), died, close, busy: (on) => (on ? worker.ref() : worker.unref()) }, config, names).catch((e: unknown) => {
    throw new Error(`gradient thread did not start: ${e instanceof Error ? e.message : String(e)}`);
  });
}

/**
 * Starts `count` helper threads for a model of `config` whose weights travel flat in `names`
 * order, on the wasm backend; resolves once every thread has its backend and model.
 */
export async function startGradientThreads(count: number, config: GPTConfig, names: readonly string[]): Promise<GradientHelper[]> {
  const settled = await Promise.allSettled(Array.from({ length: count }, () => startThread(config, names)));
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
