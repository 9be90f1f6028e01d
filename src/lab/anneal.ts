/**
 * The anneal experiment on the worker's side (core/scaling/anneal.ts): its three arms trained one
 * after another on the bundled stories, and when asked the clean-data arm on the crawl
 * (core/scaling/anneal-clean.ts); progress to the page through one callback, the result as plain
 * data (each arm's curve, final loss and decay) for the Scaling view's chart.
 */
import bundledVocabulary from '../../corpora/vocab.json';
import { CharTokenizer, type CharTokenizerJSON } from '../core/model/tokenizer.ts';
import { ANNEAL_DEFAULTS, type AnnealArm, type AnnealResult, planAnneal, runAnneal } from '../core/scaling/anneal.ts';
import { type CleanArmPart, cleanArmSteps, runCleanDecays } from '../core/scaling/anneal-clean.ts';
import type { Corpora, StoredSettings } from './runs.ts';

export interface AnnealRequest {
  steps: number;
  seed: number;
  /** Adds the clean-data arm (a third stable run on the raw crawl and two decays): opt-in, it costs half as many steps again. */
  cleanArm?: boolean;
}

export interface AnnealProgress {
  arm: AnnealArm['name'] | CleanArmPart;
  /** Steps taken over all arms, of the experiment's total (two runs and one short decay, and the clean-data arm's). */
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
    const total = 2 * plan.steps + plan.decaySteps + (request.cleanArm ? cleanArmSteps(settings) : 0);
    const tokenizer = CharTokenizer.fromJSON(bundledVocabulary as CharTokenizerJSON);
    const { corpus } = await this.#corpora.of({ corpus: 'tales' } as StoredSettings, tokenizer);
    // Loaded before any training, so a missing crawl fails at once: the raw crawl is the mixture, the filtered one the cleanest data.
    const crawl = request.cleanArm
      ? { mixture: (await this.#corpora.of({ corpus: 'crawl', filters: 'none' } as StoredSettings, tokenizer)).corpus, clean: (await this.#corpora.of({ corpus: 'crawl', filters: 'default' } as StoredSettings, tokenizer)).corpus }
      : undefined;
    let done = 0;
    let last = 0;
    this.#running = true;
    try {
      const onStep = (arm: AnnealProgress['arm']) => {
        done += 1;
        if (Date.now() - last > 250 || done === total) {
          last = Date.now();
          onProgress({ arm, done, total });
        }
      };
      const result = await runAnneal(settings, corpus, tokenizer, { onStep });
      return crawl ? { ...result, clean: await runCleanDecays(settings, crawl, tokenizer, { onStep }) } : result;
    } finally {
      this.#running = false;
    }
  }
}
