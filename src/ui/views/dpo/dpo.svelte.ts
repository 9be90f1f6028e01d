/**
 * The DPO view's state: its form and the student's own preference pairs. The app holds one for
 * the tab, so the form and the chosen file outlive a visit to another view.
 */
import { parseDpoJsonl } from '../../../core/post/chatdata.ts';
import type { Lab } from '../../lab.svelte.ts';
import { ownData, readOwnFile, type OwnFile } from '../../own-file.ts';
import { defaultDpoForm, type DpoForm } from '../../settings.ts';

export class DpoState {
  readonly #lab: Lab;
  #form = $state<DpoForm>(defaultDpoForm());
  #own = $state.raw<OwnFile | null>(null);

  constructor(lab: Lab) {
    this.#lab = lab;
  }

  get form(): DpoForm { return this.#form; }
  get own(): OwnFile | null { return this.#own; }

  /** DPO starts from a trained SFT model that is not training now (it is also the frozen reference). */
  get canStart(): boolean {
    const lab = this.#lab;
    return !lab.busy && ['paused', 'stopped', 'done'].includes(lab.status) && (lab.run?.step ?? 0) > 0 && lab.run?.stage === 'sft';
  }

  get hint(): string {
    const stage = this.#lab.run?.stage ?? null;
    const settled = ['paused', 'stopped', 'done'].includes(this.#lab.status);
    return stage === 'sft' && !settled ? 'Pause or let SFT finish, then DPO starts from the SFT model.'
      : stage === 'sft' ? 'The SFT model is also the frozen reference: its log-probs are computed once, before the first step.'
      : 'Needs an SFT model: run SFT first.';
  }

  update(patch: Partial<DpoForm>): void {
    this.#form = { ...this.#form, ...patch };
  }

  async chooseOwn(file: File): Promise<void> {
    this.#own = await readOwnFile(file, parseDpoJsonl);
  }

  clearOwn(): void {
    this.#own = null;
  }

  start(): Promise<void> {
    const { lengthBias, ...form } = $state.snapshot(this.#form);
    const own = ownData(this.#own);
    return this.#lab.send((api) => api.dpo({ ...form, ...(lengthBias ? { whatIf: 'length-bias' as const } : {}), ...own }));
  }
}
