/**
 * Sampling completions for RL, and the log-probability and entropy of every sampled token under
 * the policy that drew it.
 *
 * The tokens come from the lab's one batched decoder with a key/value cache (model/decode.ts), the
 * same path as the sample panel and the side-by-side answers. A completion is cut where prompt +
 * completion would fill the block size (it then counts as not ended), so every sequence the
 * policy-gradient loss sees fits the model's context without a sliding window.
 *
 * The log-probs and entropies are read in one teacher-forced forward pass over prompt + completion
 * (no gradient): at temperature 1 with no top-k they are log π(oₜ), what the k1 estimator of the KL
 * needs. The loss recomputes the same log-probs with gradients (policy.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { padBatch } from '../post/chat.ts';
import { sampleBatch } from '../model/decode.ts';
import type { GPT } from '../model/model.ts';
import { toTimeMajor } from '../train/objective.ts';

export interface Completion {
  /** Sampled token ids, the closing <|end|> included when the row ended its turn. */
  ids: number[];
  ended: boolean;
  /** log π(oₜ), one per id (with `withLogProbs`). */
  logProbs: number[];
  /** Entropy (nats) of π at each position, one per id (with `withLogProbs`). */
  entropies: number[];
}

export interface SampleCompletionsOptions {
  maxNewTokens: number;
  /** 1 samples the policy; 0 decodes greedily. */
  temperature: number;
  seed: number;
  endId: number;
  /** Also read log π and the entropy of every sampled token (one more forward pass). */
  withLogProbs?: boolean;
  batchSize?: number;
  /** Stops a row early, unended (decode.ts's keepGoing; `row` indexes `prompts`). */
  keepGoing?: (row: number, ids: readonly number[]) => boolean;
}

/** prompt ++ completion as inputs, targets and a mask on the completion's tokens. */
export function sequenceRow(prompt: Int32Array, ids: readonly number[]): { x: Int32Array; y: Int32Array; mask: Float32Array } {
  const all = Int32Array.from([...prompt, ...ids]);
  const mask = new Float32Array(all.length - 1);
  mask.fill(1, prompt.length - 1);
  return { x: all.subarray(0, -1), y: all.subarray(1), mask };
}

/**
 * Completes every prompt once, by at most maxNewTokens and never past the block size. Same
 * model, prompts and seed → same completions.
 */
export async function sampleCompletions(model: GPT, prompts: readonly Int32Array[], opts: SampleCompletionsOptions): Promise<Completion[]> {
  const block = model.config.blockSize;
  const batchSize = opts.batchSize ?? 128;
  const out: Completion[] = [];
  for (let start = 0; start < prompts.length; start += batchSize) {
    const chunk = prompts.slice(start, start + batchSize);
    const room = Math.max(1, Math.min(opts.maxNewTokens, block - Math.min(...chunk.map((p) => p.length))));
    const keepGoing = opts.keepGoing && ((i: number, row: readonly number[]) => opts.keepGoing!(start + i, row));
    const { ids, ended } = await sampleBatch(model, chunk, { maxNewTokens: room, temperature: opts.temperature, topK: 0, seed: opts.seed + start, stopToken: opts.endId, keepGoing });
    chunk.forEach((p, i) => {
      const fits = Math.max(1, block - p.length);
      const cut = ids[i].length > fits;
      out.push({ ids: cut ? ids[i].slice(0, fits) : ids[i], ended: ended[i] && !cut, logProbs: [], entropies: [] });
    });
  }
  if (opts.withLogProbs) await readLogProbs(model, prompts, out, opts.endId);
  return out;
}

/** Fills in log π(oₜ) and the entropy at every completion token with one forward pass per batch. */
async function readLogProbs(model: GPT, prompts: readonly Int32Array[], completions: Completion[], padId: number, batchSize = 64): Promise<void> {
  for (let start = 0; start < prompts.length; start += batchSize) {
    const rows = prompts.slice(start, start + batchSize).map((p, i) => sequenceRow(p, completions[start + i].ids));
    const batch = padBatch(rows, padId);
    const { batchSize: B, seqLen: T } = batch;
    const both = tf.tidy(() => {
      const x = tf.tensor2d(toTimeMajor(batch.x, B, T), [T, B], 'int32');
      const y = tf.tensor1d(toTimeMajor(batch.y, B, T), 'int32');
      const logp = tf.logSoftmax(model.forwardTimeMajor(x)); // [T·B, V]
      const V = logp.shape[1];
      const picked = tf.sum(tf.mul(logp, tf.cast(tf.oneHot(y, V), 'float32')), 1); // [T·B], one-hot in int32 then cast (wasm)
      const entropy = tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), 1)); // [T·B]
      return tf.stack([picked, entropy]); // [2, T·B]
    });
    const values = (await both.data()) as Float32Array;
    both.dispose();
    const N = T * B;
    rows.forEach((_, b) => {
      const c = completions[start + b];
      const first = prompts[start + b].length - 1; // the target position of the completion's first token
      for (let k = 0; k < c.ids.length; k++) {
        const row = (first + k) * B + b; // time-major
        c.logProbs.push(values[row]);
        c.entropies.push(values[N + row]);
      }
    });
  }
}

/** The completion's text ids: without the closing <|end|>. */
export function replyIds(c: Completion, endId: number): number[] {
  return c.ended && c.ids[c.ids.length - 1] === endId ? c.ids.slice(0, -1) : c.ids;
}
