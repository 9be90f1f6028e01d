/**
 * Every setting of a run in one place: the model's shape (GPTConfig, as nanoGPT's) and how it is
 * trained (TrainConfig). Presets are small override objects; a later stage inherits its parent
 * checkpoint's model config and says which training settings it overrides.
 */
import { evalIntervalFor, floorRate, warmupFor } from '../train/schedule.ts';

export interface GPTConfig {
  vocabSize: number;
  blockSize: number; // longest context the model sees; also the size of the position table
  nLayer: number;
  nHead: number;
  nEmbd: number; // C; must be a multiple of nHead
  /** Stability options beyond plain nanoGPT (the exported file says so when they are on). */
  qkLayerNorm?: boolean;
}

export type PresetName = 'micro' | 'tiny' | 'small' | 'medium';

export interface Preset {
  model: Omit<GPTConfig, 'vocabSize'>;
  batchSize: number;
  learningRate: number;
}

export const PRESETS: Record<PresetName, Preset> = {
  // For tests and browser checks: seconds, not minutes, even on software WebGPU.
  micro: { model: { blockSize: 16, nLayer: 2, nHead: 2, nEmbd: 32 }, batchSize: 4, learningRate: 3e-3 },
  // The CPU default: ~0.1 M parameters, trains visibly in a minute on 2 cores.
  tiny: { model: { blockSize: 64, nLayer: 2, nHead: 4, nEmbd: 64 }, batchSize: 16, learningRate: 3e-3 },
  // The WebGPU default.
  small: { model: { blockSize: 128, nLayer: 4, nHead: 4, nEmbd: 128 }, batchSize: 32, learningRate: 2e-3 },
  // For good GPUs.
  medium: { model: { blockSize: 256, nLayer: 6, nHead: 6, nEmbd: 192 }, batchSize: 32, learningRate: 1e-3 },
};

export function isPresetName(name: string): name is PresetName {
  return Object.prototype.hasOwnProperty.call(PRESETS, name);
}

export interface TrainConfig {
  batchSize: number;
  steps: number; // total steps of this stage's schedule
  learningRate: number; // peak
  minLearningRate: number; // floor of the decay (nanoGPT: peak / 10)
  warmupSteps: number;
  schedule: 'cosine' | 'wsd';
  decayFraction: number; // wsd: share of the steps spent decaying at the end
  /** Optional final annealing phase: the last `steps` steps fall linearly to `lr` (e.g. 0). */
  anneal?: { steps: number; lr: number };
  weightDecay: number; // AdamW, decoupled; only on matmul weights
  beta1: number;
  beta2: number; // 0.99 rather than 0.999: small models, small batches (nanoGPT's shakespeare-char)
  eps: number;
  gradClip: number; // global norm; 0 turns clipping off
  evalInterval: number; // steps between validation losses
  evalBatches: number; // batches averaged per validation loss
  seed: number;
  /** PaLM's z-loss coefficient (1e-4 in PaLM): adds zLoss·log²Z to the loss; 0 or absent is off. */
  zLoss?: number;
}

export function defaultTrainConfig(preset: PresetName, overrides: Partial<TrainConfig> = {}): TrainConfig {
  const p = PRESETS[preset];
  const steps = overrides.steps ?? 2000;
  const learningRate = overrides.learningRate ?? p.learningRate;
  return {
    batchSize: p.batchSize,
    steps,
    learningRate,
    minLearningRate: floorRate(learningRate),
    warmupSteps: warmupFor(steps),
    schedule: 'cosine',
    decayFraction: 0.2,
    weightDecay: 0.1,
    beta1: 0.9,
    beta2: 0.99,
    eps: 1e-8,
    gradClip: 1.0,
    evalInterval: evalIntervalFor(steps),
    evalBatches: 8,
    seed: 1,
    ...overrides,
  };
}

export function modelConfig(preset: PresetName, vocabSize: number, overrides: Partial<GPTConfig> = {}): GPTConfig {
  return { ...PRESETS[preset].model, vocabSize, ...overrides };
}

/** Throws a one-line message for a config no model can be built from. */
export function validateModelConfig(c: GPTConfig): void {
  const positive = ['vocabSize', 'blockSize', 'nLayer', 'nHead', 'nEmbd'] as const;
  for (const key of positive) {
    if (!Number.isInteger(c[key]) || c[key] <= 0) throw new Error(`model config: ${key} must be a positive integer, got ${c[key]}`);
  }
  if (c.nEmbd % c.nHead !== 0) throw new Error(`model config: nEmbd (${c.nEmbd}) must be a multiple of nHead (${c.nHead})`);
}

/** Parameters of the model, counting the tied LM head once (as nanoGPT's get_num_params with embeddings). */
export function countParameters(c: GPTConfig): number {
  const C = c.nEmbd;
  const perBlock = 2 * C /*ln_1*/ + 3 * C * C + 3 * C /*c_attn*/ + C * C + C /*attn.c_proj*/ + 2 * C /*ln_2*/ +
    4 * C * C + 4 * C /*c_fc*/ + 4 * C * C + C; /*mlp.c_proj*/
  return c.vocabSize * C + c.blockSize * C + c.nLayer * perBlock + 2 * C + (c.qkLayerNorm ? c.nLayer * 4 * (C / c.nHead) : 0);
}

/**
 * Training FLOPs per token, from the PaLM appendix / nanoGPT's estimate_mfu:
 * 6·N for the matmuls over the non-embedding-table parameters (forward 2N, backward 4N), plus
 * 12·L·T·C for attention scores and values (causal masking is not subtracted).
 */
export function flopsPerToken(c: GPTConfig, seqLen = c.blockSize): number {
  const nMatmul = countParameters(c) - c.blockSize * c.nEmbd; // the tied head is a real matmul; wpe is a lookup
  return 6 * nMatmul + 12 * c.nLayer * seqLen * c.nEmbd;
}
