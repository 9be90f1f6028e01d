/**
 * Supervised fine-tuning: the base model learns to answer in the chat format.
 *
 * The stage starts from a base checkpoint (inheriting its settings unless overridden), draws
 * batches of conversations rendered with the chat template, and minimises the cross-entropy on the
 * assistant tokens only (chat.ts's mask). Besides the loss and gradient norm it logs the masked-token
 * accuracy (how many assistant tokens the model already predicts exactly) and, at each evaluation,
 * the same loss on held-out conversations next to the validation loss on the stories (which shows
 * how much of the story-telling the model forgets).
 *
 * Optionally (pretrainShare > 0) a share of each batch's rows are windows of the pretraining text,
 * trained with the plain next-token loss on every token. This is how labs keep a fine-tuned model's
 * general ability (InstructGPT's "PPO-ptx" mixes pretraining gradients in the same way; Ouyang et
 * al., 2022, eq. 2): without it the stories' loss climbs as the model learns to chat.
 */
import * as tf from '@tensorflow/tfjs';
import { chatBatch, fitToBlock, padBatch, renderChat, toExample } from './chat.ts';
import type { SftExample } from './chatdata.ts';
import type { CheckpointState, MetricRow } from '../io/checkpoint.ts';
import type { TrainConfig } from '../model/config.ts';
import type { Corpus } from '../train/data.ts';
import type { GPT } from '../model/model.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import type { Random } from '../random.ts';
import { LabSession } from '../train/session.ts';
import { maskedObjective, type TrainBatch } from '../train/objective.ts';
import { sampleBatch } from '../train/data.ts';
import type { TrainingStage } from '../train/stage.ts';

export interface ChatSplits<T> {
  train: T[];
  val: T[];
}

/** How many held-out conversations the periodic held-out loss averages over. */
const HELD_OUT_LOSS_EXAMPLES = 64;

/**
 * Masked cross-entropy of a chat batch, and the share of counted tokens whose most likely
 * prediction is the target (masked-token accuracy). Both scalars belong to the caller.
 */
export function sftLossAndAccuracy(model: GPT, batch: TrainBatch & { mask: Float32Array }): { loss: tf.Scalar; accuracy: tf.Scalar } {
  const scored = batch.accuracyMask ?? batch.mask; // the chat tokens only
  const count = scored.reduce((a, v) => a + v, 0);
  return tf.tidy(() => {
    const { loss, hits } = maskedObjective(model, { ...batch, accuracyMask: scored });
    return { loss, accuracy: tf.div(hits!, Math.max(count, 1)) as tf.Scalar };
  });
}

/**
 * A chat batch of `batchSize` rows of which round(pretrainShare · batchSize) are windows of the
 * pretraining text, as long as the longest chat row, counted on every token. `accuracyMask` keeps
 * the chat rows' mask alone, so the masked accuracy stays a measure of the answers.
 */
export function mixedBatch(
  tok: TextTokenizer,
  conversations: readonly SftExample[],
  stories: Int32Array,
  batchSize: number,
  blockSize: number,
  pretrainShare: number,
  rng: Random,
): TrainBatch & { mask: Float32Array; accuracyMask: Float32Array } {
  const windows = Math.min(batchSize - 1, Math.round(pretrainShare * batchSize));
  const chat = chatBatch(tok, conversations, batchSize - windows, blockSize, rng);
  const T = chat.seqLen;
  const B = batchSize;
  const x = new Int32Array(B * T);
  const y = new Int32Array(B * T);
  const mask = new Float32Array(B * T);
  x.set(chat.x);
  y.set(chat.y);
  mask.set(chat.mask);
  const accuracyMask = mask.slice();
  if (windows > 0) {
    const text = sampleBatch(stories, windows, T, rng);
    x.set(text.x, chat.x.length);
    y.set(text.y, chat.y.length);
    mask.fill(1, chat.mask.length);
  }
  return { x, y, mask, accuracyMask, batchSize: B, seqLen: T };
}

/** What an SFT checkpoint keeps in `extra.sft`. */
export interface SftExtra {
  pretrainShare: number;
}

export interface SftOptions {
  /** Share of each batch's rows that are pretraining text (0 to below 1; default 0: chat only). */
  pretrainShare?: number;
}

