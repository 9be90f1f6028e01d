/**
 * What a teacher can throw at a pretraining run, and the data filter that keeps it out.
 *
 * - `microwavegang`: the next k batches become `MMMM…`, after the subreddit whose posts are
 *   nothing but the letter M and which Ai2 tells blew up an early OLMo run.
 * - `random-bytes`: the next k batches become uniformly random characters of the vocabulary.
 * - `lr-spike`: the learning rate is multiplied by N for one step.
 *
 * The normal batch is still drawn and thrown away when an injected one replaces it, so the data
 * sampler stays where an uninjected run would be and the two runs can be compared step by step.
 */
import { type Batch, constantBatch, sampleBatch } from '../train/data.ts';
import { Random } from '../random.ts';
import { DEFAULT_REPETITION_FILTER, filterRepetitiveDocuments, type RemovedDocument, type RepetitionFilterOptions } from './repetition.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';

export type InjectionKind = 'microwavegang' | 'random-bytes' | 'lr-spike';
export const INJECTION_KINDS: readonly InjectionKind[] = ['microwavegang', 'random-bytes', 'lr-spike'];

export interface Injection {
  kind: InjectionKind;
  /** The step whose batch (or learning rate) is the first one replaced. */
  step: number;
  /** microwavegang / random-bytes: how many consecutive batches are replaced. */
  batches: number;
  /** lr-spike: the learning-rate multiplier for that one step. */
  factor: number;
}

/** An lr-spike multiplies the rate by this unless the spec says otherwise (×30 at lr 3e-3 is 0.09). */
export const DEFAULT_LR_SPIKE_FACTOR = 30;

/**
 * Reads `KIND@STEP[xN]`: `microwavegang@300x4` (4 batches of M from step 300), `random-bytes@300`,
 * `lr-spike@300x30` (the rate ×30 at step 300). Throws a one-line message naming what is wrong.
 */
export function parseInjection(spec: string): Injection {
  const m = /^([a-z-]+)@(\d+)(?:x(\d+(?:\.\d+)?))?$/.exec(spec.trim());
  if (!m) throw new Error(`injection "${spec}" is not KIND@STEP[xN], e.g. microwavegang@300x4 or lr-spike@300x30`);
  const kind = m[1] as InjectionKind;
  if (!INJECTION_KINDS.includes(kind)) throw new Error(`injection "${spec}": unknown kind "${m[1]}"; choose ${INJECTION_KINDS.join(', ')}`);
  const step = Number(m[2]);
  const n = m[3] === undefined ? undefined : Number(m[3]);
  if (kind === 'lr-spike') {
    const factor = n ?? DEFAULT_LR_SPIKE_FACTOR;
    if (!(factor > 0)) throw new Error(`injection "${spec}": the learning-rate factor must be positive`);
    return { kind, step, batches: 1, factor };
  }
  const batches = n ?? 1;
  if (!Number.isInteger(batches) || batches < 1) throw new Error(`injection "${spec}": the number of batches must be a whole number ≥ 1`);
  return { kind, step, batches, factor: 1 };
}

export function formatInjection(inj: Injection): string {
  return inj.kind === 'lr-spike' ? `lr-spike@${inj.step}x${inj.factor}` : `${inj.kind}@${inj.step}${inj.batches > 1 ? `x${inj.batches}` : ''}`;
}

/** The replacement batch of an injection: all `M`, or random tokens other than the specials (seeded by run seed and step). */
export function injectedBatch(kind: 'microwavegang' | 'random-bytes', tokenizer: TextTokenizer, batchSize: number, seqLen: number, seed: number, step: number): Batch {
  if (kind === 'microwavegang') {
    const id = tokenizer.encode('M')[0];
    if (tokenizer.tokenText(id) !== 'M') throw new Error('microwavegang: the vocabulary has no "M"');
    return constantBatch(id, batchSize, seqLen);
  }
  const rng = new Random((seed * 0x9e3779b1) ^ (step + 1));
  const first = tokenizer.specials.length; // plain characters only: specials never occur in pretraining text
  const n = batchSize * seqLen;
  const x = new Int32Array(n);
  const y = new Int32Array(n);
  for (let b = 0; b < batchSize; b++) {
    let prev = first + rng.int(tokenizer.vocabSize - first);
    for (let t = 0; t < seqLen; t++) {
      const next = first + rng.int(tokenizer.vocabSize - first);
      x[b * seqLen + t] = prev;
      y[b * seqLen + t] = next;
      prev = next;
    }
  }
  return { x, y, batchSize, seqLen };
}

/** The text of row `b` of a batch: its T inputs and the last target, the T + 1 characters it was cut from. */
export function rowText(batch: Batch, b: number, tokenizer: TextTokenizer): string {
  const T = batch.seqLen;
  const ids = new Int32Array(T + 1);
  ids.set(batch.x.subarray(b * T, (b + 1) * T));
  ids[T] = batch.y[(b + 1) * T - 1];
  return tokenizer.decode(ids);
}

export interface FilterReport {
  /** The rows (documents) removed, with the repeated n-gram each one contained. */
  removed: RemovedDocument[];
  batch: Batch;
}

/**
 * OLMo 2's repeated n-gram filter applied to a batch: every row (a window of the data stream, the
 * document as the model sees it) with 32+ consecutive copies of a 1–13-gram is replaced by a fresh
 * window from `tokens`, itself checked. Returns the batch unchanged (same object) when nothing was removed.
 */
export function filterBatch(
  batch: Batch,
  tokenizer: TextTokenizer,
  tokens: Int32Array,
  rng: Random,
  opts: RepetitionFilterOptions = DEFAULT_REPETITION_FILTER,
): FilterReport {
  const T = batch.seqLen;
  const docs = Array.from({ length: batch.batchSize }, (_, b) => rowText(batch, b, tokenizer));
  const { removed } = filterRepetitiveDocuments(docs, opts);
  if (removed.length === 0) return { removed, batch };
  const x = batch.x.slice();
  const y = batch.y.slice();
  for (const r of removed) {
    let fresh = sampleBatch(tokens, 1, T, rng);
    for (let tries = 0; tries < 8 && filterRepetitiveDocuments([rowText(fresh, 0, tokenizer)], opts).removed.length > 0; tries++) {
      fresh = sampleBatch(tokens, 1, T, rng);
    }
    x.set(fresh.x, r.index * T);
    y.set(fresh.y, r.index * T);
  }
  return { removed, batch: { ...batch, x, y } };
}
