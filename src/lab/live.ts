/**
 * Live samples while pretraining: every so often the loop writes one short line with the current
 * weights, so the student sees noise turn into words without pressing anything.
 *
 * "Every so often" is a time budget, not a fixed number of steps: a sample costs about the same on
 * every step while a step's cost depends on the preset, the backend and the machine. With `S` ms
 * spent sampling so far, `T` ms training, and `c` the last sample's cost (the estimate of the next),
 * the next sample is due once taking it keeps the share of time spent sampling within `share`:
 *
 *     (S + c) / (T + S + c) ≤ share   ⇔   T ≥ (S + c) · (1 − share) / share     (share 0.05: 19×)
 *
 * The budget is cumulative, so a sample that ran longer than estimated delays the next ones: the
 * share stays within `share` after every sample whose cost the estimate matched, on any hardware.
 * The first sample comes after the first step (the noise, to compare against) and a gap of at least
 * `minSteps` keeps a fast GPU from filling the box with near-identical lines.
 */

/** What a live line is written with: a fixed prompt and seed, so lines differ only by the weights. */
export const LIVE_SAMPLE = { prompt: 'Once upon a time', maxTokens: 48, temperature: 0.8, topK: 20, seed: 1 } as const;

export interface LiveBudget {
  /** Largest share of the loop's time that sampling may take. */
  share: number;
  /** Fewest steps between two lines. */
  minSteps: number;
}

export const LIVE_BUDGET: LiveBudget = { share: 0.05, minSteps: 10 };

/** Training time (ms) that `sampleMs` of sampling needs beside it to be `share` of the total: c·(1−s)/s. */
export function trainingTimeBefore(sampleMs: number, share: number): number {
  if (!(share > 0 && share < 1)) throw new Error(`live-sample share must be in (0, 1), got ${share}`);
  return (sampleMs * (1 - share)) / share;
}

/** Counts training and sampling time and says when the next live line is due. */
export class LiveSampler {
  readonly budget: LiveBudget;
  #trainMs = 0; // all training time seen
  #sampleMs = 0; // all sampling time spent
  #sinceSteps = 0;
  #lastCostMs = 0;
  #taken = 0;
  #firstMs = 0; // the first line comes after one step, outside the budget

  constructor(budget: LiveBudget = LIVE_BUDGET) {
    this.budget = budget;
  }

  /** One training step took `ms`. */
  stepped(ms: number): void {
    this.#trainMs += ms;
    this.#sinceSteps += 1;
  }

  /** True when a line should be written now. */
  get due(): boolean {
    if (this.#taken === 0) return this.#sinceSteps > 0;
    const spent = this.#sampleMs - this.#firstMs; // the first line is outside the budget
    return this.#sinceSteps >= this.budget.minSteps && this.#trainMs >= trainingTimeBefore(spent + this.#lastCostMs, this.budget.share);
  }

  /** A line was written and took `ms`. */
  sampled(ms: number): void {
    if (this.#taken === 0) this.#firstMs = ms;
    this.#taken += 1;
    this.#sampleMs += ms;
    this.#lastCostMs = ms;
    this.#sinceSteps = 0;
  }

  /** Lines written so far. */
  get taken(): number {
    return this.#taken;
  }

  /** Share of the loop's time spent sampling, the first line left out: the figure the budget bounds. */
  get share(): number {
    const rest = this.#sampleMs - this.#firstMs;
    const total = this.#trainMs + rest;
    return total > 0 ? rest / total : 0;
  }
}
