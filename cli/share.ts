/**
 * `export` and `import`: checkpoint files to send to someone, and files someone sent.
 *
 *   export --ckpt IN --out OUT [--no-optimizer] [--hf-tokenizer DIR]
 *          the same checkpoint, optionally without moments; a BPE model's tokenizer also as Hugging
 *          Face's DIR/tokenizer.json and DIR/tokenizer_config.json, for the PyTorch side
 *   import --file F [--n-head H] [--vocab FILE] [--corpus NAME] [--out CKPT] [--json]
 *          validates F completely and prints its card; with --out writes it as an LM Lab checkpoint.
 *          F is an LM Lab checkpoint or a plain nanoGPT state dict (then --n-head is needed, and the
 *          vocabulary is --vocab FILE or the bundled corpora/vocab.json).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BpeTokenizer } from '../src/core/data/bpe.ts';
import { hfTokenizerFiles } from '../src/core/data/hf-tokenizer.ts';
import { decodeCheckpoint } from '../src/core/io/checkpoint.ts';
import { sha256Hex } from '../src/core/io/checkpoint.ts';
import { cardLines, exportCheckpoint, fileKind, inspectStateDict, prepareImport, tokenizerFromVocab } from '../src/core/io/share.ts';
import type { TokenizerJSON } from '../src/core/model/tokenizer.ts';
import { readBytes } from './args.ts';
import { bundledTokenizer } from './corpora.ts';

export interface ShareOptions {
  ckpt?: string;
  out?: string;
  file?: string;
  'n-head'?: string;
  vocab?: string;
  corpus?: string;
  'no-optimizer'?: boolean;
  'hf-tokenizer'?: string;
  json?: boolean;
}

export async function exportCommand(opts: ShareOptions): Promise<void> {
  const bytes = readBytes(opts.ckpt, 'ckpt');
  if (!opts.out) throw new Error('--out FILE is required');
  const includeOptimizer = !opts['no-optimizer'];
  const out = exportCheckpoint(bytes, { includeOptimizer });
  const dir = opts['hf-tokenizer'];
  if (dir) {
    const state = decodeCheckpoint(out);
    if (state.tokenizer.kind !== 'bpe') throw new Error('--hf-tokenizer: this checkpoint uses the character tokenizer, which has no Hugging Face file; its vocabulary is in the metadata');
    mkdirSync(dir, { recursive: true });
    for (const [name, text] of Object.entries(hfTokenizerFiles(BpeTokenizer.fromJSON(state.tokenizer), state.model.blockSize))) writeFileSync(join(dir, name), text);
  }
  writeFileSync(opts.out, out);
  const info = { out: opts.out, sizeBytes: out.length, optimizer: includeOptimizer, sha256: await sha256Hex(out) };
  console.log(opts.json ? JSON.stringify(info) : `exported ${opts.out}: ${out.length.toLocaleString('en-US')} bytes, optimizer moments ${includeOptimizer ? 'included' : 'left out'}, sha256 ${info.sha256}`);
}

export async function importCommand(opts: ShareOptions): Promise<void> {
  const file = readBytes(opts.file, 'file');
  if (opts.out && existsSync(opts.out)) throw new Error(`${opts.out} already exists; import never overwrites, choose another --out`);
  let nHead: number | undefined;
  if (opts['n-head'] !== undefined) {
    nHead = Number(opts['n-head']);
    if (!Number.isSafeInteger(nHead) || nHead < 1) throw new Error(`--n-head must be a whole number ≥ 1, got "${opts['n-head']}"`);
  }
  const kind = fileKind(file);
  if (kind === 'nanogpt' && nHead === undefined) {
    const { headChoices, nEmbd } = inspectStateDict(file);
    throw new Error(`a nanoGPT state dict does not record the number of heads; pass --n-head H (one of ${headChoices.join(', ')} for C=${nEmbd})`);
  }
  const prepared = await prepareImport(file, {
    nHead,
    tokenizer: kind === 'nanogpt' ? readVocab(opts.vocab) : undefined,
    corpus: opts.corpus ?? (opts.vocab ? 'imported' : 'tales'),
    sourceName: opts.file!.split(/[\\/]/).pop(),
  });
  if (opts.out) writeFileSync(opts.out, prepared.bytes, { flag: 'wx' });
  if (opts.json) {
    const { summary, ...card } = prepared.card;
    const { metrics, ...rest } = summary;
    console.log(JSON.stringify({ ...card, ...rest, metricsLogged: metrics.length, lastMetrics: metrics.slice(-3), out: opts.out ?? null }));
  } else {
    for (const line of cardLines(prepared.card)) console.log(line);
    console.log(opts.out ? `wrote ${opts.out} (${prepared.bytes.length.toLocaleString('en-US')} bytes)` : 'valid; nothing written (give --out CKPT to save it as an LM Lab checkpoint)');
  }
}

function readVocab(path: string | undefined): TokenizerJSON {
  if (!path) return bundledTokenizer().toJSON();
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new Error(`--vocab ${path} is not a readable JSON file`);
  }
  return tokenizerFromVocab(value);
}