export class SftStage implements TrainingStage {
  private constructor(
    readonly session: LabSession,
    readonly data: ChatSplits<SftExample>,
    readonly pretrainShare: number,
  ) {
    if (data.train.length === 0) throw new Error('sft: no training conversations');
    if (!(pretrainShare >= 0 && pretrainShare < 1)) throw new Error(`sft: pretrainShare must be at least 0 and below 1, got ${pretrainShare}`);
  }

  /** A new SFT run from a base (or earlier SFT) checkpoint file. */
  static async start(parent: Uint8Array, data: ChatSplits<SftExample>, corpus: Corpus, train: Partial<TrainConfig> = {}, opts: SftOptions = {}): Promise<SftStage> {
    const pretrainShare = opts.pretrainShare ?? 0;
    if (!(pretrainShare >= 0 && pretrainShare < 1)) throw new Error(`sft: pretrainShare must be at least 0 and below 1, got ${pretrainShare}`);
    const session = await LabSession.fromParent(parent, { stage: 'sft', corpus, train });
    const extra: SftExtra = { pretrainShare };
    session.extra.sft = extra;
    return new SftStage(session, data, pretrainShare);
  }

  /** Continues an SFT checkpoint where it stopped, with the share of pretraining text it started with. */
  static resume(checkpoint: Uint8Array | CheckpointState, data: ChatSplits<SftExample>, corpus: Corpus, train: Partial<TrainConfig> = {}): SftStage {
    const session = LabSession.fromCheckpoint(checkpoint, corpus, train);
    if (session.stage !== 'sft') throw new Error(`sft: the checkpoint is a ${session.stage} checkpoint, not an sft one`);
    return new SftStage(session, data, (session.extra.sft as SftExtra | undefined)?.pretrainShare ?? 0);
  }

  get done(): boolean {
    return this.session.done;
  }

  /** One step on a fresh batch; returns its metric row (loss, gradNorm, lr, maskedAccuracy, and at evaluations valLoss, chatValLoss). */
  async step(): Promise<MetricRow> {
    const { session } = this;
    const { batchSize } = session.trainer.config;
    const block = session.model.config.blockSize;
    const batch = this.pretrainShare > 0
      ? mixedBatch(session.tokenizer, this.data.train, session.trainer.corpus.train, batchSize, block, this.pretrainShare, session.trainer.rng)
      : chatBatch(session.tokenizer, this.data.train, batchSize, block, session.trainer.rng);
    // SFT's loss has no z-loss term, whatever the parent's settings.
    const { result, valLoss } = await session.step({ batch: { ...batch, accuracyMask: batch.accuracyMask ?? batch.mask }, zLoss: 0 });
    if (result.maskedAccuracy !== undefined) session.annotate({ maskedAccuracy: result.maskedAccuracy });
    if (valLoss !== undefined && this.data.val.length > 0) session.annotate({ chatValLoss: await this.heldOutLoss() });
    return session.metrics[session.metrics.length - 1];
  }

  /** Masked loss on the first held-out conversations (always the same ones, so the curve is comparable). */
  async heldOutLoss(limit = HELD_OUT_LOSS_EXAMPLES): Promise<number> {
    return chatLoss(this.session.model, this.session.tokenizer, this.data.val.slice(0, limit), this.session.trainer.config.batchSize);
  }

  /** Frees the session and all the stage holds. */
  release(): void {
    this.session.dispose();
  }

}

/** Mean masked loss over conversations, weighting every counted token equally. */
export async function chatLoss(model: GPT, tok: LabSession['tokenizer'], conversations: readonly SftExample[], batchSize: number): Promise<number> {
  let total = 0;
  let tokens = 0;
  for (let i = 0; i < conversations.length; i += batchSize) {
    const rows = conversations.slice(i, i + batchSize).map((c) => toExample(fitToBlock(renderChat(tok, c.messages), tok, model.config.blockSize + 1)));
    const batch = padBatch(rows, tok.specialId('<|end|>'));
    const count = batch.mask.reduce((a, b) => a + b, 0);
    const { loss, accuracy } = sftLossAndAccuracy(model, batch);
    total += (await loss.data())[0] * count;
    tokens += count;
    tf.dispose([loss, accuracy]);
  }
  return tokens > 0 ? total / tokens : 0;
}
