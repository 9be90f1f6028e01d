/**
 * The scaling lab's models: one ladder of GPT shapes from about two thousand to about a hundred
 * and sixty thousand parameters (each rung 1.4–2× the last, more than 50× end to end), all with
 * the `tiny` preset's context so every size reads the same windows of text; one layer while the
 * width is small, then depth and width grow together, heads of about 8 channels.
 *
 * As in Chinchilla, each budget trains a window of consecutive rungs around where its optimum is
 * expected (`windowFor`); the window only has to bracket the optimum, the fit then finds it. A
 * window the same for every budget cannot: a rung small enough to bracket the smallest budget's
 * optimum would need tens of thousands of steps at the largest budget.
 *
 * FLOPs follow the convention of model/config.ts's flopsPerToken: 6·N for the matmuls (forward 2N,
 * backward 4N, the tied head counted once, the position table a lookup) plus 12·L·T·C for attention,
 * so a budget C buys D = C / flopsPerToken tokens (≈ C / 6N, the form scaling papers write).
 */
import { LESSON_PLAN } from '../lesson/plan.ts';
import { countParameters, flopsPerToken, type GPTConfig, PRESETS } from '../model/config.ts';

/** (layers, width, heads), from the smallest to the largest. */
const SHAPES: readonly [number, number, number][] = [
  [1, 8, 1], [1, 12, 2], [1, 16, 2], [1, 24, 3], [2, 24, 3], [2, 32, 4], [2, 40, 5], [2, 48, 6], [2, 64, 8], [3, 64, 8],
];

export function scalingFamily(vocabSize: number): GPTConfig[] {
  const blockSize = PRESETS.tiny.model.blockSize;
  return SHAPES.map(([nLayer, nEmbd, nHead]) => ({ vocabSize, blockSize, nLayer, nEmbd, nHead }));
}

/**
 * Where a budget's window is centred: the rung closest (in log N) to the size that would see this
 * many tokens per parameter. Set from pilot sweeps on the stories (docs/results/scaling.md), well
 * above Chinchilla's 20: a small model on one small corpus is limited by the steps it gets as much
 * as by its size. It only places the window; the fitted ratio is whatever the losses say.
 */
export const WINDOW_TOKENS_PER_PARAM = 100;

/** The indices of `k` consecutive rungs of `family` centred on the budget's expected optimum, kept inside the ladder. */
export function windowFor(budget: number, family: readonly GPTConfig[], k: number): number[] {
  if (!Number.isInteger(k) || k < 3 || k > family.length) throw new Error(`the number of sizes must be a whole number from 3 to ${family.length}, got ${k}`);
  // C = 6·N·D and D = r·N give N = √(C / 6r).
  const expected = Math.sqrt(budget / (6 * WINDOW_TOKENS_PER_PARAM));
  const distance = (c: GPTConfig) => Math.abs(Math.log(countParameters(c) / expected));
  const centre = family.reduce((best, c, i) => (distance(c) < distance(family[best]) ? i : best), 0);
  const first = Math.min(Math.max(0, centre - Math.floor((k - 1) / 2)), family.length - k);
  return Array.from({ length: k }, (_, i) => first + i);
}

/** Parameters with and without the embedding tables (token and position), as Chinchilla and Kaplan count them. */
export function parameterCounts(c: GPTConfig): { params: number; nonEmbeddingParams: number } {
  const params = countParameters(c);
  return { params, nonEmbeddingParams: params - (c.vocabSize + c.blockSize) * c.nEmbd };
}

/** Tokens and whole steps of `batchSize` × context that a budget of `flops` buys this shape. */
export function tokensFor(flops: number, c: GPTConfig, batchSize: number): { tokens: number; steps: number } {
  const steps = Math.max(1, Math.round(flops / flopsPerToken(c) / (batchSize * c.blockSize)));
  return { tokens: steps * batchSize * c.blockSize, steps };
}

/** The default lesson's pretraining in the same arithmetic: the reference point a sweep's budgets are shown against. */
export function lessonReference(vocabSize: number): { budget: number; params: number; tokens: number; tokensPerParam: number } {
  const { preset, steps } = LESSON_PLAN.pretrain;
  const model: GPTConfig = { ...PRESETS[preset].model, vocabSize };
  const tokens = steps * PRESETS[preset].batchSize * model.blockSize;
  const params = countParameters(model);
  return { budget: tokens * flopsPerToken(model), params, tokens, tokensPerParam: tokens / params };
}
