/**
 * Sampling completions for RL, and the log-probability and entropy of every sampled token under
 * the policy that drew it.
 *
 * The tokens come from the lab's one batched decoder with a key/value cache (model/decode.ts), the
 * same path as the sample panel and the side-by-side answers. A completion is cut where prompt +
 * completion would fill the block size (it then counts as not ended), so every sequence the
 * policy-gradient loss sees fits the model's context without a sliding window.
 *
 * The log-probs and entropies are the decoder's own, from the distribution each token was drawn
 * from: at temperature 1 with no top-k that is π itself, so they are log π(oₜ), what the k1
 * estimator of the KL needs. They agree with a teacher-forced pass over prompt + completion to
 * float32 rounding (3.4e-6 per token, 4.4e-6 per completion, measured on the lesson's SFT model,
 * and tested), which saved that pass: a seventh of an RL step. The loss recomputes the log-probs
 * with gradients (policy.ts).
 */
import { type Alternative, type Decoded, type DecodeOptions, sampleBatch } from '../model/decode.ts';
import type { GPT } from '../model/model.ts';

export interface Completion {
  /** Sampled token ids, the closing <|end|> included when the row ended its turn. */
  ids: number[];
  ended: boolean;
  /** log p(oₜ) under the distribution it was drawn from, one per id (log π(oₜ) at temperature 1). */
  logProbs: number[];
  /** Entropy (nats) of that distribution at each position, one per id. */
  entropies: number[];
  /** The model's likeliest tokens at each position, one list per id: only when `alternatives` asks. */
  alternatives?: Alternative[][];
}

export interface SampleCompletionsOptions {
  maxNewTokens: number;
  /** 1 samples the policy; 0 decodes greedily. */
  temperature: number;
  seed: number;
  endId: number;
  batchSize?: number;
  /** Also keep, per token, this many of the model's likeliest tokens (decode.ts: read off the same step's logits). */
  alternatives?: number;
  /** Stops a row early, unended (decode.ts's keepGoing; `row` indexes `prompts`). */
  keepGoing?: (row: number, ids: readonly number[]) => boolean;
  /**
   * Decodes in place of `sampleBatch(model, …)`: RL's shares the rows with helper threads
   * (train/parallel.ts's parallelDecode). It gets no keepGoing, which cannot travel to a thread.
   */
  decode?: (prompts: readonly Int32Array[], options: Omit<DecodeOptions, 'keepGoing' | 'onToken'>) => Promise<Decoded>;
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
  if (opts.decode && opts.keepGoing) throw new Error('sampleCompletions: a decode of its own cannot stop rows early (keepGoing)');
  const decode = opts.decode ?? ((p: readonly Int32Array[], o: DecodeOptions) => sampleBatch(model, p, o));
  const out: Completion[] = [];
  for (let start = 0; start < prompts.length; start += batchSize) {
    const chunk = prompts.slice(start, start + batchSize);
    const room = Math.max(1, Math.min(opts.maxNewTokens, block - Math.min(...chunk.map((p) => p.length))));
    const keepGoing = opts.keepGoing && ((i: number, row: readonly number[]) => opts.keepGoing!(start + i, row));
    const { ids, ended, logProbs, entropies, alternatives } = await decode(chunk, { maxNewTokens: room, temperature: opts.temperature, topK: 0, seed: opts.seed + start, stopToken: opts.endId, ...(keepGoing ? { keepGoing } : {}), ...(opts.alternatives ? { alternatives: opts.alternatives } : {}) });
    chunk.forEach((p, i) => {
      const fits = Math.max(1, block - p.length);
      const n = Math.min(ids[i].length, fits);
      const c: Completion = { ids: ids[i].slice(0, n), ended: ended[i] && ids[i].length <= fits, logProbs: logProbs[i].slice(0, n), entropies: entropies[i].slice(0, n) };
      out.push(alternatives ? { ...c, alternatives: alternatives[i].slice(0, n) } : c);
    });
  }
  return out;
}

/** The completion's text ids: without the closing <|end|>. */
export function replyIds(c: Completion, endId: number): number[] {
  return c.ended && c.ids[c.ids.length - 1] === endId ? c.ids.slice(0, -1) : c.ids;
}
