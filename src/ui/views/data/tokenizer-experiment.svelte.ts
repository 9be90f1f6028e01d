/**
 * The Data view's tokenizer experiment: the tales pretrained for the same seconds with characters
 * and with the BPE trained above, run in the worker (src/lab/tokenizer-experiment.ts); this class
 * holds both curves (bits per character against seconds) as they arrive, the final figures and
 * samples, progress, and Stop.
 */
import * as Comlink from 'comlink';
import { TOKENIZER_EXPERIMENT, type TokenizerArm } from '../../../core/data/tokenizer-plan.ts';
import type { TokenizerOutcome, TokenizerProgress } from '../../../lab/tokenizer-experiment.ts';
import type { Caller } from '../../caller.ts';

export interface TokenizerExperimentAt {
  arm: TokenizerArm;
  seconds: number;
  limit: number;
  step: number;
}

export class TokenizerExperimentState {
  readonly #call: Caller;
  seconds = $state(TOKENIZER_EXPERIMENT.seconds);
  seed = $state(1);
  #curves = $state.raw<Record<TokenizerArm, [number, number][]>>({ chars: [], bpe: [] });
  #at = $state.raw<TokenizerExperimentAt | null>(null);
  #outcome = $state.raw<TokenizerOutcome | null>(null);
  #running = $state(false);
  #error = $state<string | null>(null);

  constructor(call: Caller) {
    this.#call = call;
  }

  get curves(): Record<TokenizerArm, [number, number][]> { return this.#curves; }
  /** Where the run stands while it trains; null otherwise. */
  get at(): TokenizerExperimentAt | null { return this.#at; }
  get outcome(): TokenizerOutcome | null { return this.#outcome; }
  get running(): boolean { return this.#running; }
  get error(): string | null { return this.#error; }

  async start(): Promise<void> {
    const settings = { seconds: this.seconds, seed: this.seed };
    const progress = Comlink.proxy((p: TokenizerProgress) => {
      this.#curves = { ...this.#curves, [p.arm]: p.curve };
      this.#at = { arm: p.arm, seconds: p.seconds, limit: p.limit, step: p.step };
    });
    this.#error = null;
    this.#outcome = null;
    this.#curves = { chars: [], bpe: [] };
    this.#running = true;
    try {
      this.#outcome = await this.#call((api) => api.tokenizerExperiment(settings, progress), false);
    } catch (e) {
      this.#error = e instanceof Error ? e.message : String(e);
    } finally {
      this.#running = false;
      this.#at = null;
    }
  }

  stop(): Promise<void> {
    return this.#call((api) => api.stopTokenizerExperiment(), false);
  }
}
