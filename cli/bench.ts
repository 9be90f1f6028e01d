/**
 * npm run bench: trains each preset for a fixed number of steps on each backend Node has, and
 * prints the median step time (over ≥ 20 steps after 3 warm-up steps), tokens/s, achieved GFLOP/s
 * and the number of kernels one training step dispatches. With --browser it also serves bench.html
 * and measures the same in headless Chromium on webgpu (its software adapter here) and wasm.
 * On wasm each preset is measured on one thread and on one a core (--threads 1,2: the step's rows
 * shared between worker threads, cli/gradient-threads.ts). --profile lists each step's kernels by total time; --vs-pytorch times tests/interop/nanogpt.py's model in
 * PyTorch (2 threads) on the same shapes right after each Node row and prints the ratio, then times the
 * step's matrix products alone on both (src/core/backend/matmul-bench.ts, one thread each) and
 * prints the bound they put on that ratio. On wasm it ends with generation (the sampling row) and
 * one RL step with verifiers at the lesson plan's 16 prompts × G = 8 (the RL row), on each thread count.
 * The FLOP formula is in src/core/backend/benchmark.ts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { selectBackend, type BackendName } from '../src/core/backend/backend.ts';
import { benchmarkPreset, type BenchRow, formatBenchHeader, formatBenchRow, formatProfile } from '../src/core/backend/benchmark.ts';
import { isPresetName, modelConfig, PRESETS, type PresetName } from '../src/core/model/config.ts';
import { type Product, stepProducts, timeProducts } from '../src/core/backend/matmul-bench.ts';
import { parseSftJsonl } from '../src/core/post/chatdata.ts';
import { RlStage } from '../src/core/rl/policy.ts';
import { RL_DEFAULTS } from '../src/core/lesson/recipes.ts';
import { LabSession } from '../src/core/train/session.ts';
import { chatData, loadCorpus } from './corpora.ts';
import { bool, type Command, flag, FLAGS, num, number, type Options, str, text } from './args.ts';
import { setFusedKernels } from '../src/core/kernels/array-kernel.ts';
import type { Trainer } from '../src/core/train/trainer.ts';
import { defaultThreads, shareSteps } from './gradient-threads.ts';

export interface BenchOptions {
  json: boolean;
  steps: number;
  presets?: string;
  backends?: string;
  browser?: boolean;
  /** List each step's kernels by total time (one profiled step per preset). */
  profile?: boolean;
  /** After each Node row, time tests/interop/nanogpt.py's model in PyTorch on the same shapes and print the ratio. */
  vsPytorch?: boolean;
  /** 'fused' (default), 'reference' (tfjs ops only), or both, to compare them within one run. */
  kernels?: string;
  /** --browser: WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE for the WebGPU rows. */
  submit?: number;
  /** Node wasm: the thread counts to measure, e.g. "1,2" (default: 1 and one a core). */
  threads?: string;
}

const PYTHON = '/usr/bin/python3';

/** PyTorch CPU (2 threads) on the row's shapes, from tests/interop/bench.py. */
function pytorchStep(row: BenchRow, vocab: number, steps: number): { medianStepMs: number; tokensPerSec: number; threads: number } {
  const p = PRESETS[row.preset].model;
  const spec = { batch: row.batchSize, block: row.seqLen, layers: p.nLayer, heads: p.nHead, embd: p.nEmbd, vocab, steps };
  const out = execFileSync(PYTHON, [new URL('../tests/interop/bench.py', import.meta.url).pathname, JSON.stringify(spec)], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!);
}

/** The step's matrix products in PyTorch, one thread, from tests/interop/bench.py. */
function pytorchProducts(products: readonly Product[]): { totalMs: number; gflops: number; threads: number } {
  const spec = { threads: 1, products: products.map((p) => [p.groups, p.m, p.k, p.n]) };
  const out = execFileSync(PYTHON, [new URL('../tests/interop/bench.py', import.meta.url).pathname, JSON.stringify(spec)], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!);
}

