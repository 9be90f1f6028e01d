/**
 * Sharing checkpoint files: export (a checkpoint or the current model, with or without the AdamW
 * moments) and import. An import is checked in the worker first; the page shows its card and
 * stores nothing until the user presses "Load into a new run".
 */
import type { ImportPreview } from '../../../lab/types.ts';
import { firstLine } from '../../format.ts';
import type { Caller } from '../../caller.ts';

/** Files above this are refused before they are read (the lab's models are a few MB). */
const MAX_IMPORT_BYTES = 1 << 30;

export interface HeadsQuestion {
  fileName: string;
  lines: string[];
  choices: number[];
}

export class ShareState {
  readonly #call: Caller;
  #includeOptimizer = $state(true);
  #preview = $state.raw<ImportPreview | null>(null);
  #heads = $state.raw<HeadsQuestion | null>(null);
  #error = $state<string | null>(null);
  #checking = $state(false);
  #file: { bytes: Uint8Array; name: string } | null = null;

  constructor(call: Caller) {
    this.#call = call;
  }

  /** Whether exports carry the optimizer moments (needed to resume exactly; three times the size). */
  get includeOptimizer(): boolean { return this.#includeOptimizer; }
  get preview(): ImportPreview | null { return this.#preview; }
  get heads(): HeadsQuestion | null { return this.#heads; }
  get error(): string | null { return this.#error; }
  get checking(): boolean { return this.#checking; }
  /** Something to show: a card, a question, an error or a check in progress. */
  get active(): boolean { return this.#preview !== null || this.#heads !== null || this.#error !== null || this.#checking; }

  setIncludeOptimizer(on: boolean): void {
    this.#includeOptimizer = on;
  }

  exportCheckpoint(id: string): Promise<void> {
    return this.#download((call) => call((api) => api.checkpointFile(id, this.#includeOptimizer)));
  }

  exportCurrent(): Promise<void> {
    return this.#download((call) => call((api) => api.currentFile(this.#includeOptimizer)));
  }

  /** Reads a dropped or picked file and has the worker check it. */
  async open(file: File): Promise<void> {
    this.#reset();
    if (file.size > MAX_IMPORT_BYTES) {
      this.#error = `${file.name}: ${(file.size / 1e9).toFixed(1)} GB is too large for a checkpoint of this lab`;
      return;
    }
    this.#file = { bytes: new Uint8Array(await file.arrayBuffer()), name: file.name };
    await this.#check();
  }

  /** The answer to a plain nanoGPT file's question: how many attention heads. */
  chooseHeads(nHead: number): Promise<void> {
    return this.#check(nHead);
  }

  async accept(): Promise<void> {
    try {
      await this.#call((api) => api.acceptImport());
      this.#reset();
    } catch (e) {
      this.#error = firstLine(e);
      this.#preview = null;
    }
  }

  cancel(): void {
    this.#reset();
    void this.#call((api) => api.cancelImport()).catch(() => {});
  }

  async #check(nHead?: number): Promise<void> {
    const file = this.#file;
    if (!file) return;
    this.#checking = true;
    this.#error = null;
    try {
      const answer = await this.#call<ImportPreview | { headChoices: number[]; lines: string[] }>(async (api) => await api.previewImport(file.bytes, file.name, nHead));
      if ('headChoices' in answer) this.#heads = { fileName: file.name, lines: answer.lines, choices: answer.headChoices };
      else {
        this.#heads = null;
        this.#preview = answer;
      }
    } catch (e) {
      this.#heads = null;
      this.#error = `${file.name}: ${firstLine(e)}`;
    } finally {
      this.#checking = false;
    }
  }

  #reset(): void {
    this.#preview = null;
    this.#heads = null;
    this.#error = null;
    this.#file = null;
  }

  async #download(get: (call: Caller) => Promise<{ bytes: Uint8Array; fileName: string }>): Promise<void> {
    try {
      const { bytes, fileName } = await get(this.#call);
      const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
      const a = Object.assign(document.createElement('a'), { href: url, download: fileName });
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      this.#error = `Export failed: ${firstLine(e)}`;
    }
  }
}
