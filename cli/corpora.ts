/**
 * Loading text for the command line: a bundled corpus from corpora/, or a user's own file; chat
 * data, the bundled corpora/chat/*.jsonl or the user's own JSONL, whose unusable lines are reported
 * with their line number and skipped.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EmptyCorpusError, type LabelledDoc } from '../src/core/data/curate.ts';
import { crawlCorpusName, crawlFiltersOf, crawlSteps, curatedText } from '../src/core/data/crawl-corpus.ts';
import { parseDocsJsonl } from '../src/core/data/docs.ts';
import type { CheckpointState } from '../src/core/io/checkpoint.ts';
import type { Parsed } from '../src/core/post/chatdata.ts';
import type { ChatSplits } from '../src/core/post/sft.ts';
import { type Corpus, corpusFor, corpusFromText } from '../src/core/train/data.ts';
import { CharTokenizer, type CharTokenizerJSON, type TextTokenizer } from '../src/core/model/tokenizer.ts';
import { tokenizerFromJSON } from '../src/core/data/tokenizers.ts';

export const CORPORA_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'corpora');
export const BUNDLED_CORPORA = ['tales'];
/** The bundled crawl, pretrained on through its filters (`--corpus crawl --filters …`). */
export const CRAWL_DOCS = join(CORPORA_DIR, 'crawl', 'docs.jsonl');
const MAX_TEXT_BYTES = 200 * 1024 * 1024;

/** The vocabulary shared by all bundled data (stories and chat), written by corpora/generate.ts. */
export function bundledTokenizer(): CharTokenizer {
  return CharTokenizer.fromJSON(JSON.parse(readFileSync(join(CORPORA_DIR, 'vocab.json'), 'utf8')) as CharTokenizerJSON);
}

/** Whether `name` is a corpus this command line has: the tales, or the crawl through some filters ("crawl:default"). */
export const isBundledCorpus = (name: string): boolean => BUNDLED_CORPORA.includes(name) || crawlFiltersOf(name) !== undefined;

/** The training and validation text of a bundled corpus; a crawl corpus trains on its filtered documents and validates on the tales. */
export function bundledTexts(name: string): { train: string; val: string } {
  const filters = crawlFiltersOf(name);
  if (filters !== undefined) return crawlTexts(filters);
  if (!BUNDLED_CORPORA.includes(name)) throw new Error(`unknown corpus "${name}"; bundled corpora: ${BUNDLED_CORPORA.join(', ')}, crawl (or use --text FILE)`);
  return {
    train: readFileSync(join(CORPORA_DIR, name, 'train.txt'), 'utf8'),
    val: readFileSync(join(CORPORA_DIR, name, 'val.txt'), 'utf8'),
  };
}

/** A user's UTF-8 text file, checked for the mistakes that would otherwise fail deep inside training. */
export function readTextFile(path: string): string {
  if (!existsSync(path)) throw new Error(`no such file: ${path}`);
  const size = statSync(path).size;
  if (size > MAX_TEXT_BYTES) throw new Error(`${path} is ${(size / 1e6).toFixed(0)} MB; LM Lab reads text files up to ${MAX_TEXT_BYTES / 1e6} MB`);
  const bytes = readFileSync(path);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`${path} is not UTF-8 text`);
  }
}

/** The documents of a JSONL file of {"text": …} lines (the bundled crawl's also carry labels). */
export function readDocs(path: string): LabelledDoc[] {
  return parseDocsJsonl(readTextFile(path), path);
}

/**
 * The crawl as pretraining text: its documents through `filters` ("default", "none" or a list of
 * curation steps), with the tales' held-out file to validate on, so runs through any filters are
 * scored on the same clean text. `docs` replaces the bundled crawl (tests).
 */
