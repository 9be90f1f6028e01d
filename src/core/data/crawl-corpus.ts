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
import { curate, type CurationStep, type Doc, stepsNamed } from './curate.ts';

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

/** The filters spec as the steps it names (checked: an unknown name throws, listing the known ones). */
export function crawlSteps(filters: string): CurationStep[] {
  return stepsNamed(filters.trim() || 'default');
}
