/**
 * Chat data for SFT and DPO, in the world of world.ts and the character set of the tales.
 *
 * Every question has one exact answer, so a fine-tuned model can be scored by string match:
 *   - facts:        "What does Tom eat?"     -> "Tom eats carrots."
 *   - instructions: "Say hello to Mia."      -> "Hello, Mia!"
 *   - arithmetic:   "What is 3 plus 4?"      -> "3 plus 4 is 7."
 *
 * All question instances are listed once and split by a fixed shuffle: the held-out split asks
 * questions (a character with a wording, a pair of numbers, ...) that the training split never
 * asks. DPO pairs are built from the same split's questions, each pair differing in one visible way:
 * a wrong answer, a story instead of an answer, rudeness, or an answer that does not stop.
 *
 * The wrong answers of the "correct" pairs are chosen to be learnable by a model of 0.1 M
 * parameters. A wrong fact about the right character ("Hank is an otter." for "Hank is a mole.")
 * can only be told apart by knowing the world, which such a model mostly does not for questions it
 * was never trained on, so held-out pairs of that sort stay near chance. Most wrong answers are
 * therefore wrong in a way the question itself shows, a slip in copying from it: another
 * character's name ("What does Tom eat?" -> "Mia eats carrots."), a misquoted number ("What is 3
 * plus 4?" -> "3 plus 5 is 7."), a greeting to someone else, a count that stops early or runs on,
 * a misspelling, a repeat that drops a word. A quarter of the fact and sum questions keep a
 * plausible wrong answer (another fact, a result off by a little), so world knowledge still has a
 * part to play.
 */
import { Random } from '../src/core/random.ts';
import type { DpoExample, SftExample } from '../src/core/post/chatdata.ts';
import { generateStory } from './tales.ts';
import {
  CHARACTERS,
  COLOURS,
  FACT_SENTENCES,
  FOODS,
  JOBS,
  PLACES,
  TREASURES,
  type Character,
  type FactKind,
} from './world.ts';

/** One question with its one right answer, and a way to make a wrong one (see the header). */
export interface QA {
  question: string;
  answer: string;
  wrong: (rng: Random) => string;
}

/** Share of wrong answers to fact and sum questions that need knowledge to spot (see the header). */
const PLAUSIBLY_WRONG = 0.25;

export type Split = 'train' | 'val';

/** The wordings of each fact question; all wordings of a fact share one answer form. */
export const FACT_QUESTIONS: Record<FactKind, ((name: string) => string)[]> = {
  animal: [(n) => `What animal is ${n}?`, (n) => `What kind of animal is ${n}?`, (n) => `Tell me what animal ${n} is.`],
  home: [(n) => `Where does ${n} live?`, (n) => `Where is ${n}'s home?`, (n) => `Tell me where ${n} lives.`],
  food: [(n) => `What does ${n} eat?`, (n) => `What is ${n}'s favourite food?`, (n) => `What food does ${n} like best?`],
  colour: [(n) => `What colour does ${n} like?`, (n) => `What is ${n}'s favourite colour?`, (n) => `Which colour does ${n} like best?`],
  job: [(n) => `What is ${n}'s job?`, (n) => `What does ${n} do for work?`, (n) => `What work does ${n} do?`],
  treasure: [(n) => `What does ${n} have?`, (n) => `What special thing does ${n} have?`, (n) => `What is ${n}'s treasure?`],
  friend: [(n) => `Who is ${n}'s best friend?`, (n) => `Who is ${n}'s friend?`, (n) => `Who does ${n} play with most?`],
};

/** The same character with one fact changed: the source of wrong but well-formed answers. */
function withOtherFact(rng: Random, c: Character, kind: FactKind): Character {
  const choices: Record<FactKind, string[]> = {
    animal: CHARACTERS.map((x) => x.animal),
    home: Object.keys(PLACES),
    food: Object.keys(FOODS),
    colour: COLOURS,
    job: Object.keys(JOBS),
    treasure: TREASURES,
    friend: CHARACTERS.map((x) => x.name).filter((n) => n !== c.name),
  };
  for (;;) {
    const value = rng.pick(choices[kind]);
    if (value !== c[kind]) return { ...c, [kind]: value };
  }
}

/**
 * The same character under someone else's name: the asked-about fact with the wrong name. Never
 * the friend's name for a question about the friend ("Mia's best friend is Mia.").
 */
function withOtherName(rng: Random, c: Character): Character {
  for (;;) {
    const name = rng.pick(CHARACTERS).name;
    if (name !== c.name && name !== c.friend) return { ...c, name };
  }
}

