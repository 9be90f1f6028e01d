/**
 * The curation experiment in the worker (src/core/data/curation-experiment.ts): the raw crawl's run,
 * then the filtered crawl's, each stepped under the runner's tensor lock with the helper workers
 * sharing its steps, its validation points sent to the page as they come. The page draws both
 * curves on one chart and can Stop; a pretraining run that was training is paused first, and the
 * experiment saves nothing: it is a demonstration, not a run to continue.
 */
import bundledVocabulary from '../../corpora/vocab.json';
import { ARMS, type Arm, armSession, type ArmResult, type CurationExperimentSettings, experimentArms, finishArm, lossGain, valCurve } from '../core/data/curation-experiment.ts';
import { EmptyCorpusError, type LabelledDoc } from '../core/data/curate.ts';
import { CharTokenizer, type CharTokenizerJSON } from '../core/model/tokenizer.ts';
import type { LabSession } from '../core/train/session.ts';
import type { LabRunner } from './runner.ts';

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
const nextTask = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export class CurationExperiment {
  readonly #runner: LabRunner;
  readonly #docs: () => Promise<LabelledDoc[]>;
  readonly #tales: () => Promise<{ train: string; val: string }>;
  #session: LabSession | null = null;
  #stop = false;

  constructor(runner: LabRunner, docs: () => Promise<LabelledDoc[]>, tales: () => Promise<{ train: string; val: string }>) {
    this.#runner = runner;
    this.#docs = docs;
    this.#tales = tales;
  }

  get running(): boolean {
    return this.#session !== null;
  }

  /** Asks the running experiment to end after its current step; it resolves with what finished. */
  stop(): void {
    this.#stop = true;
  }

  /** Runs both arms, raw then filtered; `onProgress` hears each arm's step and curve. */
  async run(settings: CurationExperimentSettings, onProgress?: (p: CurationProgress) => unknown): Promise<CurationOutcome> {
    if (this.running) throw new Error('The experiment is already running.');
    let plans;
    try {
      plans = experimentArms(await this.#docs(), settings.filters);
    } catch (e) {
      throw e instanceof EmptyCorpusError ? new Error(`The filters keep nothing of the crawl: ${e.message}`) : e;
    }
    const { val } = await this.#tales();
    const tokenizer = CharTokenizer.fromJSON(bundledVocabulary as CharTokenizerJSON);
    // Training a run and the experiment at once would halve both: the run pauses (Resume continues it).
    await this.#runner.command(async () => {
      if (this.#runner.status !== 'running') return;
      await this.#runner.halt('paused');
      this.#runner.notify({ notice: { level: 'info', text: 'Training paused for the data experiment; Resume continues it.' } });
    });
    this.#stop = false;
    const started = performance.now();
    const arms: CurationOutcome['arms'] = [];
    try {
      for (const plan of plans) {
        if (this.#stop) break;
        const t0 = performance.now();
        const session = (this.#session = armSession(plan, val, tokenizer, settings));
        this.#runner.shareHelpers(session, () => this.#session === session);
        try {
          let sent = 0;
          while (!session.done && !this.#stop) {
            const { valLoss } = await this.#runner.withTensors(() => session.step());
            const now = performance.now();
            if (valLoss !== undefined || now - sent > PROGRESS_EVERY) {
              sent = now;
              void onProgress?.({ arm: plan.arm, step: session.stepsTaken, steps: session.trainer.config.steps, curve: valCurve(session) });
            }
            await nextTask();
          }
          if (!session.done) break;
          const done = { ...(await this.#runner.withTensors(() => finishArm(plan, session, settings.sampleTokens))), seconds: (performance.now() - t0) / 1000 };
          arms.push(done);
          void onProgress?.({ arm: plan.arm, step: session.stepsTaken, steps: session.trainer.config.steps, curve: done.curve, done });
        } finally {
          this.#session = null;
          await this.#runner.withTensors(() => session.dispose());
        }
      }
    } finally {
      this.#session = null;
    }
    const [raw, filtered] = ARMS.map((arm) => arms.find((a) => a.arm === arm));
    return { arms, gain: raw && filtered ? lossGain(raw, filtered) : null, stopped: arms.length < plans.length, seconds: (performance.now() - started) / 1000 };
  }
}
