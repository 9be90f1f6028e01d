/**
 * data: clean a crawl as a lab does (src/core/data/curate.ts): line rules and quality filters, then
 * exact and near deduplication; writes the kept documents and prints who removed what, and — the
 * bundled crawl being labelled by its generator — how much junk went and how much clean text stayed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { curate, CURATION_STEPS, EmptyCorpusError, type LabelledDoc, scoreCuration, stepsNamed } from '../src/core/data/curate.ts';
import { joinDocuments } from '../src/core/data/crawl-corpus.ts';
import { type Command, FLAGS, type Options, print, str, text } from './args.ts';
import { CRAWL_DOCS, readDocs } from './corpora.ts';

export function corpusDocs(opts: Options): { name: string; docs: LabelledDoc[]; labelled: boolean } {
  const own = str(opts, 'docs');
  const corpus = str(opts, 'corpus') ?? 'crawl';
  if (!own && corpus !== 'crawl') throw new Error(`--corpus must be crawl (or give --docs FILE.jsonl), got "${corpus}"`);
  const docs = readDocs(own ?? CRAWL_DOCS);
  return { name: own ?? 'crawl', docs, labelled: !own };
}

function run(opts: Options): void {
  const json = Boolean(opts.json);
  const out = str(opts, 'out');
  const { name, docs, labelled } = corpusDocs(opts);
  const steps = stepsNamed(str(opts, 'filters') ?? 'default');
  let report;
  try {
    report = curate(docs, steps);
  } catch (e) {
    if (e instanceof EmptyCorpusError) throw new Error(`${name}: ${e.message}`);
    throw e;
  }
  for (const s of report.steps) {
    print(json, { event: 'step', name: s.name, source: s.source, removed: s.removed, examples: s.examples.map((x) => ({ id: x.id, reasons: x.reasons, text: x.text.slice(0, 160) })) },
      `${s.name.padEnd(18)} removed ${String(s.removed).padStart(5)}  (${s.source})${s.examples[0] ? `\n${' '.repeat(20)}e.g. #${s.examples[0].id}: ${s.examples[0].reasons.join('; ')}` : ''}`);
  }
  const removedBy = Object.fromEntries(report.steps.map((s) => [s.name, s.removed]));
  const scores = labelled ? scoreCuration(report, docs) : null;
  if (out) {
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'kept.jsonl'), report.kept.map((d) => JSON.stringify(d)).join('\n') + '\n');
    // The kept text as one training file (pretrain --text DIR/kept.txt): what pretrain --corpus crawl trains on.
    writeFileSync(join(out, 'kept.txt'), joinDocuments(report.kept) + '\n');
  }
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  print(json, { summary: true, corpus: name, documents: docs.length, kept: report.kept.length, removedBy, ...(scores ? { junkRemoved: scores.junkRemoved, cleanKept: scores.cleanKept, nearDuplicatesFound: scores.nearDuplicatesFound, precision: scores.precision } : {}), out: out ?? null },
    `${report.kept.length} of ${docs.length} documents kept` +
      (scores ? `; against the generator's labels: junk removed ${pct(scores.junkRemoved)}, clean kept ${pct(scores.cleanKept)}, near-duplicates found ${pct(scores.nearDuplicatesFound)}, precision ${pct(scores.precision)}` : '') +
      (out ? `; kept documents in ${out}/kept.jsonl and kept.txt` : ''));
}

export const data: Command = {
  name: 'data',
  about: "cleans a crawl: C4's line rules, Gopher's quality and repetition rules, line punctuation, exact and MinHash-LSH near deduplication, in that order; prints what each removed and, on the bundled labelled crawl, the share of junk removed, clean kept and near-duplicates found",
  flags: [text('corpus', 'crawl', 'the bundled crawl'), text('docs', 'FILE.jsonl', 'your own documents instead, one {"text": …} a line'), text('filters', 'default', `default, none, or a comma-separated list of ${Object.keys(CURATION_STEPS).join(', ')} (-strict: every published rule)`), text('out', 'DIR', 'where to write kept.jsonl and kept.txt'), FLAGS.json],
  run,
};