function factQuestions(): QA[] {
  const out: QA[] = [];
  for (const c of CHARACTERS) {
    for (const kind of Object.keys(FACT_QUESTIONS) as FactKind[]) {
      const answer = FACT_SENTENCES[kind](c);
      // Mostly the right fact under the wrong name; now and then a wrong fact under the right one.
      const wrong = (rng: Random) => FACT_SENTENCES[kind](rng.chance(PLAUSIBLY_WRONG) ? withOtherFact(rng, c, kind) : withOtherName(rng, c));
      for (const ask of FACT_QUESTIONS[kind]) out.push({ question: ask(c.name), answer, wrong });
    }
  }
  return out;
}

/** Sums and differences of numbers up to 12; differences are never negative. */
function arithmeticQuestions(): QA[] {
  const out: QA[] = [];
  const offBy = (rng: Random, right: number) => {
    const wrong = right + (rng.chance(0.5) ? 1 : -1) * (1 + rng.int(3));
    return wrong < 0 ? right + 1 + rng.int(3) : wrong;
  };
  const otherNumber = (rng: Random, n: number) => {
    for (;;) {
      const m = rng.int(13);
      if (m !== n) return m;
    }
  };
  // Mostly the question misquoted (one of its numbers changed, the result kept); now and then the
  // right numbers with a result that is off by a little.
  const wrongAnswer = (rng: Random, a: number, b: number, right: number, say: (x: number, y: number, c: number) => string) => {
    if (rng.chance(PLAUSIBLY_WRONG)) return say(a, b, offBy(rng, right));
    return rng.chance(0.5) ? say(otherNumber(rng, a), b, right) : say(a, otherNumber(rng, b), right);
  };
  const sum = (x: number, y: number, c: number) => `${x} plus ${y} is ${c}.`;
  const diff = (x: number, y: number, c: number) => `${x} minus ${y} is ${c}.`;
  for (let a = 0; a <= 12; a++) {
    for (let b = 0; b <= 12; b++) {
      const wrongSum = (rng: Random) => wrongAnswer(rng, a, b, a + b, sum);
      out.push({ question: `What is ${a} plus ${b}?`, answer: sum(a, b, a + b), wrong: wrongSum });
      out.push({ question: `What do you get when you add ${a} and ${b}?`, answer: sum(a, b, a + b), wrong: wrongSum });
      if (b <= a) {
        const wrongDiff = (rng: Random) => wrongAnswer(rng, a, b, a - b, diff);
        out.push({ question: `What is ${a} minus ${b}?`, answer: diff(a, b, a - b), wrong: wrongDiff });
        out.push({ question: `What is ${a} take away ${b}?`, answer: diff(a, b, a - b), wrong: wrongDiff });
      }
    }
  }
  return out;
}

const REPEAT_PHRASES = [
  'the sun is warm', 'I like to play', 'the sky is blue', 'birds can sing', 'the pond is cold',
  'we walk to the hill', 'the cake is sweet', 'it is time for bed', 'the wind is strong',
  'snails are slow', 'the moon is bright', 'rain makes puddles', 'I can count to ten',
];

/** Every word of the world that a child might be asked to spell. */
function spellingWords(): string[] {
  const words = [
    ...CHARACTERS.map((c) => c.animal),
    ...Object.keys(FOODS),
    ...COLOURS,
    ...TREASURES,
    ...Object.keys(PLACES),
    ...Object.keys(JOBS),
  ];
  return [...new Set(words)].sort();
}

