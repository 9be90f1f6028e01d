/**
 * One training step, and the state a run carries between steps.
 *
 * The step reads top to bottom as nanoGPT's loop: learning rate → forward and backward → global
 * gradient norm → (the caller may decide to skip) → clip → AdamW update. Loss and gradient norm are
 * read to the CPU every step, before the update: the spike detector needs them to decide whether
 * the update may be applied at all. On wasm and cpu the read is free; on WebGPU it is one sync per
 * step, small beside the step itself.
 */
import * as tf from '@tensorflow/tfjs';
import type { TrainConfig } from '../model/config.ts';
import { AdamW } from './adamw.ts';
import { type Batch, type Corpus, sampleBatch } from './data.ts';
import { GPT, parameterName } from '../model/model.ts';
import { maskedCrossEntropy } from '../model/ops.ts';
import { Random } from '../random.ts';
import { learningRate, type ScheduleConfig } from './schedule.ts';

/** A batch of token windows with an optional loss mask (1 where a token counts; SFT uses it). */
export interface TrainBatch extends Batch {
  mask?: Float32Array;
}

export interface StepResult {
  step: number; // the step number this result belongs to (0-based)
  loss: number;
  gradNorm: number; // global L2 norm before clipping
  lr: number;
  tokensPerSec: number;
  applied: boolean; // false when the update was skipped
}

/** What the caller may decide once the loss and gradient norm of a step are known. */
export type StepDecision = 'apply' | 'skip';

export function scheduleOf(c: TrainConfig): ScheduleConfig {
  return {
    kind: c.schedule,
    maxLr: c.learningRate,
    minLr: c.minLearningRate,
    warmupSteps: c.warmupSteps,
    totalSteps: c.steps,
    decayFraction: c.decayFraction,
    anneal: c.anneal,
  };
}

/** Reorders a [B, T] row-major array to [T, B], the model's time-major row order. */
export function toTimeMajor<A extends Int32Array | Float32Array>(values: A, B: number, T: number): A {
  const out = new (values.constructor as { new (n: number): A })(values.length);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) out[t * B + b] = values[b * T + t];
  return out;
}

/**
 * Mean masked cross-entropy of a batch: the pretraining and SFT objective. With `zLoss` > 0 the
 * PaLM z-loss is added (Chowdhery et al. 2022, §5): zLoss · mean over counted tokens of log²Z,
 * Z = Σ_v exp(logit_v) the softmax normaliser, which keeps log Z near 0 and the logits from
 * drifting to sizes where float32 softmax loses precision. PaLM uses zLoss = 1e-4.
 */
export function batchLoss(model: GPT, batch: TrainBatch, zLoss = 0): tf.Scalar {
  const { batchSize: B, seqLen: T } = batch;
  return tf.tidy((): tf.Scalar => {
    const x = tf.tensor2d(toTimeMajor(batch.x, B, T), [T, B], 'int32');
    const y = tf.tensor1d(toTimeMajor(batch.y, B, T), 'int32');
    const mask = (batch.mask ? tf.tensor1d(toTimeMajor(batch.mask, B, T)) : tf.ones([B * T])) as tf.Tensor1D;
    const logits = model.forwardTimeMajor(x); // [N, V]
    const ce = maskedCrossEntropy(logits, y, mask);
    if (zLoss === 0) return ce;
    return tf.add(ce, tf.mul(zLoss, zLossTerm(logits, mask))) as tf.Scalar;
  });
}

/** mean over counted rows of (log Σ_v exp(logits[n, v]))², logits: [N, V], mask: [N]; 0 for an empty mask. */
export function zLossTerm(logits: tf.Tensor2D, mask: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const logZ = tf.logSumExp(logits, 1); // [N]
    return tf.div(tf.sum(tf.mul(tf.square(logZ), mask)), tf.maximum(tf.sum(mask), 1)) as tf.Scalar;
  });
}

