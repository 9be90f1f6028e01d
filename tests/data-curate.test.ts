import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  curate,
  defaultSteps,
  EmptyCorpusError,
  exactDedupStep,
  filterStep,
  scoreCuration,
  type CurationReport,
  type LabelledDoc,
} from '../src/core/data/curate.ts';
import { c4Filter, gopherQualityFilter, gopherRepetitionFilter } from '../src/core/data/filters.ts';

const STORY = [
  'The little fox lived in the meadow with her friends and she liked to play all day.',
  'One morning she found a red kite near the river and took it home to show the others.',
  'Her friend the owl said that it would fly well in the wind, so they went up the hill together.',
  'They flew the kite until the sun went down, and then they walked back to have some supper with the bear.',
].join('\n');

describe('curate', () => {
  it('runs the steps in order, passes cleaned text on, and counts each removal once', () => {
    const docs = [
      { id: 10, text: `Home | About\n${STORY}\nWe use cookies.` },
      { id: 11, text: 'Home | About | Contact' },
      { id: 12, text: STORY },
      { id: 13, text: 'cheap carrots '.repeat(40) + 'the and.' },
    ];
    const report = curate(docs, [filterStep(c4Filter), filterStep(gopherQualityFilter()), exactDedupStep()]);
    expect(report.kept).toEqual([{ id: 10, text: STORY }]);
    expect(report.steps.map((s) => [s.name, s.removed])).toEqual([['c4-lines', 2], ['gopher-quality', 0], ['exact-dedup', 1]]);
    // #12 is a copy of #10 once C4 has stripped #10's menu and cookie line.
    expect(report.steps[2].examples).toEqual([{ id: 12, reasons: ['copy of #10'], text: STORY }]);
    expect([...report.removedBy]).toEqual([[11, 'c4-lines'], [13, 'c4-lines'], [12, 'exact-dedup']]);
  });

  it('scores a report against labels', () => {
    const docs: LabelledDoc[] = [
      { id: 0, text: STORY, label: 'clean' },
      { id: 1, text: STORY.replace('red kite', 'blue kite'), label: 'near-duplicate', dupOf: 0 },
      { id: 2, text: 'x', label: 'gibberish' },
      { id: 3, text: 'y', label: 'clean' },
    ];
    const report: CurationReport = { kept: [], steps: [], total: 4, removedBy: new Map([[1, 'near-dedup'], [2, 'gopher-quality'], [3, 'gopher-quality']]) };
    const s = scoreCuration(report, docs);
    expect(s).toMatchObject({ junkRemoved: 1, cleanKept: 0.5, nearDuplicatesFound: 1, precision: 2 / 3 });
    expect(s.byLabel.clean).toEqual({ total: 2, removed: 1, byStep: { 'gopher-quality': 1 } });
  });

  it('says clearly when every document is removed, and still gives the report', () => {
    const docs = [{ id: 0, text: 'Home | About' }, { id: 1, text: 'Login' }];
    expect(() => curate(docs)).toThrow(/every one of the 2 documents was removed \(c4-lines: 2\); switch a filter off or loosen its threshold/);
    try {
      curate(docs);
    } catch (e) {
      expect(e).toBeInstanceOf(EmptyCorpusError);
      expect((e as EmptyCorpusError).report.steps[0].examples).toHaveLength(2);
    }
    expect(curate([]).kept).toEqual([]);
  });
});

describe('the default steps on the committed crawl', () => {
  let docs: LabelledDoc[];
  let report: CurationReport;

  beforeAll(() => {
    const lines = readFileSync(new URL('../corpora/crawl/docs.jsonl', import.meta.url), 'utf8').trimEnd().split('\n');
    docs = lines.map((l) => JSON.parse(l) as LabelledDoc);
    // The steps see ids and text only: the labels stay with the teacher.
    report = curate(docs.map(({ id, text }) => ({ id, text })));
  });

  it('remove at least 90% of the junk, keep at least 95% of the clean tales, find 95% of the near-duplicates', () => {
    const s = scoreCuration(report, docs);
    const summary = JSON.stringify({ ...s, byLabel: undefined });
    expect(s.junkRemoved, summary).toBeGreaterThanOrEqual(0.9);
    expect(s.cleanKept, summary).toBeGreaterThanOrEqual(0.95);
    expect(s.nearDuplicatesFound, summary).toBeGreaterThanOrEqual(0.95);
    // Every kind of junk is mostly caught, not only the common kinds.
    for (const [label, { total, removed }] of Object.entries(s.byLabel)) {
      if (label !== 'clean') expect(removed / total, label).toBeGreaterThanOrEqual(0.9);
    }
  });

  it('strip the page chrome from the tales they keep', () => {
    const kept = report.kept.map((d) => d.text).join('\n');
    for (const chrome of ['cookies', 'Privacy Policy', 'Home', '©', 'Read more']) expect(kept, chrome).not.toContain(chrome);
    expect(report.kept.length).toBeGreaterThan(1000);
  });

  it("would cost the school lessons with all of Gopher's rules on, which is why two are off by default", () => {
    const clean = docs.filter((d) => d.label === 'clean');
    const all = curate(clean, [filterStep(c4Filter), filterStep(gopherQualityFilter()), filterStep(gopherRepetitionFilter())]);
    const lost = clean.filter((d) => all.removedBy.has(d.id));
    expect(lost.length / clean.length).toBeGreaterThan(0.2);
    expect(lost.filter((d) => /\d+ (plus|minus) \d+/.test(d.text)).length / lost.length).toBeGreaterThan(0.9);
    expect(defaultSteps().map((s) => s.name)).toContain('gopher-quality (without alphabetic-words)');
  });
});
