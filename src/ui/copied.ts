/** Which copied span (trace) each written token lies in, for underlining it. */

/** For each token (its text, in order), the index of the first span [start, end) of the joined text it overlaps, or −1. */
export function spanIndexOf(tokens: readonly { text: string }[], spans: readonly { start: number; end: number }[]): number[] {
  let at = 0;
  return tokens.map((t) => {
    const [start, end] = [at, (at += t.text.length)];
    return spans.findIndex((s) => s.start < end && start < s.end);
  });
}

/** For each token, the copied span it lies in (null: none, or no trace yet): what ProbText underlines. */
export function spanPerToken<S extends { start: number; end: number }>(tokens: readonly { text: string }[], trace: { spans: readonly S[] } | null | undefined): (S | null)[] {
  if (!trace) return [];
  return spanIndexOf(tokens, trace.spans).map((k) => (k >= 0 ? trace.spans[k] : null));
}

/** The text the tokens spell, as the trace searched it. */
export function joined(tokens: readonly { text: string }[]): string {
  return tokens.map((t) => t.text).join('');
}
