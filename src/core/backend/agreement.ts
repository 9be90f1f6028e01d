/**
 * Do two backends compute the same training run? A few steps of one preset, from the same initial
 * weights and the same batches, on each backend; the per-step losses and gradient norms must agree.
 * Browser trainers have been reported to train on wrong numbers on some WebGPU engines, so a GPU
 * adapter earns trust once (per adapter and preset, remembered by the caller) before the lab trains
 * on it; WebAssembly is the reference.
 *
 * Why these tolerances: both backends compute in float32, in different orders (tiled matmuls,
 * fused kernels), so each step differs by rounding (around 1e-6 relative, growing slowly as the
 * weights drift apart). A wrong kernel shows first in the gradient norm: from the initial weights
 * the loss sits near log V whatever the activations, so a fault can move it by less than 1e-4 for
 * several steps while the gradient norm moves by percents at once (tests/agreement.test.ts plants
 * such a fault). The bounds sit two to three orders above rounding, so a correct GPU never fails.
 */
import * as tf from '@tensorflow/tfjs';
import type { PresetName } from '../model/config.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import type { Corpus } from '../train/data.ts';
import { LabSession } from '../train/session.ts';

/** One training step as the agreement check compares it. */
export interface StepTrace {
  loss: number;
  gradNorm: number;
}

export interface Tolerance {
  loss: number;
  gradNorm: number;
}

export const AGREEMENT_TOLERANCE: Readonly<Tolerance> = Object.freeze({ loss: 1e-3, gradNorm: 1e-2 });
/** Steps compared: enough for a wrong backward pass to show in the weights the next step sees. */
export const AGREEMENT_STEPS = 4;

export interface Agreement {
  agree: boolean;
  /** The largest relative difference of each quantity over the steps, and the step it was at. */
  worst: { loss: { step: number; relative: number }; gradNorm: { step: number; relative: number } };
  /** A sentence for the page: what was compared and what came out. */
  summary: string;
}

/** |a − b| / max(|a|, |b|, tiny); Infinity when either is not finite (a NaN never agrees). */
export function relativeDifference(a: number, b: number): number {
  if (!Number.isFinite(a) || !Number.isFinite(b)) return Infinity;
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-12);
}

/** Compares two traces step by step (a pure function: the rule, apart from any backend). */
export function compareTraces(reference: readonly StepTrace[], candidate: readonly StepTrace[], names: [string, string], tolerance: Tolerance = AGREEMENT_TOLERANCE): Agreement {
  if (reference.length === 0 || reference.length !== candidate.length) throw new Error(`agreement: the traces have ${reference.length} and ${candidate.length} steps`);
  const worst = { loss: { step: 0, relative: 0 }, gradNorm: { step: 0, relative: 0 } };
  reference.forEach((r, step) => {
    for (const key of ['loss', 'gradNorm'] as const) {
      const relative = relativeDifference(r[key], candidate[step][key]);
      if (!(relative <= worst[key].relative)) worst[key] = { step, relative };
    }
  });
  const agree = worst.loss.relative <= tolerance.loss && worst.gradNorm.relative <= tolerance.gradNorm;
  const pct = (v: number) => (Number.isFinite(v) ? v.toExponential(1) : 'not a number');
  const summary = `${names[1]} against ${names[0]} over ${reference.length} steps: loss within ${pct(worst.loss.relative)}, gradient norm within ${pct(worst.gradNorm.relative)} ` +
    (agree ? `(tolerance ${tolerance.loss} and ${tolerance.gradNorm}): they agree` : `(tolerance ${tolerance.loss} and ${tolerance.gradNorm}): they DISAGREE at step ${(worst.loss.relative > tolerance.loss ? worst.loss : worst.gradNorm).step + 1}`);
  return { agree, worst, summary };
}

/**
 * Trains `steps` steps of `preset` on the active backend from the run's seeded initial weights and
 * batches, and returns what each step computed. The same seed gives the same weights and batches on
 * every backend (both are drawn by the project's own generator, not by tfjs).
 */
export async function traceSteps(preset: PresetName, corpus: Corpus, tokenizer: TextTokenizer, steps = AGREEMENT_STEPS, seed = 1): Promise<StepTrace[]> {
  const session = LabSession.create({ preset, corpus, tokenizer, train: { steps: 1_000_000, evalInterval: 1_000_000, seed } });
  try {
    const trace: StepTrace[] = [];
    for (let i = 0; i < steps; i++) {
      const { result } = await session.step();
      trace.push({ loss: result.loss, gradNorm: result.gradNorm });
    }
    return trace;
  } finally {
    session.dispose();
  }
}

/**
 * Runs the same steps on the reference backend and on the candidate and compares them; `activate`
 * switches backends (tf.setBackend with the backend's own start-up). Leaves the candidate active.
 */
export async function checkAgreement(
  backends: { reference: string; candidate: string },
  activate: (backend: string) => Promise<void>,
  trace: () => Promise<StepTrace[]>,
  tolerance: Tolerance = AGREEMENT_TOLERANCE,
): Promise<Agreement> {
  await activate(backends.reference);
  const reference = await trace();
  await activate(backends.candidate);
  const candidate = await trace();
  if (tf.getBackend() !== backends.candidate) throw new Error(`agreement: ${backends.candidate} did not become the active backend`);
  return compareTraces(reference, candidate, [backends.reference, backends.candidate], tolerance);
}
