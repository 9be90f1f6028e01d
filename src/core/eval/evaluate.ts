/**
 * The report card of a checkpoint, the same for every stage so that base, SFT and DPO compare:
 *
 *   valLoss            mean loss on the stories' validation text (what pretraining optimises)
 *   exactMatch         share of held-out SFT questions answered exactly: greedy decoding from the
 *                      prompt, stopped at <|end|>; the reply must equal the reference answer and end
 *   formatAdherence    share of those replies that end their turn with <|end|> at all
 *   preferenceAccuracy share of held-out preference pairs where the model prefers the chosen reply
 *                      relative to its reference, β·((π_c − ref_c) − (π_r − ref_r)) > 0 (ties count
 *                      half), and meanMargin, the mean of that margin
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
import type { CharTokenizer } from '../model/tokenizer.ts';
import { evaluateLoss } from '../train/trainer.ts';

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
export async function answerAccuracy(model: GPT, tok: CharTokenizer, conversations: readonly SftExample[], batchSize = 64): Promise<{ exactMatch: number; formatAdherence: number; questions: number; checks: AnswerCheck[] }> {
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

export interface ReportCard {
  stage: Stage;
  step: number;
  valLoss: number;
  exactMatch: number;
  formatAdherence: number;
  questions: number;
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
  tokenizer: CharTokenizer;
  stage: Stage;
  step: number;
  /** The checkpoint's extra metadata (a DPO checkpoint's holds its reference log-probs). */
  extra?: Record<string, unknown>;
  stories: { val: Int32Array; batchSize: number; batches: number; seed: number };
  sftVal: readonly SftExample[];
  dpoVal: readonly DpoExample[];
  /** A reference model to compare against instead (e.g. an SFT checkpoint for a DPO one). */
  referenceModel?: GPT;
  beta?: number;
  batchSize?: number;
  /** Evaluate only the first `limit` questions and pairs (a quicker, rougher card). */
  limit?: number;
}

export async function reportCard(inp: ReportInputs): Promise<ReportCard> {
  const { model, tokenizer: tok } = inp;
  const batchSize = inp.batchSize ?? 64;
  const valLoss = await evaluateLoss(model, inp.stories.val, inp.stories.batchSize, inp.stories.batches, inp.stories.seed);
  const limit = inp.limit ?? Infinity;
  const answers = await answerAccuracy(model, tok, inp.sftVal.slice(0, limit), batchSize);

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
  return {
    stage: inp.stage,
    step: inp.step,
    valLoss,
    exactMatch: answers.exactMatch,
    formatAdherence: answers.formatAdherence,
    questions: answers.questions,
    preferenceAccuracy: pref.accuracy,
    meanMargin: pref.meanMargin,
    pairs: pref.pairs,
    beta,
    reference: source,
    examples: answers.checks.slice(0, 5),
  };
}
