/** Worker side of the browser benchmark: the same measurement as `npm run bench`, on the page's backends. */
import * as tf from '@tensorflow/tfjs';
import { describeAdapter } from '../core/backend/adapter.ts';
import { probeAdapter, selectBackend, type BackendName } from '../core/backend/backend.ts';
import { setFusedKernels } from '../core/kernels/array-kernel.ts';
import { benchmarkPreset, type BenchRow } from '../core/backend/benchmark.ts';
import { isPresetName } from '../core/model/config.ts';
import { CharTokenizer, type CharTokenizerJSON } from '../core/model/tokenizer.ts';
import { browserEnv } from '../lab/browser-env.ts';
import bundledVocabulary from '../../corpora/vocab.json';

/** WebGPU presets when the caller says `auto`: micro on a software adapter (seconds per step beyond it), else the GPU presets. */
const WEBGPU_AUTO = { software: ['micro'], hardware: ['tiny', 'small', 'medium'] };

export interface BrowserBenchOptions {
  /** 'fused' (default) or 'reference' (tfjs ops only). */
  kernels?: string;
  /** WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE: dispatches per submitted pass (tfjs's default 15). */
  submit?: number;
}

export async function runBrowserBench(backend: BackendName, presets: string[], steps: number, opts: BrowserBenchOptions = {}): Promise<BenchRow[]> {
  const info = await selectBackend(backend);
  if (info.backend !== backend) throw new Error(`${backend} is not available in this browser (${info.reason})`);
  const probe = backend === 'webgpu' ? await probeAdapter() : null;
  const adapter = probe?.ok ? describeAdapter(probe.adapter) : undefined;
  if (presets.length === 1 && presets[0] === 'auto') presets = backend === 'webgpu' && probe?.ok && !probe.adapter.isFallbackAdapter ? WEBGPU_AUTO.hardware : backend === 'webgpu' ? WEBGPU_AUTO.software : ['micro', 'tiny'];
  if (opts.submit && backend === 'webgpu') tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', opts.submit);
  setFusedKernels(opts.kernels !== 'reference');
  const tokenizer = CharTokenizer.fromJSON(bundledVocabulary as CharTokenizerJSON);
  const { train, val } = await browserEnv.loadBundledCorpus('tales');
  const corpus = { name: 'tales', train: tokenizer.encode(train), val: tokenizer.encode(val) };
  const rows: BenchRow[] = [];
  for (const preset of presets) {
    if (!isPresetName(preset)) throw new Error(`unknown preset "${preset}"`);
    const row = await benchmarkPreset(preset, corpus, tokenizer, steps);
    rows.push({ ...row, ...(adapter ? { adapter } : {}), ...(opts.kernels === 'reference' ? { kernels: 'reference' } : {}), ...(opts.submit ? { submit: opts.submit } : {}) });
  }
  return rows;
}
