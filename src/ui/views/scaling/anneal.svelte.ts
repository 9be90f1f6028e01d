/**
 * The anneal experiment's state in the Scaling view: its settings, its progress while the worker
 * trains the three arms and, when asked, the clean-data arm (src/lab/anneal.ts), and the result the chart draws.
 */
import * as Comlink from 'comlink';
import { ANNEAL_DEFAULTS, type AnnealResult } from '../../../core/scaling/anneal-defaults.ts';
import type { AnnealProgress } from '../../../lab/anneal.ts';
import type { Lab } from '../../lab.svelte.ts';

export class AnnealState {
  readonly #lab: Lab;
  #steps = $state<number>(ANNEAL_DEFAULTS.steps);
  #seed = $state(1);
  #cleanArm = $state(false);
  #progress = $state.raw<AnnealProgress | null>(null);
  #result = $state.raw<AnnealResult | null>(null);
  #running = $state(false);
  #message = $state('');

  constructor(lab: Lab) {
    this.#lab = lab;
  }

  get steps(): number { return this.#steps; }
  set steps(v: number) { this.#steps = v; }
  get seed(): number { return this.#seed; }
  set seed(v: number) { this.#seed = v; }
  /** Adds the clean-data arm (opt-in: half as many steps again). */
  get cleanArm(): boolean { return this.#cleanArm; }
  set cleanArm(v: boolean) { this.#cleanArm = v; }
  get progress(): AnnealProgress | null { return this.#progress; }
  get result(): AnnealResult | null { return this.#result; }
  get running(): boolean { return this.#running; }
  get message(): string { return this.#message; }

  async start(): Promise<void> {
    const api = this.#lab.api;
    if (!api || this.#running) return;
    this.#running = true;
    this.#message = '';
    try {
      this.#result = await api.anneal({ steps: this.#steps, seed: this.#seed, cleanArm: this.#cleanArm }, Comlink.proxy((p: AnnealProgress) => { this.#progress = p; }));
    } catch (e) {
      this.#message = e instanceof Error ? e.message : String(e);
    } finally {
      this.#running = false;
    }
  }
}
