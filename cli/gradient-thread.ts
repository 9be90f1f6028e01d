/**
 * One helper thread of cli/gradient-threads.ts: a copy of the model on the wasm backend that, for
 * every job, takes the weights it is sent and returns the loss and gradient of the rows it is given
 * (or, for RL, its share of the samples or of the reference log-probs). Jobs run one at a time, in
 * the order they arrive.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { enableProdMode } from '@tensorflow/tfjs';
import { selectBackend } from '../src/core/backend/backend.ts';
import type { GPTConfig } from '../src/core/model/config.ts';
import { SliceWorker } from '../src/core/train/parallel.ts';
import type { ThreadJob, ThreadMessage } from './gradient-threads.ts';

const port = parentPort!;
const { config, names } = workerData as { config: GPTConfig; names: string[] };

try {
  enableProdMode();
  const info = await selectBackend('wasm');
  if (info.backend !== 'wasm') throw new Error(`the wasm backend did not start (${info.reason})`);
  const worker = new SliceWorker(config, names);
  let queue = Promise.resolve();
  const run = (m: ThreadJob) => (m.kind === 'gradient' ? worker.gradient(m.job) : m.kind === 'decode' ? worker.decode(m.job) : worker.logProbs(m.job));
  port.on('message', (m: ThreadJob & { id: number }) => {
    queue = queue.then(async () => {
      let reply: ThreadMessage;
      try {
        reply = { id: m.id, result: await run(m) };
      } catch (e) {
        reply = { id: m.id, error: e instanceof Error ? e.message : String(e) };
      }
      const r = reply.result;
      const buffer = r instanceof Float32Array ? r.buffer : r && 'grad' in r ? r.grad.buffer : undefined;
      port.postMessage(reply, buffer ? [buffer as ArrayBuffer] : []);
    });
  });
  port.postMessage({ ready: true });
} catch (e) {
  port.postMessage({ ready: false, error: e instanceof Error ? e.message : String(e) });
}
