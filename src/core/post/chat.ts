/**
 * The chat template: how a conversation becomes the token ids the model reads, and which of those
 * tokens the SFT loss counts.
 *
 * Template (no newlines, no spaces added; every role header and every end of turn is one reserved
 * special token of the tokenizer):
 *
 *     <|user|>What does Tom eat?<|end|><|assistant|>Tom eats carrots.<|end|>
 *     ^^^^^^^^ header          ^^^^^^^ end  ^^^^^^^^^^^^^ header   ^^^^^^^^^^^^^^^^^^^^^^^^ counted
 *
 * A system message (only ever the first) is plain text closed by <|end|>, with no header:
 *
 *     Answer briefly.<|end|><|user|>What does Tom eat?<|end|><|assistant|>…
 *
 * It has no reserved token of its own because a new special would shift every character id of the
 * vocabulary (specials come first) and break every checkpoint made with it; the end of turn still
 * tells the model where the instruction stops.
 *
 * Loss mask: 1 on the assistant's content and its closing <|end|>, 0 everywhere else (system and
 * user turns, both role headers). The assistant header is part of the prompt: at inference the prompt ends with
 * <|assistant|> and the model writes the rest, so what it learns is exactly what it will be asked
 * to produce, including when to stop.
 *
 * The mask is per token here; a training example predicts token t+1 from tokens ≤ t, so its loss
 * mask is this mask shifted left by one (see `toExample`).
 */
import type { ChatMessage } from './chatdata.ts';
import type { Random } from '../random.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import type { TrainBatch } from '../train/objective.ts';

/** A conversation as token ids, with mask[i] = 1 when token i is assistant content or its end of turn. */
export interface RenderedChat {
  ids: Int32Array;
  mask: Float32Array;
}

/** One header (none for system) + content + end-of-turn per message; the mask marks assistant content and its end. */
export function renderChat(tok: TextTokenizer, messages: readonly ChatMessage[]): RenderedChat {
  const ids: number[] = [];
  const mask: number[] = [];
  const end = tok.specialId('<|end|>');
  for (const m of messages) {
    const counted = m.role === 'assistant' ? 1 : 0;
    if (m.role !== 'system') {
      ids.push(tok.specialId(m.role === 'user' ? '<|user|>' : '<|assistant|>'));
      mask.push(0);
    }
    for (const id of tok.encode(m.content)) {
      ids.push(id);
      mask.push(counted);
    }
    ids.push(end);
    mask.push(counted);
  }
  return { ids: Int32Array.from(ids), mask: Float32Array.from(mask) };
}

/** The prompt the model continues: the conversation so far, then the assistant header. */
export function renderPrompt(tok: TextTokenizer, messages: readonly ChatMessage[]): Int32Array {
  const { ids } = renderChat(tok, messages);
  const out = new Int32Array(ids.length + 1);
  out.set(ids);
  out[ids.length] = tok.specialId('<|assistant|>');
  return out;
}

/** An assistant reply as the tokens the model must produce after the prompt: content, then <|end|>. */
export function renderReply(tok: TextTokenizer, content: string): Int32Array {
  const body = tok.encode(content);
  const out = new Int32Array(body.length + 1);
  out.set(body);
  out[body.length] = tok.specialId('<|end|>');
  return out;
}

/**
 * Cuts a rendered conversation to at most `maxTokens` tokens (the block size + 1: inputs and the
 * shifted targets). Whole exchanges are dropped from the front while it is too long and more than
 * one is left, so the last answer keeps its question; a system turn stays in front of what is kept
 * unless the last exchange alone does not fit with it. A single exchange that is still too long
 * loses its tail (and with it the end of turn: such an example teaches the start of the answer only).
 */
export function fitToBlock(chat: RenderedChat, tok: TextTokenizer, maxTokens: number): RenderedChat {
  let { ids, mask } = chat;
  const userId = tok.specialId('<|user|>');
  const head = Math.max(0, ids.indexOf(userId)); // the system turn's tokens, if any, come before the first <|user|>
  const cut = (from: number, to: number) => {
    ids = without(ids, from, to);
    mask = without(mask, from, to);
  };
  while (ids.length > maxTokens) {
    const next = ids.indexOf(userId, head + 1);
    if (next < 0) break;
    cut(head, next);
  }
  if (ids.length > maxTokens && head > 0) cut(0, head);
  return { ids: ids.subarray(0, maxTokens), mask: mask.subarray(0, maxTokens) };
}

/** a with the elements [from, to) removed (a copy). */
function without<A extends Int32Array | Float32Array>(a: A, from: number, to: number): A {
  const out = a.slice(0, a.length - (to - from)) as A;
  out.set(a.subarray(to), from);
  return out;
}

/**
 * The prompt for the last user turn of a conversation, as the model can see it: like fitToBlock in
 * training, whole earlier exchanges are dropped from the front (a system turn stays, unless the
 * last exchange does not fit with it), here while the prompt fills more than half of the block
 * (the rest is room for the reply). Without this a long conversation would be cut mid-sentence by
 * the sliding window, a context that training never shows.
 */
export function fitPrompt(tok: TextTokenizer, messages: readonly ChatMessage[], blockSize: number): Int32Array {
  const system = messages[0]?.role === 'system' ? messages.slice(0, 1) : [];
  const turns = messages.slice(system.length);
  let prompt = renderPrompt(tok, messages);
  let from = 0;
  for (let i = 1; prompt.length > blockSize / 2 && i < turns.length; i++) {
    if (turns[i].role !== 'user') continue;
    from = i;
    prompt = renderPrompt(tok, [...system, ...turns.slice(from)]);
  }
  if (prompt.length > blockSize / 2 && system.length > 0) prompt = renderPrompt(tok, turns.slice(from));
  return prompt;
}

/** Inputs, targets and the loss mask of a rendered sequence: x = ids[:-1], y = ids[1:], lossMask = mask[1:]. */
export function toExample(chat: RenderedChat): { x: Int32Array; y: Int32Array; mask: Float32Array } {
  return { x: chat.ids.subarray(0, -1), y: chat.ids.subarray(1), mask: chat.mask.subarray(1) };
}

/**
 * Rows of different lengths as one batch: right-padded to the longest row with `padId`, the padding
 * masked out. Row b occupies [b·T, (b+1)·T) (batch-major, as TrainBatch).
 */
export function padBatch(rows: { x: Int32Array; y: Int32Array; mask: Float32Array }[], padId: number): TrainBatch & { mask: Float32Array } {
  const B = rows.length;
  const T = Math.max(1, ...rows.map((r) => r.x.length));
  const x = new Int32Array(B * T).fill(padId);
  const y = new Int32Array(B * T).fill(padId);
  const mask = new Float32Array(B * T);
  rows.forEach((r, b) => {
    x.set(r.x, b * T);
    y.set(r.y, b * T);
    mask.set(r.mask, b * T);
  });
  return { x, y, mask, batchSize: B, seqLen: T };
}

/** A random SFT batch: `batchSize` conversations drawn with `rng`, rendered, fitted and padded. */
export function chatBatch(tok: TextTokenizer, conversations: readonly { messages: ChatMessage[] }[], batchSize: number, blockSize: number, rng: Random): TrainBatch & { mask: Float32Array } {
  const rows = [];
  for (let b = 0; b < batchSize; b++) {
    const chat = fitToBlock(renderChat(tok, rng.pick(conversations).messages), tok, blockSize + 1);
    rows.push(toExample(chat));
  }
  return padBatch(rows, tok.specialId('<|end|>'));
}
