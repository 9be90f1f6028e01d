/**
 * npm run bench: trains each preset for a fixed number of steps on each backend Node has, and
 * prints the median step time (over ≥ 20 steps after 3 warm-up steps), tokens/s, achieved GFLOP/s
 * and the number of kernels one training step dispatches. With --browser it also serves bench.html
 * and measures the same in headless Chromium on webgpu (its software adapter here) and wasm.
 * The FLOP formula is in src/core/backend/benchmark.ts.
 */
import { existsSync } from 'node:fs';
import { selectBackend, type BackendName } from '../src/core/backend/backend.ts';
import { benchmarkPreset, type BenchRow, formatBenchHeader, formatBenchRow } from '../src/core/backend/benchmark.ts';
import { isPresetName, type PresetName } from '../src/core/model/config.ts';
import { loadCorpus } from './corpora.ts';

export interface BenchOptions {
  json: boolean;
  steps: number;
  presets?: string;
  backends?: string;
  browser?: boolean;
}

/** Which presets each backend is measured on by default (the cpu backend is ~1 GFLOP/s). */
const NODE_PLAN: Record<string, PresetName[]> = { wasm: ['micro', 'tiny', 'small'], cpu: ['micro'] };
/** Software WebGPU takes seconds per step beyond micro; wasm in the page is measured on tiny too. */
const BROWSER_PLAN: Record<string, PresetName[]> = { webgpu: ['micro'], wasm: ['micro', 'tiny'] };

function emit(opts: BenchOptions, where: string, row: BenchRow): void {
  console.log(opts.json ? JSON.stringify({ where, ...row }) : formatBenchRow(where, row));
}

export async function runBench(opts: BenchOptions): Promise<void> {
  const steps = Math.max(opts.steps, 20);
  if (!opts.json) console.log(formatBenchHeader(steps));
  const backends = opts.backends?.split(',') ?? Object.keys(NODE_PLAN);
  for (const backend of backends) {
    if (backend === 'webgpu') continue; // Node has no WebGPU; measured in the browser
    if (!['wasm', 'cpu'].includes(backend)) throw new Error(`unknown backend "${backend}"`);
    const info = await selectBackend(backend as BackendName);
    if (info.backend !== backend) throw new Error(`backend ${backend} unavailable: ${info.reason}`);
    const { corpus, tokenizer } = loadCorpus({ corpus: 'tales' });
    for (const preset of opts.presets?.split(',') ?? NODE_PLAN[backend]) {
      if (!isPresetName(preset)) throw new Error(`unknown preset "${preset}"`);
      emit(opts, 'node', await benchmarkPreset(preset, corpus, tokenizer, steps));
    }
    await samplingBench(opts, backend);
  }
  if (opts.browser) await browserBench(opts, steps);
}

/** The sampling row: generation speed, 64 completions × 32 new tokens, with and without the key/value cache. */
const SAMPLING_PLAN: Record<string, PresetName[]> = { wasm: ['tiny'], cpu: [] };

async function samplingBench(opts: BenchOptions, backend: string): Promise<void> {
  const { benchmarkSampling, formatSamplingRow } = await import('../src/core/backend/sampling-bench.ts');
  const { corpus, tokenizer } = loadCorpus({ corpus: 'tales' });
  for (const preset of SAMPLING_PLAN[backend] ?? []) {
    const row = await benchmarkSampling(preset, tokenizer.vocabSize, corpus.val);
    console.log(opts.json ? JSON.stringify({ where: 'node', kind: 'sampling', ...row }) : formatSamplingRow('node', row));
  }
}

async function browserBench(opts: BenchOptions, steps: number): Promise<void> {
  const { CHROMIUM, launch, removeProfile, startServer } = await import('./chromium.ts');
  if (!existsSync(CHROMIUM)) throw new Error(`--browser needs Chromium at ${CHROMIUM} (npm run setup installs it)`);
  const server = await startServer();
  const browser = await launch({ webgpu: true });
  try {
    for (const [backend, plan] of Object.entries(BROWSER_PLAN)) {
      const presets = opts.presets ?? plan.join(',');
      await browser.page.goto(`${server.url}bench.html?backends=${backend}&presets=${presets}&steps=${steps}`);
      await browser.page.waitForFunction(() => (window as unknown as { __bench?: { done: boolean } }).__bench?.done === true, null, { timeout: 30 * 60_000 });
      const result = (await browser.page.evaluate(() => (window as unknown as { __bench: { rows: BenchRow[]; errors: string[] } }).__bench)) as { rows: BenchRow[]; errors: string[] };
      for (const row of result.rows) emit(opts, 'browser', row);
      for (const error of result.errors) console.log(opts.json ? JSON.stringify({ where: 'browser', error }) : `browser  not measured: ${error}`);
    }
  } finally {
    await browser.close();
    removeProfile(browser.profile);
    await server.close();
  }
}
