/**
 * Chat data for SFT and DPO, in the world of world.ts and the character set of the tales.
 *
 * Every question has one exact answer, so a fine-tuned model can be scored by string match. The
 * families (each SFT line names its family in `kind`):
 *   - facts:       "What does Tom eat?"             -> "Tom eats carrots."
 *   - arithmetic:  "What is 3 plus 4?"              -> "3 plus 4 is 7."
 *   - two-step:    "What is 3 plus 4 minus 2?"      -> "3 plus 4 is 7. 7 minus 2 is 5."
 *   - spelling:    "Spell the word cat."            -> "The word cat is spelled c-a-t."
 *   - counting:    "Count to 4."                    -> "1, 2, 3, 4."
 *   - greeting:    "Say hello to Mia."              -> "Hello, Mia!"
 *   - repeat:      "Repeat after me: the sun is warm." -> "The sun is warm."
 *
 * What a model of 0.1 M parameters can learn in minutes decides the design. The facts asked about
 * are those of a cast of twelve, four facts each, and the stories state every one of them many
 * times in exactly the answer's words; every sum and difference asked about is worked on the
 * board in the stories' school lessons. So SFT has knowledge to turn into answers, and the
 * held-out questions test that: a fact, a spelling or a count asked in a wording training never
 * used for it, a sum or a two-step sum whose numbers training never asked, a name never greeted,
 * a phrase never repeated. Greeting and repeating generalise from the pattern alone.
 *
 * All question instances are listed once and split by a fixed shuffle (arithmetic by its numbers,
 * the rest by the question itself), so no held-out question is ever a line
 * of a training file. DPO pairs are built from the same split's questions, each pair differing in
 * one visible way: a wrong answer, a story instead of an answer, rudeness, or an answer that does
 * not stop where it should (running on, or cut short). In every kind the chosen reply is the longer
 * one in half of the pairs whose lengths differ (see generateDpo): with one-sided lengths ("the
 * chosen is always the shorter"), DPO finds that shortening every reply is the cheapest way to
 * raise the margin, and a policy that answers with nothing wins.
 */
import { Random } from '../src/core/random.ts';
import type { DpoExample, SftExample } from '../src/core/post/chatdata.ts';
import { countSentence, DIFFERENCES, differenceSentence, generateStory, MAX_TERM, SPELLING_WORDS, SUMS, sumSentence } from './tales.ts';
import { ASKED_FACTS, CHARACTERS, COLOURS, FACT_SENTENCES, PLACES, type Character, type FactKind } from './world.ts';

/** One question with its one right answer, and a way to make a wrong one. */
export interface QA {
  question: string;
  answer: string;
  kind: SftKind;
  wrong: (rng: Random) => string;
}

export type SftKind = 'facts' | 'arithmetic' | 'two-step' | 'spelling' | 'counting' | 'greeting' | 'repeat';
export const SFT_KINDS: readonly SftKind[] = ['facts', 'arithmetic', 'two-step', 'spelling', 'counting', 'greeting', 'repeat'];

/** Share of each family among the SFT conversations and the DPO prompts of both splits. */
const FAMILY_SHARE: Record<SftKind, number> = {
  facts: 0.3,
  arithmetic: 0.15,
  'two-step': 0.05,
  spelling: 0.1,
  counting: 0.05,
  greeting: 0.15,
  repeat: 0.2,
};

/** Share of wrong answers to fact and sum questions that need knowledge to spot (a wrong fact, a result off by a little). */
const PLAUSIBLY_WRONG = 0.25;

export type Split = 'train' | 'val';

/** The wordings of each asked fact; all wordings of a fact share one answer form. */
export const FACT_QUESTIONS: Record<string, ((name: string) => string)[]> = {
  animal: [(n) => `What animal is ${n}?`, (n) => `What kind of animal is ${n}?`, (n) => `Tell me what animal ${n} is.`],
  home: [(n) => `Where does ${n} live?`, (n) => `Where is ${n}'s home?`, (n) => `Tell me where ${n} lives.`],
  food: [(n) => `What does ${n} eat?`, (n) => `What is ${n}'s favourite food?`, (n) => `What food does ${n} like best?`],
  colour: [(n) => `What colour does ${n} like?`, (n) => `What is ${n}'s favourite colour?`, (n) => `Which colour does ${n} like best?`],
};

