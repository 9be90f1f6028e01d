/**
 * Times the backends for `auto` beside the training worker, on a first visit (src/lab/measured-backend.ts):
 * the lab trains on wasm meanwhile, and the page switches only if WebGPU is faster. The choice is remembered.
 */
import { expose } from 'comlink';
import type { PresetName } from '../src/core/model/config.ts';
import { browserEnv } from '../src/lab/browser-env.ts';
import { measuredBackend, webgpuAgreement } from '../src/lab/measured-backend.ts';

const api = {
  measure: (preset: PresetName, onProgress: (text: string) => void) => measuredBackend(browserEnv, preset, true, onProgress),
  /** The Backend panel's check: WebGPU's training steps against WebAssembly's, away from the training worker. */
  agreement: (preset: PresetName) => webgpuAgreement(browserEnv, preset),
};
export type MeasureApi = typeof api;
expose(api);
