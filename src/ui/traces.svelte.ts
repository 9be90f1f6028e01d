/**
 * "Where did it learn that?" for the text a view shows (live lines, samples, side-by-side answers,
 * RL's replies): each text's spans copied word for word from the loaded run's training data, looked
 * up in the worker only when a panel's button asks (api.trace), and kept for that run so the
 * underlines stay while the student reads on. A new run starts an empty book: its training data differ.
 */
import type { Trace } from '../lab/inspect.ts';
import type { Caller } from './caller.ts';
import { firstLine } from './format.ts';

export class TraceBook {
  readonly #call: Caller;
  readonly #runId: () => string | undefined;
  #run = $state<string | undefined>(undefined); // state: a view that read no trace yet must hear of the first
  #traces = $state.raw<ReadonlyMap<string, Trace>>(new Map());
  #working = $state(false);
  #error = $state<string | null>(null);

  /** `runId` names the loaded run, whose training data the traces search. */
  constructor(call: Caller, runId: () => string | undefined) {
    this.#call = call;
    this.#runId = runId;
  }

  get working(): boolean { return this.#working; }
  get error(): string | null { return this.#error; }

  /** The trace of `text`, once asked under the loaded run. */
  of(text: string): Trace | undefined {
    return this.#runId() === this.#run ? this.#traces.get(text) : undefined;
  }

  /** Whether every one of `texts` has been traced under the loaded run. */
  has(texts: readonly string[]): boolean {
    return texts.every((t) => t.length === 0 || this.of(t) !== undefined);
  }

  /** Traces each of `texts` not traced yet, one after another (the worker keeps its index between them). */
  async ask(texts: readonly string[]): Promise<void> {
    const run = this.#runId();
    if (run !== this.#run) {
      this.#run = run;
      this.#traces = new Map();
    }
    const todo = [...new Set(texts)].filter((t) => t.length > 0 && !this.#traces.has(t));
    this.#working = true;
    this.#error = null;
    try {
      for (const text of todo) {
        const trace = await this.#call((api) => api.trace(text));
        if (this.#run !== run) return; // another run was loaded meanwhile
        this.#traces = new Map(this.#traces).set(text, trace);
      }
    } catch (e) {
      this.#error = firstLine(e);
    } finally {
      this.#working = false;
    }
  }
}
