/**
 * `auto` by measurement: time a few real training steps of the preset on every backend that
 * starts (wasm, then WebGPU; the pure-JS cpu backend only when neither does) and train on the
 * faster. Why measure instead of trusting "a GPU adapter exists": headless Chromium's only
 * adapter is a software one (SwiftShader), ~50× slower than wasm on these models, and on a real
 * GPU the answer depends on the preset (per-dispatch overhead dominates the small ones).
 *
 * The measurement is a plain function of a `timeSteps` callback, so its rules are tested without
 * timing anything; `trainingStepRate` is the real callback. Results are remembered by the caller
 * (storage/backend-choice.ts), per preset and adapter.
 */
import * as tf from '@tensorflow/tfjs';
import type { PresetName } from '../model/config.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import type { Corpus } from '../train/data.ts';
import { LabSession } from '../train/session.ts';
import { type BackendInfo, type BackendName, probeAdapter, tryWasm, tryWebGPU, wasmThreading } from './backend.ts';

export type Measurement = NonNullable<BackendInfo['measurements']>[number];

export interface StepTiming {
  /** At most this many timed steps, after one untimed warm-up step (kernel compilation). */
  maxSteps: number;
  /** Stop timing once this much time has gone, after at least one timed step. */
  budgetMs: number;
  /** Stop after the first timed step if it is already this many times slower than `rivalTokensPerSec`. */
  hopeless: number;
}

export const DEFAULT_TIMING: StepTiming = { maxSteps: 3, budgetMs: 3000, hopeless: 3 };

/**
 * Tokens per second of training `preset` on the active backend: one warm-up step, then timed
 * steps until `maxSteps` or `budgetMs`. With `rivalTokensPerSec`, a backend whose first timed step
 * is already `hopeless` times slower stops there (a software GPU would otherwise take a minute).
 */
export async function trainingStepRate(
  preset: PresetName,
  corpus: Corpus,
  tokenizer: TextTokenizer,
  rivalTokensPerSec: number | null,
  timing: StepTiming = DEFAULT_TIMING,
): Promise<number> {
  const session = LabSession.create({ preset, corpus, tokenizer, train: { steps: 1_000_000, evalInterval: 1_000_000 } });
  try {
    await session.step();
    const tokens = session.trainer.tokensPerBatch;
    const started = performance.now();
    let steps = 0;
    while (steps < timing.maxSteps) {
      const { result } = await session.step();
      if (!Number.isFinite(result.loss) || result.loss <= 0) throw new Error(`${tf.getBackend()} gave a loss of ${result.loss}`);
      steps += 1;
      const elapsed = performance.now() - started;
      if (elapsed >= timing.budgetMs) break;
      if (steps === 1 && rivalTokensPerSec !== null && (tokens / elapsed) * 1000 * timing.hopeless < rivalTokensPerSec) break;
    }
    return (steps * tokens) / ((performance.now() - started) / 1000);
  } finally {
    session.dispose();
  }
}

export interface Candidate {
  backend: BackendName;
  /** Starts (activates) the backend; a reason when it cannot. */
  start(): Promise<{ ok: true } | { ok: false; why: string }>;
}

/** Where a measurement stands: the figures so far and the backend being timed now. */
export interface MeasureProgress {
  timing: BackendName;
  measurements: Measurement[];
}

/**
 * Starts each candidate in turn and times it, then activates the fastest. `rate` is called with
 * the best rate so far (null for the first), so a hopeless backend can stop early. The cpu
 * candidate, if listed, is measured only when no other one started. `onProgress` hears of each
 * backend as it starts to be timed: a software GPU takes many seconds, and the page says why it waits.
 */
export async function measureAndChoose(
  candidates: Candidate[],
  rate: (rivalTokensPerSec: number | null) => Promise<number>,
  onProgress: (progress: MeasureProgress) => void = () => {},
): Promise<{ backend: BackendName; measurements: Measurement[] }> {
  const measurements: Measurement[] = [];
  let best: { backend: BackendName; tokensPerSec: number; start: Candidate['start'] } | null = null;
  let active: BackendName | null = null;
  for (const c of candidates) {
    if (c.backend === 'cpu' && best) continue;
    const started = await c.start();
    active = c.backend;
    if (!started.ok) {
      measurements.push({ backend: c.backend, tokensPerSec: null, note: started.why });
      continue;
    }
    try {
      onProgress({ timing: c.backend, measurements: [...measurements] });
      const tokensPerSec = await rate(best?.tokensPerSec ?? null);
      measurements.push({ backend: c.backend, tokensPerSec });
      if (!best || tokensPerSec > best.tokensPerSec) best = { backend: c.backend, tokensPerSec, start: c.start };
    } catch (e) {
      measurements.push({ backend: c.backend, tokensPerSec: null, note: `failed while training: ${e instanceof Error ? e.message : String(e)}` });
    }
  }
  if (!best) throw new Error(`no backend could train (${measurements.map((m) => `${m.backend}: ${m.note}`).join('; ')})`);
  if (active !== best.backend) await best.start();
  return { backend: best.backend, measurements };
}

/** The browser's and Node's candidates, in the order they are measured. */
export function standardCandidates(): Candidate[] {
  return [
    { backend: 'wasm', start: async () => ((await tryWasm()) ? { ok: true } : { ok: false, why: 'the WebAssembly backend failed to start' }) },
    { backend: 'webgpu', start: async () => { const r = await tryWebGPU(); return r.ok ? { ok: true } : r; } },
    { backend: 'cpu', start: async () => ((await tf.setBackend('cpu')) ? { ok: true } : { ok: false, why: 'the cpu backend failed to start' }) },
  ];
}

const backendLabel = (backend: string, adapter: BackendInfo['adapter']) => (backend === 'webgpu' ? `WebGPU${adapter?.isFallbackAdapter ? ' (software adapter)' : ''}` : backend);

const measuredParts = (measurements: readonly Measurement[], adapter: BackendInfo['adapter']) =>
  measurements.map((m) => `${backendLabel(m.backend, adapter)} ${m.tokensPerSec === null ? 'unavailable' : `${Math.round(m.tokensPerSec).toLocaleString('en')} tok/s`}`);

/** "wasm 7,100 tok/s · WebGPU (software adapter) 140 tok/s → wasm": what the panel and the CLI print. */
export function describeMeasurements(info: Pick<BackendInfo, 'backend' | 'measurements' | 'adapter'>): string {
  return `${measuredParts(info.measurements ?? [], info.adapter).join(' · ')} → ${info.backend}`;
}

/** "wasm 7,100 tok/s · timing WebGPU (software adapter)…": what the page shows while `auto` measures. */
export function describeProgress(progress: MeasureProgress, adapter: BackendInfo['adapter']): string {
  return [...measuredParts(progress.measurements, adapter), `timing ${backendLabel(progress.timing, adapter)}…`].join(' · ');
}

/** What `auto` reports once it has chosen: the backend, why, and the adapter it measured on. */
export async function measuredBackendInfo(backend: BackendName, measurements: Measurement[], preset: string, remembered: boolean): Promise<BackendInfo> {
  const probe = await probeAdapter();
  const info: BackendInfo = {
    backend,
    reason: '',
    measurements,
    measuredPreset: preset,
    remembered,
    ...(probe.ok ? { adapter: probe.adapter } : {}),
    ...(backend === 'wasm' ? wasmThreading() : {}),
  };
  info.reason = `measured on ${preset}${remembered ? ' (remembered)' : ''}: ${describeMeasurements(info)}`;
  return info;
}
