/**
 * A helper of the training worker: src/core/train/helper.ts's helper (a copy of the model on wasm
 * that computes its share of each batch's gradient, and for RL of the samples and the reference
 * log-probs), served through comlink as Node's helper threads serve theirs. Its wasm runs on one
 * thread: the helpers are the parallelism, and a thread pool in each would only compete for the same
 * cores. So it loads the wasm build without threads: the threaded build starts a pool of its own
 * workers even for one thread, and in Firefox ESR that start can hang.
 */
import type { Endpoint } from 'comlink';
import '../src/lab/wasm-paths.ts';
import { selectBackend, wasmWithoutThreads } from '../src/core/backend/backend.ts';
import { serveHelper } from '../src/core/train/helper.ts';

serveHelper(self as unknown as Endpoint, async () => {
  wasmWithoutThreads('a helper worker is one thread');
  const info = await selectBackend('wasm');
  if (info.backend !== 'wasm') throw new Error(`the wasm backend did not start (${info.reason})`);
});
