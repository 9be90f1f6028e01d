/**
 * The spike lab's commands on the loaded pretraining run: the teacher's injection into its next
 * batches, another recovery policy from the next step on, and the loss curves of the runs forked
 * from the same run (with other policies), to overlay.
 */
import type { Injection } from '../core/spikes/inject.ts';
import { isRecoveryPolicy, type RecoveryPolicy } from '../core/spikes/spikelab.ts';
import { familyCurves } from './persistence.ts';
import type { LabRunner } from './runner.ts';
import { spikeLabInfo, withInjection } from './spikes.ts';
import type { CompareCurve } from './types.ts';

export class SpikeCommands {
  readonly #lab: LabRunner;

  constructor(lab: LabRunner) {
    this.#lab = lab;
  }

  /** Schedules an injection for the next step (the teacher's button); forks of the run replay it. */
  inject(inj: Omit<Injection, 'step'>): Promise<void> {
    const lab = this.#lab;
    return lab.command(async () => {
      const loaded = lab.current;
      const spikeLab = loaded?.spikeLab;
      if (!loaded || !spikeLab) throw new Error('Start a pretraining run first: injections go into its next batches.');
      const injection = { ...inj, step: loaded.session.stepsTaken };
      spikeLab.schedule(injection);
      await lab.updateSettings({ inject: withInjection(loaded.settings, injection) });
      lab.notify({ spikeLab: spikeLabInfo(spikeLab) });
    });
  }

  /** Changes the recovery policy from the next step on. */
  setPolicy(policy: RecoveryPolicy): Promise<void> {
    const lab = this.#lab;
    return lab.command(async () => {
      if (!isRecoveryPolicy(policy)) throw new Error(`Unknown recovery policy "${policy}".`);
      const loaded = lab.current;
      loaded?.spikeLab?.setPolicy(policy);
      if (loaded) await lab.updateSettings({ policy });
      if (loaded?.spikeLab) lab.notify({ spikeLab: spikeLabInfo(loaded.spikeLab) });
    });
  }

  /** Loss curves of the current run and of the runs forked from the same run, to overlay. */
  async compareCurves(): Promise<CompareCurve[]> {
    const loaded = this.#lab.current;
    return loaded ? familyCurves(this.#lab.db, loaded.run, loaded.session.metrics) : [];
  }
}
