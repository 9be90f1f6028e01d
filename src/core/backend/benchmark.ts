/**
 * Measuring the training step, the same way in Node and in the browser.
 *
 * FLOPs per step = tokens per step × flopsPerToken, with flopsPerToken = 6·N + 12·L·T·C
 * (N: parameters that take part in matmuls, including the tied LM head; L layers, T context,
 * C width) — the estimate of the PaLM paper's appendix B and nanoGPT's estimate_mfu.
 */
import * as tf from '@tensorflow/tfjs';
import { flopsPerToken, type PresetName } from '../model/config.ts';
import type { Corpus } from '../train/data.ts';
import { LabSession } from '../train/session.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import type { Trainer } from '../train/trainer.ts';

export interface BenchRow {
  backend: string;
  preset: PresetName;
  batchSize: number;
  seqLen: number;
  steps: number;
  medianStepMs: number;
  tokensPerSec: number;
  gflops: number;
  /** Kernels and scopes one step runs, as tf.profile lists them (reshapes and identities included). */
  kernelsPerStep: number;
  /** WebGPU: compute dispatches one step makes (a reshape or an identity makes none). */
  dispatchesPerStep?: number;
  parameters: number;
  /** Threads that shared each step (data parallelism), when more than one. */
  threads?: number;
  /** WebGPU: the adapter measured on. */
  adapter?: string;
  /** 'reference' when the project's own kernels were off. */
  kernels?: string;
  /** WebGPU: dispatches per submitted pass, when not tfjs's default. */
  submit?: number;
  /** With `profile`: the step's kernels grouped by name, the most time first. */
  profile?: KernelTotal[];
  /** The same, grouped by name and input shapes (which matmul, which transpose). */
  profileByShape?: KernelTotal[];
}

type ProfiledKernel = { name: string; inputShapes: number[][]; kernelTimeMs: number | { error: string } | Promise<number | { error: string }> };

export interface KernelTotal {
  name: string;
  count: number;
  totalMs: number;
}

/**
 * The kernels of one profiled step grouped by name, by total time. Times are the backend's own
 * (wasm: wall time around each call; WebGPU: timestamp queries where the adapter has them), and
 * profiling adds a sync per kernel, so the sum is larger than a real step: read it for shares.
 */
export function kernelTotals(kernels: ProfiledKernel[], byShape = false): KernelTotal[] {
  const byName = new Map<string, KernelTotal>();
  for (const k of kernels) {
    // Wrappers (customGrad scopes, `…__op`) are timed around the kernels they run: counting them too
    // would count those kernels twice.
    if (k.name === 'unnamed scope' || k.name.endsWith('__op')) continue;
    const key = byShape ? `${k.name} ${k.inputShapes.map((s) => `[${s}]`).join(' ')}` : k.name;
    const t = byName.get(key) ?? { name: key, count: 0, totalMs: 0 };
    t.count += 1;
    t.totalMs += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0; // tf.profile has awaited them
    byName.set(key, t);
  }
  return [...byName.values()].sort((a, b) => b.totalMs - a.totalMs);
}

/**
 * Trains `preset` for 3 warm-up steps, profiles one, then times `steps` more and reports the median.
 * `share` gives the trainer helper threads after the profiled step (which counts this thread's
 * kernels alone) and returns what stops them.
 */
