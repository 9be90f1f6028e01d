/**
 * The Inside view's questions about the loaded model, answered in the worker on request: a
 * continuation with each written token's probability and the model's five likeliest at that step,
 * every layer's and head's attention over a text, the logit lens, and the spans of a text copied
 * word for word from the training data (core/inspect/). Nothing is captured while training; each
 * answer runs under the runner's tensor lock, between steps, and frees its tensors before it
 * returns plain data.
 */
import { attentionWeights } from '../core/inspect/attention.ts';
import { logitLens } from '../core/inspect/lens.ts';
import { buildTraceIndex, copiedShare, type CopiedSpan, longestCopiedSpans, sftAnswers, type TraceIndex, type TraceSource } from '../core/inspect/trace.ts';
import { generateWithAlternatives } from '../core/model/sample.ts';
import type { ProbedToken, TokenChoice } from '../core/inspect/probed.ts';
import { renderPrompt } from '../core/post/chat.ts';
import type { LabSession } from '../core/train/session.ts';
import * as store from '../storage/index.ts';
import type { ChatData } from './chat-data.ts';
import type { SftSettings } from './stages/sft.ts';
import { type Inspector, type Loaded, storedStage } from './stages/stage.ts';

/** How many alternatives each written token carries: the five the popover lists. */
export const ALTERNATIVES = 5;
/** The shortest span that counts as copied (the report card's and the trace command's default). */
export const MIN_COPIED_CHARS = 20;
/** Characters of the source shown on each side of a copied span. */
const EXCERPT_CONTEXT = 120;

export interface WriteOptions {
  maxTokens: number;
  /** 0: always the likeliest. */
  temperature: number;
  topK?: number;
  seed: number;
  /** Put the prompt in a user turn and stop at <|end|>; by default, for every model past pretraining. */
  chat?: boolean;
}

/** One of the tokens the model could have written, as text. */
export type Choice = TokenChoice;

export interface WrittenWord extends ProbedToken {
  id: number;
}

export interface Written {
  stage: string;
  step: number;
  chat: boolean;
  /** The tokens the model read before writing (for a chat model, the prompt in its template). */
  context: { id: number; text: string }[];
  tokens: WrittenWord[];
  /** The reply closed its turn with <|end|> (not among `tokens`). */
  ended: boolean;
}

/** A text as the model reads it: at most its block size of tokens, the last ones when longer. */
export interface Window {
  ids: number[];
  tokens: string[];
  /** Tokens left off the front to fit the block size. */
  clipped: number;
}

export interface AttentionMap extends Window {
  /** [layer][head][query][key]: softmax(q·k/√hs) with the causal mask; each row sums to 1. */
  weights: number[][][][];
}

export interface LensTable extends Window {
  /** [layer][position]: the k likeliest next tokens read off after the embeddings (row 0) and each block; the last row is the model's own. */
  top: Choice[][][];
  /** [layer][position]: the probability of the token that actually comes next (positions 0…T−2). */
  actual: number[][];
}

/** A copied span, with the passage of the training text it was found in. */
export interface TracedSpan extends CopiedSpan {
  excerpt: { before: string; match: string; after: string };
}

export interface Trace {
  spans: TracedSpan[];
  /** Share of the text's characters inside a copied span. */
  copiedShare: number;
  minChars: number;
  sources: { name: string; documents: number }[];
}

const NO_MODEL = 'There is no model loaded: pretrain one, or load a checkpoint in Share, first.';

/** An index over the training text and the texts it was built from (for the excerpts). */
interface CachedIndex {
  key: string;
  corpus: Int32Array;
  index: TraceIndex;
  sources: TraceSource[];
}

export class Inside {
  readonly #lab: Inspector;
  readonly #chat: ChatData;
  /** Built once per training text (and SFT data), kept until the loaded run's differ. */
  #trace: CachedIndex | null = null;

  constructor(lab: Inspector, chat: ChatData) {
    this.#lab = lab;
    this.#chat = chat;
  }

