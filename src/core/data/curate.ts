/**
 * Curation: run a list of steps over a collection of documents, as a lab cleans a crawl (the order
 * of RefinedWeb and FineWeb: line cleaning and quality rules first, deduplication last, so copies
 * are compared by what would be kept of them). Each step removes some documents and says why; the
 * report keeps counts and examples per step, and — given labels from the generator, which no step
 * reads — the teacher's scores: how much junk went, how much clean text stayed, how many planted
 * near-duplicates were found.
 */
import { exactDuplicates, nearDuplicates, NEAR_DEDUP_DEFAULTS, type NearDedupOptions } from './dedup.ts';
import { c4Filter, gopherQualityFilter, gopherRepetitionFilter, linePunctuationFilter, type DocumentFilter } from './filters.ts';

export interface Doc {
  id: number;
  text: string;
}

/** A labelled document, as the crawl generator writes it. */
export interface LabelledDoc extends Doc {
  label: string;
  dupOf?: number;
}

/** One step's verdict on the documents still in: which stay, their (possibly cleaned) text, why the others went. */
export interface StepOutcome {
  keep: boolean[];
  texts: string[];
  reasons: string[][];
}

export interface CurationStep {
  name: string;
  /** Where the rule comes from, for the view's table. */
  source: string;
  /** Sees the documents the earlier steps kept, with their current text. */
  run(docs: readonly Doc[]): StepOutcome;
}

/** A per-document filter as a step. */
export function filterStep(filter: DocumentFilter): CurationStep {
  return {
    name: filter.name,
    source: filter.source,
    run(docs) {
      const verdicts = docs.map((d) => filter.apply(d.text));
      return { keep: verdicts.map((v) => v.keep), texts: verdicts.map((v) => v.text), reasons: verdicts.map((v) => v.reasons) };
    },
  };
}

/** Exact deduplication by hash: every copy after the first goes. */
export function exactDedupStep(): CurationStep {
  return {
    name: 'exact-dedup',
    source: 'hash of the text',
    run(docs) {
      const dupOf = exactDuplicates(docs.map((d) => d.text));
      const reasons = docs.map((_, i) => (dupOf.has(i) ? [`copy of #${docs[dupOf.get(i)!].id}`] : []));
      return { keep: docs.map((_, i) => !dupOf.has(i)), texts: docs.map((d) => d.text), reasons };
    },
  };
}

/** Near deduplication by MinHash-LSH: every member of a near-duplicate group after the first goes. */
export function nearDedupStep(options: Partial<NearDedupOptions> = {}): CurationStep {
  const o = { ...NEAR_DEDUP_DEFAULTS, ...options };
  return {
    name: 'near-dedup',
    source: `MinHash-LSH, ${o.shingle}-word shingles, Jaccard ≥ ${o.threshold}`,
    run(docs) {
      const pairs = nearDuplicates(docs.map((d) => d.text), o);
      const reasons = docs.map((_, i) => {
        const p = pairs.get(i);
        return p ? [`near copy of #${docs[p.keep].id} (Jaccard ≈ ${p.similarity.toFixed(2)})`] : [];
      });
      return { keep: docs.map((_, i) => !pairs.has(i)), texts: docs.map((d) => d.text), reasons };
    },
  };
}

/**
 * The default steps. All of Gopher's rules apply at their published thresholds except two that
 * would remove the tales' school lessons, where the sums are: "80% of words contain a letter"
 * fails a page of "3 plus 4 is 7", and the duplicate 5- to 10-gram rule fails the same worked lines
 * repeated in quotes. Heuristic filters are known to strip mathematics this way (Paster et al.
 * 2023, OpenWebMath); turning the two rules back on shows it.
 * The near-duplicate threshold is lower than the 0.8 of Lee et al. because a few changed words
 * break many 5-grams of a story as short as a tale (each swap breaks up to five).
 */
export function defaultSteps(): CurationStep[] {
  return [
    filterStep(c4Filter),
    filterStep(gopherQualityFilter(['alphabetic-words'])),
    filterStep(gopherRepetitionFilter(['duplicate-ngrams'])),
    filterStep(linePunctuationFilter),
    exactDedupStep(),
    nearDedupStep(NEAR_DEDUP),
  ];
}

const NEAR_DEDUP = { threshold: 0.5, shingle: 5 };

/** Every step by the name the command line and the view use: as the defaults configure it, or strict (every published rule). */
export const CURATION_STEPS: Readonly<Record<string, () => CurationStep>> = Object.freeze({
  'c4-lines': () => filterStep(c4Filter),
  'gopher-quality': () => filterStep(gopherQualityFilter(['alphabetic-words'])),
  'gopher-quality-strict': () => filterStep(gopherQualityFilter()),
  'gopher-repetition': () => filterStep(gopherRepetitionFilter(['duplicate-ngrams'])),
  'gopher-repetition-strict': () => filterStep(gopherRepetitionFilter()),
  'line-punctuation': () => filterStep(linePunctuationFilter),
  'exact-dedup': () => exactDedupStep(),
  'near-dedup': () => nearDedupStep(NEAR_DEDUP),
});