/**
 * The matmuls-alone row: the step's products timed on this backend and in PyTorch, one thread
 * each, and the best ratio to PyTorch's step they leave for each thread count measured: with the
 * products spread perfectly over n threads and everything around them free, a step still takes
 * products ÷ n.
 */
async function productsRow(opts: BenchOptions, preset: PresetName, row: BenchRow, vocab: number, torch: { medianStepMs: number }, threads: number[]): Promise<void> {
  const products = stepProducts(modelConfig(preset, vocab), row.batchSize, row.seqLen);
  const ours = await timeProducts(products);
  const theirs = pytorchProducts(products);
  const bounds = threads.map((n) => ({ threads: n, ratio: torch.medianStepMs / (ours.totalMs / n) }));
  console.log(opts.json
    ? JSON.stringify({ where: 'matmuls', preset, products: products.length, ms: ours.totalMs, gflops: ours.gflops, pytorchMs: theirs.totalMs, pytorchGflops: theirs.gflops, bounds })
    : `matmuls  ${row.backend.padEnd(8)} ${preset.padEnd(8)} the step's ${products.length} matrix products alone, 1 thread: ${ours.totalMs.toFixed(1)} ms (${ours.gflops.toFixed(1)} GFLOP/s), PyTorch ${theirs.totalMs.toFixed(1)} ms (${theirs.gflops.toFixed(1)} GFLOP/s); they cap LM Lab / PyTorch at ${bounds.map((b) => `${b.ratio.toFixed(2)}× (${b.threads} thread${b.threads > 1 ? 's' : ''})`).join(', ')}, however fast the rest`);
}

/** Which presets each backend is measured on by default (the cpu backend is ~1 GFLOP/s). */
const NODE_PLAN: Record<string, PresetName[]> = { wasm: ['micro', 'tiny', 'small'], cpu: ['micro'] };
/**
 * In the page: WebGPU on `auto`, which the worker turns into micro on a software adapter (seconds per
 * step beyond it) and tiny, small and medium on a real GPU; wasm on micro and tiny.
 */
const BROWSER_PLAN: Record<string, string[]> = { webgpu: ['auto'], wasm: ['micro', 'tiny'] };

function emit(opts: BenchOptions, where: string, row: BenchRow): void {
  console.log(opts.json ? JSON.stringify({ where, ...row }) : formatBenchRow(where, row));
  if (opts.profile && !opts.json && row.profile) {
    console.log([...formatProfile(row), ...formatProfile(row, 15, true)].join('\n'));
  }
}

