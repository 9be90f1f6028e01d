/**
 * An experiment arm's closing figures, the same for every experiment of the Data view (the crawl's
 * raw against filtered, characters against BPE): the validation loss on more windows of the
 * held-out text than a curve point uses, and a few samples from the start of a document.
 */
import type { SpecialToken } from '../model/tokenizer.ts';
import { evaluateLoss } from '../train/trainer.ts';
import type { LabSession } from '../train/session.ts';

const UNKNOWN: SpecialToken = '<|unk|>';

export interface FigureSettings {
  /** Windows of the validation text the final loss averages: the same windows for every arm of one seed. */
  evalBatches: number;
  samples: number;
  /** Tokens each sample runs to. */
  maxTokens: number;
  temperature: number;
}

/** The final validation loss (nats per token) and the samples of a session that has trained. */
export async function armFigures(session: LabSession, opts: FigureSettings): Promise<{ finalValLoss: number; samples: string[] }> {
  const { batchSize, seed } = session.trainer.config;
  const finalValLoss = await evaluateLoss(session.model, session.trainer.corpus.val, batchSize, opts.evalBatches, seed);
  const samples: string[] = [];
  for (let i = 0; i < opts.samples; i++) {
    const text = await session.sample('\n', { maxTokens: opts.maxTokens, temperature: opts.temperature, seed: seed * 100 + i });
    // The unknown token (the made-up script, stray symbols) shown as one replacement character, as a text viewer shows bytes it cannot read.
    samples.push(text.replaceAll(UNKNOWN, '\uFFFD'));
  }
  return { finalValLoss, samples };
}
