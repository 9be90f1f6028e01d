/** The training worker: tfjs, the model and the loop live here; the page talks to it through comlink. */
import { expose } from 'comlink';
import { wasmWithoutThreads } from '../src/core/backend/backend.ts';
import { createLabApi } from '../src/lab/api.ts';
import { browserEnv } from '../src/lab/browser-env.ts';
import { NO_THREADS_WORKER } from '../src/lab/worker-watch.ts';

// The page starts it under this name after the threaded wasm build hung while starting. Where
// tfjs would run one thread (half the cores, 2 or 3 cores here) the threaded build only adds its
// pool's start, which is what hangs in Firefox: the helper workers are the parallelism there.
if (self.name === NO_THREADS_WORKER) wasmWithoutThreads('the threaded build did not start in this browser');
else if (Math.floor(navigator.hardwareConcurrency / 2) < 2) wasmWithoutThreads(`one thread on ${navigator.hardwareConcurrency} cores; the helper workers share the steps`);
expose(createLabApi(browserEnv));
