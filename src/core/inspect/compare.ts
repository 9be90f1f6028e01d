/**
 * What each stage changed: one text scored, teacher-forced, under every checkpoint of a lineage
 * (base → SFT → DPO → RL), with each token's log-probability under each and the change from the
 * stage before:
 *   lpₘ(t) = log pₘ(ids[t] | ids[<t]),   Δₘ(t) = lpₘ(t) − lpₘ₋₁(t)
 * A reply the later stage learned to write shows as tokens whose Δ is large and positive.
 *
 * The windows are sample.ts's tokenLogProbs' (non-overlapping, blockSize tokens of context at most:
 * the context starts afresh every blockSize tokens), so the numbers are the `score` command's; here
 * all the windows of a text go through each model as one batch, one forward pass per model.
 */
import * as tf from '@tensorflow/tfjs';
import type { GPT } from '../model/model.ts';
import { targetLogProbs } from '../model/ops.ts';

export interface Comparison {
  /** The scored positions (indices into ids): from `from` to the last. */
  positions: number[];
  /** ids at those positions. */
  tokens: number[];
  /** [model][i]: log p(tokens[i] | what came before) under each model. */
  logProbs: number[][];
  /** [model][i]: the change from the model before it; null for the first. */
  deltas: (number[] | null)[];
  /** [model]: Σ of logProbs over the scored positions: the whole reply's log-probability. */
  totals: number[];
}

/**
 * Per-position log p(ids[p] | its window's ids before p) for p = 1…n−1 (index 0 unused), from one forward
 * pass: the windows side by side as a batch, [T, W] time-major, the last one right-padded (causal
 * attention: padding after a position cannot change it).
 */
async function teacherForced(model: GPT, ids: Int32Array): Promise<Float64Array> {
  const n = ids.length;
  const T = Math.min(model.config.blockSize, n - 1);
  const W = Math.ceil((n - 1) / T);
  const x = new Int32Array(T * W); // [T, W]: row t·W + w is position w·T + t
  const y = new Int32Array(T * W);
  for (let w = 0; w < W; w++) {
    for (let t = 0; t < T && w * T + t + 1 < n; t++) {
      x[t * W + w] = ids[w * T + t];
      y[t * W + w] = ids[w * T + t + 1];
    }
  }
  const lpT = tf.tidy(() => targetLogProbs(model.forwardTimeMajor(tf.tensor2d(x, [T, W], 'int32')), tf.tensor1d(y, 'int32'))); // [T·W]
  const lp = await lpT.data();
  lpT.dispose();
  const out = new Float64Array(n);
  for (let w = 0; w < W; w++) for (let t = 0; t < T && w * T + t + 1 < n; t++) out[w * T + t + 1] = lp[t * W + w];
  return out;
}

/**
 * Scores ids (prompt and reply, token ids) under each model in order, reporting positions from
 * `from` (e.g. the reply's first token) on; earlier tokens are context only.
 */
export async function compareModels(models: readonly GPT[], ids: ArrayLike<number>, from = 1): Promise<Comparison> {
  if (models.length === 0) throw new Error('compare: no models');
  const V = models[0].config.vocabSize;
  if (models.some((m) => m.config.vocabSize !== V)) throw new Error('compare: the models have different vocabularies');
  if (ids.length < 2) throw new Error('compare: the text needs at least two tokens');
  const seq = Int32Array.from(ids);
  const bad = seq.findIndex((id, i) => id !== ids[i] || id < 0 || id >= V);
  if (bad >= 0) throw new Error(`compare: token ${ids[bad]} at position ${bad} is not in the vocabulary (0…${V - 1})`);
  const scored: Float64Array[] = [];
  for (const m of models) scored.push(await teacherForced(m, seq));
  const positions = [...seq.keys()].filter((p) => p >= Math.max(1, from));
  const logProbs = scored.map((s) => positions.map((p) => s[p]));
  return {
    positions,
    tokens: positions.map((p) => seq[p]),
    logProbs,
    deltas: logProbs.map((lp, m) => (m === 0 ? null : lp.map((v, i) => v - logProbs[m - 1][i]))),
    totals: logProbs.map((lp) => lp.reduce((a, b) => a + b, 0)),
  };
}
