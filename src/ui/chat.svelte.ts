/**
 * The chat panel's state: the conversation with the loaded model, the reply being written (its
 * tokens arrive one by one from the worker), and the sampling settings. The panel is part of the
 * page, not of a view, so it stays open and keeps the conversation while the student moves between
 * views. The sampling itself happens in the worker (src/lab/conversation.ts).
 */
import * as Comlink from 'comlink';
import type { ChatOptions, ChatReply, ChatTurn } from '../lab/conversation.ts';
import type { Trace } from '../lab/inspect.ts';
import type { ProbedToken } from '../lab/types.ts';
import type { Caller } from './caller.ts';
import { firstLine } from './format.ts';

/** A turn as the panel shows it: the student's text, or the model's tokens with their probabilities. */
export type ShownTurn =
  | { role: 'user'; content: string }
  | (ChatReply & { role: 'assistant'; /** Where it learnt it, once asked. */ trace?: Trace });

export class ChatState {
  readonly #call: Caller;
  #open = $state(false);
  #turns = $state.raw<ShownTurn[]>([]);
  /** The reply being written: its tokens so far (null when none is). */
  #writing = $state.raw<ProbedToken[] | null>(null);
  #error = $state<string | null>(null);
  readonly form = $state<ChatOptions>({ maxTokens: 120, temperature: 0.8, topK: 20, seed: 1 });

  constructor(call: Caller) {
    this.#call = call;
  }

  get open(): boolean { return this.#open; }
  get turns(): ShownTurn[] { return this.#turns; }
  get writing(): ProbedToken[] | null { return this.#writing; }
  get error(): string | null { return this.#error; }

  toggle(): void {
    this.#open = !this.#open;
  }

  close(): void {
    this.#open = false;
  }

  /** Sends the student's message; the model's turn appears token by token. */
  async send(message: string): Promise<void> {
    if (this.#writing || message.trim() === '') return;
    this.#error = null;
    const turns: ShownTurn[] = [...this.#turns, { role: 'user', content: message }];
    this.#turns = turns;
    this.#writing = [];
    const heard = Comlink.proxy((token: ProbedToken) => {
      if (this.#writing) this.#writing = [...this.#writing, token];
    });
    // Each turn draws with its own seed, so asking the same again gives another reply.
    const opts = { ...$state.snapshot(this.form), seed: this.form.seed + turns.length };
    try {
      const reply: ChatReply = await this.#call((api) => api.chat(turns.map(asText), opts, heard), false);
      this.#turns = [...turns, { role: 'assistant', ...reply }];
    } catch (e) {
      this.#error = firstLine(e);
    } finally {
      this.#writing = null;
    }
  }

  /** Stops the reply being written after its current token. */
  stop(): Promise<void> {
    return this.#call((api) => api.stopChat(), false);
  }

  /** Looks up the spans of reply `index` copied word for word from the training data (and, for a chat model, the SFT answers). */
  async trace(index: number): Promise<void> {
    const turn = this.#turns[index];
    if (turn?.role !== 'assistant') return;
    const text = turn.tokens.map((t) => t.text).join('');
    try {
      const trace = await this.#call((api) => api.trace(text), false);
      this.#turns = this.#turns.map((t, i) => (i === index && t.role === 'assistant' ? { ...t, trace } : t));
    } catch (e) {
      this.#error = firstLine(e);
    }
  }

  /** A new conversation. */
  clear(): void {
    if (this.#writing) return;
    this.#turns = [];
    this.#error = null;
  }
}

function asText(turn: ShownTurn): ChatTurn {
  return turn.role === 'user' ? turn : { role: 'assistant', content: turn.tokens.map((t) => t.text).join('') };
}
