/**
 * The reward-model view's state: its form and the loaded reward model's rows. Training runs in
 * the worker (src/lab/stages/rm.ts); the charts read the metric rows TRL's RewardTrainer names.
 */
import type { MetricRow } from '../../../lab/types.ts';
import type { Lab } from '../../lab.svelte.ts';
import { LESSON_PLAN } from '../../../core/lesson/plan.ts';

export interface RmForm {
  steps: number;
  learningRate: number;
}

export class RmState {
  readonly #lab: Lab;
  #form = $state<RmForm>({ steps: LESSON_PLAN.rm.steps, learningRate: LESSON_PLAN.rm.learningRate });

  constructor(lab: Lab) {
    this.#lab = lab;
  }

  get form(): RmForm { return this.#form; }
  get loadedStage() { return this.#lab.run?.stage ?? null; }
  get rows(): MetricRow[] { return this.loadedStage === 'rm' ? this.#lab.rows : []; }
  get canStart(): boolean {
    const s = this.loadedStage;
    return !this.#lab.busy && this.#lab.status !== 'running' && (s === 'sft' || s === 'dpo');
  }
  /** The latest held-out pair accuracy, if an evaluation has run. */
  get heldOutAccuracy(): number | null {
    const row = [...this.rows].reverse().find((r) => r['eval/accuracy'] !== undefined);
    return row ? row['eval/accuracy'] : null;
  }

  start(): Promise<void> {
    const f = $state.snapshot(this.#form);
    return this.#lab.send((api) => api.rm({ steps: f.steps, learningRate: f.learningRate }));
  }
}
