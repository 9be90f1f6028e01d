/**
 * The one shape every training stage has to what drives it (the worker's loop, the command line,
 * the lesson): a session (model, trainer, tokenizer, metrics) that takes one step at a time until
 * done, and whatever else the stage holds beside it (DPO's reference log-probs, RL's frozen
 * reference and reward model), freed together.
 *
 * A stage is built by its own `start(parent, …)` (a new run from a parent checkpoint, which
 * src/core/lesson/parents.ts allows) or `resume(checkpoint, …)` (a stored run, continued exactly);
 * the arguments differ by stage, so they are the stage class's statics, not part of this interface.
 */
import type { MetricRow } from '../io/checkpoint.ts';
import type { LabSession } from './session.ts';

export interface TrainingStage {
  readonly session: LabSession;
  /** True once the session has taken all its steps. */
  readonly done: boolean;
  /** One training step; its metric row (also appended to `session.metrics`). */
  step(): Promise<MetricRow>;
  /** Frees the session and every tensor the stage holds; the stage is not used afterwards. */
  release(): void;
  /** Why this stage cannot train here (an RL file whose KL reference is not at hand); absent when it can. */
  readonly frozen?: string;
}
