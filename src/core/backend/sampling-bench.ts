/**
 * Measuring generation: `rows` completions of `newTokens` tokens each, in one batch, with the
 * key/value cache (decode.ts's sampleBatch) and without it (sampleBatchUncached), on the same
 * prompts, model and seed. Tokens/s counts generated tokens only; the wall time includes the
 * prompts' prefill and every read back to JavaScript, as a caller sees it.
 */
import * as tf from '@tensorflow/tfjs';
import { modelConfig, type PresetName } from '../model/config.ts';
import { type DecodeOptions, sampleBatch, sampleBatchUncached } from '../model/decode.ts';
import { GPT } from '../model/model.ts';

export interface SamplingRow {
  backend: string;
  preset: PresetName;
  rows: number;
  newTokens: number;
  promptTokens: [number, number]; // shortest and longest prompt
  cachedMs: number; // median of `repeats` runs
  cachedTokensPerSec: number;
  uncachedMs: number;
  uncachedTokensPerSec: number;
  /** Whether both paths produced the same tokens (they should, exactly). */
  same: boolean;
  /** Largest difference between the two paths' log-probabilities of the same token (float32 rounding). */
  maxLogProbDiff: number;
}

/**
 * Prompts are windows of `text` (token ids) of lengths spread over [8, 24], so rows are padded
 * differently; the model has `preset`'s shape and seeded random weights, and no stop token is
 * set, so every row generates all its tokens.
 */
export async function benchmarkSampling(preset: PresetName, vocabSize: number, text: Int32Array, rows = 64, newTokens = 32, repeats = 3): Promise<SamplingRow> {
  const model = GPT.init(modelConfig(preset, vocabSize), 1);
  try {
    const lengths = Array.from({ length: rows }, (_, i) => 8 + (i % 17));
    const prompts = lengths.map((n, i) => text.slice(i * 13, i * 13 + n));
    if (prompts.some((p, i) => p.length !== lengths[i])) throw new Error(`sampling bench: the text is too short for ${rows} prompts`);
    const opts: DecodeOptions = { maxNewTokens: newTokens, temperature: 0.8, topK: 0, seed: 1 };
    await sampleBatch(model, prompts.slice(0, 4), { ...opts, maxNewTokens: 4 }); // kernel set-up, XNNPACK operators
    const time = async (f: typeof sampleBatch) => {
      const t0 = performance.now();
      const out = await f(model, prompts, opts);
      return { ms: performance.now() - t0, out };
    };
    const cached = [];
    for (let i = 0; i < repeats; i++) cached.push(await time(sampleBatch));
    cached.sort((a, b) => a.ms - b.ms);
    const median = cached[Math.floor(repeats / 2)];
    const uncached = await time(sampleBatchUncached);
    const generated = median.out.ids.reduce((n, r) => n + r.length, 0);
    return {
      backend: tf.getBackend(),
      preset,
      rows,
      newTokens,
      promptTokens: [Math.min(...lengths), Math.max(...lengths)],
      cachedMs: median.ms,
      cachedTokensPerSec: (generated / median.ms) * 1000,
      uncachedMs: uncached.ms,
      uncachedTokensPerSec: (generated / uncached.ms) * 1000,
      same: JSON.stringify([uncached.out.ids, uncached.out.ended]) === JSON.stringify([median.out.ids, median.out.ended]),
      maxLogProbDiff: Math.max(...median.out.logProbs.flatMap((row, b) => row.map((lp, t) => Math.abs(lp - uncached.out.logProbs[b][t])))),
    };
  } finally {
    model.dispose();
  }
}

export function formatSamplingRow(where: string, r: SamplingRow): string {
  const rate = (x: number) => Math.round(x).toLocaleString('en');
  return `${where.padEnd(8)} ${r.backend.padEnd(8)} ${r.preset.padEnd(8)} sampling ${r.rows}×${r.newTokens} new tokens (prompts ${r.promptTokens[0]}–${r.promptTokens[1]}): ` +
    `cached ${r.cachedMs.toFixed(0)} ms, ${rate(r.cachedTokensPerSec)} tokens/s; uncached ${r.uncachedMs.toFixed(0)} ms, ${rate(r.uncachedTokensPerSec)} tokens/s; ` +
    `${(r.uncachedMs / r.cachedMs).toFixed(1)}× faster, ${r.same ? 'same tokens' : 'TOKENS DIFFER'}, log p within ${r.maxLogProbDiff.toExponential(0)}`;
}
