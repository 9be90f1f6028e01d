/**
 * "What each stage changed" in the Inside view: a prompt and a reply (typed, or the one the model
 * wrote), scored in the worker under every stage of the loaded run's lineage (StageReports.changes:
 * the `compare` command's numbers), and the token whose numbers are open.
 */
import type { StageChanges } from '../../../lab/stages/reports.ts';
import type { Caller } from '../../caller.ts';
import { firstLine } from '../../format.ts';

export class StageChangesState {
  readonly #call: Caller;
  prompt = $state('What does Hank eat?');
  reply = $state('Hank eats an apple.');
  #result = $state.raw<StageChanges | null>(null);
  #picked = $state<number | null>(null);
  #working = $state(false);
  #error = $state<string | null>(null);
  #reveal = $state(false);

  constructor(call: Caller) {
    this.#call = call;
  }

  get result(): StageChanges | null { return this.#result; }
  /** The reply token whose log-probabilities under each stage are listed. */
  get picked(): number | null { return this.#picked; }
  get working(): boolean { return this.#working; }
  get error(): string | null { return this.#error; }

  /** Takes the prompt and reply the model wrote, to score them under every stage. */
  use(prompt: string, reply: string): void {
    this.prompt = prompt;
    this.reply = reply;
  }

  /** Whether the panel should scroll into sight (it was asked for from another view). */
  get reveal(): boolean { return this.#reveal; }
  revealed(): void { this.#reveal = false; }

  /** Another view's answer, to score under every stage now and show when the Inside view opens. */
  request(prompt: string, reply: string): void {
    this.use(prompt, reply);
    this.#reveal = true;
    void this.score();
  }

  pick(i: number | null): void {
    this.#picked = this.#picked === i ? null : i;
  }

  async score(): Promise<void> {
    this.#working = true;
    this.#error = null;
    try {
      const [prompt, reply] = [this.prompt, this.reply];
      this.#result = await this.#call((api) => api.stageChanges(prompt, reply));
      this.#picked = null;
    } catch (e) {
      this.#error = firstLine(e);
    } finally {
      this.#working = false;
    }
  }
}

/**
 * A change of log-probability as a colour: green where the stage made the token likelier, red
 * where it made it less likely, full at a change of ±3 nats (a factor of 20).
 */
export function changeColour(delta: number): string {
  const strength = Math.min(1, Math.abs(delta) / 3) * 0.8;
  return delta >= 0 ? `rgb(22 163 74 / ${strength.toFixed(2)})` : `rgb(220 38 38 / ${strength.toFixed(2)})`;
}

/** A log-probability change as a student reads it: signed nats and the factor on the probability. */
export function changeText(delta: number): string {
  const factor = Math.exp(delta);
  return `${delta >= 0 ? '+' : '−'}${Math.abs(delta).toFixed(2)} nats (×${factor >= 10 ? factor.toFixed(0) : factor.toFixed(2)})`;
}
