/**
 * One protocol for the helpers that share a step's rows, wherever they run: a Node worker thread
 * (cli/gradient-threads.ts) or a browser worker (src/lab/gradient-workers.ts). The helper's side
 * exposes a SliceWorker through comlink once its backend has started; the trainer's side wraps the
 * other end as a GradientHelper. Only the endpoint and how a backend starts differ: a browser
 * Worker is an endpoint as it is, a Node Worker through comlink's node adapter.
 */
import { type Endpoint, expose, type Remote, transfer, wrap } from 'comlink';
import type { GPTConfig } from '../model/config.ts';
import { type DecodeJob, type GradientHelper, type LogProbJob, type SliceJob, type SliceResult, SliceWorker } from './parallel.ts';
import type { Decoded } from '../model/decode.ts';

/** What a helper offers across the endpoint. */
export interface HelperApi {
  /** Starts the helper's backend and its copy of a model of `config`, weights flat in `names` order. */
  start(config: GPTConfig, names: string[]): Promise<void>;
  gradient(job: SliceJob): Promise<SliceResult>;
  decode(job: DecodeJob): Promise<Decoded>;
  logProbs(job: LogProbJob): Promise<Float32Array>;
}

/**
 * The helper's side: serves jobs on `endpoint` after `startBackend` (the wasm backend, started the
 * way its surroundings need). Gradients and log-probs travel back transferred, not copied.
 */
export function serveHelper(endpoint: Endpoint, startBackend: () => Promise<void>): void {
  let worker: SliceWorker | null = null;
  const started = (): SliceWorker => {
    if (!worker) throw new Error('helper: not started');
    return worker;
  };
  const api: HelperApi = {
    async start(config, names) {
      await startBackend();
      worker = new SliceWorker(config, names);
    },
    async gradient(job) {
      const result = await started().gradient(job);
      return transfer(result, [result.grad.buffer as ArrayBuffer]);
    },
    decode: (job) => started().decode(job),
    async logProbs(job) {
      const result = await started().logProbs(job);
      return transfer(result, [result.buffer as ArrayBuffer]);
    },
  };
  expose(api, endpoint);
}

export interface HelperLink {
  endpoint: Endpoint;
  /** Rejects when the thread or worker dies: comlink does not notice, and its calls would wait for ever. */
  died: Promise<never>;
  /** Ends the thread or worker. */
  close(): Promise<void>;
  /** Told when a job starts and when the last one ends (a Node thread holds the process only meanwhile). */
  busy?(on: boolean): void;
  /** How long the start may take before it counts as failed. */
  startLimitMs?: number;
}

/** The trainer's side: starts the helper at the other end of `link` and wraps it as a GradientHelper. */
export async function connectHelper(link: HelperLink, config: GPTConfig, names: readonly string[]): Promise<GradientHelper> {
  const api: Remote<HelperApi> = wrap<HelperApi>(link.endpoint);
  link.died.catch(() => undefined); // observed by the calls that race it
  let running = 0;
  const call = async <T>(job: () => Promise<T>): Promise<T> => {
    if (running++ === 0) link.busy?.(true);
    try {
      return await Promise.race([job(), link.died]);
    } catch (e) {
      // Say where it happened: the trainer reports it as the reason the helpers were dropped.
      throw new Error(`helper: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      if (--running === 0) link.busy?.(false);
    }
  };
  // A start that never answers (a backend that hangs while starting) would leave the trainer
  // waiting for ever: past the limit it counts as failed.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = link.startLimitMs ?? 60_000;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the helper did not start within ${limit / 1000} s`)), limit);
  });
  try {
    await Promise.race([call(() => api.start(config, [...names])), late]);
  } catch (e) {
    await link.close();
    throw e;
  } finally {
    clearTimeout(timer);
  }
  return {
    gradient: (job) => call(() => api.gradient(job)),
    decode: (job) => call(() => api.decode(job)),
    logProbs: (job) => call(() => api.logProbs(job)),
    close: () => link.close(),
  };
}
