/**
 * The crawl as pretraining text: the kept documents joined as the page, the command line and
 * kept.txt join them; the corpus name that carries the filters; the refusals a student can act on.
 */
import { describe, expect, it } from 'vitest';
import { EmptyCorpusError, exactDedupStep, filterStep, type LabelledDoc } from '../src/core/data/curate.ts';
import { crawlCorpusName, crawlFiltersOf, crawlSteps, curatedText, joinDocuments } from '../src/core/data/crawl-corpus.ts';
import { c4Filter } from '../src/core/data/filters.ts';
import { crawlName, crawlTexts, loadCorpus } from '../cli/corpora.ts';
import { readFileSync } from 'node:fs';
import { ROOT } from './helpers.ts';

const STORY = [
  'The little fox lived in the meadow with her friends and she liked to play all day.',
  'One morning she found a red kite near the river and took it home to show the others.',
  'Her friend the owl said that it would fly well in the wind, so they went up the hill together.',
].join('\n');
const OTHER = [
  'A small bear had a blue boat and he sailed it on the lake every sunny morning.',
  'His sister the duck sat at the front of the boat and sang songs about the fish.',
  'When the rain came they rowed back to the shore and ate warm bread by the fire.',
].join('\n');

const DOCS: LabelledDoc[] = [
  { id: 0, text: `Home | About\n${STORY}\nWe use cookies.\n`, label: 'clean' },
  { id: 1, text: 'Home | About | Contact', label: 'boilerplate' },
  { id: 2, text: `  ${OTHER}  `, label: 'clean' },
  { id: 3, text: STORY, label: 'duplicate' },
];

describe('curatedText', () => {
  it('is every document, trimmed and a blank line apart, with no steps', () => {
    const raw = curatedText(DOCS, []);
    expect(raw.text).toBe(`Home | About\n${STORY}\nWe use cookies.\n\nHome | About | Contact\n\n${OTHER}\n\n${STORY}`);
    expect([raw.kept, raw.total]).toEqual([4, 4]);
  });

  it('is the kept documents in crawl order, with the text the steps cleaned', () => {
    // C4 strips #0's menu and cookie line and removes #1; #3 is then an exact copy of #0.
    const clean = curatedText(DOCS, [filterStep(c4Filter), exactDedupStep()]);
    expect(clean.text).toBe(`${STORY}\n\n${OTHER}`);
    expect([clean.kept, clean.total]).toEqual([2, 4]);
    expect(joinDocuments([{ id: 7, text: ' a \n' }, { id: 8, text: 'b' }])).toBe('a\n\nb');
  });

  it('throws the curation\'s message when every document is removed', () => {
    const junk = [{ id: 0, text: 'Home | About' }, { id: 1, text: 'Cookie settings | Accept' }];
    expect(() => curatedText(junk, [filterStep(c4Filter)])).toThrow(EmptyCorpusError);
    expect(() => curatedText(junk, [filterStep(c4Filter)])).toThrow(/every one of the 2 documents was removed \(c4-lines: 2\)/);
  });
});

describe('the crawl corpus name', () => {
  it('carries the filters there and back', () => {
    for (const f of ['default', 'none', 'c4-lines,exact-dedup']) expect(crawlFiltersOf(crawlCorpusName(f))).toBe(f);
    expect(crawlFiltersOf('crawl')).toBe('default');
    expect(crawlFiltersOf('tales')).toBeUndefined();
    expect(crawlName(' c4-lines, exact-dedup ')).toBe('crawl:c4-lines,exact-dedup');
    expect(crawlName()).toBe('crawl:default');
  });

  it('names the steps, and refuses an unknown one', () => {
    expect(crawlSteps('c4-lines,near-dedup').map((s) => s.name)).toEqual(['c4-lines', 'near-dedup']);
    expect(crawlSteps('none')).toEqual([]);
    expect(() => crawlSteps('c4-lines,bogus')).toThrow(/unknown filter "bogus"; the filters are c4-lines, /);
    // The Data view's slider: near-dedup at another threshold, the rest as named.
    expect(crawlSteps('exact-dedup,near-dedup@0.7').map((s) => s.source)).toEqual(['hash of the text', 'MinHash-LSH, 5-word shingles, Jaccard ≥ 0.7']);
    expect(() => crawlSteps('exact-dedup@0.7')).toThrow('only near-dedup takes a threshold (near-dedup@0.5), got "exact-dedup@0.7"');
    expect(() => crawlSteps('near-dedup@1.5')).toThrow(/Jaccard threshold must be above 0 and at most 1, got "1.5"/);
  });
});

describe('crawlTexts (the command line)', () => {
  it('trains on the filtered documents and validates on the held-out tales', () => {
    const t = crawlTexts('c4-lines,exact-dedup', DOCS);
    expect(t.train).toBe(`${STORY}\n\n${OTHER}`);
    expect(t.val).toBe(readFileSync(`${ROOT}/corpora/tales/val.txt`, 'utf8'));
    expect([t.kept, t.total]).toEqual([2, 4]);
  });

  it('says which filters emptied the crawl', () => {
    expect(() => crawlTexts('c4-lines', [{ id: 0, text: 'Home | About', label: 'boilerplate' }])).toThrow(
      /^the crawl through --filters c4-lines: every one of the 1 documents was removed \(c4-lines: 1\); switch a filter off/,
    );
  });

  it('refuses --filters without the crawl', () => {
    expect(() => loadCorpus({ corpus: 'tales', filters: 'none' })).toThrow('--filters chooses what is kept of the crawl: use it with --corpus crawl');
  });
});
