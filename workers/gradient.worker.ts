/**
 * A helper of the training worker: a copy of the model on wasm that computes the gradient of its
 * share of each batch, and for RL its share of the samples and of the reference log-probs
 * (src/core/train/parallel.ts). Its wasm runs on one thread: the helpers are
 * the parallelism, and a thread pool in each would only compete for the same cores. So it loads
 * the wasm build without threads: the threaded build starts a pool of its own workers even for
 * one thread, and in Firefox ESR 153 that start hung in 2 of 4 helpers (in 0 of 8 without it).
 */
import { expose, transfer } from 'comlink';
import '../src/lab/wasm-paths.ts';
import { selectBackend, wasmWithoutThreads } from '../src/core/backend/backend.ts';
import type { GPTConfig } from '../src/core/model/config.ts';
import { type DecodeJob, type LogProbJob, type SliceJob, SliceWorker } from '../src/core/train/parallel.ts';

let worker: SliceWorker | null = null;

function started(): SliceWorker {
  if (!worker) throw new Error('gradient worker: not started');
  return worker;
}

expose({
  async start(config: GPTConfig, names: string[]): Promise<void> {
    wasmWithoutThreads('a helper worker is one thread');
    const info = await selectBackend('wasm');
    if (info.backend !== 'wasm') throw new Error(`the wasm backend did not start (${info.reason})`);
    worker = new SliceWorker(config, names);
  },
  async gradient(job: SliceJob) {
    const result = await started().gradient(job);
    return transfer(result, [result.grad.buffer as ArrayBuffer]);
  },
  decode(job: DecodeJob) {
    return started().decode(job);
  },
  async logProbs(job: LogProbJob) {
    const result = await started().logProbs(job);
    return transfer(result, [result.buffer as ArrayBuffer]);
  },
});