/** The same character with one fact changed: the source of wrong but well-formed answers. */
function withOtherFact(rng: Random, c: Character, kind: FactKind): Character {
  const choices: Partial<Record<FactKind, string[]>> = {
    animal: CHARACTERS.map((x) => x.animal),
    home: Object.keys(PLACES),
    food: CHARACTERS.map((x) => x.food),
    colour: COLOURS,
  };
  for (;;) {
    const value = rng.pick(choices[kind]!);
    if (value !== c[kind]) return { ...c, [kind]: value };
  }
}

/** The same character under someone else's name: the asked-about fact with the wrong name. */
function withOtherName(rng: Random, c: Character): Character {
  for (;;) {
    const name = rng.pick(CHARACTERS).name;
    if (name !== c.name) return { ...c, name };
  }
}

type Pooled = QA & { group: string }; // questions of one group always fall in the same split

function factQuestions(): Pooled[] {
  const out: Pooled[] = [];
  for (const c of CHARACTERS) {
    for (const kind of ASKED_FACTS) {
      const answer = FACT_SENTENCES[kind](c);
      // Mostly the right fact under the wrong name; now and then a wrong fact under the right one.
      const wrong = (rng: Random) => FACT_SENTENCES[kind](rng.chance(PLAUSIBLY_WRONG) ? withOtherFact(rng, c, kind) : withOtherName(rng, c));
      for (const ask of FACT_QUESTIONS[kind]) {
        const question = ask(c.name);
        out.push({ question, answer, kind: 'facts', wrong, group: question });
      }
    }
  }
  return out;
}

const offBy = (rng: Random, right: number) => {
  const wrong = right + (rng.chance(0.5) ? 1 : -1) * (1 + rng.int(3));
  return wrong < 0 ? right + 1 + rng.int(3) : wrong;
};

/**
 * Sums and differences of the school lessons' tables (tales.ts: SUMS, DIFFERENCES), which the
 * stories work on the board. A wrong answer mostly misquotes one number of the question, now and
 * then gives a result that is off by a little.
 */
function arithmeticQuestions(): Pooled[] {
  const out: Pooled[] = [];
  const say = (op: 'plus' | 'minus') => (x: number, y: number, c: number) => `${x} ${op} ${y} is ${c}.`;
  const otherTerm = (rng: Random, n: number) => {
    for (;;) {
      const m = rng.int(MAX_TERM + 1);
      if (m !== n) return m;
    }
  };
  const wrongOf = (a: number, b: number, right: number, fmt: (x: number, y: number, c: number) => string) => (rng: Random) => {
    if (rng.chance(PLAUSIBLY_WRONG)) return fmt(a, b, offBy(rng, right));
    return rng.chance(0.5) && a <= MAX_TERM ? fmt(otherTerm(rng, a), b, right) : fmt(a, otherTerm(rng, b), right);
  };
  for (const [a, b] of SUMS) {
    const answer = sumSentence(a, b);
    const wrong = wrongOf(a, b, a + b, say('plus'));
    out.push({ question: `What is ${a} plus ${b}?`, answer, kind: 'arithmetic', wrong, group: `${a}+${b}` });
    out.push({ question: `What do you get when you add ${a} and ${b}?`, answer, kind: 'arithmetic', wrong, group: `${a}+${b}` });
  }
  for (const [a, b] of DIFFERENCES) {
    const answer = differenceSentence(a, b);
    const wrong = wrongOf(a, b, a - b, say('minus'));
    out.push({ question: `What is ${a} minus ${b}?`, answer, kind: 'arithmetic', wrong, group: `${a}-${b}` });
    out.push({ question: `What is ${a} take away ${b}?`, answer, kind: 'arithmetic', wrong, group: `${a}-${b}` });
  }
  return out;
}

/**
 * "What is A plus B minus C?" and "What is A plus B plus C?": the working first ("A plus B is X."),
 * then the result ("X minus C is Y."), each step one line of the tables above. A wrong answer gets
 * the second step off by a little.
 */
