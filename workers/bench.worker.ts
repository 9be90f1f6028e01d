/** The benchmark worker: trains presets on a chosen backend and reports step times. */
import { expose } from 'comlink';
import { runBrowserBench } from '../src/bench/run.ts';

expose({ run: runBrowserBench });
