/**
 * The tokenizer experiment: characters or tokens at equal time. The same preset pretrains on the
 * tales twice, for the same seconds of training each: once with the lab's character vocabulary,
 * once with a byte-level BPE. A BPE step costs more (a wider embedding and head), so the BPE run
 * takes fewer steps, but each of its tokens carries several characters.
 *
 * Per-token losses of the two cannot be compared: predicting a token of three characters is a
 * harder guess than predicting one character, so the BPE run's loss in nats per token is larger
 * for the same model quality. Both are reported in bits per character of the same held-out tales
 * (nats per token × the run's own tokens per character ÷ ln 2, train/data.ts), which counts the
 * same thing for both: the bits the model needs to write the held-out text.
 *
 * The worker (src/lab/tokenizer-experiment.ts) steps the arms; this file builds each arm's
 * session, keeps its clock and finishes it.
 */
import { pretrainRecipe } from '../lesson/recipes.ts';
import type { PresetName } from '../model/config.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import { corpusFor } from '../train/data.ts';
import { LabSession } from '../train/session.ts';
import { armFigures } from './arm-figures.ts';
import { TOKENIZER_ARMS, TOKENIZER_EXPERIMENT, type TokenizerArm } from './tokenizer-plan.ts';
import { describeTokenizer } from './tokenizers.ts';

export { TOKENIZER_ARMS, TOKENIZER_EXPERIMENT, type TokenizerArm };

export interface TokenizerExperimentSettings {
  /** Seconds of training each arm gets (TOKENIZER_EXPERIMENT.seconds when absent). */
  seconds?: number;
  seed?: number;
  preset?: PresetName;
  /** Ends an arm after this many steps even before its time (tests). */
  maxSteps?: number;
}

/** One arm's pretraining session on the tales through `tokenizer`, validated on the held-out tales. */
export function tokenizerArmSession(tokenizer: TextTokenizer, tales: { train: string; val: string }, settings: TokenizerExperimentSettings = {}): LabSession {
  const steps = settings.maxSteps ?? TOKENIZER_EXPERIMENT.maxSteps;
  const { preset, train, model } = pretrainRecipe({
    preset: settings.preset ?? TOKENIZER_EXPERIMENT.preset,
    steps,
    seed: settings.seed ?? 1,
    // The arm's clock places the validations (TrainingClock); the session evaluates only at its step cap.
    evalInterval: steps,
    schedule: 'wsd',
    warmupSteps: Math.min(TOKENIZER_EXPERIMENT.warmupSteps, steps),
  });
  const corpus = corpusFor('tales', tales.train, tales.val, tokenizer);
  const session = LabSession.create({ preset, corpus, tokenizer, train, model });
  session.extra = { data: { corpus: 'tales', tokenizer: describeTokenizer(tokenizer), validation: 'tales' } };
  return session;
}

/**
 * An arm's training time, the sum of its steps' durations (validations and samples left out, so
 * both arms get the same seconds of learning), and when its next validation point is due: every
 * `limit / evaluations` seconds.
 */
export class TrainingClock {
  readonly limit: number;
  readonly #every: number;
  #seconds = 0;
  #next: number;

  constructor(limitSeconds: number, evaluations: number = TOKENIZER_EXPERIMENT.evaluations) {
    this.limit = limitSeconds;
    this.#every = limitSeconds / Math.max(1, evaluations);
    this.#next = this.#every;
  }

  get seconds(): number {
    return this.#seconds;
  }

  /** Whether the arm has had its time. */
  get spent(): boolean {
    return this.#seconds >= this.limit;
  }

  /** Counts a step that took `ms` milliseconds; answers whether a validation point is now due. */
  add(ms: number): boolean {
    this.#seconds += ms / 1000;
    if (this.#seconds < this.#next && !this.spent) return false;
    // A step longer than the interval passes several marks: one point for all of them.
    while (this.#next <= this.#seconds) this.#next += this.#every;
    return true;
  }
}

export interface TokenizerArmResult {
  arm: TokenizerArm;
  /** "characters, 69 tokens" / "byte-level BPE, 512 tokens". */
  tokenizer: string;
  vocabSize: number;
  steps: number;
  /** Seconds of training it had. */
  seconds: number;
  /** Characters of the held-out tales per token of this arm's tokenizer. */
  charsPerToken: number;
  /** On TOKENIZER_EXPERIMENT.finalEvalBatches windows of the held-out tales, in nats per token. */
  finalValLoss: number;
  /** The same in bits per character: comparable across the two arms. */
  bitsPerChar: number;
  /** The validation points: [seconds of training, bits per character]. */
  curve: [number, number][];
  samples: string[];
}

/** An arm's result once it has had its time. */
export async function finishTokenizerArm(arm: TokenizerArm, session: LabSession, clock: TrainingClock, curve: [number, number][]): Promise<TokenizerArmResult> {
  const { val, valChars } = session.trainer.corpus;
  const charsPerToken = (valChars ?? val.length) / val.length;
  const { finalEvalBatches: evalBatches, samples, sampleChars, temperature } = TOKENIZER_EXPERIMENT;
  const figures = await armFigures(session, { evalBatches, samples, maxTokens: Math.ceil(sampleChars / charsPerToken), temperature });
  return {
    arm,
    tokenizer: describeTokenizer(session.tokenizer),
    vocabSize: session.tokenizer.vocabSize,
    steps: session.stepsTaken,
    seconds: clock.seconds,
    charsPerToken,
    finalValLoss: figures.finalValLoss,
    bitsPerChar: session.bitsPerChar(figures.finalValLoss),
    curve,
    samples: figures.samples,
  };
}
