/**
 * The chat data every later stage trains on, loaded in one place: the bundled files (fetched once
 * in a browser, read from disk in Node), or a student's own JSONL file, parsed and split into
 * training and held-out examples. SFT and RL read conversations; DPO and the reward model read
 * preference pairs.
 */
import { type DpoExample, type LineError, type Parsed, parseDpoJsonl, parseSftJsonl, type SftExample } from '../core/post/chatdata.ts';
import type { ChatSplits } from '../core/post/sft.ts';

export type { LineError };

/** The bundled chat data files (corpora/chat/*.jsonl). */
export type ChatFile = 'sft_train' | 'sft_val' | 'dpo_train' | 'dpo_val';

/** Where the worker finds the bundled chat data (fetched on first use in a browser, read from disk in Node). */
export interface StageEnv {
  loadChatData?(file: ChatFile): Promise<string>;
}

/** A JSONL file the student brought, in the documented shape (chatdata.ts). */
export interface OwnChatData {
  name: string;
  text: string;
}

/** A stage's recipe settings, and the student's own data to train on instead of the bundled files. */
export type WithOwnData<S> = S & { ownData?: OwnChatData };

/** Examples to train on and to hold out, and the lines of the student's file that were skipped. */
export type LoadedChat<T> = ChatSplits<T> & { errors: LineError[] };

/** Held-out share of a student's own JSONL file (the last lines), when it has at least 10 examples. */
const OWN_HELD_OUT = 0.1;

/** The bundled chat data, loaded once, and the student's own files, parsed and split. */
export class ChatData {
  readonly #env: StageEnv;
  #files = new Map<ChatFile, Promise<string>>();

  constructor(env: StageEnv) {
    this.#env = env;
  }

  /** SFT conversations: the bundled splits, or the student's file (its last tenth held out). */
  sft(own?: OwnChatData): Promise<LoadedChat<SftExample>> {
    return this.#splits(own, parseSftJsonl, 'sft');
  }

  /** Preference pairs, for DPO and the reward model. */
  dpo(own?: OwnChatData): Promise<LoadedChat<DpoExample>> {
    return this.#splits(own, parseDpoJsonl, 'dpo');
  }

  async #file(name: ChatFile): Promise<string> {
    const load = this.#env.loadChatData;
    if (!load) throw new Error('The chat data is not available here.');
    if (!this.#files.has(name)) this.#files.set(name, load(name));
    return this.#files.get(name)!;
  }

  async #splits<T>(own: OwnChatData | undefined, parse: (text: string) => Parsed<T>, kind: 'sft' | 'dpo'): Promise<LoadedChat<T>> {
    const bundledVal = async () => parse(await this.#file(`${kind}_val`)).examples;
    if (!own) return { train: parse(await this.#file(`${kind}_train`)).examples, val: await bundledVal(), errors: [] };
    const { examples, errors } = parse(own.text);
    if (examples.length === 0) throw new Error(`${own.name} has no usable lines${errors.length ? ` (${describeErrors(errors)})` : ''}.`);
    if (examples.length < 10) return { train: examples, val: await bundledVal(), errors };
    const held = Math.max(1, Math.round(examples.length * OWN_HELD_OUT));
    return { train: examples.slice(0, -held), val: examples.slice(-held), errors };
  }
}

/** "line 3: not valid JSON; line 7: …" for the first few errors. */
export function describeErrors(errors: readonly LineError[], max = 5): string {
  const shown = errors.slice(0, max).map((e) => `line ${e.line}: ${e.message}`).join('; ');
  return errors.length > max ? `${shown}; and ${errors.length - max} more` : shown;
}
