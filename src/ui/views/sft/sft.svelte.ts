/**
 * The SFT view's state: its form, the student's own conversations and the loss-mask example.
 * The app holds one for the tab, so the form and the chosen file outlive a visit to another view.
 */
import { parseSftJsonl } from '../../../core/post/chatdata.ts';
import type { MaskedChat } from '../../../lab/stages/reports.ts';
import type { Lab } from '../../lab.svelte.ts';
import { ownData, readOwnFile, type OwnFile } from '../../own-file.ts';
import { defaultSftForm, type SftForm } from '../../settings.ts';

export class SftState {
  readonly #lab: Lab;
  #form = $state<SftForm>(defaultSftForm());
  #own = $state.raw<OwnFile | null>(null);
  #mask = $state.raw<MaskedChat | null>(null);

  constructor(lab: Lab) {
    this.#lab = lab;
  }

  get form(): SftForm { return this.#form; }
  get own(): OwnFile | null { return this.#own; }
  get mask(): MaskedChat | null { return this.#mask; }

  /** SFT starts from a trained base model that is not training now. */
  get canStart(): boolean {
    const lab = this.#lab;
    return !lab.busy && ['paused', 'stopped', 'done'].includes(lab.status) && (lab.run?.step ?? 0) > 0 && lab.run?.stage === 'pretrain';
  }

  /** What the student must do first, or what pressing SFT will do. */
  get hint(): string {
    const stage = this.#lab.run?.stage ?? null;
    const settled = ['paused', 'stopped', 'done'].includes(this.#lab.status);
    return stage === 'pretrain' && !settled ? 'Pause or let pretraining finish, then SFT starts from the model as it is.'
      : stage === 'pretrain' ? 'Starts from the base model at its current step (saved and pinned as the parent).'
      : stage ? 'Load or train a base model (Pretrain) to start SFT.'
      : 'Pretrain a base model first.';
  }

  update(patch: Partial<SftForm>): void {
    this.#form = { ...this.#form, ...patch };
  }

  async chooseOwn(file: File): Promise<void> {
    this.#own = await readOwnFile(file, parseSftJsonl);
  }

  clearOwn(): void {
    this.#own = null;
  }

  start(): Promise<void> {
    const { steps, learningRate, noPretrainText } = this.#form;
    const own = ownData(this.#own);
    return this.#lab.send((api) => api.sft({ steps, ...(learningRate ? { learningRate } : {}), ...(noPretrainText ? { whatIf: 'no-pretrain-text' as const } : {}), ...own }));
  }

  async showMask(index: number): Promise<void> {
    const api = this.#lab.api;
    if (!api) return;
    try {
      this.#mask = await api.maskExample(index);
    } catch {
      // shown again on the next request
    }
  }
}