export class Trainer {
  /** Steps taken so far, applied or skipped; the next step is number `step`. */
  step = 0;
  /** The data sampler's generator; its state is the data position saved in checkpoints. */
  readonly rng: Random;
  /** Multiplies the scheduled learning rate (the `lower-lr` recovery, or a spike for a lesson). */
  lrScale = 1;
  readonly optimizer: AdamW;

  constructor(
    readonly model: GPT,
    readonly config: TrainConfig,
    readonly corpus: Corpus,
    optimizer?: AdamW,
  ) {
    this.optimizer = optimizer ?? new AdamW(model.params, config);
    this.rng = new Random(config.seed);
  }

  get tokensPerBatch(): number {
    return this.config.batchSize * this.model.config.blockSize;
  }

  learningRate(step = this.step): number {
    return learningRate(step, scheduleOf(this.config)) * this.lrScale;
  }

  nextBatch(): TrainBatch {
    return sampleBatch(this.corpus.train, this.config.batchSize, this.model.config.blockSize, this.rng);
  }

  /**
   * Trains on one batch (by default the next one from the corpus). `decide` sees the loss and
   * gradient norm before the update and may skip it; a non-finite loss or norm is never applied.
   * `lossFn` replaces the cross-entropy objective (DPO brings its own).
   */
  async trainStep(opts: {
    batch?: TrainBatch;
    decide?: (loss: number, gradNorm: number) => StepDecision;
    lossFn?: () => tf.Scalar;
    lrMultiplier?: number;
  } = {}): Promise<StepResult> {
    const started = performance.now();
    const batch = opts.lossFn ? undefined : (opts.batch ?? this.nextBatch());
    const lossFn = opts.lossFn ?? (() => batchLoss(this.model, batch!, this.config.zLoss ?? 0));

    const { value: lossT, grads: byVariable } = tf.variableGrads(lossFn, [...this.model.params.values()]);
    const grads: Record<string, tf.Tensor> = {};
    for (const [variableName, g] of Object.entries(byVariable)) grads[parameterName({ name: variableName } as tf.Variable)] = g;
    const flatGrad = this.optimizer.flatten(grads);
    tf.dispose(Object.values(grads));
    const normT = tf.tidy(() => tf.sqrt(tf.sum(tf.square(flatGrad))));
    const both = tf.stack([lossT, normT]);
    const [loss, gradNorm] = (await both.data()) as Float32Array;
    both.dispose();

    const finite = Number.isFinite(loss) && Number.isFinite(gradNorm);
    const applied = finite && (opts.decide ? opts.decide(loss, gradNorm) : 'apply') === 'apply';
    // Read after `decide`, which may change lrScale (the `lower-lr` recovery cuts this very step).
    const lr = this.learningRate() * (opts.lrMultiplier ?? 1);
    if (applied) {
      const clip = this.config.gradClip;
      this.optimizer.apply(flatGrad, lr, clip > 0 && gradNorm > clip ? clip / (gradNorm + 1e-6) : 1);
    }
    tf.dispose([lossT, normT, flatGrad]);
    const stepNumber = this.step;
    this.step += 1;
    const seconds = (performance.now() - started) / 1000;
    const tokens = batch ? batch.x.length : this.tokensPerBatch;
    return { step: stepNumber, loss, gradNorm, lr, tokensPerSec: tokens / seconds, applied };
  }

  /**
   * Mean loss over a fixed set of validation windows. The windows come from a generator seeded
   * with the run's seed, so every evaluation (and every run with that seed) sees the same text
   * and the curve moves only because the model does.
   */
  async evaluate(batches = this.config.evalBatches): Promise<number> {
    return evaluateLoss(this.model, this.corpus.val, this.config.batchSize, batches, this.config.seed);
  }
}

export async function evaluateLoss(model: GPT, tokens: Int32Array, batchSize: number, batches: number, seed: number): Promise<number> {
  const rng = new Random(seed ^ 0x5eed);
  let total = 0;
  for (let i = 0; i < batches; i++) {
    const batch = sampleBatch(tokens, batchSize, model.config.blockSize, rng);
    const loss = batchLoss(model, batch);
    total += (await loss.data())[0];
    loss.dispose();
  }
  return total / batches;
}
