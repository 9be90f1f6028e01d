/**
 * Which tfjs backend a run uses: WebGPU first, then wasm, then the pure-JS cpu backend, with the
 * reason for every fallback recorded so the lab can tell the student why it is slower.
 * The same function runs in the browser worker and in Node (where there is no WebGPU).
 */
import * as tf from '@tensorflow/tfjs';
import { type AdapterInfo, probeAdapter } from './adapter.ts';

export { probeAdapter };

export type BackendName = 'webgpu' | 'wasm' | 'cpu';
export type BackendPreference = 'auto' | BackendName;

export interface BackendInfo {
  backend: BackendName;
  /** Why this backend: chosen, or why the better ones were not available. */
  reason: string;
  adapter?: AdapterInfo;
  /** wasm only: whether it runs with threads (needs a cross-origin isolated page). */
  threads?: boolean;
  /** wasm without threads: why ("page not cross-origin isolated"). */
  noThreads?: string;
  /** `auto` by measurement: tokens/s of each backend that started, on the preset measured. */
  measurements?: { backend: BackendName; tokensPerSec: number | null; note?: string }[];
  /** The preset the measurements were taken on. */
  measuredPreset?: string;
  /** The measurements were remembered from an earlier start (IndexedDB), not taken now. */
  remembered?: boolean;
  /** WebGPU's training steps checked against WebAssembly's (agreement.ts), when WebGPU was a candidate to train on. */
  agreement?: { agree: boolean; summary: string; preset: string };
  /** A first visit: wasm now, while the page times the backends in another worker. */
  measureAlongside?: boolean;
}

export async function tryWebGPU(): Promise<{ ok: true; adapter: BackendInfo['adapter'] } | { ok: false; why: string }> {
  const probe = await probeAdapter();
  if (!probe.ok) return probe;
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu').catch(() => false))) return { ok: false, why: 'the WebGPU backend failed to start' };
  await import('../kernels/webgpu/register.ts'); // the project's fused WebGPU kernels
  // Training keeps every tensor on the GPU: tfjs would otherwise run ops on small tensors on the
  // CPU (a read-back and an upload each). Passes are submitted every 15 dispatches, tfjs's default
  // WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE; `npm run bench -- --browser --submit N` measures others.
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  return probe;
}

export async function tryWasm(): Promise<boolean> {
  await import('@tensorflow/tfjs-backend-wasm');
  return tf.setBackend('wasm').catch(() => false);
}

/** Picks and activates a backend. `preference` other than 'auto' is tried first, then the usual order. */
export async function selectBackend(preference: BackendPreference = 'auto'): Promise<BackendInfo> {
  const notes: string[] = [];
  const order: BackendName[] = preference === 'auto' ? ['webgpu', 'wasm', 'cpu'] : [preference, ...(['webgpu', 'wasm', 'cpu'] as BackendName[]).filter((b) => b !== preference)];
  for (const name of order) {
    if (name === 'webgpu') {
      const r = await tryWebGPU();
      if (r.ok) return { backend: 'webgpu', reason: notes.length ? notes.join('; ') : 'WebGPU adapter found', adapter: r.adapter };
      notes.push(`not webgpu: ${r.why}`);
    } else if (name === 'wasm') {
      if (await tryWasm()) {
        return { backend: 'wasm', reason: notes.length ? notes.join('; ') : preference === 'wasm' ? 'wasm chosen' : 'wasm', ...wasmThreading() };
      }
      notes.push('not wasm: the WebAssembly backend failed to start');
    } else {
      if (await tf.setBackend('cpu')) return { backend: 'cpu', reason: notes.length ? notes.join('; ') : 'cpu chosen' };
    }
  }
  throw new Error(`no tfjs backend could start (${notes.join('; ')})`);
}

/** Why wasm was told to load its build without threads, or null. */
let withoutThreads: string | null = null;

/**
 * Loads the wasm build without threads from now on (before the backend starts), saying why: the
 * helper workers are one thread each by design, and the training worker is restarted this way
 * when the threaded build hangs while starting (Firefox ESR 153: its thread workers sometimes never
 * start, and the worker's thread waits for them for ever).
 */
export function wasmWithoutThreads(why: string): void {
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  withoutThreads = why;
}

/** Whether wasm runs with threads here: it needs a cross-origin isolated page (SharedArrayBuffer). */
export function wasmThreads(): boolean {
  return wasmThreading().threads;
}

/**
 * wasm's threads here, and why not when not. WebKit (WebKitGTK 2.50) reports a cross-origin
 * isolated worker but gives it no SharedArrayBuffer.
 */
export function wasmThreading(): { threads: boolean; noThreads?: string } {
  if (!(globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated) return { threads: false, noThreads: 'page not cross-origin isolated' };
  if (typeof SharedArrayBuffer === 'undefined') return { threads: false, noThreads: 'this browser gives its workers no SharedArrayBuffer' };
  if (withoutThreads) return { threads: false, noThreads: withoutThreads };
  return { threads: true };
}