export async function benchmarkPreset(
  preset: PresetName,
  corpus: Corpus,
  tokenizer: TextTokenizer,
  steps: number,
  opts: { profile?: boolean; share?: (trainer: Trainer) => Promise<() => Promise<void>> } = {},
): Promise<BenchRow> {
  const session = LabSession.create({ preset, corpus, tokenizer, train: { steps: 1_000_000, evalInterval: 1_000_000 } });
  let stopSharing = async () => {};
  try {
    const { batchSize } = session.trainer.config;
    const seqLen = session.model.config.blockSize;
    for (let i = 0; i < 3; i++) await session.step(); // kernel compilation, XNNPACK operator creation
    const profile = await tf.profile(async () => {
      await session.step();
    });
    const dispatchesPerStep = await countDispatches(() => session.step());
    if (opts.share) {
      stopSharing = await opts.share(session.trainer);
      for (let i = 0; i < 3; i++) await session.step(); // the helpers' own first steps
    }
    const threads = session.trainer.helpers.length + 1;
    const times: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      const { result } = await session.step();
      times.push(performance.now() - t0);
      // A backend whose device failed can return quickly with garbage: time only real training.
      if (!Number.isFinite(result.loss) || result.loss <= 0) {
        throw new Error(`${tf.getBackend()} produced a loss of ${result.loss} at step ${result.step}; the timing would not be of real training`);
      }
    }
    times.sort((a, b) => a - b);
    const medianStepMs = times[Math.floor(times.length / 2)];
    const tokens = batchSize * seqLen;
    return {
      backend: tf.getBackend(),
      preset,
      batchSize,
      seqLen,
      steps,
      medianStepMs,
      tokensPerSec: (tokens / medianStepMs) * 1000,
      gflops: (tokens * flopsPerToken(session.model.config, seqLen)) / medianStepMs / 1e6,
      kernelsPerStep: profile.kernels.length,
      ...(dispatchesPerStep !== undefined ? { dispatchesPerStep } : {}),
      parameters: session.summary().parameters,
      ...(threads > 1 ? { threads } : {}),
      ...(opts.profile ? { profile: kernelTotals(profile.kernels), profileByShape: kernelTotals(profile.kernels, true) } : {}),
    };
  } finally {
    await stopSharing();
    session.dispose();
  }
}

/**
 * WebGPU: the compute dispatches `run` makes, counted where the backend records each program into
 * its command encoder (every tfjs or project program is one dispatch; a reshape or an identity only
 * renames a buffer). Undefined on other backends.
 */
export async function countDispatches(run: () => Promise<unknown>): Promise<number | undefined> {
  const backend = tf.backend() as unknown as { recordAndSubmit?: (...args: unknown[]) => unknown };
  if (tf.getBackend() !== 'webgpu' || typeof backend.recordAndSubmit !== 'function') return undefined;
  const record = backend.recordAndSubmit;
  let dispatches = 0;
  backend.recordAndSubmit = function (this: unknown, ...args: unknown[]) {
    dispatches++;
    return record.apply(this, args);
  };
  try {
    await run();
  } finally {
    delete backend.recordAndSubmit; // the prototype's method again
  }
  return dispatches;
}

export function formatBenchHeader(steps: number): string {
  return `where    backend  preset   batch×T    step ms   tokens/s   GFLOP/s  kernels/step  params   (median of ${steps} steps)`;
}

export function formatBenchRow(where: string, row: BenchRow): string {
  if (row.kernels === 'reference' && !where.includes('ref')) where = `${where} ref`;
  if (row.threads && !where.includes('×')) where = `${where}×${row.threads}`;
  return `${where.padEnd(8)} ${row.backend.padEnd(8)} ${row.preset.padEnd(8)} ${`${row.batchSize}×${row.seqLen}`.padEnd(9)} ${row.medianStepMs.toFixed(1).padStart(8)} ${Math.round(row.tokensPerSec).toLocaleString('en').padStart(10)} ${row.gflops.toFixed(2).padStart(9)} ${String(row.kernelsPerStep).padStart(13)}  ${row.parameters.toLocaleString('en')}${row.dispatchesPerStep !== undefined ? `  ${row.dispatchesPerStep} dispatches/step` : ''}`;
}

/** The profile as lines: kernel, calls, total ms, share of the profiled total. */
export function formatProfile(row: BenchRow, top = 25, byShape = false): string[] {
  const totals = (byShape ? row.profileByShape : row.profile) ?? [];
  const all = totals.reduce((a, t) => a + t.totalMs, 0);
  const lines = [`  profile of one ${row.backend} ${row.preset} step: ${row.kernelsPerStep} kernels and scopes, ${all.toFixed(1)} ms inside kernels`];
  lines.push(`  ${byShape ? 'kernel and input shapes' : 'kernel'}`.padEnd(26) + ' calls   total ms   share');
  for (const t of totals.slice(0, top)) {
    lines.push(`  ${t.name.padEnd(byShape ? 48 : 24)} ${String(t.count).padStart(6)} ${t.totalMs.toFixed(2).padStart(10)} ${((100 * t.totalMs) / (all || 1)).toFixed(1).padStart(6)}%`);
  }
  if (totals.length > top) lines.push(`  … ${totals.length - top} more kinds`);
  return lines;
}
