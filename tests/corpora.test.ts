import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../src/core/random.ts';
import { parseDpoJsonl, parseSftJsonl, type DpoExample, type SftExample } from '../src/core/post/chatdata.ts';
import { ASKED_FACTS, CHARACTERS, COLOURS, FACT_SENTENCES, FOODS, JOBS, PLACES, TREASURES, type Character } from '../corpora/world.ts';
import { generateStory, generateTales } from '../corpora/tales.ts';
import { generateDpo, generateSft, questionPools, SFT_KINDS } from '../corpora/chat.ts';
import { buildCorpora } from '../corpora/generate.ts';
import { CRAWL_LABELS, generateCrawl, type CrawlDoc } from '../corpora/crawl.ts';

// The only characters any generated text may use.
const ALLOWED = /^[A-Za-z0-9 \n.,!?'"\-:]*$/;

let files: Record<string, string>;
let sftTrain: SftExample[];
let sftVal: SftExample[];
let dpoTrain: DpoExample[];
let dpoVal: DpoExample[];

beforeAll(() => {
  files = buildCorpora();
  sftTrain = parseSftJsonl(files['chat/sft_train.jsonl']).examples;
  sftVal = parseSftJsonl(files['chat/sft_val.jsonl']).examples;
  dpoTrain = parseDpoJsonl(files['chat/dpo_train.jsonl']).examples;
  dpoVal = parseDpoJsonl(files['chat/dpo_val.jsonl']).examples;
});

const byName = new Map(CHARACTERS.map((c) => [c.name, c]));
const an = (word: string) => (/^[aeiou]/.test(word) ? 'an' : 'a');

/**
 * The right answer to a question, worked out from the world's tables directly rather than through
 * the generator's own answer functions, so a wrong answer template would be caught.
 */
function expectedAnswer(question: string): string {
  let m: RegExpMatchArray | null;
  if ((m = question.match(/^What is (\d+) plus (\d+) (plus|minus) (\d+)\?$/))) {
    const x = Number(m[1]) + Number(m[2]);
    const y = m[3] === 'plus' ? x + Number(m[4]) : x - Number(m[4]);
    return `${m[1]} plus ${m[2]} is ${x}. ${x} ${m[3]} ${m[4]} is ${y}.`;
  }
  if ((m = question.match(/^What is (\d+) plus (\d+)\?$/)) || (m = question.match(/^What do you get when you add (\d+) and (\d+)\?$/))) {
    return `${m[1]} plus ${m[2]} is ${Number(m[1]) + Number(m[2])}.`;
  }
  if ((m = question.match(/^What is (\d+) (?:minus|take away) (\d+)\?$/))) {
    return `${m[1]} minus ${m[2]} is ${Number(m[1]) - Number(m[2])}.`;
  }
  if ((m = question.match(/^Say (hello|goodbye|thank you|good night) to (\w+)\.$/))) {
    const word = { hello: 'Hello', goodbye: 'Goodbye', 'thank you': 'Thank you', 'good night': 'Good night' }[m[1]];
    return `${word}, ${m[2]}!`;
  }
  if ((m = question.match(/^(?:Count to|Can you count to|Count from 1 to) (\d+)[.?]$/))) {
    return Array.from({ length: Number(m[1]) }, (_, i) => i + 1).join(', ') + '.';
  }
  if ((m = question.match(/^(?:Spell the word|How do you spell|What are the letters of) (\w+)[.?]$/))) return `The word ${m[1]} is spelled ${[...m[1]].join('-')}.`;
  if ((m = question.match(/^Repeat after me: (.+)\.$/))) return m[1].charAt(0).toUpperCase() + m[1].slice(1) + '.';

  const name = question.match(/\b([A-Z][a-z]+)\b(?!.*\b[A-Z][a-z]+\b)/)?.[1] ?? '';
  const c: Character | undefined = byName.get(name);
  if (!c) throw new Error(`cannot work out an answer to: ${question}`);
  if (/animal/.test(question)) return `${c.name} is ${an(c.animal)} ${c.animal}.`;
  if (/live|home/.test(question)) return `${c.name} lives ${PLACES[c.home].at}.`;
  if (/eat|food/.test(question)) return `${c.name} eats ${c.food}.`;
  if (/colour/.test(question)) return `${c.name} likes ${c.colour}.`;
  throw new Error(`cannot work out an answer to: ${question}`);
}

describe('world', () => {
  it('has a small cast with unique names', () => {
    expect(CHARACTERS.length).toBeGreaterThanOrEqual(8);
    expect(CHARACTERS.length).toBeLessThanOrEqual(16);
    expect(new Set(CHARACTERS.map((c) => c.name)).size).toBe(CHARACTERS.length);
  });

  it('refers only to places, foods, jobs, colours and objects that exist', () => {
    for (const c of CHARACTERS) {
      expect(PLACES[c.home], c.name).toBeDefined();
      expect(FOODS[c.food], c.name).toBeDefined();
      expect(JOBS[c.job], c.name).toBeDefined();
      expect(COLOURS, c.name).toContain(c.colour);
      expect(TREASURES, c.name).toContain(c.treasure);
    }
  });

  it('makes friendship mutual and never with oneself', () => {
    for (const c of CHARACTERS) {
      expect(c.friend).not.toBe(c.name);
      expect(byName.get(c.friend)?.friend, `${c.name} and ${c.friend}`).toBe(c.name);
    }
  });
});

describe('tales', () => {
  it('is the same for the same seed and different for another', () => {
    expect(generateTales(5, 20_000)).toEqual(generateTales(5, 20_000));
    expect(generateTales(6, 20_000)).not.toEqual(generateTales(5, 20_000));
    const a = new Random(9);
    const b = new Random(9);
    for (let i = 0; i < 50; i++) expect(generateStory(a)).toBe(generateStory(b));
  });

  it('has the intended sizes', () => {
    expect(files['tales/train.txt'].length).toBeGreaterThan(1_800_000);
    expect(files['tales/train.txt'].length).toBeLessThan(2_200_000);
    expect(files['tales/val.txt'].length).toBeGreaterThan(100_000);
    expect(files['tales/val.txt'].length).toBeLessThan(200_000);
  });

  it('uses a small character set and never the special-token marker', () => {
    for (const name of ['tales/train.txt', 'tales/val.txt']) {
      const text = files[name];
      expect(ALLOWED.test(text), name).toBe(true);
      expect(new Set(text).size).toBeLessThan(80);
      expect(text).not.toContain('<|');
    }
  });

  it('separates stories by one blank line and has no empty stories', () => {
    const stories = files['tales/train.txt'].trimEnd().split('\n\n');
    expect(stories.length).toBeGreaterThan(2000);
    for (const s of stories.slice(0, 500)) {
      expect(s.trim().length).toBeGreaterThan(100);
      expect(s).not.toMatch(/^\n|\n$/);
    }
  });

  it('keeps validation stories out of the training text', () => {
    const train = new Set(files['tales/train.txt'].trimEnd().split('\n\n'));
    const val = files['tales/val.txt'].trimEnd().split('\n\n');
    expect(val.length).toBeGreaterThan(100);
    for (const story of val) expect(train.has(story)).toBe(false);
  });

  it('never contradicts the world: "Tom the rabbit", "Tom loved to eat carrots"', () => {
    const text = files['tales/train.txt'];
    const animals = new Set(CHARACTERS.map((c) => c.animal));
    let checked = 0;
    for (const m of text.matchAll(/\b([A-Z][a-z]+) the ([a-z]+)\b/g)) {
      const c = byName.get(m[1]);
      if (!c || !animals.has(m[2])) continue;
      expect(m[2], m[0]).toBe(c.animal);
      checked++;
    }
    for (const m of text.matchAll(/\b([A-Z][a-z]+) loved to eat ([a-z]+)\./g)) {
      expect(m[2], m[0]).toBe(byName.get(m[1])?.food);
      checked++;
    }
    for (const m of text.matchAll(/\b([A-Z][a-z]+) lived ((?:in|on|by|at) the [a-z]+)/g)) {
      const c = byName.get(m[1]);
      if (!c) continue; // "She lived ..."
      expect(m[2], m[0]).toBe(PLACES[c.home].at);
      checked++;
    }
    expect(checked).toBeGreaterThan(1000);
  });
});

describe('chat data', () => {
  it('has the intended number of lines, all parsing cleanly', () => {
    const lines = (name: string) => files[name].trimEnd().split('\n').length;
    expect(lines('chat/sft_train.jsonl')).toBe(3000);
    expect(lines('chat/sft_val.jsonl')).toBe(200);
    expect(lines('chat/dpo_train.jsonl')).toBe(2000);
    expect(lines('chat/dpo_val.jsonl')).toBe(200);
    expect(parseSftJsonl(files['chat/sft_train.jsonl']).errors).toEqual([]);
    expect(parseDpoJsonl(files['chat/dpo_train.jsonl']).errors).toEqual([]);
    expect(sftTrain.length + sftVal.length + dpoTrain.length + dpoVal.length).toBe(5400);
  });

  it('is the same for the same seed and different for another', () => {
    expect(generateSft('train', 50, 3)).toEqual(generateSft('train', 50, 3));
    expect(generateSft('train', 50, 4)).not.toEqual(generateSft('train', 50, 3));
    expect(generateDpo('val', 40, 3)).toEqual(generateDpo('val', 40, 3));
    expect(generateDpo('val', 40, 4)).not.toEqual(generateDpo('val', 40, 3));
  });

  it('answers every SFT question correctly and briefly', () => {
    for (const ex of [...sftTrain, ...sftVal]) {
      for (let i = 0; i < ex.messages.length; i += 2) {
        const answer = ex.messages[i + 1].content;
        expect(answer, ex.messages[i].content).toBe(expectedAnswer(ex.messages[i].content));
        expect(answer.length).toBeLessThan(60);
      }
    }
  });

  it('asks held-out questions that training never asks', () => {
    const questions = (examples: SftExample[]) => new Set(examples.flatMap((e) => e.messages.filter((m) => m.role === 'user').map((m) => m.content)));
    const train = questions(sftTrain);
    const val = questions(sftVal);
    expect(val.size).toBeGreaterThan(60);
    for (const q of val) expect(train.has(q), q).toBe(false);
    const pools = questionPools();
    const trainPool = new Set(Object.values(pools.train).flat().map((qa) => qa.question));
    for (const qa of Object.values(pools.val).flat()) expect(trainPool.has(qa.question)).toBe(false);
  });

  it('builds DPO pairs whose chosen reply is right and differs visibly from the rejected one', () => {
    const kinds = new Map<string, number>();
    for (const ex of [...dpoTrain, ...dpoVal]) {
      kinds.set(ex.kind!, (kinds.get(ex.kind!) ?? 0) + 1);
      expect(ex.chosen).toBe(expectedAnswer(ex.prompt[0].content));
      expect(ex.rejected).not.toBe(ex.chosen);
      expect(ex.rejected.length).toBeLessThanOrEqual(100);
      if (ex.kind === 'stops') {
        // The right answer running on, or cut short.
        if (ex.rejected.length > ex.chosen.length) {
          expect(ex.rejected.startsWith(ex.chosen)).toBe(true);
          expect(ex.rejected.length).toBeGreaterThan(ex.chosen.length + 10);
        } else {
          expect(ex.chosen.startsWith(ex.rejected), ex.rejected).toBe(true);
        }
      }
    }
    expect([...kinds.keys()].sort()).toEqual(['correct', 'on-topic', 'polite', 'stops']);
    // Held out: a quarter each. Training: twice as many "correct" pairs as of each other kind.
    const count = (examples: DpoExample[], kind: string) => examples.filter((e) => e.kind === kind).length;
    for (const kind of kinds.keys()) expect(count(dpoVal, kind), kind).toBe(50);
    expect(count(dpoTrain, 'correct')).toBe(800);
    for (const kind of ['on-topic', 'polite', 'stops']) expect(count(dpoTrain, kind), kind).toBe(400);
  });

  it('makes most wrong answers of the "correct" pairs wrong in a way the question shows', () => {
    // A wrong fact about the right character, or a result off by a little, takes world knowledge
    // to spot; most wrong facts name another character, and most wrong sums misquote a number of
    // the question. Both sorts must be there.
    const count = { facts: 0, otherName: 0, sums: 0, misquoted: 0 };
    for (const ex of [...dpoTrain, ...dpoVal]) {
      if (ex.kind !== 'correct') continue;
      const question = ex.prompt[0].content;
      const sum = question.match(/^What (?:is|do you get when you add) (\d+) (?:plus|minus|take away|and) (\d+)\?$/);
      if (sum) {
        count.sums++;
        const quoted = ex.rejected.match(/^(\d+) (?:plus|minus) (\d+) is \d+\.$/);
        expect(quoted, ex.rejected).not.toBeNull();
        if (quoted![1] !== sum[1] || quoted![2] !== sum[2]) count.misquoted++;
      } else if (!/^(Say|Count|Spell|Repeat)\b/.test(question) && !/\d/.test(question)) {
        count.facts++;
        const asked = ex.chosen.match(/^([A-Z][a-z]+)/)?.[1];
        if (!ex.rejected.startsWith(`${asked} `) && !ex.rejected.startsWith(`${asked}'`)) count.otherName++;
      }
    }
    expect(count.facts).toBeGreaterThan(100);
    expect(count.sums).toBeGreaterThan(50);
    for (const share of [count.otherName / count.facts, count.misquoted / count.sums]) {
      expect(share).toBeGreaterThan(0.6);
      expect(share).toBeLessThan(0.9);
    }
  });

  it('keeps every message in the small character set', () => {
    const texts = [
      ...[...sftTrain, ...sftVal].flatMap((e) => e.messages.map((m) => m.content)),
      ...[...dpoTrain, ...dpoVal].flatMap((e) => [e.prompt[0].content, e.chosen, e.rejected]),
    ];
    for (const t of texts) {
      expect(ALLOWED.test(t), t).toBe(true);
      expect(t).not.toContain('<|');
      expect(t).not.toContain('\n');
    }
  });
});

/** The family of a question, worked out from its wording alone. */
function familyOf(question: string): string {
  if (/^What is \d+ plus \d+ (plus|minus) \d+\?$/.test(question)) return 'two-step';
  if (/\d+ (plus|minus|take away|and) \d+\?$/.test(question)) return 'arithmetic';
  if (/^(Spell the word|How do you spell|What are the letters of) /.test(question)) return 'spelling';
  if (/^(Count to|Can you count to|Count from 1 to) /.test(question)) return 'counting';
  if (/^Say /.test(question)) return 'greeting';
  if (/^Repeat after me: /.test(question)) return 'repeat';
  return 'facts';
}

const userTurns = (examples: SftExample[]) => examples.flatMap((e) => e.messages.filter((m) => m.role === 'user').map((m) => m.content));

describe('what a tiny model can learn and cannot game', () => {
  it('teaches every asked fact in the stories, in the exact answer form, often, and never contradicts it', () => {
    const text = files['tales/train.txt'];
    for (const c of CHARACTERS) {
      for (const kind of ASKED_FACTS) {
        const sentence = FACT_SENTENCES[kind](c);
        expect(text.split(sentence).length - 1, sentence).toBeGreaterThanOrEqual(100);
      }
    }
    // Any sentence of an answer form about a cast member states the cast member's own fact.
    let checked = 0;
    for (const m of text.matchAll(/\b([A-Z][a-z]+) (eats [a-z]+|likes [a-z]+|is an? [a-z]+|lives (?:in|on|by|at) the [a-z]+)\./g)) {
      const c = byName.get(m[1]);
      if (!c) continue;
      const fact = `${m[1]} ${m[2]}.`;
      expect(ASKED_FACTS.map((k) => FACT_SENTENCES[k](c)), fact).toContain(fact);
      checked++;
    }
    expect(checked).toBeGreaterThan(5000);
  });

  it('works every sum and difference that the chat data asks about in the stories, in the answer form', () => {
    const text = files['tales/train.txt'];
    const lines = new Map<string, number>();
    for (const m of text.matchAll(/\b\d+ (?:plus|minus) \d+ is \d+\./g)) lines.set(m[0], (lines.get(m[0]) ?? 0) + 1);
    for (const [line] of lines) {
      const [, a, op, b, c] = line.match(/^(\d+) (plus|minus) (\d+) is (\d+)\.$/)!;
      expect(Number(c), line).toBe(op === 'plus' ? Number(a) + Number(b) : Number(a) - Number(b)); // never a wrong sum
    }
    const asked = [...sftTrain, ...sftVal].flatMap((e) => e.messages.filter((m) => m.role === 'assistant').map((m) => m.content))
      .flatMap((answer) => answer.match(/\b\d+ (?:plus|minus) \d+ is \d+\./g) ?? []);
    expect(asked.length).toBeGreaterThan(500);
    // Often: a tiny model learns the table only from many worked lines (with a handful each it never adds).
    for (const step of new Set(asked)) expect(lines.get(step) ?? 0, step).toBeGreaterThanOrEqual(60);
  });

  it('holds out questions that are never a line of any training file, and arithmetic whose numbers training never asks', () => {
    const trainQuestions = new Set([...userTurns(sftTrain), ...dpoTrain.map((e) => e.prompt[0].content)]);
    const stories = files['tales/train.txt'];
    const held = new Set([...userTurns(sftVal), ...dpoVal.map((e) => e.prompt[0].content)]);
    expect(held.size).toBeGreaterThan(100);
    for (const q of held) {
      expect(trainQuestions.has(q), q).toBe(false);
      expect(stories.includes(q), q).toBe(false);
    }
    // The numbers of a held-out sum are never asked in training, in any wording.
    const numbers = (q: string) => {
      const m = q.match(/(\d+) (plus|minus|take away|and) (\d+)(?: (plus|minus) (\d+))?\?$/);
      if (!m) return undefined;
      const op = m[2] === 'take away' ? 'minus' : m[2] === 'and' ? 'plus' : m[2];
      return [m[1], op, m[3], m[4] ?? '', m[5] ?? ''].join(' ');
    };
    const trainNumbers = new Set([...trainQuestions].map(numbers).filter(Boolean));
    let arithmetic = 0;
    for (const q of held) {
      const n = numbers(q);
      if (!n) continue;
      arithmetic++;
      expect(trainNumbers.has(n), q).toBe(false);
    }
    expect(arithmetic).toBeGreaterThan(20);
    // A held-out fact, spelling or count question asks, mostly, about a fact, word or number that
    // training asks in another wording.
    const trainAnswers = new Set(sftTrain.flatMap((e) => e.messages.filter((m) => m.role === 'assistant').map((m) => m.content)));
    for (const [family, least] of [['facts', 20], ['spelling', 10], ['counting', 3]] as const) {
      const heldOut = new Set(userTurns(sftVal).filter((q) => familyOf(q) === family));
      expect(heldOut.size, family).toBeGreaterThanOrEqual(least);
      expect([...heldOut].filter((q) => trainAnswers.has(expectedAnswer(q))).length / heldOut.size, family).toBeGreaterThan(0.8);
    }
  });

  it('names the family of every SFT line, and every family is in both splits', () => {
    for (const [name, examples] of [['chat/sft_train.jsonl', sftTrain], ['chat/sft_val.jsonl', sftVal]] as const) {
      const lines = files[name].trimEnd().split('\n').map((l) => JSON.parse(l) as { kind: string });
      const kinds = new Set<string>();
      lines.forEach((line, i) => {
        const turns = examples[i].messages;
        expect(line.kind, turns[turns.length - 2].content).toBe(familyOf(turns[turns.length - 2].content));
        kinds.add(line.kind);
      });
      expect([...kinds].sort(), name).toEqual([...SFT_KINDS].sort());
    }
  });

  it('balances lengths in every kind of pair: the chosen reply is the longer one in 40-60% of the pairs whose lengths differ', () => {
    for (const [name, pairs] of [['train', dpoTrain], ['val', dpoVal]] as const) {
      const byKind = new Map<string, { longer: number; differ: number }>();
      for (const p of pairs) {
        if (p.chosen.length === p.rejected.length) continue;
        const k = byKind.get(p.kind!) ?? { longer: 0, differ: 0 };
        k.differ++;
        if (p.chosen.length > p.rejected.length) k.longer++;
        byKind.set(p.kind!, k);
      }
      expect(byKind.size, name).toBe(4);
      for (const [kind, { longer, differ }] of byKind) {
        expect(differ, `${name} ${kind}`).toBeGreaterThan(10);
        expect(longer / differ, `${name} ${kind}: ${longer} of ${differ}`).toBeGreaterThanOrEqual(0.4);
        expect(longer / differ, `${name} ${kind}: ${longer} of ${differ}`).toBeLessThanOrEqual(0.6);
      }
    }
  });
});

describe('crawl', () => {
  let docs: CrawlDoc[];
  beforeAll(() => {
    docs = files['crawl/docs.jsonl'].trimEnd().split('\n').map((l) => JSON.parse(l) as CrawlDoc);
  });

  it('is the same for the same seed and different for another', () => {
    expect(generateCrawl(5, 50_000)).toEqual(generateCrawl(5, 50_000));
    expect(generateCrawl(6, 50_000)).not.toEqual(generateCrawl(5, 50_000));
  });

  it('is about 2 MB of documents numbered in order, each with one of the labels, every label used', () => {
    const bytes = Buffer.byteLength(files['crawl/docs.jsonl']);
    expect(bytes).toBeGreaterThan(1_800_000);
    expect(bytes).toBeLessThan(2_300_000);
    docs.forEach((d, i) => {
      expect(d.id).toBe(i);
      expect(typeof d.text).toBe('string');
      expect(CRAWL_LABELS, String(d.id)).toContain(d.label);
      expect(Object.keys(d).sort()).toEqual(d.dupOf === undefined ? ['id', 'label', 'text'] : ['dupOf', 'id', 'label', 'text']);
    });
    const counts = new Map<string, number>();
    for (const d of docs) counts.set(d.label, (counts.get(d.label) ?? 0) + 1);
    for (const label of CRAWL_LABELS) expect(counts.get(label) ?? 0, label).toBeGreaterThanOrEqual(40);
    expect(counts.get('clean')! / docs.length).toBeGreaterThan(0.5);
  });

  it('plants copies of earlier clean documents: exact ones byte for byte, near ones with a few words changed', () => {
    for (const d of docs) {
      const copy = d.label === 'duplicate' || d.label === 'near-duplicate';
      expect(d.dupOf !== undefined, `#${d.id}`).toBe(copy);
      if (!copy) continue;
      const original = docs[d.dupOf!];
      expect(original.id).toBeLessThan(d.id);
      expect(original.label).toBe('clean');
      if (d.label === 'duplicate') {
        expect(d.text).toBe(original.text);
        continue;
      }
      const a = original.text.split(/( +|\n)/);
      const b = d.text.split(/( +|\n)/);
      expect(b.length, `#${d.id}`).toBe(a.length);
      const changed = a.filter((w, i) => w !== b[i]).length;
      expect(changed, `#${d.id}`).toBeGreaterThanOrEqual(2);
      expect(changed, `#${d.id}`).toBeLessThanOrEqual(5);
    }
  });

  it('makes each kind of junk look like what its label says', () => {
    const of = (label: string) => docs.filter((d) => d.label === label).map((d) => d.text);
    for (const t of of('clean')) expect(t).toMatch(/[a-z]+ [a-z]+ [a-z]+\./);
    for (const t of of('boilerplate')) expect(t).toMatch(/cookie|Cookie|rights reserved|©/);
    for (const t of of('number-table')) expect(t.replace(/^.*\n/, '')).toMatch(/^[\d|.,%\s-]+$/);
    for (const t of of('made-up-script')) expect(t).not.toMatch(/[A-Za-z]/);
    for (const t of of('char-run')) expect(t).toMatch(/(.)\1{39}/);
    for (const t of of('spam')) expect(t).toMatch(/^(cheap|best|buy|free) |(sale|near me|discount)/m);
    for (const t of of('gibberish')) expect(t).not.toMatch(/\b(the|and|of|to)\b/);
  });

  it('keeps the tales, chat data and vocabulary byte for byte as they were', () => {
    // The crawl has its own seed and is not in the character vocabulary (its made-up script would
    // add characters to every model's vocabulary).
    expect(JSON.parse(files['vocab.json']).chars.some((c: string) => /[ᚠ-ᛟ]/.test(c))).toBe(false);
  });
});

describe('generated files', () => {
  it('are in place and match what generate.ts builds', () => {
    const root = fileURLToPath(new URL('../corpora', import.meta.url));
    for (const [name, text] of Object.entries(files)) {
      const path = join(root, name);
      expect(existsSync(path), `${name} is missing; run npx tsx corpora/generate.ts`).toBe(true);
      expect(readFileSync(path, 'utf8') === text, `${name} is stale; run npx tsx corpora/generate.ts`).toBe(true);
    }
  });

  it('stay under 5 MB in total', () => {
    const total = Object.values(files).reduce((n, text) => n + Buffer.byteLength(text), 0);
    expect(total).toBeLessThan(5_000_000);
  });
});
