/**
 * The tokenizer experiment in the worker (src/core/data/tokenizer-experiment.ts): the tales
 * pretrained for the same seconds with the lab's characters, then with the BPE the Data view
 * trained, stepped by the Data view's experiment loop (experiment-arms.ts: a training run paused
 * first, the tensor lock, the helper workers, Stop). Validation points, in bits per character
 * against seconds of training, go to the page as they come.
 */
import bundledVocabulary from '../../corpora/vocab.json';
import {
  finishTokenizerArm, TOKENIZER_ARMS, TOKENIZER_EXPERIMENT, tokenizerArmSession, type TokenizerArm, type TokenizerArmResult,
  type TokenizerExperimentSettings, TrainingClock,
} from '../core/data/tokenizer-experiment.ts';
import { checkExperimentSeconds } from '../core/data/tokenizer-plan.ts';
import { checkVocabForPreset } from '../core/data/tokenizers.ts';
import { CharTokenizer, type CharTokenizerJSON, type TextTokenizer } from '../core/model/tokenizer.ts';
import type { ExperimentArms } from './experiment-arms.ts';

/** What the page hears while the experiment runs: the arm training, its time and step, its curve so far. */
export interface TokenizerProgress {
  arm: TokenizerArm;
  seconds: number;
  limit: number;
  step: number;
  /** [seconds of training, bits per character]. */
  curve: [number, number][];
  /** An arm that finished: its final figures and sample. */
  done?: TokenizerArmResult;
}

export interface TokenizerOutcome {
  /** The arms that finished, characters first. */
  arms: TokenizerArmResult[];
  stopped: boolean;
  /** Wall time of the whole experiment: the arms' training, their validations, samples and tokenizing. */
  seconds: number;
}

/** Milliseconds between progress messages besides the validation points. */
const PROGRESS_EVERY = 500;

export class TokenizerExperiment {
  readonly #arms: ExperimentArms;
  readonly #bpe: () => TextTokenizer | null;
  readonly #tales: () => Promise<{ train: string; val: string }>;

  /** `bpe`: the tokenizer the Data view trained, null before one is. */
  constructor(arms: ExperimentArms, bpe: () => TextTokenizer | null, tales: () => Promise<{ train: string; val: string }>) {
    this.#arms = arms;
    this.#bpe = bpe;
    this.#tales = tales;
  }

  /** Runs both arms, characters then BPE; `onProgress` hears each arm's time, step and curve. */
  async run(settings: TokenizerExperimentSettings, onProgress?: (p: TokenizerProgress) => unknown): Promise<TokenizerOutcome> {
    if (this.#arms.running) throw new Error('An experiment is already running: stop it first.');
    const limit = checkExperimentSeconds(settings.seconds ?? TOKENIZER_EXPERIMENT.seconds);
    const bpe = this.#bpe();
    if (!bpe) throw new Error('Train a tokenizer first: the experiment compares it with characters.');
    const preset = settings.preset ?? TOKENIZER_EXPERIMENT.preset;
    try {
      checkVocabForPreset(bpe, preset);
    } catch (e) {
      throw new Error(`This tokenizer does not fit the experiment's ${preset} model: ${e instanceof Error ? e.message : String(e)}`);
    }
    const tokenizers: Record<TokenizerArm, TextTokenizer> = { chars: CharTokenizer.fromJSON(bundledVocabulary as CharTokenizerJSON), bpe };
    const tales = await this.#tales();
    return this.#arms.run(async () => {
      const started = performance.now();
      const arms: TokenizerArmResult[] = [];
      for (const arm of TOKENIZER_ARMS) {
        if (this.#arms.stopped) break;
        const session = tokenizerArmSession(tokenizers[arm], tales, settings);
        const clock = new TrainingClock(limit);
        const curve: [number, number][] = [];
        const at = () => ({ arm, seconds: clock.seconds, limit, step: session.stepsTaken });
        let sent = 0;
        const done = await this.#arms.arm(session, {
          enough: (s) => clock.spent || s.done,
          afterStep: async ({ valLoss, ms }) => {
            const due = clock.add(ms);
            // The session evaluates by itself only at its step cap; otherwise the clock says when.
            const loss = valLoss ?? (due ? await this.#arms.withTensors(() => session.evaluate()) : undefined);
            if (loss !== undefined) curve.push([clock.seconds, session.bitsPerChar(loss)]);
            const now = performance.now();
            if (loss === undefined && now - sent <= PROGRESS_EVERY) return;
            sent = now;
            void onProgress?.({ ...at(), curve: [...curve] });
          },
          finish: (s) => finishTokenizerArm(arm, s, clock, curve),
        });
        if (!done) break;
        arms.push(done);
        void onProgress?.({ ...at(), curve: done.curve, done });
      }
      return { arms, stopped: arms.length < TOKENIZER_ARMS.length, seconds: (performance.now() - started) / 1000 };
    });
  }
}