export function crawlTexts(filters: string, docs: readonly LabelledDoc[] = readDocs(CRAWL_DOCS)): { train: string; val: string; kept: number; total: number } {
  try {
    const { text, kept, total } = curatedText(docs, crawlSteps(filters));
    return { train: text, val: readFileSync(join(CORPORA_DIR, 'tales', 'val.txt'), 'utf8'), kept, total };
  } catch (e) {
    if (e instanceof EmptyCorpusError) throw new Error(`the crawl through --filters ${filters}: ${e.message}`);
    throw e;
  }
}

/** `--filters` as the name the checkpoint records: a list loses its spaces ("c4-lines, exact-dedup" → "c4-lines,exact-dedup"). */
export function crawlName(filters = 'default'): string {
  return crawlCorpusName(filters.split(',').map((f) => f.trim()).filter(Boolean).join(',') || 'default');
}

/**
 * The corpus and tokenizer for `--corpus NAME` (with `--filters` for the crawl) or `--text FILE`;
 * `tokenizer` forces a vocabulary (resuming). The crawl is tokenized with the bundled vocabulary:
 * its characters outside it (the made-up script, the boilerplate's © and |) become <|unk|>, which is
 * what a tokenizer fitted to clean text does with a crawl's stray symbols; the tales never meet one.
 */
export function loadCorpus(opts: { corpus?: string; text?: string; filters?: string }, tokenizer?: TextTokenizer): { corpus: Corpus; tokenizer: TextTokenizer } {
  if (opts.filters !== undefined && opts.corpus !== 'crawl') throw new Error('--filters chooses what is kept of the crawl: use it with --corpus crawl');
  if (opts.text) return corpusFromText(opts.text, readTextFile(opts.text), tokenizer);
  const name = opts.corpus === 'crawl' ? crawlName(opts.filters) : (opts.corpus ?? 'tales');
  const { train, val } = bundledTexts(name);
  const tok = tokenizer ?? bundledTokenizer();
  return { corpus: corpusFor(name, train, val, tok), tokenizer: tok };
}

/** The stories the checkpoint was trained on (for the validation loss), with its tokenizer; `text` when not bundled. */
export function storiesFor(state: CheckpointState, text?: string): Corpus {
  const tok = tokenizerFromJSON(state.tokenizer);
  if (text) return loadCorpus({ text }, tok).corpus;
  if (!isBundledCorpus(state.corpus)) {
    throw new Error(`the checkpoint was trained on "${state.corpus}", which is not bundled; pass --text FILE with that text`);
  }
  return loadCorpus({ corpus: state.corpus }, tok).corpus;
}

/** Reads a JSONL file, reporting each unusable line on stderr; fails only when no line is usable. */
export function readJsonl<T>(path: string, parse: (text: string) => Parsed<T>, what: string): T[] {
  const { examples, errors } = parse(readTextFile(path));
  for (const e of errors.slice(0, 20)) console.error(`${path}:${e.line}: ${e.message} (skipped)`);
  if (errors.length > 20) console.error(`${path}: ${errors.length - 20} more unusable lines skipped`);
  if (examples.length === 0) throw new Error(`${path} has no usable ${what}${errors.length ? ` (${errors.length} bad lines)` : ''}`);
  return examples;
}

/** The bundled chat file of a kind and split: corpora/chat/sft_val.jsonl. */
export const bundledChat = (kind: 'sft' | 'dpo', split: 'train' | 'val'): string => join(CORPORA_DIR, 'chat', `${kind}_${split}.jsonl`);

/** Conversations (sft) or preference pairs (dpo): the files given, else the bundled ones. */
export function chatData<T>(kind: 'sft' | 'dpo', parse: (text: string) => Parsed<T>, files: { train?: string; val?: string } = {}): ChatSplits<T> {
  const what = kind === 'sft' ? 'conversations' : 'preference pairs';
  return {
    train: readJsonl(files.train ?? bundledChat(kind, 'train'), parse, what),
    val: readJsonl(files.val ?? bundledChat(kind, 'val'), parse, what),
  };
}
