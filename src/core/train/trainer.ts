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
import { type Corpus, sampleBatch } from './data.ts';
import { GPT, parameterName } from '../model/model.ts';
import { batchLoss, type Objective, objectiveLoss, type TrainBatch } from './objective.ts';
import { type GradientHelper, parallelGradient, sliceCount } from './parallel.ts';
import { Random } from '../random.ts';
import { learningRate, type ScheduleConfig } from './schedule.ts';

export interface StepResult {
  step: number; // the step number this result belongs to (0-based)
  loss: number;
  gradNorm: number; // global L2 norm before clipping
  lr: number;
  tokensPerSec: number;
  applied: boolean; // false when the update was skipped
  maskedAccuracy?: number; // share of the scored tokens predicted exactly, for a batch with an accuracy mask
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

export class Trainer {
  /** Steps taken so far, applied or skipped; the next step is number `step`. */
  step = 0;
  /** The data sampler's generator; its state is the data position saved in checkpoints. */
  readonly rng: Random;
  /** Multiplies the scheduled learning rate (the `lower-lr` recovery, or a spike for a lesson). */
  lrScale = 1;
  readonly optimizer: AdamW;
  /** Other threads that compute a share of each batch's gradient (none: this thread does it all). */
  helpers: GradientHelper[] = [];
  /** Threads that computed the latest step's gradient, this one included. */
  lastStepThreads = 1;
  /** Told why, when a helper fails: the trainer then drops its helpers and goes on alone. */
  onHelpersLost?: (reason: string) => void;

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
   * `objective` is what the batch is differentiated for: by default the language-modelling
   * objective, with `zLoss` in place of the config's z-loss coefficient when given; RL passes the
   * policy objective (objective.ts). `lossFn` replaces both (DPO brings its own). A batch's gradient
   * is shared with the `helpers` when there are any (data parallelism, parallel.ts); a `lossFn`'s
   * never is.
   */
  async trainStep(opts: {
    batch?: TrainBatch;
    objective?: Objective;
    decide?: (loss: number, gradNorm: number) => StepDecision;
    lossFn?: () => tf.Scalar;
    lrMultiplier?: number;
    zLoss?: number;
  } = {}): Promise<StepResult> {
    const started = performance.now();
    const batch = opts.lossFn ? undefined : (opts.batch ?? this.nextBatch());
    const objective = opts.objective ?? { kind: 'lm', zLoss: opts.zLoss ?? this.config.zLoss ?? 0 };
    const { lossT, flatGrad, accuracy } = await this.gradient(opts.lossFn ?? { batch: batch!, objective });
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
    return { step: stepNumber, loss, gradNorm, lr, tokensPerSec: tokens / seconds, applied, ...(accuracy !== undefined ? { maskedAccuracy: accuracy } : {}) };
  }

  /**
   * Runs `work` with the helpers, and again on this thread alone if a helper fails: a helper that
   * died (a crashed thread, a worker out of memory) costs speed, not the run. That step, and every
   * later one, is computed here alone. `rows` and `seqLen` size the work: it goes to as many
   * helpers as pay (sliceCount).
   */
  async shared<T>(rows: number, seqLen: number, work: (helpers: readonly GradientHelper[]) => Promise<T>): Promise<T> {
    const helpers = this.helpers.slice(0, sliceCount(rows, seqLen, this.helpers.length) - 1);
    if (helpers.length > 0) {
      try {
        return await work(helpers);
      } catch (e) {
        this.helpers = [];
        this.onHelpersLost?.(e instanceof Error ? e.message : String(e));
      }
    }
    return work([]);
  }

  /** The loss and the flat gradient (optimizer order) of a loss function or of a batch's objective. */
  private async gradient(of: (() => tf.Scalar) | { batch: TrainBatch; objective: Objective }): Promise<{ lossT: tf.Scalar; flatGrad: tf.Tensor1D; accuracy?: number }> {
    if (typeof of !== 'function') {
      const { batch, objective } = of;
      const split = await this.shared(batch.batchSize, batch.seqLen, async (helpers) =>
        helpers.length === 0 ? null : { threads: helpers.length + 1, ...(await parallelGradient(this.model, this.optimizer.names, helpers, batch, objective)) });
      if (split) {
        this.lastStepThreads = split.threads;
        return { lossT: tf.scalar(split.loss), flatGrad: tf.tensor1d(split.grad), accuracy: batch.accuracyMask ? split.accuracy : undefined };
      }
    }
    // Alone, the gradient stays where the backend keeps it (on a GPU, on the GPU).
    this.lastStepThreads = 1;
    let hits: tf.Scalar | undefined;
    const lossFn = typeof of === 'function' ? of : () => {
      const out = objectiveLoss(this.model, of.batch, of.objective);
      if (out.hits) hits = tf.keep(out.hits);
      return out.loss;
    };
    const { value: lossT, grads: byVariable } = tf.variableGrads(lossFn, [...this.model.params.values()]);
    const grads: Record<string, tf.Tensor> = {};
    for (const [variableName, g] of Object.entries(byVariable)) grads[parameterName({ name: variableName } as tf.Variable)] = g;
    const flatGrad = this.optimizer.flatten(grads);
    tf.dispose(Object.values(grads));
    if (!hits || typeof of === 'function' || !of.batch.accuracyMask) return { lossT, flatGrad };
    const scored = of.batch.accuracyMask.reduce((a, v) => a + v, 0);
    const hitCount = (await hits.data())[0];
    hits.dispose();
    return { lossT, flatGrad, accuracy: scored > 0 ? hitCount / scored : 0 };
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
