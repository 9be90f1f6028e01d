/**
 * Text generation and scoring with a trained model.
 *
 * Sampling draws from softmax(logits / temperature) restricted to the top-k tokens, with our
 * seeded generator, so the same checkpoint, prompt and seed give the same text everywhere.
 * Temperature 0 means greedy decoding.
 *
 * Every read from the backend is `await data()`, never dataSync(): on WebGPU a synchronous read
 * goes through an OffscreenCanvas context, which in headless Chromium takes down the GPU process
 * and the run with it. On wasm and cpu the asynchronous read costs nothing extra.
 */
import * as tf from '@tensorflow/tfjs';
import type { GPT } from './model.ts';
import { type Alternative, sampleBatch } from './decode.ts';
import { targetLogProbs } from './ops.ts';

export { pickToken } from './decode.ts';

export interface SampleOptions {
  maxTokens: number;
  temperature: number;
  topK: number; // 0 = all tokens
  seed: number;
  /** Stop as soon as this token is produced (it is included in the output). */
  stopToken?: number;
}

/** Logits of the next token after `context` (the last blockSize ids are used). */
export async function nextTokenLogits(model: GPT, context: ArrayLike<number>): Promise<Float32Array> {
  const T = Math.min(context.length, model.config.blockSize);
  const window = Int32Array.from(Array.prototype.slice.call(context, context.length - T));
  const last = tf.tidy(() => {
    const logits = model.forwardTimeMajor(tf.tensor2d(window, [T, 1], 'int32')); // [T, V]
    return tf.slice(logits, [T - 1, 0], [1, -1]); // [1, V]
  });
  const values = (await last.data()) as Float32Array;
  last.dispose();
  return values;
}

/**
 * Continues `prompt` (token ids, at least one) by up to maxTokens tokens; returns only the new ids.
 * One row of decode.ts's sampleBatch, so it draws what row 0 of a batch with the same seed draws.
 */
export async function generate(model: GPT, prompt: ArrayLike<number>, opts: SampleOptions): Promise<number[]> {
  const { ids } = await sampleBatch(model, [Int32Array.from(prompt)], { maxNewTokens: opts.maxTokens, temperature: opts.temperature, topK: opts.topK, seed: opts.seed, stopToken: opts.stopToken });
  return ids[0];
}

/** One written token with how sure the model was of it. */
export interface WrittenToken {
  token: number;
  /** log p of the token under the distribution it was drawn from (decode.ts's sampleToken). */
  logProb: number;
  /** The model's k most likely tokens at that step, under softmax(logits) (decode.ts's topAlternatives). */
  top: Alternative[];
}

/** `generate`, with each new token's log-probability and the model's top k alternatives, from the same forward passes. */
export async function generateWithAlternatives(model: GPT, prompt: ArrayLike<number>, opts: SampleOptions, k = 5): Promise<WrittenToken[]> {
  const d = await sampleBatch(model, [Int32Array.from(prompt)], { maxNewTokens: opts.maxTokens, temperature: opts.temperature, topK: opts.topK, seed: opts.seed, stopToken: opts.stopToken, alternatives: k });
  return d.ids[0].map((token, i) => ({ token, logProb: d.logProbs[0][i], top: d.alternatives?.[0][i] ?? [] }));
}

/**
 * log p(ids[t] | ids[<t]) for t = 1…n−1, in windows of the model's block size (a text longer than
 * the context is scored with a sliding, non-overlapping window; each window's first token has no
 * prediction). Returns one value per scored position.
 */
export async function tokenLogProbs(model: GPT, ids: Int32Array): Promise<{ positions: number[]; logProbs: number[] }> {
  const positions: number[] = [];
  const logProbs: number[] = [];
  const T = model.config.blockSize;
  for (let start = 0; start + 1 < ids.length; start += T) {
    const end = Math.min(start + T + 1, ids.length);
    const x = ids.subarray(start, end - 1);
    const y = ids.subarray(start + 1, end);
    const lpT = tf.tidy(() => targetLogProbs(model.forwardTimeMajor(tf.tensor2d(x, [x.length, 1], 'int32')), tf.tensor1d(y, 'int32')));
    const lp = await lpT.data();
    lpT.dispose();
    for (let i = 0; i < lp.length; i++) {
      positions.push(start + 1 + i);
      logProbs.push(lp[i]);
    }
  }
  return { positions, logProbs };
}
