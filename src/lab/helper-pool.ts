/**
 * The helper workers that share each wasm training step's rows (data parallelism,
 * core/train/parallel.ts): started once for a model shape and kept while later stages keep that
 * shape, closed when it changes, and not started again in this worker once they failed (later runs
 * would fail the same way). A session's first steps run alone while its helpers start.
 */
import type { GPTConfig } from '../core/model/config.ts';
import { type GradientHelper, sliceCount } from '../core/train/parallel.ts';
import type { LabSession } from '../core/train/session.ts';

/** How the surroundings start helpers (browser workers, or none). */
export interface HelperStarter {
  count(): number;
  start(count: number, config: GPTConfig, names: readonly string[]): Promise<GradientHelper[]>;
}

export class HelperPool {
  readonly #starter: HelperStarter | undefined;
  readonly #warn: (text: string) => void;
  #helpers: { key: string; ready: Promise<GradientHelper[]>; failed?: boolean } | null = null;

  /** `warn` tells the student, once, that training goes on in one worker. */
  constructor(starter: HelperStarter | undefined, warn: (text: string) => void) {
    this.#starter = starter;
    this.#warn = warn;
  }

  /** Gives `session`'s trainer the helpers on wasm once they have started, unless `isCurrent()` has turned false by then. */
  share(session: LabSession, backend: string | undefined, isCurrent: () => boolean): void {
    const starter = this.#starter;
    const count = sliceCount(session.trainer.config.batchSize, session.model.config.blockSize, starter?.count() ?? 0) - 1;
    if (!starter || count === 0 || backend !== 'wasm') return; // micro's batches are too small to share
    const { names } = session.trainer.optimizer;
    const key = JSON.stringify([session.model.config, names]);
    if (this.#helpers?.failed) return;
    if (this.#helpers?.key !== key) {
      void this.#helpers?.ready.then((old) => Promise.all(old.map((h) => h.close()))).catch(() => undefined);
      this.#helpers = { key, ready: starter.start(count, session.model.config, names) };
    }
    const helpers = this.#helpers;
    helpers.ready.then(
      (started) => {
        if (!isCurrent()) return;
        session.trainer.helpers = started;
        session.trainer.onHelpersLost = (reason) => {
          helpers.failed = true;
          this.#warn(`A helper worker stopped (${reason}); training goes on in one worker, more slowly. Nothing is lost.`);
        };
      },
      (e) => {
        if (helpers.failed) return;
        helpers.failed = true;
        this.#warn(`Training on one worker: the helper workers did not start (${e instanceof Error ? e.message : String(e)}).`);
      },
    );
  }
}
