/**
 * The report card of a checkpoint, the same for every stage so that base, SFT and DPO compare:
 *
 *   valLoss            mean loss on the stories' validation text (what pretraining optimises), in
 *                      nats per token; valBitsPerChar, the same in bits per character, which compares
 *                      across tokenizers (train/data.ts's bitsPerChar)
 *   exactMatch         share of held-out SFT questions answered exactly: greedy decoding from the
 *                      prompt, stopped at <|end|>; the reply must equal the reference answer and end
 *   formatAdherence    share of those replies that end their turn with <|end|> at all
 *   verifiableExactMatch, passAt1, passAt8
 *                      the same held-out questions where a program can check the reply (rl/evaluate.ts):
 *                      greedy exact match, and pass@1 / pass@8 of 8 samples at temperature 1;
 *                      byFamily, greedy exact match per question family (spelling, counting, …): where
 *                      a tokenizer that hides letters inside tokens costs answers
 *   preferenceAccuracy share of held-out preference pairs where the model prefers the chosen reply
 *                      relative to its reference, β·((π_c − ref_c) − (π_r − ref_r)) > 0 (ties count
 *                      half), and meanMargin, the mean of that margin
 *   realWordRate       share of the words in 16 samples at temperature 0.8 (story prompts) that are
 *                      words of the pretraining text: does the model write real words at all?
 *   copiedShare        share of the characters of those same samples that lie inside a span of 20
 *                      or more characters found word for word in the pretraining text (the trace
 *                      index, inspect/trace.ts): memorisation against generalisation, on a number
 *   emptyReplies       share of those greedy held-out replies that are empty or one character long
 *   meanReplyLength    their mean length in characters (a collapse towards short replies shows here)
 *   valLossChange      the stories loss minus the parent stage's (when the caller knows it), and
 *                      storiesNote, a sentence that names forgetting when the change is large
 *
 * The reference of a DPO checkpoint is its SFT parent, whose held-out log-probs the checkpoint
 * carries; any other checkpoint is its own reference (margins 0, accuracy 50%) unless a reference
 * model is given.
 */
import { fitPrompt } from '../post/chat.ts';
import type { DpoExample, SftExample } from '../post/chatdata.ts';
import type { Stage } from '../io/checkpoint.ts';
import { DEFAULT_BETA, type DpoExtra, encodePair, type PairLogps, pairsSha256, preferenceStats, scorePairs } from '../post/dpo.ts';
import { sampleBatch } from '../model/decode.ts';
import type { GPT } from '../model/model.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import { evaluateLoss } from '../train/trainer.ts';
import { bitsPerChar } from '../train/data.ts';
import { type VerifiableCard, verifiableCard } from '../rl/evaluate.ts';
import { storiesNote } from './forgetting.ts';
import { copiedShare, type TraceIndex } from '../inspect/trace.ts';

/** Greedy replies (token ids, without the end token) and whether each ended its turn. */
export interface Reply {
  ids: number[];
  ended: boolean;
}

/**
 * Greedy decoding of many prompts, batchSize at a time, through decode.ts's sampleBatch (a
 * key/value cache, one forward pass per new token for all unfinished prompts); every row gets
 * exactly what decoding it alone would give.
 */
export async function greedyReplies(model: GPT, prompts: readonly Int32Array[], endId: number, maxTokens: number, batchSize = 64): Promise<Reply[]> {
  const replies: Reply[] = [];
  for (let start = 0; start < prompts.length; start += batchSize) {
    const { ids, ended } = await sampleBatch(model, prompts.slice(start, start + batchSize), { maxNewTokens: maxTokens, temperature: 0, topK: 0, seed: 0, stopToken: endId });
    ids.forEach((row, i) => replies.push({ ids: ended[i] ? row.slice(0, -1) : row, ended: ended[i] }));
  }
  return replies;
}

export interface AnswerCheck {
  question: string;
  expected: string;
  answer: string;
  ended: boolean;
  correct: boolean;
}

/** Exact-match accuracy and format adherence on conversations whose last turn is the assistant's. */
export async function answerAccuracy(model: GPT, tok: TextTokenizer, conversations: readonly SftExample[], batchSize = 64): Promise<{ exactMatch: number; formatAdherence: number; questions: number; checks: AnswerCheck[] }> {
  if (conversations.length === 0) return { exactMatch: 0, formatAdherence: 0, questions: 0, checks: [] };
  const endId = tok.specialId('<|end|>');
  const prompts = conversations.map((c) => fitPrompt(tok, c.messages.slice(0, -1), model.config.blockSize));
  const expected = conversations.map((c) => c.messages[c.messages.length - 1].content);
  // A reply longer than the longest reference answer by more than a few tokens cannot be right.
  const maxTokens = Math.max(...expected.map((e) => tok.encode(e).length)) + 8;
  const replies = await greedyReplies(model, prompts, endId, maxTokens, batchSize);
  const checks = conversations.map((c, i) => {
    const answer = tok.decode(replies[i].ids);
    const question = c.messages[c.messages.length - 2].content;
    return { question, expected: expected[i], answer, ended: replies[i].ended, correct: replies[i].ended && answer === expected[i] };
  });
  const share = (f: (c: AnswerCheck) => boolean) => checks.filter(f).length / checks.length;
  return { exactMatch: share((c) => c.correct), formatAdherence: share((c) => c.ended), questions: checks.length, checks };
}