export async function runBench(opts: BenchOptions): Promise<void> {
  const steps = Math.max(opts.steps, 20);
  if (opts.vsPytorch && !existsSync(PYTHON)) throw new Error(`--vs-pytorch needs ${PYTHON} with python3-torch`);
  if (!opts.json) console.log(formatBenchHeader(steps));
  const backends = opts.backends?.split(',') ?? Object.keys(NODE_PLAN);
  const threadCounts = opts.threads ? opts.threads.split(',').map(Number) : [...new Set([1, defaultThreads()])];
  if (threadCounts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--threads must be whole numbers ≥ 1, e.g. 1,2; got "${opts.threads}"`);
  for (const backend of backends) {
    if (backend === 'webgpu') continue; // Node has no WebGPU; measured in the browser
    if (!['wasm', 'cpu'].includes(backend)) throw new Error(`unknown backend "${backend}"`);
    const info = await selectBackend(backend as BackendName);
    if (info.backend !== backend) throw new Error(`backend ${backend} unavailable: ${info.reason}`);
    const { corpus, tokenizer } = loadCorpus({ corpus: 'tales' });
    for (const preset of opts.presets?.split(',') ?? NODE_PLAN[backend]) {
      if (!isPresetName(preset)) throw new Error(`unknown preset "${preset}"`);
      const rows: BenchRow[] = [];
      for (const variant of opts.kernels?.split(',') ?? ['fused']) {
        if (variant !== 'fused' && variant !== 'reference') throw new Error(`unknown kernels "${variant}" (fused or reference)`);
        setFusedKernels(variant === 'fused');
        for (const threads of backend === 'wasm' ? threadCounts : [1]) {
          const share = threads > 1 ? (trainer: Trainer) => shareSteps(trainer, threads, backend, (m) => console.log(`node     ${m}`)) : undefined;
          const row = await benchmarkPreset(preset, corpus, tokenizer, steps, { profile: opts.profile && threads === 1, share });
          emit(opts, variant === 'fused' ? 'node' : 'node ref', row);
          if (variant === 'fused') rows.push(row);
        }
      }
      setFusedKernels(true);
      if (opts.vsPytorch && rows.length > 0) {
        const torch = pytorchStep(rows[0], tokenizer.vocabSize, steps);
        const ratios = rows.map((r) => ({ threads: r.threads ?? 1, ratio: r.tokensPerSec / torch.tokensPerSec }));
        console.log(opts.json
          ? JSON.stringify({ where: 'pytorch', preset, ...torch, ratio: ratios[ratios.length - 1].ratio, ratios })
          : `pytorch  cpu×${torch.threads}    ${preset.padEnd(8)} ${`${rows[0].batchSize}×${rows[0].seqLen}`.padEnd(9)} ${torch.medianStepMs.toFixed(1).padStart(8)} ${Math.round(torch.tokensPerSec).toLocaleString('en').padStart(10)}   LM Lab ${backend} / PyTorch = ${ratios.map((r) => `${r.ratio.toFixed(2)}× (${r.threads} thread${r.threads > 1 ? 's' : ''})`).join(', ')}`);
        await productsRow(opts, preset, rows[0], tokenizer.vocabSize, torch, ratios.map((r) => r.threads));
      }
    }
    await samplingBench(opts, backend);
    if (backend === 'wasm') await rlBench(opts, threadCounts);
  }
  if (opts.browser) await browserBench(opts, steps);
}

/**
 * The RL row: the median of 4 RL steps with verifiers, the lesson plan's settings, on tiny, on each
 * thread count (its samples, reference log-probs and update shared between the threads). The
 * model is untrained, so no reply ends its turn: every one runs to the 48-token limit, about twice
 * as long as the lesson's SFT model's, and the row is an upper bound on a lesson step.
 */
async function rlBench(opts: BenchOptions, threadCounts: readonly number[]): Promise<void> {
  const { corpus, tokenizer } = loadCorpus({ corpus: 'tales' });
  const base = LabSession.create({ preset: 'tiny', corpus, tokenizer, stage: 'sft', train: { steps: 1, seed: 1 } });
  const parent = await base.toCheckpointBytes();
  base.dispose();
  const data = { train: chatData('sft', parseSftJsonl).train, val: [] };
  const { promptsPerStep: P, groupSize: G } = RL_DEFAULTS.verifier;
  const medians: { threads: number; ms: number }[] = [];
  for (const threads of threadCounts) {
    // 6 steps: the first warms up, the last evaluates the stories' loss; the 4 between are timed.
    const stage = await RlStage.start(parent, data, corpus, { evalQuestions: 0, train: { steps: 6, evalInterval: 1000 } });
    const stop = threads > 1 ? await shareSteps(stage.session.trainer, threads, 'wasm', (m) => console.log(`node     ${m}`)) : async () => {};
    const times: number[] = [];
    while (!stage.done) {
      const t0 = performance.now();
      await stage.step();
      if (stage.session.stepsTaken > 1 && !stage.done) times.push(performance.now() - t0);
    }
    medians.push({ threads: stage.session.trainer.helpers.length + 1, ms: times.sort((a, b) => a - b)[Math.floor(times.length / 2)] });
    await stop();
    stage.release();
  }
  console.log(opts.json
    ? JSON.stringify({ where: 'node', kind: 'rl', preset: 'tiny', prompts: P, groupSize: G, steps: medians })
    : `node     wasm     tiny     RL step ${P}×${G} with verifiers, replies to the 48-token limit: ${medians.map((m) => `${m.ms.toFixed(0)} ms on ${m.threads} thread${m.threads > 1 ? 's' : ''}`).join(', ')}`);
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
  const { CHROMIUM, gpuDevices, gpuFlagsFor, launch, probeChromium, removeProfile, startServer } = await import('./chromium.ts');
  if (!existsSync(CHROMIUM)) throw new Error(`--browser needs Chromium at ${CHROMIUM} (npm run setup installs it)`);
  const server = await startServer();
  try {
    const say = (line: string, fields: object) => console.log(opts.json ? JSON.stringify({ where: 'browser', ...fields }) : `browser  ${line}`);
    const flags = await gpuFlagsFor(gpuDevices(), process.env.LM_LAB_CHROMIUM_ARGS, (f) => probeChromium(server.url, f), say);
    const browser = await launch({ webgpu: true, flags });
    try {
      for (const [backend, plan] of Object.entries(BROWSER_PLAN)) {
        const presets = opts.presets ?? plan.join(',');
        const query = new URLSearchParams({ backends: backend, presets, steps: String(steps), kernels: opts.kernels ?? 'fused', ...(opts.submit ? { submit: String(opts.submit) } : {}) });
        await browser.page.goto(`${server.url}bench.html?${query}`);
        await browser.page.waitForFunction(() => (window as unknown as { __bench?: { done: boolean } }).__bench?.done === true, null, { timeout: 30 * 60_000 });
        const result = (await browser.page.evaluate(() => (window as unknown as { __bench: { rows: BenchRow[]; errors: string[] } }).__bench)) as { rows: BenchRow[]; errors: string[] };
        const adapter = result.rows.find((r) => r.adapter)?.adapter;
        if (adapter) console.log(opts.json ? JSON.stringify({ where: 'browser', adapter }) : `browser  webgpu adapter: ${adapter}`);
        for (const row of result.rows) emit(opts, 'browser', row);
        for (const error of result.errors) console.log(opts.json ? JSON.stringify({ where: 'browser', error }) : `browser  not measured: ${error}`);
      }
    } finally {
      await browser.close();
      removeProfile(browser.profile);
    }
  } finally {
    await server.close();
  }
}

const STEPS = number('steps', 20, { whole: true, min: 1 }, 'steps timed per row (at least 20)');
const SUBMIT = number('submit', undefined, { whole: true, min: 1 }, "--browser: WebGPU's deferred submit batch size", '15');

export const bench: Command = {
  name: 'bench',
  about: `step time per preset and backend, then on wasm sampling and an RL step (tiny); --profile lists the step's kernels
by time; --vs-pytorch adds nanoGPT in PyTorch on the same shapes, and the step's matrix products alone on both;
--browser adds headless Chromium (on a Linux machine with a GPU it finds the flags that reach it, unless
LM_LAB_CHROMIUM_ARGS gives them)`,
  flags: [
    FLAGS.json, STEPS, text('presets', 'P1,P2', `the presets to time (default: ${Object.entries(NODE_PLAN).map(([b, p]) => `${p.join(', ')} on ${b}`).join('; ')})`),
    text('backends', Object.keys(NODE_PLAN).join(','), 'the backends to time'),
    bool('browser', 'also in headless Chromium'), bool('profile', "list each step's kernels by time"), bool('vs-pytorch', 'time nanoGPT in PyTorch on the same shapes'),
    text('kernels', 'fused,reference', 'fused, reference, or both to compare'), SUBMIT, text('threads', 'N1,N2', 'the thread counts to time on wasm (default: 1 and one a core)'),
  ],
  run: (opts: Options) =>
    runBench({
      json: flag(opts, 'json'), steps: num(opts, STEPS), presets: str(opts, 'presets'), backends: str(opts, 'backends'), browser: flag(opts, 'browser'), profile: flag(opts, 'profile'),
      vsPytorch: flag(opts, 'vs-pytorch'), kernels: str(opts, 'kernels'), submit: num(opts, SUBMIT), threads: str(opts, 'threads'),
    }),
};
