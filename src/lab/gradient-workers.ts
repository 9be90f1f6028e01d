/**
 * Data parallelism in the browser: helper workers (workers/gradient.worker.ts) that the training
 * worker shares each wasm step's rows with (and RL's samples and reference log-probs), over the same
 * protocol as Node's worker threads (src/core/train/helper.ts).
 */
import type { GPTConfig } from '../core/model/config.ts';
import { connectHelper } from '../core/train/helper.ts';
import type { GradientHelper } from '../core/train/parallel.ts';
import { workerErrorText } from './worker-error.ts';

/** Helpers besides the training worker: one a core, four workers in all at most. */
export function gradientWorkerCount(): number {
  const cores = (globalThis.navigator as { hardwareConcurrency?: number } | undefined)?.hardwareConcurrency ?? 1;
  return Math.max(0, Math.min(4, cores) - 1);
}

/** Starts `count` helper workers for a model of `config` (weights flat in `names` order); resolves when all are ready. */
export async function startGradientWorkers(count: number, config: GPTConfig, names: readonly string[]): Promise<GradientHelper[]> {
  const workers = Array.from({ length: count }, (_, i) => new Worker(new URL('../../workers/gradient.worker.ts', import.meta.url), { type: 'module', name: `gradient-${i + 1}` }));
  try {
    return await Promise.all(workers.map((worker) => {
      const died = new Promise<never>((_, reject) => {
        worker.addEventListener('error', (e) => reject(new Error(`gradient worker failed: ${workerErrorText(e)}`)), { once: true });
      });
      return connectHelper({ endpoint: worker, died, close: async () => worker.terminate() }, config, names);
    }));
  } catch (e) {
    for (const w of workers) w.terminate();
    throw e;
  }
}
