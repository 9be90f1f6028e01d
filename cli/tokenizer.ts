/**
 * tokenizer: trains a byte-level BPE tokenizer (src/core/data/bpe.ts: GPT-2's pre-split and byte
 * table, merges learnt by pair counts) on a corpus, and writes it as Hugging Face's tokenizer.json
 * and tokenizer_config.json. tokenize: a text's ids under such a tokenizer.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BpeTokenizer, charsPerToken } from '../src/core/data/bpe.ts';
import { fromHfTokenizerJson, hfTokenizerFiles } from '../src/core/data/hf-tokenizer.ts';
import { type Command, FLAGS, num, number, type Options, print, str, text } from './args.ts';
import { bundledTexts, CORPORA_DIR, readDocs, readTextFile } from './corpora.ts';

const VOCAB = number('vocab', 1024, { whole: true, min: 1 }, 'tokens in the vocabulary: the 4 chat specials, the 256 bytes and the merges');

/** Training text and held-out text to measure compression on. */
function texts(opts: Options): { name: string; train: string; val: string } {
  const own = str(opts, 'text');
  if (own) {
    const all = readTextFile(own);
    const cut = Math.floor(all.length * 0.9); // the last tenth measures compression on text the merges did not see
    return { name: own, train: all.slice(0, cut), val: all.slice(cut) };
  }
  const corpus = str(opts, 'corpus') ?? 'tales';
  if (corpus === 'crawl') {
    const docs = readDocs(join(CORPORA_DIR, 'crawl', 'docs.jsonl')).map((d) => d.text);
    const cut = Math.floor(docs.length * 0.9);
    return { name: 'crawl', train: docs.slice(0, cut).join('\n\n'), val: docs.slice(cut).join('\n\n') };
  }
  return { name: corpus, ...bundledTexts(corpus) };
}

function train(opts: Options): void {
  const out = str(opts, 'out');
  if (!out) throw new Error('--out DIR is required');
  const { name, train, val } = texts(opts);
  const started = performance.now();
  const tok = BpeTokenizer.train(train, num(opts, VOCAB));
  const seconds = (performance.now() - started) / 1000;
  mkdirSync(out, { recursive: true });
  for (const [file, contents] of Object.entries(hfTokenizerFiles(tok))) writeFileSync(join(out, file), contents);
  const cpt = charsPerToken(tok, val);
  const firstMerges = tok.merges.slice(0, 10).map(([a, b]) => tok.tokenText(a) + tok.tokenText(b));
  print(Boolean(opts.json), { summary: true, corpus: name, trainChars: train.length, vocabSize: tok.vocabSize, charsPerToken: cpt, seconds, firstMerges, out },
    `byte-level BPE on ${name} (${(train.length / 1e6).toFixed(2)} M characters): ${tok.vocabSize} tokens in ${seconds.toFixed(1)} s, ${cpt.toFixed(2)} characters per token on held-out text; first merges ${firstMerges.map((m) => JSON.stringify(m)).join(' ')}; written to ${out}/tokenizer.json and tokenizer_config.json`);
}

/** The tokenizer in DIR/tokenizer.json (as the tokenizer command writes it), or a message saying what is wrong. */
export function readTokenizerDir(dir: string): BpeTokenizer {
  let json: unknown;
  try {
    json = JSON.parse(readTextFile(join(dir, 'tokenizer.json')));
  } catch (e) {
    throw new Error(`${dir}/tokenizer.json: ${e instanceof SyntaxError ? 'not JSON' : (e as Error).message}`);
  }
  try {
    return fromHfTokenizerJson(json);
  } catch (e) {
    throw new Error(`${dir}/${(e as Error).message}`);
  }
}

function tokenize(opts: Options): void {
  const dir = str(opts, 'tokenizer');
  if (!dir) throw new Error('--tokenizer DIR is required');
  const tok = readTokenizerDir(dir);
  const path = str(opts, 'text');
  if (!path) throw new Error('--text FILE is required');
  const ids = Array.from(tok.encode(readTextFile(path)));
  print(Boolean(opts.json), { ids, tokens: ids.map((id) => tok.tokenText(id)) }, ids.join(' '));
}

export const tokenizer: Command = {
  name: 'tokenizer',
  about: "trains a byte-level BPE tokenizer (GPT-2's pre-split, bytes, merges) and writes Hugging Face's tokenizer.json and tokenizer_config.json; prints vocabSize, charsPerToken on held-out text and seconds",
  flags: [text('corpus', 'tales', 'tales or crawl'), text('text', 'FILE', 'your own text instead'), VOCAB, text('out', 'DIR', 'where to write the two files', { required: true }), FLAGS.json],
  run: train,
};

export const tokenizeText: Command = {
  name: 'tokenize',
  about: 'the ids (and token texts) of a text under a tokenizer that the tokenizer command wrote',
  flags: [text('tokenizer', 'DIR', 'the folder with tokenizer.json', { required: true }), text('text', 'FILE', 'the text', { required: true }), FLAGS.json],
  run: tokenize,
};
