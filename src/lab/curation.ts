/**
 * The curation experiment in the worker (src/core/data/curation-experiment.ts): the raw crawl's run,
 * then the filtered crawl's, stepped by the Data view's experiment loop (experiment-arms.ts: a
 * training run paused first, the tensor lock, the helper workers, Stop), its validation points sent
 * to the page as they come. The page draws both curves on one chart.
 */
import bundledVocabulary from '../../corpora/vocab.json';
import { ARMS, type Arm, armSession, type ArmResult, type CurationExperimentSettings, experimentArms, finishArm, lossGain, valCurve } from '../core/data/curation-experiment.ts';
import { EmptyCorpusError, type LabelledDoc } from '../core/data/curate.ts';
import { CharTokenizer, type CharTokenizerJSON } from '../core/model/tokenizer.ts';
import type { ExperimentArms } from './experiment-arms.ts';

/** What the page hears while the experiment runs: the arm training, its step, its curve so far. */
export interface CurationProgress {
  arm: Arm;
  step: number;
  steps: number;
  curve: [number, number][];
  /** An arm that finished: its final figures and samples. */
  done?: ArmResult & { seconds: number };
}

export interface CurationOutcome {
  /** The arms that finished, raw first. */
  arms: (ArmResult & { seconds: number })[];
  /** Raw minus filtered final loss, when both finished. */
  gain: number | null;
  stopped: boolean;
  seconds: number;
}

/** Milliseconds between progress messages besides the validation points. */
const PROGRESS_EVERY = 500;

export class CurationExperiment {
  readonly #arms: ExperimentArms;
  readonly #docs: () => Promise<LabelledDoc[]>;
  readonly #tales: () => Promise<{ train: string; val: string }>;

  constructor(arms: ExperimentArms, docs: () => Promise<LabelledDoc[]>, tales: () => Promise<{ train: string; val: string }>) {
    this.#arms = arms;
    this.#docs = docs;
    this.#tales = tales;
  }

  /** Runs both arms, raw then filtered; `onProgress` hears each arm's step and curve. */
  async run(settings: CurationExperimentSettings, onProgress?: (p: CurationProgress) => unknown): Promise<CurationOutcome> {
    if (this.#arms.running) throw new Error('An experiment is already running: stop it first.');
    let plans;
    try {
      plans = experimentArms(await this.#docs(), settings.filters);
    } catch (e) {
      throw e instanceof EmptyCorpusError ? new Error(`The filters keep nothing of the crawl: ${e.message}`) : e;
    }
    const { val } = await this.#tales();
    const tokenizer = CharTokenizer.fromJSON(bundledVocabulary as CharTokenizerJSON);
    return this.#arms.run(async () => {
      const started = performance.now();
      const arms: CurationOutcome['arms'] = [];
      for (const plan of plans) {
        if (this.#arms.stopped) break;
        const t0 = performance.now();
        const session = armSession(plan, val, tokenizer, settings);
        const at = () => ({ arm: plan.arm, step: session.stepsTaken, steps: session.trainer.config.steps });
        let sent = 0;
        const done = await this.#arms.arm(session, {
          enough: (s) => s.done,
          afterStep: ({ valLoss }) => {
            const now = performance.now();
            if (valLoss === undefined && now - sent <= PROGRESS_EVERY) return;
            sent = now;
            void onProgress?.({ ...at(), curve: valCurve(session) });
          },
          finish: async (s) => ({ ...(await finishArm(plan, s, settings.sampleTokens)), seconds: (performance.now() - t0) / 1000 }),
        });
        if (!done) break;
        arms.push(done);
        void onProgress?.({ ...at(), curve: done.curve, done });
      }
      const [raw, filtered] = ARMS.map((arm) => arms.find((a) => a.arm === arm));
      return { arms, gain: raw && filtered ? lossGain(raw, filtered) : null, stopped: arms.length < plans.length, seconds: (performance.now() - started) / 1000 };
    });
  }
}
