/**
 * The tokenizer experiment's settings (tokenizer-experiment.ts runs it), in a file without tfjs so
 * the page can show them: the lesson's preset pretrained on the tales for the same seconds with
 * each tokenizer, short enough that both fit a class's minute.
 */
import type { PresetName } from '../model/config.ts';

export const TOKENIZER_EXPERIMENT = Object.freeze({
  preset: 'tiny' as PresetName,
  /** Seconds of training each arm gets (its validations and samples not counted). */
  seconds: 30,
  minSeconds: 1,
  maxSeconds: 600,
  /** A step cap no arm reaches in its time; tests set a small one. */
  maxSteps: 100_000,
  /**
   * Warm-up steps, then the peak rate held (WSD's stable stretch): a time-limited run does not
   * know its steps in advance, so no decay could be placed. Short, since BPE gets fewer steps.
   */
  warmupSteps: 20,
  /** Validation points along each arm, evenly spaced in training seconds. */
  evaluations: 10,
  /** Windows of the held-out tales the final figures average (the curation experiment's). */
  finalEvalBatches: 32,
  samples: 1,
  /** Characters a sample runs to, about: each arm samples this many characters' worth of its tokens. */
  sampleChars: 200,
  temperature: 0.8,
});

/** The character vocabulary's run, then the BPE's. */
export type TokenizerArm = 'chars' | 'bpe';
export const TOKENIZER_ARMS: readonly TokenizerArm[] = ['chars', 'bpe'];

/** A seconds setting a student typed, checked: a message that names the bounds otherwise. */
export function checkExperimentSeconds(seconds: number): number {
  const { minSeconds, maxSeconds } = TOKENIZER_EXPERIMENT;
  if (!Number.isFinite(seconds) || seconds < minSeconds || seconds > maxSeconds) {
    throw new Error(`The seconds each run trains must be between ${minSeconds} and ${maxSeconds}, got ${Number.isFinite(seconds) ? seconds : 'nothing'}.`);
  }
  return seconds;
}
