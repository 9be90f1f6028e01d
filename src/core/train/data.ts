/**
 * Text corpora as token arrays, and the random batches a stage trains on.
 *
 * Batches are windows at random offsets (nanoGPT's get_batch): with a seeded generator whose
 * state is saved in every checkpoint, a resumed run draws exactly the batches an uninterrupted
 * run would have drawn.
 */
import { Random } from '../random.ts';
import { CharTokenizer, type TextTokenizer } from '../model/tokenizer.ts';

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
  /**
   * Characters (code points) of the validation text, so a loss per token converts to bits per
   * character (valBitsPerChar). Absent: one token per character, as with the character tokenizer.
   */
  valChars?: number;
}

/** Tokenizes a corpus's two texts with a tokenizer, keeping the validation text's length in characters. */
export function corpusFor(name: string, train: string, val: string, tokenizer: TextTokenizer): Corpus {
  const ids = tokenizer.encode(val);
  return { name, train: tokenizer.encode(train), val: ids, valChars: countChars(val) };
}

/** Code points, as the character tokenizer counts them (an astral character is one). */
export function countChars(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/**
 * Validation loss in bits per character: nats per token × tokens per character ÷ ln 2. Losses per
 * token of different vocabularies do not compare (a BPE token carries several characters, so its
 * loss is larger for the same model quality); per character they do. This is the per-token loss
 * scaled by the whole validation text's tokens-to-characters ratio (the loss itself is a mean over
 * sampled windows, whose ratio is close to the text's).
 * For the character tokenizer tokens = characters and this is valLoss / ln 2.
 */
export function bitsPerChar(lossPerToken: number, tokens: number, chars: number): number {
  if (!(tokens > 0) || !(chars > 0)) throw new Error(`bits per character: need a positive number of tokens and characters, got ${tokens} and ${chars}`);
  return (lossPerToken * tokens) / chars / Math.LN2;
}

/** A corpus's validation loss in bits per character (see bitsPerChar). */
export function valBitsPerChar(valLoss: number, corpus: Corpus): number {
  return bitsPerChar(valLoss, corpus.val.length, corpus.valChars ?? corpus.val.length);
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
export function corpusFromText(name: string, text: string, tokenizer?: TextTokenizer, valFraction = 0.1): { corpus: Corpus; tokenizer: TextTokenizer } {
  if (text.length === 0) throw new Error(`corpus "${name}": the text is empty`);
  const tok = tokenizer ?? CharTokenizer.fromText(text);
  if (tok instanceof CharTokenizer && tok.chars.length < 2) throw new Error(`corpus "${name}": the text uses only ${tok.chars.length} distinct character; a language model needs at least two`);
  if (tok instanceof CharTokenizer) {
    const ids = tok.encode(text);
    const split = Math.floor(ids.length * (1 - valFraction));
    return { corpus: { name, train: ids.subarray(0, split), val: ids.subarray(split) }, tokenizer: tok };
  }
  // Other tokenizers cut the text, not the ids, so the validation text's characters are known
  // (a cut through a multi-character token would leave them uncertain).
  const chars = [...text];
  const cut = Math.floor(chars.length * (1 - valFraction));
  return { corpus: corpusFor(name, chars.slice(0, cut).join(''), chars.slice(cut).join(''), tok), tokenizer: tok };
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
