/** Which copied span (trace) each written token lies in, for underlining it. */

/** For each token (its text, in order), the index of the first span [start, end) of the joined text it overlaps, or −1. */
export function spanIndexOf(tokens: readonly { text: string }[], spans: readonly { start: number; end: number }[]): number[] {
  let at = 0;
  return tokens.map((t) => {
    const [start, end] = [at, (at += t.text.length)];
    return spans.findIndex((s) => s.start < end && start < s.end);
  });
}
