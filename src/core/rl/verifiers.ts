/**
 * Verifiers: programs that check a reply from the question alone, the rewards of RL with verifiable
 * rewards (RLVR; DeepSeek-AI 2025, "DeepSeek-R1"; Lambert et al. 2024, "Tülu 3", which named it).
 *
 * Every checkable question family of the chat data has one pure function here that reads the
 * question, works out the one right reply, and compares it with what the model wrote, character
 * for character: "3 plus 4 is 7." is right, "3 plus 4 is 8.", "3 plus 4 is 7" (no period) and
 * "3 plus 4 is 7. 3 plus 4 is 7." are not. The answer forms are the chat data's (corpora/chat.ts):
 *
 *   arithmetic  "What is A plus B?" / "What do you get when you add A and B?" → "A plus B is C."
 *               "What is A minus B?" / "What is A take away B?"               → "A minus B is C."
 *   two-step    "What is A plus B minus C?"  → "A plus B is X. X minus C is Y." (the working, then the result)
 *   spelling    "Spell the word W." / "How do you spell W?" / "What are the letters of W?"
 *                                            → "The word W is spelled w-o-r-d."
 *   counting    "Count to N." / "Can you count to N?" / "Count from 1 to N."  → "1, 2, 3, …, N."
 *   greeting    "Say hello to NAME."         → "Hello, NAME!" (also goodbye, thank you, good night)
 *   repeat      "Repeat after me: PHRASE."   → "Phrase." (first letter capitalised)
 *
 * Questions of no family (facts: "What does Tom eat?") are not program-checkable: `verify` returns
 * null for them, and a caller that knows the data's reference answer can fall back to exact match.
 */

export type VerifiableKind = 'arithmetic' | 'two-step' | 'spelling' | 'counting' | 'greeting' | 'repeat';
export const VERIFIABLE_KINDS: readonly VerifiableKind[] = ['arithmetic', 'two-step', 'spelling', 'counting', 'greeting', 'repeat'];

export interface Verdict {
  kind: VerifiableKind;
  /** The reply a program accepts. */
  expected: string;
  correct: boolean;
}

type Op = 'plus' | 'minus';
const apply = (a: number, op: Op, b: number) => (op === 'plus' ? a + b : a - b);
const opOf = (word: string): Op => (word === 'plus' || word === 'add' ? 'plus' : 'minus');

/** "What is A plus B?" and its other wordings → "A plus B is C.", or null when the question is not one. */
export function arithmeticAnswer(question: string): string | null {
  let m = /^What is (\d+) (plus|minus|take away) (\d+)\?$/.exec(question);
  if (!m) {
    const add = /^What do you get when you add (\d+) and (\d+)\?$/.exec(question);
    if (add) m = [add[0], add[1], 'plus', add[2]] as unknown as RegExpExecArray;
  }
  if (!m) return null;
  const [a, b] = [Number(m[1]), Number(m[3])];
  const op = opOf(m[2]);
  return `${a} ${op} ${b} is ${apply(a, op, b)}.`;
}

/** "What is A plus B minus C?" → "A plus B is X. X minus C is Y.": the first result, then the second. */
export function twoStepAnswer(question: string): string | null {
  const m = /^What is (\d+) (plus|minus) (\d+) (plus|minus) (\d+)\?$/.exec(question);
  if (!m) return null;
  const [a, b, c] = [Number(m[1]), Number(m[3]), Number(m[5])];
  const [op1, op2] = [opOf(m[2]), opOf(m[4])];
  const x = apply(a, op1, b);
  return `${a} ${op1} ${b} is ${x}. ${x} ${op2} ${c} is ${apply(x, op2, c)}.`;
}

/** "Spell the word owl." (or "How do you spell owl?", "What are the letters of owl?") → "The word owl is spelled o-w-l." */
export function spellingAnswer(question: string): string | null {
  const m = /^(?:Spell the word ([a-z]+)\.|How do you spell ([a-z]+)\?|What are the letters of ([a-z]+)\?)$/.exec(question);
  const word = m && (m[1] ?? m[2] ?? m[3]);
  return word ? `The word ${word} is spelled ${word.split('').join('-')}.` : null;
}

/**
 * "Count to 4." (or "Can you count to 4?", "Count from 1 to 4.") → "1, 2, 3, 4." (counting starts
 * at 1; "Count to 0." is not a question of this family).
 */
export function countingAnswer(question: string): string | null {
  const m = /^(?:Count to (\d+)\.|Can you count to (\d+)\?|Count from 1 to (\d+)\.)$/.exec(question);
  const n = m ? Number(m[1] ?? m[2] ?? m[3]) : NaN;
  if (!(n >= 1 && n <= 100)) return null;
  return `${Array.from({ length: n }, (_, i) => i + 1).join(', ')}.`;
}

