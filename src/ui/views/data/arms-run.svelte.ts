/**
 * What the Data view's two experiments share on the page: a run of two arms in the worker whose
 * curves arrive as they are drawn, where it stands, the outcome or the error, and whether it runs.
 * Each experiment adds its settings and how to start and stop it in the worker.
 */
import * as Comlink from 'comlink';

type Curve = [number, number][];

export class ArmsRun<Arm extends string, At extends { arm: Arm }, Outcome> {
  readonly #empty: () => Record<Arm, Curve>;
  #curves = $state.raw<Record<Arm, Curve>>({} as Record<Arm, Curve>);
  #at = $state.raw<At | null>(null);
  #outcome = $state.raw<Outcome | null>(null);
  #running = $state(false);
  #error = $state<string | null>(null);

  constructor(empty: () => Record<Arm, Curve>) {
    this.#empty = empty;
    this.#curves = empty();
  }

  get curves(): Record<Arm, Curve> { return this.#curves; }
  /** Where the run stands while it trains; null otherwise. */
  get at(): At | null { return this.#at; }
  get outcome(): Outcome | null { return this.#outcome; }
  get running(): boolean { return this.#running; }
  get error(): string | null { return this.#error; }

  /** A problem found before anything starts. */
  protected fail(message: string): void {
    this.#error = message;
  }

  /** Runs `start` with a progress callback the worker calls with each arm's curve so far. */
  protected async run<P extends { curve: Curve }>(at: (p: P) => At, start: (progress: (p: P) => void) => Promise<Outcome>): Promise<void> {
    const progress = Comlink.proxy((p: P) => {
      const where = at(p);
      this.#curves = { ...this.#curves, [where.arm]: p.curve };
      this.#at = where;
    });
    this.#error = null;
    this.#outcome = null;
    this.#curves = this.#empty();
    this.#running = true;
    try {
      this.#outcome = await start(progress);
    } catch (e) {
      this.#error = e instanceof Error ? e.message : String(e);
    } finally {
      this.#running = false;
      this.#at = null;
    }
  }
}
