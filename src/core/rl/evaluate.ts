/**
 * The RL part of the report card: how often the model's replies to held-out checkable questions
 * are right, as a program checks them (verifiers.ts).
 *
 *   verifiableExactMatch  greedy decoding, the reply must be the verified answer and end its turn
 *   passAt1, passAt8      n = 8 samples per question at temperature 1; pass@k is the unbiased
 *                         estimate 1 − C(n−c, k)/C(n, k) of Chen et al. 2021, "Evaluating Large
 *                         Language Models Trained on Code" (c correct of n), averaged over questions:
 *                         pass@1 = c/n, pass@8 = whether any of the 8 was right
 *
 * Only questions whose accepted reply fits in the model's context after the prompt are scored: at
 * tiny's 64 characters, "What are the letters of yellow?" leaves too little room for "The word
 * yellow is spelled y-e-l-l-o-w.", and no model with that context could answer it. Those are
 * counted apart (`unanswerable`) instead of as wrong.
 *
 * RL with verifiable rewards should raise pass@1 most; at large k the SFT model can catch up
 * (Yue et al. 2025, "Does Reinforcement Learning Really Incentivize Reasoning Capacity…").
 */
import { fitPrompt } from '../post/chat.ts';
import type { SftExample } from '../post/chatdata.ts';
import type { GPT } from '../model/model.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import { replyIds, sampleCompletions } from './sampler.ts';
import { canStillMatch, expectedReply, verify, type VerifiableKind } from './verifiers.ts';

/** 1 − C(n−c, k)/C(n, k), computed as a product so it never overflows. */
export function passAtK(n: number, c: number, k: number): number {
  if (k > n) throw new Error(`pass@k: k (${k}) is larger than the number of samples (${n})`);
  if (n - c < k) return 1;
  let fail = 1;
  for (let i = n - c + 1; i <= n; i++) fail *= 1 - k / i;
  return 1 - fail;
}

export interface VerifiableCard {
  verifiableExactMatch: number;
  /** NaN when the card was asked for no samples (greedy exact match alone, as RL's evaluations during training). */
  passAt1: number;
  passAt8: number;
  /** Checkable held-out questions evaluated. */
  checkable: number;
  /** Checkable questions left out because their accepted reply cannot fit in the context after the prompt. */
  unanswerable: number;
  /** Greedy exact match per question family. */
  byKind: Partial<Record<VerifiableKind, { correct: number; total: number }>>;
}

/**
 * The checkable questions of conversations: the last user turn and its conversation so far, each
 * distinct one once. A question the data asks five times is still one question: greedy decoding
 * answers it the same way every time, and counting it five times would let it outweigh four others.
 */
export function checkableQuestions(conversations: readonly SftExample[]): { question: string; messages: SftExample['messages'] }[] {
  const seen = new Set<string>();
  return conversations
    .map((c) => ({ question: c.messages[c.messages.length - 2]?.content ?? '', messages: c.messages.slice(0, -1) }))
    .filter((q) => {
      const key = JSON.stringify(q.messages);
      if (q.messages.length === 0 || verify(q.question, '') === null || seen.has(key)) return false;
      seen.add(key);
      return true;
    });
}

/** Whether a prompt of `promptLength` tokens leaves room in a context of `block` for the accepted reply and its end-of-turn token. */
export function replyFits(tok: TextTokenizer, promptLength: number, expected: string, block: number): boolean {
  return promptLength + tok.encode(expected).length + 1 <= block;
}

export async function verifiableCard(model: GPT, tok: TextTokenizer, conversations: readonly SftExample[], opts: { samples?: number; seed?: number; maxNewTokens?: number; limit?: number } = {}): Promise<VerifiableCard> {
  const block = model.config.blockSize;
  const all = checkableQuestions(conversations).map((q) => ({ ...q, prompt: fitPrompt(tok, q.messages, block) }));
  const answerable = all.filter((q) => replyFits(tok, q.prompt.length, expectedReply(q.question)!.expected, block));
  const unanswerable = all.length - answerable.length;
  const questions = answerable.slice(0, opts.limit ?? Infinity);
  const n = opts.samples ?? 8;
  const endId = tok.specialId('<|end|>');
  const byKind: VerifiableCard['byKind'] = {};
  if (questions.length === 0) return { verifiableExactMatch: 0, passAt1: 0, passAt8: 0, checkable: 0, unanswerable, byKind };
  const prompts = questions.map((q) => q.prompt);
  const maxNewTokens = opts.maxNewTokens ?? block; // the sampler stops each row at the block size
  const correct = (q: string, c: { ids: number[]; ended: boolean }) => c.ended && verify(q, tok.decode(replyIds(c as never, endId)))!.correct;
  // Only whether a reply is right counts here, so a reply stops as soon as it cannot be: a base
  // model, which never ends its turn, is scored in a moment instead of writing to the block's end.
  const expected = questions.map((q) => expectedReply(q.question)!.expected);
  const keepGoing = (per: number) => (row: number, ids: readonly number[]) => canStillMatch(expected[Math.floor(row / per)], tok.decode(ids));

  const greedy = await sampleCompletions(model, prompts, { maxNewTokens, temperature: 0, seed: 0, endId, keepGoing: keepGoing(1) });
  let hits = 0;
  questions.forEach((q, i) => {
    const kind = verify(q.question, '')!.kind;
    const k = (byKind[kind] ??= { correct: 0, total: 0 });
    k.total++;
    if (correct(q.question, greedy[i])) {
      k.correct++;
      hits++;
    }
  });

  if (n === 0) return { verifiableExactMatch: hits / questions.length, passAt1: NaN, passAt8: NaN, checkable: questions.length, unanswerable, byKind };
  const repeated = prompts.flatMap((p) => Array.from({ length: n }, () => p));
  const samples = await sampleCompletions(model, repeated, { maxNewTokens, temperature: 1, seed: opts.seed ?? 1, endId, keepGoing: keepGoing(n) });
  let p1 = 0;
  let p8 = 0;
  questions.forEach((q, i) => {
    const c = samples.slice(i * n, (i + 1) * n).filter((s) => correct(q.question, s)).length;
    p1 += passAtK(n, c, 1);
    p8 += passAtK(n, c, Math.min(8, n));
  });
  return { verifiableExactMatch: hits / questions.length, passAt1: p1 / questions.length, passAt8: p8 / questions.length, checkable: questions.length, unanswerable, byKind };
}
