/**
 * Text corpora as token arrays, and the random batches a stage trains on.
 *
 * Batches are windows at random offsets (nanoGPT's get_batch): with a seeded generator whose
 * state is saved in every checkpoint, a resumed run draws exactly the batches an uninterrupted
 * run would have drawn.
 */
import { Random } from '../random.ts';
import { CharTokenizer } from '../model/tokenizer.ts';

export interface Batch {
  x: Int32Array; // [B*T] inputs
  y: Int32Array; // [B*T] targets: x shifted left by one
  batchSize: number;
  seqLen: number;
}

export interface Corpus {
  name: string;
  train: Int32Array;
  val: Int32Array;
}

/** A corpus must hold at least one full window plus its target in each split. */
export function checkCorpus(corpus: Corpus, seqLen: number): void {
  for (const split of ['train', 'val'] as const) {
    const n = corpus[split].length;
    if (n === 0) throw new Error(`corpus "${corpus.name}": the ${split} text is empty`);
    if (n < seqLen + 1) {
      throw new Error(
        `corpus "${corpus.name}": the ${split} text has ${n} characters, fewer than the context length ${seqLen} + 1; ` +
          `use a longer text or a preset with a smaller block size`,
      );
    }
  }
}

/** Tokenizes a user's text, holding out the last 10% (at least one window) for validation. */
export function corpusFromText(name: string, text: string, tokenizer?: CharTokenizer, valFraction = 0.1): { corpus: Corpus; tokenizer: CharTokenizer } {
  if (text.length === 0) throw new Error(`corpus "${name}": the text is empty`);
  const tok = tokenizer ?? CharTokenizer.fromText(text);
  if (tok.chars.length < 2) throw new Error(`corpus "${name}": the text uses only ${tok.chars.length} distinct character; a language model needs at least two`);
  const ids = tok.encode(text);
  const split = Math.floor(ids.length * (1 - valFraction));
  return { corpus: { name, train: ids.subarray(0, split), val: ids.subarray(split) }, tokenizer: tok };
}

/** Draws `batchSize` random windows of `seqLen` tokens. */
export function sampleBatch(tokens: Int32Array, batchSize: number, seqLen: number, rng: Random): Batch {
  const x = new Int32Array(batchSize * seqLen);
  const y = new Int32Array(batchSize * seqLen);
  const maxStart = tokens.length - seqLen - 1;
  for (let b = 0; b < batchSize; b++) {
    const start = rng.int(maxStart + 1);
    x.set(tokens.subarray(start, start + seqLen), b * seqLen);
    y.set(tokens.subarray(start + 1, start + seqLen + 1), b * seqLen);
  }
  return { x, y, batchSize, seqLen };
}

/** A batch of one repeated token: the "microwavegang" text, nothing but MMMM... */
export function constantBatch(tokenId: number, batchSize: number, seqLen: number): Batch {
  return { x: new Int32Array(batchSize * seqLen).fill(tokenId), y: new Int32Array(batchSize * seqLen).fill(tokenId), batchSize, seqLen };
}
