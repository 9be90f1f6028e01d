/**
 * The anneal experiment on the worker's side (core/scaling/anneal.ts): its three arms trained one
 * after another on the bundled stories, progress to the page through one callback, the result as
 * plain data (each arm's curve, final loss and decay) for the Scaling view's chart.
 */
import bundledVocabulary from '../../corpora/vocab.json';
import { CharTokenizer, type CharTokenizerJSON } from '../core/model/tokenizer.ts';
import { ANNEAL_DEFAULTS, type AnnealArm, type AnnealResult, planAnneal, runAnneal } from '../core/scaling/anneal.ts';
import type { Corpora, StoredSettings } from './runs.ts';

export interface AnnealRequest {
  steps: number;
  seed: number;
}

export interface AnnealProgress {
  arm: AnnealArm['name'];
  /** Steps taken over all arms, of the experiment's total (two runs and one short decay). */
  done: number;
  total: number;
}

export class AnnealLab {
  readonly #corpora: Corpora;
  #running = false;

  constructor(corpora: Corpora) {
    this.#corpora = corpora;
  }

  async run(request: AnnealRequest, onProgress: (p: AnnealProgress) => unknown): Promise<AnnealResult> {
    if (this.#running) throw new Error('the anneal experiment is already running');
    const settings = { ...ANNEAL_DEFAULTS, steps: request.steps, seed: request.seed };
    const plan = planAnneal(settings);
    const total = 2 * plan.steps + plan.decaySteps;
    const tokenizer = CharTokenizer.fromJSON(bundledVocabulary as CharTokenizerJSON);
    const { corpus } = await this.#corpora.of({ corpus: 'tales' } as StoredSettings, tokenizer);
    let done = 0;
    let last = 0;
    this.#running = true;
    try {
      return await runAnneal(settings, corpus, tokenizer, {
        onStep: (arm) => {
          done += 1;
          if (Date.now() - last > 250 || done === total) {
            last = Date.now();
            onProgress({ arm, done, total });
          }
        },
      });
    } finally {
      this.#running = false;
    }
  }
}
