/**
 * The Data view's tokenizer experiment: the tales pretrained for the same seconds with characters
 * and with the BPE trained above, run in the worker (src/lab/tokenizer-experiment.ts); ArmsRun holds
 * both curves (bits per character against seconds) as they arrive, the final figures and samples,
 * and progress; this class adds the settings and Stop.
 */
import { TOKENIZER_EXPERIMENT, type TokenizerArm } from '../../../core/data/tokenizer-plan.ts';
import type { TokenizerOutcome, TokenizerProgress } from '../../../lab/tokenizer-experiment.ts';
import type { Caller } from '../../caller.ts';
import { ArmsRun } from './arms-run.svelte.ts';

export interface TokenizerExperimentAt {
  arm: TokenizerArm;
  seconds: number;
  limit: number;
  step: number;
}

export class TokenizerExperimentState extends ArmsRun<TokenizerArm, TokenizerExperimentAt, TokenizerOutcome> {
  readonly #call: Caller;
  seconds = $state(TOKENIZER_EXPERIMENT.seconds);
  seed = $state(1);

  constructor(call: Caller) {
    super(() => ({ chars: [], bpe: [] }));
    this.#call = call;
  }

  async start(): Promise<void> {
    const settings = { seconds: this.seconds, seed: this.seed };
    await this.run(
      (p: TokenizerProgress) => ({ arm: p.arm, seconds: p.seconds, limit: p.limit, step: p.step }),
      (progress) => this.#call((api) => api.tokenizerExperiment(settings, progress), false),
    );
  }

  stop(): Promise<void> {
    return this.#call((api) => api.stopTokenizerExperiment(), false);
  }
}