function twoStepQuestions(): Pooled[] {
  const out: Pooled[] = [];
  const sums = new Set(SUMS.map(([a, b]) => `${a}+${b}`));
  for (const [a, b] of SUMS) {
    const x = a + b;
    for (let c = 0; c <= Math.min(x, MAX_TERM); c++) {
      const answer = `${sumSentence(a, b)} ${differenceSentence(x, c)}`;
      const wrong = (rng: Random) => `${sumSentence(a, b)} ${x} minus ${c} is ${offBy(rng, x - c)}.`;
      out.push({ question: `What is ${a} plus ${b} minus ${c}?`, answer, kind: 'two-step', wrong, group: `${a}+${b}-${c}` });
    }
    for (let c = 0; c <= MAX_TERM; c++) {
      if (!sums.has(`${x}+${c}`)) continue; // both steps must be lines of the tables
      const answer = `${sumSentence(a, b)} ${sumSentence(x, c)}`;
      const wrong = (rng: Random) => `${sumSentence(a, b)} ${x} plus ${c} is ${offBy(rng, x + c)}.`;
      out.push({ question: `What is ${a} plus ${b} plus ${c}?`, answer, kind: 'two-step', wrong, group: `${a}+${b}+${c}` });
    }
  }
  return out;
}

/** Names to greet: the cast, whose names the stories greet ("Hello, Tom!") again and again. */
const GREETED = CHARACTERS.map((c) => c.name);

/** Short phrases to repeat: who, and what they do. */
const REPEAT_WHO = ['the sun', 'the cat', 'my friend', 'the bird', 'the dog', 'the moon', 'the baby', 'the frog', 'the fish', 'the bee'];
const REPEAT_WHAT = ['is warm', 'is happy', 'can sing', 'likes cake', 'is small', 'can jump', 'is asleep', 'is very big', 'likes to play', 'is here'];

/**
 * The wordings of a spelling and of a counting question, each with one answer form. As with the
 * facts, a held-out question asks about a word (a number) that training asks in another wording.
 * With the words and numbers themselves held out, SFT answered none of them: a model this size
 * does not learn to copy the letters of a word it was never asked to spell, nor to stop at a
 * number it was never asked to count to. Asked another way, it gets some of them right.
 */
export const SPELLING_QUESTIONS: ((word: string) => string)[] = [(w) => `Spell the word ${w}.`, (w) => `How do you spell ${w}?`, (w) => `What are the letters of ${w}?`];
export const COUNTING_QUESTIONS: ((n: number) => string)[] = [(n) => `Count to ${n}.`, (n) => `Can you count to ${n}?`, (n) => `Count from 1 to ${n}.`];

/** The words the stories' school lessons spell, in the answer's form. */
function spellingWords(): string[] {
  return [...SPELLING_WORDS];
}

