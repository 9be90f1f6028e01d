/** The training worker: tfjs, the model and the loop live here; the page talks to it through comlink. */
import { expose } from 'comlink';
import { createLabApi } from '../src/lab/api.ts';
import { browserEnv } from '../src/lab/browser-env.ts';

expose(createLabApi(browserEnv));
