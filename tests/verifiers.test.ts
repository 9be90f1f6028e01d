import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canStillMatch, expectedReply, FORMAT_REWARD, isCheckable, prefixShare, verifiableReward, verify } from '../src/core/rl/verifiers.ts';
import { ROOT } from './helpers.ts';

const ok = (q: string, r: string) => verify(q, r)?.correct;

describe('verifiers', () => {
  it('arithmetic: every wording, the right sum or difference only', () => {
    expect(ok('What is 3 plus 4?', '3 plus 4 is 7.')).toBe(true);
    expect(ok('What do you get when you add 11 and 12?', '11 plus 12 is 23.')).toBe(true);
    expect(ok('What is 12 take away 7?', '12 minus 7 is 5.')).toBe(true);
    expect(ok('What is 9 minus 9?', '9 minus 9 is 0.')).toBe(true);
    // near misses
    expect(ok('What is 3 plus 4?', '3 plus 4 is 8.')).toBe(false); // wrong result
    expect(ok('What is 3 plus 4?', '3 plus 4 is 7')).toBe(false); // no period
    expect(ok('What is 3 plus 4?', '4 plus 3 is 7.')).toBe(false); // operands swapped
    expect(ok('What is 3 plus 4?', '3 plus 4 is 7. 3 plus 4 is 7.')).toBe(false); // said twice
    expect(ok('What is 12 take away 7?', '12 take away 7 is 5.')).toBe(false); // the answer form says minus
    expect(ok('What is 3 plus 4?', '3 plus 4 is 07.')).toBe(false);
    expect(verify('What is 3 plus 4?', '')?.kind).toBe('arithmetic');
  });

  it('two-step: the working, then the result', () => {
    expect(ok('What is 2 plus 3 minus 4?', '2 plus 3 is 5. 5 minus 4 is 1.')).toBe(true);
    expect(ok('What is 7 plus 3 plus 4?', '7 plus 3 is 10. 10 plus 4 is 14.')).toBe(true);
    expect(ok('What is 2 plus 3 minus 4?', '2 plus 3 is 5. 5 minus 4 is 2.')).toBe(false); // second step wrong
    expect(ok('What is 2 plus 3 minus 4?', '2 plus 3 is 6. 6 minus 4 is 2.')).toBe(false); // first step wrong, carried
    expect(ok('What is 2 plus 3 minus 4?', '1.')).toBe(false); // result without the working
    expect(verify('What is 2 plus 3 minus 4?', '')?.kind).toBe('two-step');
  });

  it('spelling, counting, greeting, repeat', () => {
    expect(ok('Spell the word owl.', 'The word owl is spelled o-w-l.')).toBe(true);
    expect(ok('Spell the word owl.', 'The word owl is spelled o-l-w.')).toBe(false);
    expect(ok('Spell the word owl.', 'The word owl is spelled o-w-l')).toBe(false);
    expect(ok('Spell the word grey.', 'The word gray is spelled g-r-e-y.')).toBe(false);
    expect(ok('Count to 5.', '1, 2, 3, 4, 5.')).toBe(true);
    expect(ok('Count to 5.', '1, 2, 3, 4.')).toBe(false);
    expect(ok('Count to 5.', '1, 2, 3, 4, 5, 6.')).toBe(false);
    expect(ok('Count to 3.', '1,2,3.')).toBe(false);
    // The other wordings of the data ask for the same replies.
    expect(ok('How do you spell owl?', 'The word owl is spelled o-w-l.')).toBe(true);
    expect(ok('What are the letters of cake?', 'The word cake is spelled c-a-k-e.')).toBe(true);
    expect(ok('What are the letters of cake?', 'The word cake is spelled c-a-k-e-s.')).toBe(false);
    expect(ok('Can you count to 3?', '1, 2, 3.')).toBe(true);
    expect(ok('Count from 1 to 12.', '1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12.')).toBe(true);
    expect(ok('Count from 1 to 12.', '1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11.')).toBe(false);
    expect(verify('How do you spell owl.', 'The word owl is spelled o-w-l.')).toBeNull(); // not a wording of the data
    expect(ok('Say hello to Mia.', 'Hello, Mia!')).toBe(true);
    expect(ok('Say good night to Tom.', 'Good night, Tom!')).toBe(true);
    expect(ok('Say thank you to Ben.', 'Thank you, Ben!')).toBe(true);
    expect(ok('Say goodbye to Pip.', 'Goodbye, Popy!')).toBe(false);
    expect(ok('Say hello to Mia.', 'Hello, Mia.')).toBe(false);
    expect(ok('Say hello to Mia.', 'Goodbye, Mia!')).toBe(false);
    expect(ok('Repeat after me: the cake is sweet.', 'The cake is sweet.')).toBe(true);
    expect(ok('Repeat after me: the cake is sweet.', 'the cake is sweet.')).toBe(false);
    expect(ok('Repeat after me: the cake is sweet.', 'The is sweet.')).toBe(false);
  });

  it('canStillMatch: a reply can still be right while it is a beginning of the answer (whitespace aside), never after it strays', () => {
    const answer = '3 plus 4 is 7.';
    for (let k = 0; k <= answer.length; k++) expect(canStillMatch(answer, answer.slice(0, k)), answer.slice(0, k)).toBe(true);
    expect(canStillMatch(answer, '  3 plus')).toBe(true); // leading whitespace, which verify trims
    expect(canStillMatch(answer, '3 plus 4 is 7. \n')).toBe(true); // trailing whitespace too
    expect(canStillMatch(answer, '3 plus 4 is 8')).toBe(false);
    expect(canStillMatch(answer, '3 plus 4 is 7.5')).toBe(false);
    expect(canStillMatch(answer, '3 plus 4 is 7. And')).toBe(false);
    expect(canStillMatch(answer, '4')).toBe(false);
    // Whenever it says false, no continuation of that text is accepted by verify.
    for (const partial of ['3 plus 4 is 8', '3 plus 4 is 7. And', 'x']) {
      for (const more of ['', '.', ' is 7.', ' 3 plus 4 is 7.']) expect(ok('What is 3 plus 4?', partial + more)).toBe(false);
    }
  });

  it('questions of no family are not checkable', () => {
    expect(verify('What does Tom eat?', 'Tom eats carrots.')).toBeNull();
    expect(isCheckable('Where does Luna live?')).toBe(false);
    expect(isCheckable('What is 3 times 4?')).toBe(false);
    expect(expectedReply('Count to 0.')).toBeNull();
    expect(expectedReply('Count from 2 to 5.')).toBeNull();
  });

  it('the reward: 1 right, the format share for a wrong reply that ends, 0 for one that runs on', () => {
    expect(verifiableReward('What is 3 plus 4?', '3 plus 4 is 7.', true)).toBe(1);
    expect(verifiableReward('What is 3 plus 4?', '3 plus 4 is 7.', false)).toBe(0);
    expect(verifiableReward('What is 3 plus 4?', '3 plus 4 is 9.', true)).toBe(FORMAT_REWARD);
    expect(verifiableReward('What does Tom eat?', 'Tom eats carrots.', true)).toBeNull();
  });

  it('partial credit: the right prefix over the longer length, only for a wrong reply that ends its turn', () => {
    // "3 plus 4 is 7." (14 characters) against "3 plus 4 is 9.": 12 characters agree
    expect(prefixShare('3 plus 4 is 7.', '3 plus 4 is 9.')).toBeCloseTo(12 / 14, 12);
    expect(prefixShare('3 plus 4 is 7.', '9')).toBe(0);
    expect(prefixShare('Hello, Mia!', 'Hello, Mia!')).toBe(1);
    // running on past the right answer: 14 right of 29
    expect(prefixShare('3 plus 4 is 7.', '3 plus 4 is 7. 3 plus 4 is 7.')).toBeCloseTo(14 / 29, 12);
    expect(prefixShare('', '')).toBe(1);
    expect(verifiableReward('What is 3 plus 4?', '3 plus 4 is 9.', true, 0.4)).toBeCloseTo(FORMAT_REWARD + 0.4 * (12 / 14), 12);
    expect(verifiableReward('What is 3 plus 4?', '3 plus 4 is 9.', false, 0.4)).toBe(0);
    expect(verifiableReward('What is 3 plus 4?', '3 plus 4 is 7.', true, 0.4)).toBe(1);
    // the longest wrong reply that ends still earns less than the right one
    expect(verifiableReward('What is 3 plus 4?', '3 plus 4 is 7.!', true, 0.89)!).toBeLessThan(1);
  });
});

describe('verifiers on the bundled chat data', () => {
  it('accept every reference answer of a checkable question, and name the family its line names', () => {
    const text = readFileSync(join(ROOT, 'corpora', 'chat', 'sft_train.jsonl'), 'utf8') + readFileSync(join(ROOT, 'corpora', 'chat', 'sft_val.jsonl'), 'utf8');
    let checked = 0;
    for (const line of text.split('\n').filter(Boolean)) {
      const { messages, kind } = JSON.parse(line) as { messages: { content: string }[]; kind?: string };
      for (let i = 0; i + 1 < messages.length; i += 2) {
        const v = verify(messages[i].content, messages[i + 1].content);
        if (!v) continue;
        checked++;
        expect(v.correct, `${messages[i].content} → ${messages[i + 1].content}`).toBe(true);
        if (kind && i + 2 === messages.length) expect(v.kind).toBe(kind);
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });
});
