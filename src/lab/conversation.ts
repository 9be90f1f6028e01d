/**
 * The chat panel's side in the worker: the loaded model answers a conversation, token by token.
 *
 * A model past pretraining (SFT, DPO, RL) has learnt the chat template, so it reads the whole
 * conversation as turns (<|user|>…<|end|><|assistant|>, the earliest turns dropped when they would
 * crowd the context) and writes its turn until <|end|>. A base model has never seen a turn: it
 * only continues text, so it is given the student's last message as plain text and writes what
 * it thinks comes next, a story where a chat model would answer. Each token goes to the page as
 * soon as it is drawn, with its probability and the five likeliest, from the decoding step itself.
 * Sampling runs under the runner's tensor lock, between training steps, never on the page.
 */
import { type ProbedToken, probedTokens } from '../core/inspect/probed.ts';
import { sampleBatch } from '../core/model/decode.ts';
import { fitPrompt, renderPrompt } from '../core/post/chat.ts';
import type { ChatMessage } from '../core/post/chatdata.ts';
import type { Inspector } from './stages/stage.ts';

/** How many alternatives each token carries: the popover's five. */
const ALTERNATIVES = 5;

export interface ChatTurn {
  role: 'user' | 'assistant';
  content: string;
}

export interface ChatOptions {
  maxTokens: number;
  /** 0: always the likeliest. */
  temperature: number;
  /** Draw among the k likeliest only; 0: all. */
  topK: number;
  seed: number;
}

/** How the loaded model was talked to: in turns, or by continuing plain text. */
export type ChatMode = 'chat' | 'continue';

export interface ChatReply {
  mode: ChatMode;
  stage: string;
  step: number;
  tokens: ProbedToken[];
  /** It closed its turn with <|end|> (not among the tokens). */
  ended: boolean;
  /** Stopped from the page before its end. */
  stopped: boolean;
  /** Earlier turns left out to fit the model's context. */
  dropped: number;
}

export class Conversation {
  readonly #lab: Inspector;
  #stopping = false;

  constructor(lab: Inspector) {
    this.#lab = lab;
  }

  /**
   * The loaded model's next turn after `turns` (the last one the student's). `onToken` hears each
   * token as it is drawn (from the page: a `Comlink.proxy`); the reply also returns them all.
   */
  reply(turns: readonly ChatTurn[], opts: ChatOptions, onToken?: (token: ProbedToken) => unknown): Promise<ChatReply> {
    const last = turns.at(-1);
    if (!last || last.role !== 'user' || last.content.trim() === '') return Promise.reject(new Error('Write a message first: there is nothing to answer.'));
    if (!(opts.temperature >= 0) || !Number.isInteger(opts.topK) || opts.topK < 0 || !Number.isInteger(opts.maxTokens) || opts.maxTokens < 1) {
      return Promise.reject(new Error('Temperature must be 0 or more, top-k a whole number (0 for all), and the length at least 1.'));
    }
    this.#stopping = false;
    return this.#lab.inspect(async ({ session }) => {
      if (!session) throw new Error('There is no model loaded: pretrain one, or load a checkpoint in Share, first.');
      const tok = session.tokenizer;
      const mode: ChatMode = session.stage === 'pretrain' ? 'continue' : 'chat';
      const messages: ChatMessage[] = turns.map((t) => ({ role: t.role, content: t.content }));
      const prompt = mode === 'chat' ? fitPrompt(tok, messages, session.model.config.blockSize) : tok.encode(last.content);
      const dropped = mode === 'chat' ? turns.length - keptTurns(tok, messages, prompt.length) : turns.length - 1;
      const endId = mode === 'chat' ? tok.specialId('<|end|>') : undefined;
      const text = (id: number) => tok.tokenText(id);
      const d = await sampleBatch(session.model, [prompt], {
        maxNewTokens: opts.maxTokens, temperature: opts.temperature, topK: opts.topK, seed: opts.seed, stopToken: endId, alternatives: ALTERNATIVES,
        keepGoing: () => !this.#stopping,
        onToken: (_row, id, logProb, top) => {
          if (id !== endId) void onToken?.(probedTokens(text, [id], [logProb], top && [top])[0]);
        },
      });
      const ended = d.ended[0];
      const ids = ended ? d.ids[0].slice(0, -1) : d.ids[0];
      return { mode, stage: session.stage, step: session.stepsTaken, tokens: probedTokens(text, ids, d.logProbs[0], d.alternatives?.[0]), ended, stopped: this.#stopping && !ended, dropped };
    });
  }

  /** Stops the reply being written after its current token. */
  stop(): void {
    this.#stopping = true;
  }
}

/** How many of the conversation's turns the fitted prompt of `length` tokens still holds (fitPrompt drops whole turns from the front). */
function keptTurns(tok: Parameters<typeof fitPrompt>[0], messages: readonly ChatMessage[], length: number): number {
  for (let from = 0; from < messages.length; from++) if (renderPrompt(tok, messages.slice(from)).length === length) return messages.length - from;
  return messages.length;
}
