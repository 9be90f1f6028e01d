/**
 * The Inside view's state: the prompt form, what the loaded model wrote (each token with its
 * probability and five alternatives), the spans of it copied from the training data, and the
 * attention and logit lens over the text. Every answer is computed in the worker on request
 * (src/lab/inspect.ts); this class holds plain data and which head, token and span are picked.
 */
import type { AttentionMap, LensTable, Trace, Written } from '../../../lab/inspect.ts';
import type { Caller } from '../../caller.ts';
import { firstLine } from '../../format.ts';
import { StageChangesState } from './changes.svelte.ts';

export interface InsideForm {
  prompt: string;
  maxTokens: number;
  temperature: number;
  seed: number;
}

/** What the attention and the lens read: the prompt with what the model wrote, or the prompt alone. */
export type Reading = 'all' | 'prompt';

/** How many guesses per lens cell come back (the cell shows the first; its title lists them). */
const LENS_GUESSES = 3;

export class InsideState {
  readonly #call: Caller;
  #form = $state<InsideForm>({ prompt: 'Once upon a time', maxTokens: 60, temperature: 0.8, seed: 1 });
  #written = $state.raw<Written | null>(null);
  #writtenPrompt = $state('');
  #trace = $state.raw<Trace | null>(null);
  #attention = $state.raw<AttentionMap | null>(null);
  #lens = $state.raw<LensTable | null>(null);
  #working = $state(false);
  #error = $state<string | null>(null);
  #panel = $state<'attention' | 'lens'>('attention');
  #reading = $state<Reading>('all');
  #head = $state<{ layer: number; head: number } | null>(null);
  #query = $state<number | null>(null);

  /** The prompt and reply scored under every stage of the lineage. */
  readonly changes: StageChangesState;

  constructor(call: Caller) {
    this.#call = call;
    this.changes = new StageChangesState(call);
  }

  get form(): InsideForm { return this.#form; }
  get written(): Written | null { return this.#written; }
  get trace(): Trace | null { return this.#trace; }
  get attention(): AttentionMap | null { return this.#attention; }
  get lens(): LensTable | null { return this.#lens; }
  get working(): boolean { return this.#working; }
  get error(): string | null { return this.#error; }
  get panel(): 'attention' | 'lens' { return this.#panel; }
  set panel(p: 'attention' | 'lens') { this.#panel = p; }
  get reading(): Reading { return this.#reading; }
  /** The head drawn large, and the query token whose row every head highlights. */
  get head(): { layer: number; head: number } | null { return this.#head; }
  get query(): number | null { return this.#query; }
  /** The prompt the written text answers. */
  get writtenPrompt(): string { return this.#writtenPrompt; }

  readonly text = $derived(this.#written?.tokens.map((t) => t.text).join('') ?? '');

  /** The model writes; then the trace, the attention and the lens of what it wrote, one after another. */
  async write(): Promise<void> {
    const f = $state.snapshot(this.#form);
    await this.#run(async () => {
      const written = await this.#call((api) => api.writeWithProbabilities(f.prompt, { maxTokens: f.maxTokens, temperature: f.temperature, seed: f.seed }));
      this.#written = written;
      this.#writtenPrompt = f.prompt;
      this.#trace = null;
      const text = written.tokens.map((t) => t.text).join('');
      await this.#look();
      if (text.length) this.#trace = await this.#call((api) => api.trace(text));
    });
  }

  /** Reads the attention and the lens over the prompt alone, or with what was written. */
  async read(reading: Reading): Promise<void> {
    this.#reading = reading;
    if (this.#written || reading === 'prompt') await this.#run(() => this.#look());
  }

  pickHead(layer: number, head: number): void {
    this.#head = this.#head?.layer === layer && this.#head.head === head ? null : { layer, head };
  }

  pickQuery(position: number | null): void {
    this.#query = this.#query === position ? null : position;
  }

  /** Makes written token i the attention's query, when the attention read it (it may have been clipped, or the prompt read alone). */
  followToken(i: number): void {
    const w = this.#written;
    const map = this.#attention;
    if (!w || !map || this.#reading !== 'all') return;
    const position = w.context.length + i - map.clipped;
    if (position >= 0 && position < map.ids.length) this.#query = position;
  }

  /** The ids the attention and the lens read (the worker keeps the last block of them). */
  #ids(): number[] | string {
    const w = this.#written;
    if (!w) return this.#form.prompt;
    const context = w.context.map((t) => t.id);
    return this.#reading === 'prompt' ? context : [...context, ...w.tokens.map((t) => t.id)];
  }

  async #look(): Promise<void> {
    const ids = this.#ids();
    this.#attention = await this.#call((api) => api.attention(ids));
    this.#lens = await this.#call((api) => api.lens(ids, LENS_GUESSES));
    const T = this.#attention.ids.length;
    if (this.#query !== null && this.#query >= T) this.#query = null;
    const { weights } = this.#attention;
    if (this.#head && (this.#head.layer >= weights.length || this.#head.head >= weights[0].length)) this.#head = null;
  }

  async #run(f: () => Promise<void>): Promise<void> {
    this.#working = true;
    this.#error = null;
    try {
      await f();
    } catch (e) {
      this.#error = firstLine(e);
    } finally {
      this.#working = false;
    }
  }
}
