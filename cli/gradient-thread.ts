/**
 * One helper thread of cli/gradient-threads.ts: src/core/train/helper.ts's helper (a copy of the
 * model that takes each job's weights and returns its share of the gradient, the samples or the
 * reference log-probs) on the wasm backend, served to the parent thread through comlink.
 */
import { parentPort } from 'node:worker_threads';
import { enableProdMode } from '@tensorflow/tfjs';
import { nodeEndpoint } from './node-endpoint.ts';
import { selectBackend } from '../src/core/backend/backend.ts';
import { serveHelper } from '../src/core/train/helper.ts';

serveHelper(nodeEndpoint(parentPort!), async () => {
  enableProdMode();
  const info = await selectBackend('wasm');
  if (info.backend !== 'wasm') throw new Error(`the wasm backend did not start (${info.reason})`);
});