function instructionQuestions(): QA[] {
  const out: QA[] = [];
  const otherName = (rng: Random, name: string) => {
    for (;;) {
      const n = rng.pick(CHARACTERS).name;
      if (n !== name) return n;
    }
  };
  const greetings: [string, (n: string) => string][] = [
    ['Say hello to', (n) => `Hello, ${n}!`],
    ['Say goodbye to', (n) => `Goodbye, ${n}!`],
    ['Say thank you to', (n) => `Thank you, ${n}!`],
    ['Say good night to', (n) => `Good night, ${n}!`],
  ];
  for (const c of CHARACTERS) {
    for (const [ask, reply] of greetings) {
      out.push({ question: `${ask} ${c.name}.`, answer: reply(c.name), wrong: (rng) => reply(otherName(rng, c.name)) });
    }
  }
  for (let k = 2; k <= 10; k++) {
    const count = (n: number) => Array.from({ length: n }, (_, i) => i + 1).join(', ') + '.';
    out.push({ question: `Count to ${k}.`, answer: count(k), wrong: (rng) => count(k + (rng.chance(0.5) || k === 2 ? 1 : -1)) });
  }
  for (const word of spellingWords()) {
    const spell = (letters: string) => `The word ${word} is spelled ${letters.split('').join('-')}.`;
    out.push({
      question: `Spell the word ${word}.`,
      answer: spell(word),
      wrong: (rng) => {
        const i = rng.int(word.length - 1); // swap two neighbouring letters that differ
        const swapped = word.slice(0, i) + word[i + 1] + word[i] + word.slice(i + 2);
        return spell(swapped === word ? word.split('').reverse().join('') : swapped);
      },
    });
  }
  for (const phrase of REPEAT_PHRASES) {
    const words = phrase.split(' ');
    out.push({
      question: `Repeat after me: ${phrase}.`,
      answer: `${phrase.charAt(0).toUpperCase()}${phrase.slice(1)}.`,
      wrong: (rng) => {
        const skip = 1 + rng.int(words.length - 1); // never the first word, so the reply still starts the same
        const dropped = words.filter((_, i) => i !== skip).join(' ');
        return `${dropped.charAt(0).toUpperCase()}${dropped.slice(1)}.`;
      },
    });
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

/** The question pools of both splits, by topic. A question is in exactly one split. */
export function questionPools(): Record<Split, { facts: QA[]; instructions: QA[]; arithmetic: QA[] }> {
  const rng = new Random(SPLIT_SEED);
  const split = (all: QA[]) => {
    const shuffled = shuffle(rng, all);
    const cut = Math.round(shuffled.length * HELD_OUT);
    return { val: shuffled.slice(0, cut), train: shuffled.slice(cut) };
  };
  const facts = split(factQuestions());
  const instructions = split(instructionQuestions());
  const arithmetic = split(arithmeticQuestions());
  return {
    train: { facts: facts.train, instructions: instructions.train, arithmetic: arithmetic.train },
    val: { facts: facts.val, instructions: instructions.val, arithmetic: arithmetic.val },
  };
}

/** Half facts, a quarter each instructions and arithmetic. */
function pickQuestion(rng: Random, pool: ReturnType<typeof questionPools>[Split]): QA {
  const r = rng.next();
  if (r < 0.5) return rng.pick(pool.facts);
  if (r < 0.75) return rng.pick(pool.instructions);
  return rng.pick(pool.arithmetic);
}

/** SFT conversations; about one in ten has two question-answer turns. */
export function generateSft(split: Split, count: number, seed: number): SftExample[] {
  const pool = questionPools()[split];
  const rng = new Random(seed);
  const out: SftExample[] = [];
  for (let i = 0; i < count; i++) {
    const turns = rng.chance(0.1) ? 2 : 1;
    const messages: SftExample['messages'] = [];
    for (let t = 0; t < turns; t++) {
      const qa = pickQuestion(rng, pool);
      messages.push({ role: 'user', content: qa.question }, { role: 'assistant', content: qa.answer });
    }
    out.push({ messages });
  }
  return out;
}

const RUDE_REFUSALS = [
  'That is a silly question.', 'Ask someone else.', 'No. Go away.', 'I do not want to tell you.',
  'Why should I help you?', 'Stop asking me things.', 'Figure it out yourself.',
];
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

/** The rejected reply for each kind of pair; the chosen reply is always the plain right answer. */
const REJECTED: Record<string, (rng: Random, qa: QA) => string> = {
  correct: (rng, qa) => qa.wrong(rng),
  // A base model's habit: continue with story text instead of answering.
  'on-topic': (rng) => clip(generateStory(rng), MAX_REPLY),
  polite: (rng, qa) => (rng.chance(0.5) ? rng.pick(RUDE_REFUSALS) : `${rng.pick(RUDE_OPENERS)} ${qa.answer}`),
  // The right answer, and then more and more that nobody asked for.
  concise: (rng, qa) => {
    const story = generateStory(rng).replace(/\n/g, ' ');
    const rambling = rng.chance(0.5) ? `${qa.answer} ${qa.answer} ${story}` : `${qa.answer} ${rng.pick(RAMBLE_LINKS)} ${story}`;
    return clip(rambling, MAX_REPLY);
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
  train: ['correct', 'on-topic', 'correct', 'polite', 'concise'],
  val: DPO_KINDS,
};

/** DPO pairs, their kinds in the order of KIND_CYCLE. */
export function generateDpo(split: Split, count: number, seed: number): DpoExample[] {
  const pool = questionPools()[split];
  const cycle = KIND_CYCLE[split];
  const rng = new Random(seed);
  const out: DpoExample[] = [];
  while (out.length < count) {
    const kind = cycle[out.length % cycle.length];
    const qa = pickQuestion(rng, pool);
    const rejected = REJECTED[kind](rng, qa);
    // A rare draw shows no difference (a ramble clipped back to the bare answer); draw again.
    if (rejected === qa.answer || (kind === 'concise' && rejected.length <= qa.answer.length)) continue;
    out.push({ prompt: [{ role: 'user', content: qa.question }], chosen: qa.answer, rejected, kind });
  }
  return out;
}

/** JSON Lines: one object per line, ending with a newline. */
export function toJsonl(items: readonly object[]): string {
  return items.map((item) => JSON.stringify(item)).join('\n') + '\n';
}
