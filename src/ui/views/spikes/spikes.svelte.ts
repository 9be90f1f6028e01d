/**
 * The page's view of the loss-spike lab: the run's events (injections, spikes, skips, rollbacks,
 * LR changes), its policy and scheduled injections, the lesson's hidden and locked controls, the
 * injection opened to show its per-token loss, and the loss curves of forked runs to overlay.
 */
import type { Remote } from 'comlink';
import type { LabApi } from '../../../lab/api.ts';
import type { CompareCurve, LabEvent, LabUpdate, RecoveryPolicy, SpikeLabInfo } from '../../../lab/types.ts';
import { firstLine } from '../../format.ts';
import type { Caller } from '../../caller.ts';
import { type LessonControl, lessonFromHash, type LessonView } from '../../settings.ts';

export type InjectKind = 'microwavegang' | 'random-bytes' | 'lr-spike';

export class SpikeLabView {
  readonly #call: Caller;
  #events = $state.raw<LabEvent[]>([]);
  #info = $state.raw<SpikeLabInfo | null>(null);
  #lesson = $state.raw<LessonView>({ hide: [], lock: [] });
  #opened = $state.raw<LabEvent | null>(null);
  #curves = $state.raw<CompareCurve[]>([]);
  #error = $state<string | null>(null);

  constructor(call: Caller) {
    this.#call = call;
    if (typeof location !== 'undefined') this.#lesson = lessonFromHash(location.hash);
  }

  get events(): LabEvent[] { return this.#events; }
  get info(): SpikeLabInfo | null { return this.#info; }
  get lesson(): LessonView { return this.#lesson; }
  /** The injection whose per-token loss is shown. */
  get opened(): LabEvent | null { return this.#opened; }
  get curves(): CompareCurve[] { return this.#curves; }
  get error(): string | null { return this.#error; }

  hidden(control: LessonControl): boolean { return this.#lesson.hide.includes(control); }
  locked(control: LessonControl): boolean { return this.#lesson.lock.includes(control); }

  /** Takes the worker's update: events are appended, or replaced when the charts are. */
  apply(update: LabUpdate): void {
    if (update.resetRows) {
      this.#events = update.events ?? [];
      this.#opened = null;
    } else if (update.events?.length) {
      this.#events = this.#events.concat(update.events);
    }
    if (update.spikeLab !== undefined) this.#info = update.spikeLab;
  }

  inject(kind: InjectKind, batches: number, factor: number): Promise<void> {
    return this.#run((api) => api.inject({ kind, batches: kind === 'lr-spike' ? 1 : batches, factor: kind === 'lr-spike' ? factor : 1 }));
  }

  setPolicy(policy: RecoveryPolicy): Promise<void> {
    return this.#run((api) => api.setPolicy(policy));
  }

  /** Forks a run from a checkpoint with another policy; its loss joins the comparison chart. */
  fork(checkpointId: string, policy: RecoveryPolicy): Promise<void> {
    return this.#run(async (api) => {
      await api.forkCheckpoint(checkpointId, policy);
      this.#curves = await api.compareCurves();
    });
  }

  /** Re-reads the forks' curves (in the background: the buttons stay enabled). */
  async refreshCompare(): Promise<void> {
    try {
      this.#curves = await this.#call((api) => api.compareCurves(), false);
    } catch {
      // the next autosave tries again
    }
  }

  open(event: LabEvent | null): void {
    this.#opened = event;
  }

  dismissError(): void {
    this.#error = null;
  }

  async #run(f: (api: Remote<LabApi>) => Promise<unknown>): Promise<void> {
    this.#error = null;
    try {
      await this.#call(f);
    } catch (e) {
      this.#error = firstLine(e);
    }
  }
}

