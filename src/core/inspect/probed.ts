/**
 * Written tokens as the page shows them: each token's text, the probability it was drawn with,
 * and the model's likeliest tokens at that step. Everything comes from the decoder's own step
 * (model/decode.ts: sampleToken's log p and topAlternatives), so showing it costs no forward pass.
 */
import type { Alternative } from '../model/decode.ts';

/** One token the model wrote or could have written, as text, with its probability. */
export interface TokenChoice {
  text: string;
  prob: number;
}

export interface ProbedToken extends TokenChoice {
  /** prob: exp(log p) under the distribution the token was drawn from (temperature and top-k applied); top: the model's own likeliest (temperature 1). */
  top: TokenChoice[];
}

/**
 * The new tokens of one decoded row, `ids[i]` drawn with log-probability `logProbs[i]`, with the
 * alternatives of that step when the decode was asked for them (none otherwise).
 */
export function probedTokens(tokenText: (id: number) => string, ids: readonly number[], logProbs: readonly number[], alternatives?: readonly (readonly Alternative[])[]): ProbedToken[] {
  if (logProbs.length < ids.length) throw new Error(`probedTokens: ${ids.length} tokens but ${logProbs.length} log-probabilities`);
  return ids.map((id, i) => ({
    text: tokenText(id),
    prob: Math.exp(logProbs[i]),
    top: (alternatives?.[i] ?? []).map((a) => ({ text: tokenText(a.token), prob: a.prob })),
  }));
}
