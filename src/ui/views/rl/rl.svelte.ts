/**
 * The RL view's state: its form (reward source, β, group size, steps), the latest sampled
 * completions with their rewards, the β comparison (every RL run forked from the same SFT
 * checkpoint) and the verifiable report card. The worker computes everything (src/lab/stages/rl.ts).
 */
import type { VerifiableCard } from '../../../core/rl/evaluate.ts';
import type { RewardSource } from '../../../core/rl/settings.ts';
import type { RlCurve } from '../../../lab/stages/rl.ts';
import type { RewardModelInfo, SampleRow } from '../../../lab/types.ts';
import type { MetricRow } from '../../../lab/types.ts';
import { messageOf } from '../../format.ts';
import type { Lab } from '../../lab.svelte.ts';
import { LESSON_PLAN } from '../../../core/lesson/plan.ts';

export interface RlForm {
  reward: RewardSource;
  klCoef: number;
  groupSize: number;
  steps: number;
  learningRate: number;
  /** Verifiers only: the share of credit a wrong reply earns for its right beginning. */
  partialCredit: number;
}

export class RlState {
  readonly #lab: Lab;
  #form = $state<RlForm>({ reward: 'verifier', klCoef: LESSON_PLAN.rl.klCoef.verifier, groupSize: LESSON_PLAN.rl.groupSize, steps: LESSON_PLAN.rl.steps, learningRate: LESSON_PLAN.rl.learningRate, partialCredit: LESSON_PLAN.rl.partialCredit });
  #samples = $state.raw<SampleRow[]>([]);
  #curves = $state.raw<RlCurve[]>([]);
  #models = $state.raw<RewardModelInfo[]>([]);
  #cards = $state.raw<{ reference: VerifiableCard | null; current: VerifiableCard } | null>(null);
  #error = $state<string | null>(null);
  #scoring = $state(false);
  #refreshing = false;

  constructor(lab: Lab) {
    this.#lab = lab;
  }

  get form(): RlForm { return this.#form; }
  /** From the worker's updates once they bring them; until then, as last asked for (refresh). */
  get samples(): SampleRow[] { return this.#lab.rlSamples ?? this.#samples; }
  get curves(): RlCurve[] { return this.#curves; }
  get rewardModels(): RewardModelInfo[] { return this.#lab.rewardModels ?? this.#models; }
  get cards() { return this.#cards; }
  get error(): string | null { return this.#error; }
  /** Whether the report card is being scored (both models, greedy and 8 samples a question: some seconds). */
  get scoring(): boolean { return this.#scoring; }
  get loadedStage() { return this.#lab.run?.stage ?? null; }
  /** The loaded RL run's rows (empty unless an RL run is loaded). */
  get rows(): MetricRow[] { return this.loadedStage === 'rl' ? this.#lab.rows : []; }
  get canStart(): boolean {
    const s = this.loadedStage;
    return !this.#lab.busy && this.#lab.status !== 'running' && !this.#lab.run?.frozen && (s === 'sft' || s === 'dpo' || s === 'rl' || s === 'rm') && (this.#form.reward === 'verifier' || this.rewardModels.length > 0);
  }

  /** Picks the reward source and the β that goes with it (0 for verifiers, the lesson plan's β against a reward model). */
  chooseReward(reward: RewardSource): void {
    this.#form.reward = reward;
    this.#form.klCoef = LESSON_PLAN.rl.klCoef[reward];
  }

  /** Starts RL with the form's settings (from a loaded RL run: from its SFT parent, so runs compare). */
  start(klCoef = this.#form.klCoef): Promise<void> {
    const f = $state.snapshot(this.#form);
    this.#error = null;
    return this.#lab.send((api) => api.rl({ steps: f.steps, learningRate: f.learningRate, reward: f.reward, klCoef, groupSize: f.groupSize, ...(f.reward === 'verifier' ? { partialCredit: f.partialCredit } : {}) }));
  }

  /**
   * Reads the comparison again (after new rows arrive), and the samples and reward models unless the
   * worker's updates bring them: a worker that streams them is not asked.
   */
  async refresh(): Promise<void> {
    if (this.#refreshing || !this.#lab.api) return;
    this.#refreshing = true;
    try {
      if (this.#lab.rlSamples === null) this.#samples = await this.#lab.call((api) => api.rlSamples(), false);
      this.#curves = await this.#lab.call((api) => api.rlComparison(), false);
      if (this.#lab.rewardModels === null) this.#models = await this.#lab.call((api) => api.rewardModels(), false);
    } catch (e) {
      this.#error = messageOf(e);
    } finally {
      this.#refreshing = false;
    }
  }

  /** The verifiable report card of the loaded RL run and of its SFT reference (greedy exact match, pass@1, pass@8). */
  async scoreCards(): Promise<void> {
    if (this.#scoring) return;
    this.#scoring = true;
    try {
      this.#cards = await this.#lab.call((api) => api.rlCards()); // every answerable question, as `npm run lab -- rl` scores them
    } catch (e) {
      this.#error = messageOf(e);
    } finally {
      this.#scoring = false;
    }
  }
}