function instructionQuestions(): Pooled[] {
  const out: Pooled[] = [];
  const otherName = (rng: Random, name: string) => {
    for (;;) {
      const n = rng.pick(GREETED);
      if (n !== name) return n;
    }
  };
  const greetings: [string, (n: string) => string][] = [
    ['Say hello to', (n) => `Hello, ${n}!`],
    ['Say goodbye to', (n) => `Goodbye, ${n}!`],
    ['Say thank you to', (n) => `Thank you, ${n}!`],
    ['Say good night to', (n) => `Good night, ${n}!`],
  ];
  for (const name of GREETED) {
    for (const [ask, reply] of greetings) {
      const question = `${ask} ${name}.`;
      out.push({ question, answer: reply(name), kind: 'greeting', wrong: (rng) => reply(otherName(rng, name)), group: question });
    }
  }
  const count = countSentence;
  for (let k = 2; k <= 12; k++) {
    const wrong = (rng: Random) => count(k + (rng.chance(0.5) || k === 2 ? 1 : -1));
    for (const ask of COUNTING_QUESTIONS) {
      const question = ask(k);
      out.push({ question, answer: count(k), kind: 'counting', wrong, group: question });
    }
  }
  for (const word of spellingWords()) {
    const spell = (letters: string) => `The word ${word} is spelled ${letters.split('').join('-')}.`;
    const wrong = (rng: Random) => {
      const i = rng.int(word.length - 1); // swap two neighbouring letters that differ
      const swapped = word.slice(0, i) + word[i + 1] + word[i] + word.slice(i + 2);
      return spell(swapped === word ? word.split('').reverse().join('') : swapped);
    };
    for (const ask of SPELLING_QUESTIONS) {
      const question = ask(word);
      out.push({ question, answer: spell(word), kind: 'spelling', wrong, group: question });
    }
  }
  for (const who of REPEAT_WHO) {
    for (const what of REPEAT_WHAT) {
      const phrase = `${who} ${what}`;
      const words = phrase.split(' ');
      const say = (text: string) => `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
      const question = `Repeat after me: ${phrase}.`;
      out.push({
        question,
        answer: say(phrase),
        kind: 'repeat',
        wrong: (rng) => say(words.filter((_, i) => i !== 1 + rng.int(words.length - 1)).join(' ')), // a word dropped, never the first
        group: question,
      });
    }
  }
  return out;
}

/** Fisher-Yates, in place. */
function shuffle<T>(rng: Random, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

const SPLIT_SEED = 20240601; // fixed forever: changing it would move questions between splits
const HELD_OUT = 0.15;

export type Pools = Record<SftKind, QA[]>;

/** The question pools of both splits, by family. A question (and its whole group) is in exactly one split. */
export function questionPools(): Record<Split, Pools> {
  const rng = new Random(SPLIT_SEED);
  const all = [...factQuestions(), ...arithmeticQuestions(), ...twoStepQuestions(), ...instructionQuestions()];
  const empty = (): Pools => Object.fromEntries(SFT_KINDS.map((k) => [k, []])) as unknown as Pools;
  const pools = { train: empty(), val: empty() };
  for (const kind of SFT_KINDS) {
    const groups = shuffle(rng, [...new Set(all.filter((q) => q.kind === kind).map((q) => q.group))]);
    const held = new Set(groups.slice(0, Math.max(1, Math.round(groups.length * HELD_OUT))));
    for (const { group, ...qa } of all.filter((q) => q.kind === kind)) (held.has(group) ? pools.val : pools.train)[kind].push(qa);
  }
  return pools;
}

/** A question of a family drawn by FAMILY_SHARE. */
function pickQuestion(rng: Random, pool: Pools): QA {
  let r = rng.next();
  for (const kind of SFT_KINDS) {
    r -= FAMILY_SHARE[kind];
    if (r < 0) return rng.pick(pool[kind]);
  }
  return rng.pick(pool.repeat);
}

/** SFT conversations; about one in ten has two question-answer turns. `kind` is the last turn's family. */
export function generateSft(split: Split, count: number, seed: number): (SftExample & { kind: SftKind })[] {
  const pool = questionPools()[split];
  const rng = new Random(seed);
  const out: (SftExample & { kind: SftKind })[] = [];
  for (let i = 0; i < count; i++) {
    const turns = rng.chance(0.1) ? 2 : 1;
    const messages: SftExample['messages'] = [];
    let kind: SftKind = 'facts';
    for (let t = 0; t < turns; t++) {
      const qa = pickQuestion(rng, pool);
      messages.push({ role: 'user', content: qa.question }, { role: 'assistant', content: qa.answer });
      kind = qa.kind;
    }
    out.push({ messages, kind });
  }
  return out;
}

const RUDE_LONG = [
  'That is a silly question. Ask someone else.', 'I do not want to tell you that.', 'Why should I help you with this?',
  'Stop asking me things. Figure it out yourself.', 'Everyone knows that. Go and look it up.',
];
const RUDE_SHORT = ['No.', 'Go away.', 'Ugh. No.', 'Not telling.', 'Why?', 'Stop it.', 'No way.', 'Ask Tom.', 'Figure it out.'];
const RUDE_OPENERS = ['Ugh, fine.', 'Everyone knows this.', 'What a silly question.', 'Again? Fine.'];
const RAMBLE_LINKS = ['And guess what?', 'Oh, and one more thing.', 'Let me tell you more.', 'Here is a story.', 'And another thing.'];
const MAX_REPLY = 100;

/** Whole sentences from the start of `text` that fit in `max` characters (at least one word). */
function clip(text: string, max: number): string {
  const sentences = text.replace(/\n/g, ' ').match(/[^.!?]+[.!?]+"?/g) ?? [text];
  let out = '';
  for (const s of sentences) {
    const next = (out + ' ' + s.trim()).trim();
    if (next.length > max) break;
    out = next;
  }
  return out || text.slice(0, max).replace(/\s+\S*$/, '');
}

/** The sentences of a story that need no context: no quotes, at most `max` characters. */
function plainSentences(story: string, max: number): string[] {
  return (story.replace(/\n/g, ' ').match(/[^.!?]+[.!?]+/g) ?? []).map((s) => s.trim()).filter((s) => !s.includes('"') && s.length < max);
}

/**
 * The rejected reply of each kind of pair, longer or shorter than the chosen reply (the plain
 * right answer) as asked; a generator may miss now and then, and generateDpo draws again.
 */
const REJECTED: Record<string, (rng: Random, qa: QA, longer: boolean) => string> = {
  // A wrong answer: its length falls where it falls, and generateDpo keeps the draws that balance.
  correct: (rng, qa) => qa.wrong(rng),
  // A base model's habit: story text instead of an answer, a few sentences or one short one.
  'on-topic': (rng, qa, longer) => {
    const story = generateStory(rng);
    if (longer) return clip(story, MAX_REPLY);
    const short = plainSentences(story, qa.answer.length);
    return short.length ? rng.pick(short) : clip(story, MAX_REPLY);
  },
  polite: (rng, qa, longer) => {
    if (!longer) return rng.pick(RUDE_SHORT);
    return rng.chance(0.5) ? rng.pick(RUDE_LONG) : `${rng.pick(RUDE_OPENERS)} ${qa.answer}`;
  },
  // The right answer that does not stop where it should: it runs on, or it is cut short.
  stops: (rng, qa, longer) => {
    if (longer) {
      const story = generateStory(rng).replace(/\n/g, ' ');
      return clip(rng.chance(0.5) ? `${qa.answer} ${qa.answer} ${story}` : `${qa.answer} ${rng.pick(RAMBLE_LINKS)} ${story}`, MAX_REPLY);
    }
    const words = qa.answer.split(' ');
    return words.length > 1 ? words.slice(0, 1 + rng.int(words.length - 1)).join(' ') : qa.answer.slice(0, -1);
  },
};
export const DPO_KINDS = Object.keys(REJECTED);

/**
 * The order in which each split's pairs take their kinds, over and over. The held-out split has
 * every kind equally often, so its accuracy weighs them alike. The training split has twice as
 * many "correct" pairs as of each other kind: the other three differ in their first words or in
 * where the reply stops and are learned within a few dozen steps, while noticing a wrong name or
 * number in the middle of an answer takes many more examples.
 */
const KIND_CYCLE: Record<Split, string[]> = {
  train: ['correct', 'on-topic', 'correct', 'polite', 'stops'],
  val: DPO_KINDS,
};

/**
 * DPO pairs, their kinds in the order of KIND_CYCLE, length-balanced within each kind: pairs of a
 * kind take turns at wanting the rejected reply longer or shorter than the chosen one; a draw
 * that goes the other way is drawn again, and a question that keeps missing gives way to another
 * (equal lengths are kept: they favour neither side).
 */
export function generateDpo(split: Split, count: number, seed: number): DpoExample[] {
  const pool = questionPools()[split];
  const cycle = KIND_CYCLE[split];
  const rng = new Random(seed);
  const out: DpoExample[] = [];
  const turn: Record<string, number> = {};
  while (out.length < count) {
    const kind = cycle[out.length % cycle.length];
    const longer = (turn[kind] ?? 0) % 2 === 0; // turns are counted over the pairs whose lengths differ
    const qa = pickQuestion(rng, pool);
    const fits = (reply: string) => {
      const sign = Math.sign(reply.length - qa.answer.length);
      return reply !== qa.answer && reply.trim() !== '' && (sign === 0 || sign === (longer ? 1 : -1));
    };
    let rejected = REJECTED[kind](rng, qa, longer);
    for (let tries = 1; tries < 8 && !fits(rejected); tries++) rejected = REJECTED[kind](rng, qa, longer);
    if (!fits(rejected)) continue; // this question has no reply of that kind on that side: another question
    if (rejected.length !== qa.answer.length) turn[kind] = (turn[kind] ?? 0) + 1;
    out.push({ prompt: [{ role: 'user', content: qa.question }], chosen: qa.answer, rejected, kind });
  }
  return out;
}

/** JSON Lines: one object per line, ending with a newline. */
export function toJsonl(items: readonly object[]): string {
  return items.map((item) => JSON.stringify(item)).join('\n') + '\n';
}
