/**
 * One helper thread of cli/gradient-threads.ts: a copy of the model on the wasm backend that, for
 * every job, takes the weights it is sent and returns the loss and gradient of the rows it is given.
 * Jobs run one at a time, in the order they arrive.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { enableProdMode } from '@tensorflow/tfjs';
import { selectBackend } from '../src/core/backend/backend.ts';
import type { GPTConfig } from '../src/core/model/config.ts';
import { type SliceJob, SliceWorker } from '../src/core/train/parallel.ts';
import type { ThreadMessage } from './gradient-threads.ts';

const port = parentPort!;
const { config, names } = workerData as { config: GPTConfig; names: string[] };

try {
  enableProdMode();
  const info = await selectBackend('wasm');
  if (info.backend !== 'wasm') throw new Error(`the wasm backend did not start (${info.reason})`);
  const worker = new SliceWorker(config, names);
  let queue = Promise.resolve();
  port.on('message', ({ id, job }: { id: number; job: SliceJob }) => {
    queue = queue.then(async () => {
      let reply: ThreadMessage;
      try {
        reply = { id, result: await worker.gradient(job) };
      } catch (e) {
        reply = { id, error: e instanceof Error ? e.message : String(e) };
      }
      port.postMessage(reply, reply.result ? [reply.result.grad.buffer as ArrayBuffer] : []);
    });
  });
  port.postMessage({ ready: true });
} catch (e) {
  port.postMessage({ ready: false, error: e instanceof Error ? e.message : String(e) });
}
