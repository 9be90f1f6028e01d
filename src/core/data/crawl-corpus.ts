/**
 * What a model pretrains on when the corpus is the crawl: the text of the documents that curation
 * (curate.ts) kept — or every document, with no filters — in crawl order, a blank line apart. The
 * command line, the worker and `data --out`'s kept.txt all take it from here, so a run in the tab
 * and a run in the terminal train on the same characters.
 *
 * A crawl run is validated on the clean held-out tales, never on a share of the crawl: a raw run and
 * a filtered run are then scored on the same text, and a raw run is not rewarded for predicting its
 * own junk well.
 */
import { curate, type CurationStep, type Doc, nearDedupStep, stepsNamed } from './curate.ts';

/** Between two documents, as between two paragraphs of a tale. */
export const DOCUMENT_SEPARATOR = '\n\n';

/** The kept documents as one training text: each trimmed, a blank line apart. */
export function joinDocuments(docs: readonly Doc[]): string {
  return docs.map((d) => d.text.trim()).join(DOCUMENT_SEPARATOR);
}

export interface CuratedText {
  text: string;
  /** Documents kept, and documents there were. */
  kept: number;
  total: number;
}

/**
 * The training text of `docs` after `steps` (none: the raw crawl). Throws curate's EmptyCorpusError,
 * which says which steps removed what, when no document is left.
 */
export function curatedText(docs: readonly Doc[], steps: readonly CurationStep[]): CuratedText {
  const { kept, total } = curate(docs, steps, 0);
  return { text: joinDocuments(kept), kept: kept.length, total };
}

/**
 * A crawl run's corpus name, as its checkpoint records it: "crawl:default", "crawl:none",
 * "crawl:c4-lines,exact-dedup". The filters travel with the name, so resuming or starting a later
 * stage from the checkpoint rebuilds the same training text.
 */
export function crawlCorpusName(filters: string): string {
  return `crawl:${filters}`;
}

/** The filters of a crawl corpus name ("crawl" alone: the default filters); undefined for any other corpus. */
export function crawlFiltersOf(name: string): string | undefined {
  if (name === 'crawl') return 'default';
  return name.startsWith('crawl:') ? name.slice('crawl:'.length) : undefined;
}

/**
 * The filters spec as the steps it names (checked: an unknown name throws, listing the known ones).
 * "near-dedup@0.7" is near deduplication at another Jaccard threshold than the default's, as the
 * Data view's slider sets it.
 */
export function crawlSteps(filters: string): CurationStep[] {
  const spec = filters.trim() || 'default';
  if (spec === 'default' || spec === 'none') return stepsNamed(spec);
  return spec.split(',').flatMap((name) => {
    const [step, threshold] = name.trim().split('@');
    if (threshold === undefined) return stepsNamed(step);
    const t = Number(threshold);
    if (step !== 'near-dedup') throw new Error(`only near-dedup takes a threshold (near-dedup@0.5), got "${name.trim()}"`);
    if (!(t > 0 && t <= 1)) throw new Error(`near-dedup: the Jaccard threshold must be above 0 and at most 1, got "${threshold}"`);
    return [nearDedupStep({ threshold: t, shingle: NEAR_DEDUP_SHINGLE })];
  });
}

/** The default near-dedup's shingle size (curate.ts), kept when only the threshold changes. */
const NEAR_DEDUP_SHINGLE = 5;
