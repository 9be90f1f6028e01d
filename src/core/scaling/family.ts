/**
 * The scaling lab's models: one family of GPT shapes from a few thousand to a few hundred thousand
 * parameters (more than 10×), all with the `tiny` preset's context so every size reads the same
 * windows of text; width and depth grow together, heads of 16 channels. Each point of a sweep trains
 * one shape for the tokens its compute budget buys.
 *
 * FLOPs follow the convention of model/config.ts's flopsPerToken: 6·N for the matmuls (forward 2N,
 * backward 4N, the tied head counted once, the position table a lookup) plus 12·L·T·C for attention,
 * so a budget C buys D = C / flopsPerToken tokens (≈ C / 6N, the form scaling papers write).
 */
import { countParameters, flopsPerToken, type GPTConfig, PRESETS } from '../model/config.ts';

/** (layers, width) from the smallest to the largest. */
const SHAPES: readonly [number, number][] = [[1, 16], [1, 24], [2, 32], [2, 48], [2, 64], [3, 80], [4, 96]];

export function scalingFamily(vocabSize: number): GPTConfig[] {
  const blockSize = PRESETS.tiny.model.blockSize;
  return SHAPES.map(([nLayer, nEmbd]) => ({ vocabSize, blockSize, nLayer, nEmbd, nHead: Math.max(1, nEmbd / 16) }));
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
