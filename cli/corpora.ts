/**
 * Loading text for the command line: a bundled corpus from corpora/, or a user's own file.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Corpus, corpusFromText } from '../src/core/train/data.ts';
import { CharTokenizer, type TokenizerJSON } from '../src/core/model/tokenizer.ts';

export const CORPORA_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'corpora');
export const BUNDLED_CORPORA = ['tales'];
const MAX_TEXT_BYTES = 200 * 1024 * 1024;

/** The vocabulary shared by all bundled data (stories and chat), written by corpora/generate.ts. */
export function bundledTokenizer(): CharTokenizer {
  return CharTokenizer.fromJSON(JSON.parse(readFileSync(join(CORPORA_DIR, 'vocab.json'), 'utf8')) as TokenizerJSON);
}

export function bundledTexts(name: string): { train: string; val: string } {
  if (!BUNDLED_CORPORA.includes(name)) throw new Error(`unknown corpus "${name}"; bundled corpora: ${BUNDLED_CORPORA.join(', ')} (or use --text FILE)`);
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

/** The corpus and tokenizer for `--corpus NAME` or `--text FILE`; `tokenizer` forces a vocabulary (resuming). */
export function loadCorpus(opts: { corpus?: string; text?: string }, tokenizer?: CharTokenizer): { corpus: Corpus; tokenizer: CharTokenizer } {
  if (opts.text) return corpusFromText(opts.text, readTextFile(opts.text), tokenizer);
  const name = opts.corpus ?? 'tales';
  const { train, val } = bundledTexts(name);
  const tok = tokenizer ?? bundledTokenizer();
  return { corpus: { name, train: tok.encode(train), val: tok.encode(val) }, tokenizer: tok };
}
