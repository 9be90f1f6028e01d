/**
 * The Class view's state: the students' checkpoint files the teacher dropped, read into one table by
 * the core (src/core/class/roster.ts, which checks each file as the Share view does). Files are read
 * in this tab and never sent anywhere; nothing here trains, so it runs beside the lab's worker.
 */
import { classCsv, type ClassRow, isRefused, readClassFile, type RefusedFile } from '../../../core/class/roster.ts';

export type SortKey = 'student' | 'stage' | 'steps' | 'tokensPerParameter' | 'valLoss' | 'bitsPerChar' | 'headline' | 'flags';

/** Files larger than this are refused before reading: a tiny model's checkpoint is a few MB. */
const MAX_FILE_BYTES = 256 * 1024 * 1024;

export class ClassState {
  #rows = $state.raw<ClassRow[]>([]);
  #refused = $state.raw<RefusedFile[]>([]);
  #reading = $state(0);
  #sort = $state<{ key: SortKey; descending: boolean }>({ key: 'student', descending: false });
  #flaggedOnly = $state(false);
  #stage = $state<string>('all');

  get rows(): readonly ClassRow[] { return this.#rows; }
  get refused(): readonly RefusedFile[] { return this.#refused; }
  get reading(): number { return this.#reading; }
  get sort(): { key: SortKey; descending: boolean } { return this.#sort; }
  get flaggedOnly(): boolean { return this.#flaggedOnly; }
  set flaggedOnly(v: boolean) { this.#flaggedOnly = v; }
  get stage(): string { return this.#stage; }
  set stage(v: string) { this.#stage = v; }

  /** The rows shown: filtered by stage and flags, sorted by the chosen column. */
  readonly shown = $derived.by(() => {
    const { key, descending } = this.#sort;
    const value = (r: ClassRow): string | number => (key === 'headline' ? (r.headline?.value ?? -Infinity) : key === 'flags' ? r.flags.length : (r[key] ?? -Infinity));
    return this.#rows
      .filter((r) => (this.#stage === 'all' || r.stage === this.#stage) && (!this.#flaggedOnly || r.flags.length > 0))
      .slice()
      .sort((a, b) => {
        const [x, y] = [value(a), value(b)];
        const order = typeof x === 'string' || typeof y === 'string' ? String(x).localeCompare(String(y)) : x - y;
        return descending ? -order : order;
      });
  });

  sortBy(key: SortKey): void {
    this.#sort = { key, descending: this.#sort.key === key ? !this.#sort.descending : false };
  }

  /** Reads dropped or chosen files (a folder's .safetensors files too); a file seen before replaces its row. */
  async add(files: readonly File[]): Promise<void> {
    const chosen = files.filter((f) => f.name.endsWith('.safetensors') || files.length === 1 || !f.webkitRelativePath);
    this.#reading += chosen.length;
    for (const file of chosen) {
      const name = file.webkitRelativePath || file.name;
      const result = file.size > MAX_FILE_BYTES
        ? { file: name, reason: `${(file.size / 1e6).toFixed(0)} MB is far larger than any checkpoint of this lab` }
        : await readClassFile(name, new Uint8Array(await file.arrayBuffer()));
      this.#rows = this.#rows.filter((r) => r.file !== name);
      this.#refused = this.#refused.filter((r) => r.file !== name);
      if (isRefused(result)) this.#refused = [...this.#refused, result];
      else this.#rows = [...this.#rows, result];
      this.#reading -= 1;
    }
  }

  clear(): void {
    this.#rows = [];
    this.#refused = [];
  }

  /** The table as CSV, in the order shown. */
  csv(): string {
    return classCsv(this.shown, this.#refused);
  }
}