const GREETINGS: Record<string, string> = { hello: 'Hello', goodbye: 'Goodbye', 'thank you': 'Thank you', 'good night': 'Good night' };

/** "Say hello to Mia." → "Hello, Mia!" */
export function greetingAnswer(question: string): string | null {
  const m = /^Say (hello|goodbye|thank you|good night) to ([A-Z][a-z]*)\.$/.exec(question);
  return m ? `${GREETINGS[m[1]]}, ${m[2]}!` : null;
}

/** "Repeat after me: the cake is sweet." → "The cake is sweet." */
export function repeatAnswer(question: string): string | null {
  const m = /^Repeat after me: (.+)$/.exec(question);
  if (!m) return null;
  const phrase = m[1].endsWith('.') ? m[1] : `${m[1]}.`;
  return phrase.charAt(0).toUpperCase() + phrase.slice(1);
}

/** The families in the order they are tried (two-step before arithmetic: they share a prefix). */
const FAMILIES: readonly [VerifiableKind, (q: string) => string | null][] = [
  ['two-step', twoStepAnswer],
  ['arithmetic', arithmeticAnswer],
  ['spelling', spellingAnswer],
  ['counting', countingAnswer],
  ['greeting', greetingAnswer],
  ['repeat', repeatAnswer],
];

/** The family of a question and the reply a program accepts, or null when no program can check it. */
export function expectedReply(question: string): { kind: VerifiableKind; expected: string } | null {
  const q = question.trim();
  for (const [kind, answer] of FAMILIES) {
    const expected = answer(q);
    if (expected !== null) return { kind, expected };
  }
  return null;
}

/**
 * Checks a reply to a question: null when the question is of no checkable family; otherwise the
 * family, the accepted reply and whether `reply` is exactly it (surrounding whitespace aside).
 */
export function verify(question: string, reply: string): Verdict | null {
  const e = expectedReply(question);
  return e ? { ...e, correct: reply.trim() === e.expected } : null;
}

/**
 * Whether a reply that begins with `partial` can still be accepted as `expected` once it goes on:
 * its text, leading whitespace aside, is a beginning of the accepted reply, or the whole of it
 * followed by whitespace only (the same rule as verify's trim).
 */
export function canStillMatch(expected: string, partial: string): boolean {
  const text = partial.trimStart();
  return expected.startsWith(text) || (text.startsWith(expected) && text.slice(expected.length).trim() === '');
}

/** True when the question belongs to a checkable family. */
export function isCheckable(question: string): boolean {
  return expectedReply(question) !== null;
}

/**
 * The end-of-turn format check: a reply must end its turn with <|end|> within the token budget.
 * A reply that runs on is wrong whatever its text, as in the report card's exact match.
 */
export function endsTurn(ended: boolean): boolean {
  return ended;
}

/** Weights of the verifiable reward: 1 for a right reply, FORMAT_REWARD for a wrong one that at least ended its turn. */
export const FORMAT_REWARD = 0.1;

/**
 * How much of the accepted reply a wrong one got right before it went astray: the length of the
 * longest common prefix over the longer of the two, in [0, 1]; 1 only when they are equal.
 * "3 plus 4 is 8." against "3 plus 4 is 7." → 12/14: the question copied, the sum wrong.
 * Dividing by the longer length makes running on past the right answer cost credit too.
 */
export function prefixShare(expected: string, reply: string): number {
  const n = Math.max(expected.length, reply.length);
  if (n === 0) return 1;
  let k = 0;
  while (k < expected.length && k < reply.length && expected[k] === reply[k]) k++;
  return k / n;
}

/**
 * The RLVR reward of one reply: 1 when it is right and ends its turn, FORMAT_REWARD when it only
 * ends its turn, 0 otherwise (the "+0.1 for format" of small-scale RLVR recipes). Null for a
 * question no program can check.
 *
 * With `partial` > 0 a wrong reply that ends its turn also earns partial · prefixShare: partial
 * credit for the part of the answer it got right, so that a family the model never solves
 * outright (every sample of a group scoring 0.1, no gradient) still ranks its samples. It is
 * reward shaping (Ng et al. 1999): partial < 1 − FORMAT_REWARD keeps every wrong reply below a
 * right one, so the best policy is still the one that answers exactly.
 */
export function verifiableReward(question: string, reply: string, ended: boolean, partial = 0): number | null {
  const v = verify(question, reply);
  if (!v) return null;
  if (!endsTurn(ended)) return 0;
  return v.correct ? 1 : FORMAT_REWARD + partial * prefixShare(v.expected, reply.trim());
}
