/**
 * npm run bench: trains each preset for a fixed number of steps on each backend Node has, and
 * prints the median step time (over ≥ 20 steps after 3 warm-up steps), tokens/s, achieved GFLOP/s
 * and the number of kernels one training step dispatches.
 *
 * FLOPs per step = tokens per step × flopsPerToken, with flopsPerToken = 6·N + 12·L·T·C
 * (N: parameters that take part in matmuls, including the tied LM head; L layers, T context,
 * C width) — the estimate of the PaLM paper's appendix B and nanoGPT's estimate_mfu.
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendName } from '../src/core/backend.ts';
import { flopsPerToken, isPresetName, type PresetName } from '../src/core/config.ts';
import { LabSession } from '../src/core/session.ts';
import { loadCorpus } from './corpora.ts';

export interface BenchOptions {
  json: boolean;
  steps: number;
  presets?: string;
  backends?: string;
}

export interface BenchRow {
  backend: BackendName;
  preset: PresetName;
  batchSize: number;
  seqLen: number;
  medianStepMs: number;
  tokensPerSec: number;
  gflops: number;
  kernelsPerStep: number;
  parameters: number;
}

/** Which presets each backend is measured on by default (the cpu backend is ~1 GFLOP/s). */
const DEFAULT_PLAN: Record<string, PresetName[]> = { wasm: ['micro', 'tiny', 'small'], cpu: ['micro'] };

export async function benchOne(backend: BackendName, preset: PresetName, steps: number): Promise<BenchRow> {
  const info = await selectBackend(backend);
  if (info.backend !== backend) throw new Error(`backend ${backend} unavailable: ${info.reason}`);
  const { corpus, tokenizer } = loadCorpus({ corpus: 'tales' });
  const session = LabSession.create({ preset, corpus, tokenizer, train: { steps: 1_000_000, evalInterval: 1_000_000 } });
  const { batchSize } = session.trainer.config;
  const seqLen = session.model.config.blockSize;
  for (let i = 0; i < 3; i++) await session.step(); // warm-up: kernel compilation, XNNPACK operator creation
  const profile = await tf.profile(async () => {
    await session.step();
  });
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await session.step();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const medianStepMs = times[Math.floor(times.length / 2)];
  const tokens = batchSize * seqLen;
  const row: BenchRow = {
    backend,
    preset,
    batchSize,
    seqLen,
    medianStepMs,
    tokensPerSec: (tokens / medianStepMs) * 1000,
    gflops: (tokens * flopsPerToken(session.model.config, seqLen)) / medianStepMs / 1e6,
    kernelsPerStep: profile.kernels.length,
    parameters: session.summary().parameters,
  };
  session.dispose();
  return row;
}

export async function runBench(opts: BenchOptions): Promise<BenchRow[]> {
  const backends = (opts.backends?.split(',') ?? Object.keys(DEFAULT_PLAN)) as BackendName[];
  const rows: BenchRow[] = [];
  if (!opts.json) console.log(`backend  preset   batch×T    step ms   tokens/s   GFLOP/s  kernels/step  params   (median of ${opts.steps} steps)`);
  for (const backend of backends) {
    if (!['wasm', 'cpu', 'webgpu'].includes(backend)) throw new Error(`unknown backend "${backend}"`);
    const presets = opts.presets?.split(',') ?? DEFAULT_PLAN[backend] ?? ['micro'];
    for (const preset of presets) {
      if (!isPresetName(preset)) throw new Error(`unknown preset "${preset}"`);
      const row = await benchOne(backend, preset, Math.max(opts.steps, 1));
      rows.push(row);
      if (opts.json) console.log(JSON.stringify(row));
      else {
        console.log(
          `${row.backend.padEnd(8)} ${row.preset.padEnd(8)} ${`${row.batchSize}×${row.seqLen}`.padEnd(9)} ${row.medianStepMs.toFixed(1).padStart(8)} ${Math.round(row.tokensPerSec).toLocaleString('en').padStart(10)} ${row.gflops.toFixed(2).padStart(9)} ${String(row.kernelsPerStep).padStart(13)}  ${row.parameters.toLocaleString('en')}`,
        );
      }
    }
  }
  return rows;
}