  /** The loaded model continues `prompt`; each new token with its probability and the five likeliest, from the same forward passes. */
  write(prompt: string, opts: WriteOptions): Promise<Written> {
    return this.#lab.inspect(async ({ session }) => {
      const s = loadedSession(session);
      const tok = s.tokenizer;
      const chat = opts.chat ?? s.stage !== 'pretrain';
      const context = chat ? renderPrompt(tok, [{ role: 'user', content: prompt }]) : tok.encode(prompt.length > 0 ? prompt : '\n');
      const endId = chat ? tok.specialId('<|end|>') : undefined;
      const written = await generateWithAlternatives(s.model, context, { maxTokens: opts.maxTokens, temperature: opts.temperature, topK: opts.topK ?? 0, seed: opts.seed, stopToken: endId }, ALTERNATIVES);
      const ended = endId !== undefined && written.at(-1)?.token === endId;
      const text = (id: number) => tok.tokenText(id);
      return {
        stage: s.stage,
        step: s.stepsTaken,
        chat,
        context: Array.from(context, (id) => ({ id, text: text(id) })),
        tokens: (ended ? written.slice(0, -1) : written).map((w) => ({ id: w.token, text: text(w.token), prob: Math.exp(w.logProb), top: w.top.map((a) => ({ text: text(a.token), prob: a.prob })) })),
        ended,
      };
    });
  }

  /** Every layer's and head's attention over `text` (a string, or token ids as `write` returns them). */
  attention(text: string | readonly number[]): Promise<AttentionMap> {
    return this.#lab.inspect(async ({ session }) => {
      const s = loadedSession(session);
      const w = window(s, text);
      return { ...w, weights: await attentionWeights(s.model, w.ids) };
    });
  }

  /** The logit lens over `text`: the k likeliest next tokens after the embeddings and after each block, at every position. */
  lens(text: string | readonly number[], k = 1): Promise<LensTable> {
    return this.#lab.inspect(async ({ session }) => {
      const s = loadedSession(session);
      const w = window(s, text);
      const lens = await logitLens(s.model, w.ids, k);
      return { ...w, top: lens.top.map((row) => row.map((guesses) => guesses.map((g) => ({ text: s.tokenizer.tokenText(g.token), prob: g.prob })))), actual: lens.actual };
    });
  }

  /** The spans of `text` found word for word in the loaded model's training text (and, for a chat model, its SFT answers). */
  trace(text: string, minChars = MIN_COPIED_CHARS): Promise<Trace> {
    return this.#lab.inspect(async (loaded) => {
      const { index, sources } = await this.#index(loaded);
      const spans = longestCopiedSpans(index, text, minChars).map((span) => ({ ...span, excerpt: excerpt(sources, index, span) }));
      return { spans, copiedShare: copiedShare(index, text, minChars), minChars, sources: [...index.sources] };
    });
  }

  async #index({ session, run, db }: Loaded): Promise<CachedIndex> {
    const s = loadedSession(session);
    const sft = s.stage === 'pretrain' || !run ? undefined : await sftRunOf(db, run);
    const corpus = s.trainer.corpus;
    const key = `${corpus.name}|${sft ? sft.id : s.stage === 'pretrain' ? 'no chat' : 'bundled chat'}`;
    if (this.#trace?.key === key && this.#trace.corpus === corpus.train) return this.#trace;
    const sources: TraceSource[] = [{ name: `${corpus.name} (training text)`, texts: [s.tokenizer.decode(corpus.train)] }];
    if (s.stage !== 'pretrain') {
      const own = sft && storedStage<SftSettings>(sft)?.settings.ownData;
      sources.push({ name: own ? `${own.name} (SFT answers)` : 'SFT answers', texts: sftAnswers((await this.#chat.sft(own)).train) });
    }
    this.#trace = null; // the old index's arrays can go before the new one is built
    return (this.#trace = { key, corpus: corpus.train, index: buildTraceIndex(sources), sources });
  }
}

function loadedSession(session: LabSession | null): LabSession {
  if (!session) throw new Error(NO_MODEL);
  return session;
}

/** `text` as the ids the model reads: encoded when a string, the last blockSize when longer. */
function window(s: LabSession, text: string | readonly number[]): Window {
  const all = typeof text === 'string' ? Array.from(s.tokenizer.encode(text)) : Array.from(text);
  if (all.length === 0) throw new Error('Type some text first: there is nothing to look inside.');
  const clipped = Math.max(0, all.length - s.model.config.blockSize);
  const ids = all.slice(clipped);
  return { ids, tokens: ids.map((id) => s.tokenizer.tokenText(id)), clipped };
}

/** The run's SFT ancestor (itself when it is one), following parents; undefined when the chain is cut. */
async function sftRunOf(db: store.LabDB, run: store.RunRecord): Promise<store.RunRecord | undefined> {
  let r: store.RunRecord | undefined = run;
  for (let depth = 0; r && depth < 5; depth++) {
    if (r.stage === 'sft') return r;
    const parent: string | undefined = storedStage(r)?.parentRunId;
    r = parent ? await store.getRun(db, parent) : undefined;
  }
  return undefined;
}

/** The passage around a span's first place in the training text. */
function excerpt(sources: readonly TraceSource[], index: TraceIndex, span: CopiedSpan): TracedSpan['excerpt'] {
  const k = index.sources.findIndex((src) => src.name === span.source);
  const doc = sources[k]?.texts[span.document] ?? '';
  const end = span.offset + (span.end - span.start);
  return {
    before: doc.slice(Math.max(0, span.offset - EXCERPT_CONTEXT), span.offset),
    match: doc.slice(span.offset, end),
    after: doc.slice(end, end + EXCERPT_CONTEXT),
  };
}
