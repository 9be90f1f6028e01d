/**
 * Data parallelism in the browser: helper workers (workers/gradient.worker.ts) that the training
 * worker shares each wasm step's rows with (and RL's samples and reference log-probs), as Node's
 * worker threads do for the command line.
 */
import { wrap } from 'comlink';
import type { GPTConfig } from '../core/model/config.ts';
import type { Decoded } from '../core/model/decode.ts';
import type { DecodeJob, GradientHelper, LogProbJob, SliceJob, SliceResult } from '../core/train/parallel.ts';
import { workerErrorText } from './worker-error.ts';

/** Helpers besides the training worker: one a core, four workers in all at most. */
export function gradientWorkerCount(): number {
  const cores = (globalThis.navigator as { hardwareConcurrency?: number } | undefined)?.hardwareConcurrency ?? 1;
  return Math.max(0, Math.min(4, cores) - 1);
}

/** How long a helper may take to load the model and its backend (a second or two, usually). */
const START_LIMIT_MS = 60_000;

interface GradientWorkerApi {
  start(config: GPTConfig, names: string[]): Promise<void>;
  gradient(job: SliceJob): Promise<SliceResult>;
  decode(job: DecodeJob): Promise<Decoded>;
  logProbs(job: LogProbJob): Promise<Float32Array>;
}

/** Starts `count` helper workers for a model of `config` (weights flat in `names` order); resolves when all are ready. */
export async function startGradientWorkers(count: number, config: GPTConfig, names: readonly string[]): Promise<GradientHelper[]> {
  const workers = Array.from({ length: count }, (_, i) => new Worker(new URL('../../workers/gradient.worker.ts', import.meta.url), { type: 'module', name: `gradient-${i + 1}` }));
  try {
    const helpers = await Promise.all(workers.map(async (worker): Promise<GradientHelper> => {
      const api = wrap<GradientWorkerApi>(worker);
      // comlink does not notice a worker that dies (an error outside a call, out of memory): its
      // calls would wait for ever, so each call also waits on the worker's error event.
      const died = new Promise<never>((_, reject) => {
        worker.addEventListener('error', (e) => reject(new Error(`gradient worker failed: ${workerErrorText(e)}`)), { once: true });
      });
      died.catch(() => undefined); // observed by the calls that race it
      // A start that never answers (a wasm build that hangs while starting) would leave the
      // helpers pending for ever and the page silent: after START_LIMIT_MS it counts as failed.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`gradient worker did not start within ${START_LIMIT_MS / 1000} s`)), START_LIMIT_MS);
      });
      await Promise.race([api.start(config, [...names]), died, late]).finally(() => clearTimeout(timer));
      return {
        gradient: (job) => Promise.race([api.gradient(job), died]),
        decode: (job) => Promise.race([api.decode(job), died]),
        logProbs: (job) => Promise.race([api.logProbs(job), died]),
        close: async () => worker.terminate(),
      };
    }));
    return helpers;
  } catch (e) {
    for (const w of workers) w.terminate();
    throw e;
  }
}