/** The distinct words of a text, lower-cased: what counts as a real word for realWordRate. */
export function corpusWords(text: string): Set<string> {
  return new Set(text.toLowerCase().match(/[a-z]+(?:'[a-z]+)?/g) ?? []);
}

/**
 * Share of the words of `text` that are in `words` (case-insensitive), and how many words there
 * were. The last word is left out when the text does not end after it, since sampling stops
 * wherever its token budget ends, often mid-word.
 */
export function realWordShare(text: string, words: ReadonlySet<string>): { rate: number; words: number } {
  const found = [...text.toLowerCase().matchAll(/[a-z]+(?:'[a-z]+)?/g)];
  if (found.length > 0) {
    const last = found[found.length - 1];
    if (last.index! + last[0].length === text.length) found.pop();
  }
  if (found.length === 0) return { rate: 0, words: 0 };
  return { rate: found.filter((m) => words.has(m[0])).length / found.length, words: found.length };
}

/** Share of replies that are empty or one character long, and the mean reply length in characters. */
export function replyStats(replies: readonly string[]): { emptyReplies: number; meanReplyLength: number } {
  if (replies.length === 0) return { emptyReplies: 0, meanReplyLength: 0 };
  const empty = replies.filter((r) => r.trim().length <= 1).length;
  return { emptyReplies: empty / replies.length, meanReplyLength: replies.reduce((n, r) => n + r.length, 0) / replies.length };
}

export { FORGETTING_THRESHOLD, storiesNote } from './forgetting.ts';

/** The prompts realWordRate samples from: beginnings the stories use. */
const STORY_PROMPTS = ['Once upon a time', 'One day, ', 'Tom ', 'The '];
/**
 * Samples per prompt. One sample of 120 characters holds only 15–25 words, and a school lesson's
 * sums and counts hold few words at all, so four samples a prompt keep one unlucky draw from
 * moving the rate by several points.
 */
const SAMPLES_PER_PROMPT = 4;

/** Samples at temperature 0.8 from story prompts, all in one batch, as text (a special token as a space: it ends a word and a span). */
export async function storySamples(model: GPT, tok: TextTokenizer, { tokens = 120, seed = 1 } = {}): Promise<string[]> {
  const prompts = STORY_PROMPTS.flatMap((p) => Array.from({ length: SAMPLES_PER_PROMPT }, () => Int32Array.from(tok.encode(p))));
  const { ids } = await sampleBatch(model, prompts, { maxNewTokens: tokens, temperature: 0.8, topK: 0, seed });
  return ids.map((row) => row.map((id) => (id < tok.specials.length ? ' ' : tok.decode([id]))).join(''));
}

/** The share of the samples' words that are real words (all the samples' words pooled). */
export function realWordRateOf(samples: readonly string[], words: ReadonlySet<string>): number {
  let known = 0;
  let total = 0;
  for (const text of samples) {
    const share = realWordShare(text, words);
    known += share.rate * share.words;
    total += share.words;
  }
  return total > 0 ? known / total : 0;
}

/** storySamples' share of real words. */
export async function realWordRate(model: GPT, tok: TextTokenizer, words: ReadonlySet<string>, options: { tokens?: number; seed?: number } = {}): Promise<number> {
  return realWordRateOf(await storySamples(model, tok, options), words);
}

/**
 * The share of all the samples' characters (pooled) that lie inside a span of at least `minChars`
 * characters found word for word in the indexed text: Σ copied characters / Σ characters, each
 * sample's spans as trace.ts's copiedShare finds them (a span never crosses from one sample into
 * the next). 0 when the samples are empty.
 */
export function copiedShareOf(index: TraceIndex, samples: readonly string[], minChars = 20): number {
  const total = samples.reduce((a, t) => a + t.length, 0);
  if (total === 0) return 0;
  return samples.reduce((a, t) => a + copiedShare(index, t, minChars) * t.length, 0) / total;
}

/** The shortest span of a sample that counts as copied (the trace command's default). */
export const COPIED_MIN_CHARS = 20;

export interface ReportCard {
  stage: Stage;
  step: number;
  valLoss: number;
  /** valLoss in bits per character of the validation text: comparable across tokenizers. */
  valBitsPerChar: number;
  /** valLoss minus the parent stage's, when the caller gave the parent's (see storiesNote). */
  valLossChange?: number;
  storiesNote?: string;
  /** Share of sampled words that are words of the pretraining text (absent when no word list was given). */
  realWordRate?: number;
  /** Share of the sampled characters inside spans of COPIED_MIN_CHARS or more copied word for word from the pretraining text (absent when no trace index was given). */
  copiedShare?: number;
  emptyReplies: number;
  meanReplyLength: number;
  exactMatch: number;
  formatAdherence: number;
  questions: number;
  verifiableExactMatch: number;
  passAt1: number;
  passAt8: number;
  /** Held-out questions a verifier can check (and whose answer fits in the context). */
  checkable: number;
  /** Checkable questions left out because their answer cannot fit in the context after the prompt. */
  unanswerable: number;
  /** Greedy exact match per question family of the checkable questions. */
  byFamily: VerifiableCard['byKind'];
  preferenceAccuracy: number;
  meanMargin: number;
  pairs: number;
  beta: number;
  /** Where the reference log-probs came from. */
  reference: 'sft-parent' | 'model' | 'self';
  /** The first few held-out answers, to read. */
  examples: AnswerCheck[];
}

export interface ReportInputs {
  model: GPT;
  tokenizer: TextTokenizer;
  stage: Stage;
  step: number;
  /** The checkpoint's extra metadata (a DPO checkpoint's holds its reference log-probs). */
  extra?: Record<string, unknown>;
  /** `chars`: characters of the validation text (absent: one per token, the character tokenizer). */
  stories: { val: Int32Array; chars?: number; batchSize: number; batches: number; seed: number };
  sftVal: readonly SftExample[];
  dpoVal: readonly DpoExample[];
  /** A reference model to compare against instead (e.g. an SFT checkpoint for a DPO one). */
  referenceModel?: GPT;
  beta?: number;
  batchSize?: number;
  /** Evaluate only the first `limit` questions and pairs (a quicker, rougher card). */
  limit?: number;
  /** The words of the pretraining text (corpusWords), for realWordRate. */
  words?: ReadonlySet<string>;
  /** An index of the pretraining text (inspect/trace.ts's buildTraceIndex), for copiedShare. */
  trace?: TraceIndex;
  /** The parent stage's stories loss, for valLossChange and storiesNote. */
  parentValLoss?: number;
  /** Seed of the samples realWordRate reads. */
  seed?: number;
}

export async function reportCard(inp: ReportInputs): Promise<ReportCard> {
  const { model, tokenizer: tok } = inp;
  const batchSize = inp.batchSize ?? 64;
  const valLoss = await evaluateLoss(model, inp.stories.val, inp.stories.batchSize, inp.stories.batches, inp.stories.seed);
  const limit = inp.limit ?? Infinity;
  const answers = await answerAccuracy(model, tok, inp.sftVal.slice(0, limit), batchSize);
  const verifiable = await verifiableCard(model, tok, inp.sftVal, { limit });

  const dpo = inp.extra?.dpo as DpoExtra | undefined;
  const beta = inp.beta ?? dpo?.beta ?? DEFAULT_BETA;
  const endId = tok.specialId('<|end|>');
  const pairs = inp.dpoVal.slice(0, limit).map((e) => encodePair(tok, e, model.config.blockSize));
  const policy = await scorePairs(model, pairs, batchSize, endId);
  let reference: PairLogps = policy;
  let source: ReportCard['reference'] = 'self';
  if (inp.referenceModel) {
    reference = await scorePairs(inp.referenceModel, pairs, batchSize, endId);
    source = 'model';
  } else if (dpo && dpo.dataSha256.val === (await pairsSha256(inp.dpoVal))) {
    const cached = (values: number[]) => Float32Array.from(values.slice(0, pairs.length));
    reference = { chosen: cached(dpo.reference.val.chosen), rejected: cached(dpo.reference.val.rejected) };
    source = 'sft-parent';
  }
  const pref = preferenceStats(policy, reference, beta);
  const replies = replyStats(answers.checks.map((c) => c.answer));
  const change = inp.parentValLoss !== undefined ? valLoss - inp.parentValLoss : undefined;
  // One set of samples for both measures of what the model writes freely.
  const samples = inp.words || inp.trace ? await storySamples(model, tok, { seed: inp.seed ?? 1 }) : undefined;
  return {
    stage: inp.stage,
    step: inp.step,
    valLoss,
    valBitsPerChar: bitsPerChar(valLoss, inp.stories.val.length, inp.stories.chars ?? inp.stories.val.length),
    ...(change !== undefined ? { valLossChange: change, storiesNote: storiesNote(change) } : {}),
    ...(samples && inp.words ? { realWordRate: realWordRateOf(samples, inp.words) } : {}),
    ...(samples && inp.trace ? { copiedShare: copiedShareOf(inp.trace, samples, COPIED_MIN_CHARS) } : {}),
    emptyReplies: replies.emptyReplies,
    meanReplyLength: replies.meanReplyLength,
    exactMatch: answers.exactMatch,
    formatAdherence: answers.formatAdherence,
    questions: answers.questions,
    verifiableExactMatch: verifiable.verifiableExactMatch,
    passAt1: verifiable.passAt1,
    passAt8: verifiable.passAt8,
    checkable: verifiable.checkable,
    unanswerable: verifiable.unanswerable,
    byFamily: verifiable.byKind,
    preferenceAccuracy: pref.accuracy,
    meanMargin: pref.meanMargin,
    pairs: pref.pairs,
    beta,
    reference: source,
    examples: answers.checks.slice(0, 5),
  };
}
