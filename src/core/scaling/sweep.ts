/**
 * An IsoFLOP sweep (Chinchilla's approach 2) as a queue of ordinary pretraining runs:
 *
 *   1) plan      budgets × sizes → points: for each budget a window of consecutive shapes of the
 *                family around its expected optimum (family.ts), each with the whole steps of
 *                batch × context tokens the budget buys it (D = C / flopsPerToken ≈ C / 6N)
 *   2) run       each point is a LabSession on the stories with the sweep's fixed settings; its
 *                checkpoint carries the point (`extra.scaling`), so a sweep resumes by skipping
 *                the points whose files exist and a class can fit points trained on many machines
 *   3) summarize the points (points.ts) → isoFlopFit (fit.ts), counting parameters with or without
 *                the embedding tables
 *
 * The command line and the worker both drive step 2 (they own the threads and the storage).
 */
import type { GPTConfig, TrainConfig } from '../model/config.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import type { Corpus } from '../train/data.ts';
import { LabSession } from '../train/session.ts';
import { parameterCounts, scalingFamily, tokensFor, windowFor } from './family.ts';
import type { SweepResult } from './points.ts';
import { SWEEP_DEFAULTS } from './sweep-defaults.ts';

export { SWEEP_DEFAULTS } from './sweep-defaults.ts';

export interface SweepSettings {
  budgets: readonly number[];
  /** How many consecutive shapes of the family each budget trains (family.ts's windowFor). */
  sizes: number;
  batchSize: number;
  learningRate: number;
}

/** One run to make: a budget and a shape, and what the budget buys it. */
export interface PlannedPoint {
  budget: number;
  model: GPTConfig;
  params: number;
  nonEmbeddingParams: number;
  steps: number;
  tokens: number;
}


/** Checks what a student or a flag gave; throws a message they can act on. */
export function checkSweepSettings(s: SweepSettings, familySize: number): void {
  if (s.budgets.length < 1 || s.budgets.length > 3) throw new Error(`choose one to three budgets, got ${s.budgets.length}`);
  for (const b of s.budgets) if (!(b >= 1e8 && b <= 1e15)) throw new Error(`a budget must be between 1e8 and 1e15 FLOPs, got ${b}`);
  if (new Set(s.budgets).size !== s.budgets.length) throw new Error('the budgets must differ');
  if (!Number.isInteger(s.sizes) || s.sizes < 3 || s.sizes > familySize) throw new Error(`the number of sizes must be a whole number from 3 to ${familySize}, got ${s.sizes}`);
  if (!(s.learningRate > 0)) throw new Error(`the learning rate must be above 0, got ${s.learningRate}`);
  if (!Number.isInteger(s.batchSize) || s.batchSize < 1) throw new Error(`the batch size must be a whole number of at least 1, got ${s.batchSize}`);
}

/** Step 1: every (budget, size) point, smallest budget first, and within a budget smallest model first. */
export function planSweep(s: SweepSettings, vocabSize: number): PlannedPoint[] {
  const family = scalingFamily(vocabSize);
  checkSweepSettings(s, family.length);
  return [...s.budgets].sort((a, b) => a - b).flatMap((budget) =>
    windowFor(budget, family, s.sizes).map((i) => family[i]).map((model) => ({ budget, model, ...parameterCounts(model), ...tokensFor(budget, model, s.batchSize) })),
  );
}

/** A name for the point's checkpoint file, unique within a sweep of one seed. */
export function pointFileName(p: Pick<PlannedPoint, 'budget' | 'model'>, seed: number): string {
  return `scaling-${p.budget.toExponential(1).replace('+', '')}-L${p.model.nLayer}-C${p.model.nEmbd}-seed${seed}.safetensors`;
}

/** The training settings of one point: the sweep's rate and batch, the recipe's schedule rules, one evaluation at the end. */
export function pointTrainConfig(p: PlannedPoint, s: Pick<SweepSettings, 'batchSize' | 'learningRate'>, seed: number): Partial<TrainConfig> {
  return { steps: p.steps, batchSize: s.batchSize, learningRate: s.learningRate, minLearningRate: s.learningRate / 10, evalInterval: p.steps, seed };
}

/** Step 2a: the point as an ordinary pretraining run on the stories (the caller may add helper threads). */
export function pointSession(p: PlannedPoint, s: SweepSettings, seed: number, corpus: Corpus, tokenizer: TextTokenizer): LabSession {
  const { vocabSize: _, ...model } = p.model;
  void _;
  return LabSession.create({ preset: 'tiny', corpus, tokenizer, model, train: pointTrainConfig(p, s, seed) });
}

/**
 * Step 2b: trains the session to its end, measures the final loss on more validation windows
 * than training's evaluations do, and writes the result into the session's `extra.scaling` so
 * its checkpoint can stand for the point. `onStep` is told the steps taken (a progress bar).
 */
export async function trainPoint(session: LabSession, p: PlannedPoint, opts: { onStep?: (step: number) => void; finalEvalBatches?: number } = {}): Promise<SweepResult> {
  const started = Date.now();
  while (!session.done) {
    await session.step();
    opts.onStep?.(session.stepsTaken);
  }
  const valLoss = await session.trainer.evaluate(opts.finalEvalBatches ?? SWEEP_DEFAULTS.finalEvalBatches);
  const result: SweepResult = {
    budget: p.budget, params: p.params, nonEmbeddingParams: p.nonEmbeddingParams, tokens: session.stepsTaken * session.trainer.config.batchSize * p.model.blockSize,
    steps: session.stepsTaken, valLoss, seconds: (Date.now() - started) / 1000, seed: session.trainer.config.seed,
  };
  session.extra.scaling = result;
  return result;
}