/** Steps by name ("default", "none" or a comma-separated list of CURATION_STEPS' names), in the order given. */
export function stepsNamed(spec: string): CurationStep[] {
  if (spec === 'default') return defaultSteps();
  if (spec === 'none') return [];
  return spec.split(',').map((name) => {
    const make = CURATION_STEPS[name.trim()];
    if (!make) throw new Error(`unknown filter "${name.trim()}"; the filters are ${Object.keys(CURATION_STEPS).join(', ')} (or default, none)`);
    return make();
  });
}

export interface Removal {
  id: number;
  reasons: string[];
  /** The text as the step saw it. */
  text: string;
}

export interface StepReport {
  name: string;
  source: string;
  /** Documents this step removed (of those the earlier steps left). */
  removed: number;
  examples: Removal[];
}

export interface CurationReport {
  /** The documents left, with the text the steps passed on (C4's cleaning rewrites lines). */
  kept: Doc[];
  steps: StepReport[];
  /** id → name of the step that removed it. */
  removedBy: Map<number, string>;
  total: number;
}

/** Thrown when no document survives; carries the report so the view can still show who removed what. */
export class EmptyCorpusError extends Error {
  constructor(readonly report: CurationReport) {
    super(`every one of the ${report.total} documents was removed (${report.steps.filter((s) => s.removed > 0).map((s) => `${s.name}: ${s.removed}`).join(', ')}); switch a filter off or loosen its threshold`);
  }
}

/** Runs the steps in order over the documents; each step sees only what the earlier ones kept. */
export function curate(docs: readonly Doc[], steps: readonly CurationStep[] = defaultSteps(), examplesPerStep = 5): CurationReport {
  let live: Doc[] = docs.map((d) => ({ id: d.id, text: d.text }));
  const removedBy = new Map<number, string>();
  const reports: StepReport[] = [];
  for (const step of steps) {
    const out = step.run(live);
    const next: Doc[] = [];
    const report: StepReport = { name: step.name, source: step.source, removed: 0, examples: [] };
    live.forEach((d, i) => {
      if (out.keep[i]) {
        next.push({ id: d.id, text: out.texts[i] });
        return;
      }
      report.removed++;
      removedBy.set(d.id, step.name);
      if (report.examples.length < examplesPerStep) report.examples.push({ id: d.id, reasons: out.reasons[i], text: d.text });
    });
    reports.push(report);
    live = next;
  }
  const report: CurationReport = { kept: live, steps: reports, removedBy, total: docs.length };
  if (docs.length > 0 && live.length === 0) throw new EmptyCorpusError(report);
  return report;
}

export interface CurationScores {
  /** Share of non-clean documents removed (recall of the junk). */
  junkRemoved: number;
  /** Share of clean documents kept. */
  cleanKept: number;
  /** Share of planted near-duplicates that a deduplication step removed. */
  nearDuplicatesFound: number;
  /** Share of removed documents that were junk. */
  precision: number;
  /** label → how many there were and how many each step removed. */
  byLabel: Record<string, { total: number; removed: number; byStep: Record<string, number> }>;
}

/** The teacher's line: the report scored against the generator's labels ("clean" is the only keeper). */
export function scoreCuration(report: CurationReport, docs: readonly LabelledDoc[]): CurationScores {
  const byLabel: CurationScores['byLabel'] = {};
  for (const d of docs) {
    const entry = (byLabel[d.label] ??= { total: 0, removed: 0, byStep: {} });
    entry.total++;
    const step = report.removedBy.get(d.id);
    if (step === undefined) continue;
    entry.removed++;
    entry.byStep[step] = (entry.byStep[step] ?? 0) + 1;
  }
  const share = (a: number, b: number) => (b === 0 ? 1 : a / b);
  const clean = byLabel.clean ?? { total: 0, removed: 0 };
  const junkTotal = docs.length - clean.total;
  const junkRemoved = report.removedBy.size - clean.removed;
  const near = byLabel['near-duplicate'] ?? { total: 0, removed: 0, byStep: {} };
  return {
    junkRemoved: share(junkRemoved, junkTotal),
    cleanKept: share(clean.total - clean.removed, clean.total),
    nearDuplicatesFound: share((near.byStep['near-dedup'] ?? 0) + (near.byStep['exact-dedup'] ?? 0), near.total),
    precision: share(junkRemoved, report.removedBy.size),
    byLabel,
  };
}
