import { describe, expect, it } from 'vitest';
import {
  c4Clean,
  countSentences,
  duplicateNgramCharShare,
  duplicateShares,
  gopherQuality,
  gopherQualityFilter,
  gopherRepetition,
  linePunctuation,
  topNgramCharShare,
  words,
} from '../src/core/data/filters.ts';

// A plain page that passes every rule: 76 words, ordinary lengths, stop words, full sentences.
const GOOD = [
  'The little fox lived in the meadow with her friends and she liked to play all day.',
  'One morning she found a red kite near the river and took it home to show the others.',
  'Her friend the owl said that it would fly well in the wind, so they went up the hill together.',
  'They flew the kite until the sun went down, and then they walked back to have some supper with the bear.',
].join('\n');

const failures = (reasons: string[]) => reasons.map((r) => r.split(/ [\d.]+ | of the stop/)[0]);

describe('Gopher quality rules', () => {
  it('keep an ordinary page', () => {
    expect(words(GOOD).length).toBeGreaterThanOrEqual(50);
    expect(gopherQuality(GOOD)).toEqual([]);
  });

  it('count words and say how many', () => {
    expect(gopherQuality('The fox and the owl went to the hill.')).toEqual(['9 words < 50']);
  });

  it('bound the mean word length from both sides', () => {
    const short = Array(30).fill('a to be of the').join(' ');
    expect(gopherQuality(short).some((r) => /^mean word length 2 < 3$/.test(r))).toBe(true);
    const long = Array(60).fill('internationalisation').join(' ') + ' the and';
    expect(gopherQuality(long).some((r) => /^mean word length 1\d\.\d+ > 10$/.test(r))).toBe(true);
  });

  it('count "#" and ellipses per word', () => {
    // 76 + 10 words and 10 hashes: 0.116 per word.
    const text = GOOD + ' #1 #2 #3 #4 #5 #6 #7 #8 #9 #10';
    expect(gopherQuality(text)).toContainEqual(expect.stringMatching(/^symbol-to-word ratio 0\.1\d+ > 0\.1$/));
    expect(gopherQuality(GOOD + ' #1 #2 #3 #4 #5 #6 and so on...')).toEqual([]);
  });

  it('reject pages of bullets and pages of trailing ellipses', () => {
    const bullets = Array(12).fill('- the fox and the owl went up the hill').join('\n');
    expect(failures(gopherQuality(bullets))).toContain('lines starting with a bullet');
    const trailing = GOOD.split('\n').map((l) => l.replace(/\.$/, '...')).join('\n');
    expect(failures(gopherQuality(trailing))).toContain('lines ending in an ellipsis');
  });

  it('need 80% of words with a letter, and two stop words', () => {
    const numbers = Array(40).fill('12.5 700 3000').join(' ') + ' ' + GOOD;
    expect(failures(gopherQuality(numbers))).toContain('words with a letter');
    expect(gopherQualityFilter(['alphabetic-words']).apply(numbers).keep).toBe(true);
    const noStop = Array(20).fill('green apples fall quickly').join(' ');
    expect(gopherQuality(noStop)).toContainEqual(expect.stringMatching(/^0 of the stop words/));
    expect(gopherQuality(noStop + ' the with')).toEqual([]);
  });
});

describe('Gopher repetition rules', () => {
  it('measure duplicate lines and their characters', () => {
    expect(duplicateShares(['a', 'bb', 'a', 'a'])).toEqual({ items: 0.5, chars: 2 / 5 });
    expect(duplicateShares([])).toEqual({ items: 0, chars: 0 });
  });

  it('measure the top n-gram and duplicate n-grams on a worked example', () => {
    // "a b a b a b c": the 2-gram "a b" occurs 3 times, covering 6 of 7 word characters.
    const ws = words('a b a b a b c');
    expect(topNgramCharShare(ws, 2)).toBeCloseTo(6 / 7, 10);
    // 3-grams: "a b a", "b a b", then "a b a" repeats at 2 (counted: 3 chars, skip to 5), "b c" ends.
    expect(duplicateNgramCharShare(ws, 3)).toBeCloseTo(3 / 7, 10);
    expect(duplicateNgramCharShare(words('one two three four five six'), 2)).toBe(0);
  });

  it('keep an ordinary page and reject a page of one repeated line', () => {
    expect(gopherRepetition(GOOD)).toEqual([]);
    const repeated = Array(6).fill('Buy cheap carrots online today at the best price.').join('\n');
    const reasons = gopherRepetition(repeated);
    expect(reasons).toContainEqual(expect.stringMatching(/^duplicate lines 0\.833 > 0\.3$/));
    expect(reasons).toContainEqual(expect.stringMatching(/^top 2-gram covers/));
  });

  it('reject keyword spam by its top 2-gram even when no line repeats', () => {
    const spam = ['cheap carrots best carrots cheap carrots sale', 'cheap carrots online cheap carrots now', 'buy cheap carrots here today'].join('\n');
    expect(gopherRepetition(spam)).toContainEqual(expect.stringMatching(/^top 2-gram covers 0\.\d+ > 0\.2$/));
  });
});

describe('line punctuation', () => {
  it('needs 12% of lines to end in punctuation', () => {
    expect(linePunctuation(GOOD)).toEqual([]);
    const menu = Array(9).fill('Home | About | Contact').join('\n') + '\nAll rights reserved';
    expect(linePunctuation(menu)).toEqual(['lines ending in punctuation 0 < 0.12']);
    expect(linePunctuation(Array(7).fill('Home | About').join('\n') + '\nAll rights reserved.')).toEqual([]);
  });
});

describe('C4 line rules', () => {
  it('strip menus, cookie notices and short lines but keep the story', () => {
    const page = ['Tales Corner', 'Home | Stories | Contact', '', GOOD, '', 'This site uses cookies to improve your experience.', 'Share this!', 'Terms of Use | Privacy Policy'].join('\n');
    const r = c4Clean(page);
    expect(r.keep).toBe(true);
    expect(r.text).toBe(GOOD);
    expect(r.dropped.map((d) => d.reason)).toEqual(['no terminal punctuation', 'no terminal punctuation', 'a policy notice', '2 words < 5', 'no terminal punctuation']);
  });

  it('drop lines about JavaScript, lines ending in an ellipsis, and citation markers', () => {
    const page = GOOD + '\nPlease enable JavaScript to read the comments below.\nAnd then the fox went home again and...\nThe kite was red.[1] It flew high over the hill today.';
    const r = c4Clean(page);
    expect(r.keep).toBe(true);
    expect(r.text).toBe(GOOD + '\nThe kite was red. It flew high over the hill today.');
    expect(r.dropped.map((d) => d.reason)).toEqual(['mentions javascript', 'ends in an ellipsis']);
  });

  it('drop whole pages with lorem ipsum, code, or fewer than three sentences left', () => {
    expect(c4Clean(GOOD + '\nLorem ipsum dolor sit amet.').reasons).toEqual(['contains "lorem ipsum"']);
    expect(c4Clean(GOOD + '\nfunction f() { return 1; }').reasons).toEqual(['contains a curly bracket (code)']);
    const thin = 'Home | About\nThe fox lived in the meadow.\nThe owl lived in the forest with her books.';
    expect(c4Clean(thin)).toMatchObject({ keep: false, reasons: ['2 sentences left after line cleaning < 3'] });
  });

  it('count sentences, quoted or not', () => {
    expect(countSentences('"Hello," said Tom. "Where is my kite?" Mia smiled! 3 plus 4 is 7.')).toBe(4);
    expect(countSentences('...!!! ?')).toBe(0);
  });
});
