/**
 * Direct Preference Optimization: the SFT model learns to prefer the better of two replies.
 *
 * The reference model is the frozen SFT checkpoint the stage starts from. Its log-probabilities of
 * every training and held-out pair are computed once, before the first step (the policy's weights
 * are still the SFT weights then), kept by example index, saved in the checkpoint, and never
 * recomputed. Each step runs the policy on a batch laid out [chosen; rejected] in one forward pass
 * and sums log-probabilities over the reply tokens only (the reply's content and its <|end|>).
 *
 * Logged with TRL's names: rewards/chosen, rewards/rejected, rewards/margins, rewards/accuracies,
 * logps/chosen, logps/rejected (batch means), next to loss and gradient norm. Both rewards may fall
 * while training goes well: what matters is that the margin grows.
 *
 * Optionally (rpoAlpha > 0) the mean per-token NLL of the chosen replies is added to the loss, as
 * in RPO, so that the policy keeps writing the answers SFT taught while it learns what to prefer.
 */
import * as tf from '@tensorflow/tfjs';
import { padBatch, renderPrompt, renderReply } from './chat.ts';
import type { DpoExample } from './chatdata.ts';
import { type CheckpointState, type MetricRow, sha256Hex } from '../io/checkpoint.ts';
import type { TrainConfig } from '../model/config.ts';
import type { Corpus } from '../train/data.ts';
import type { GPT } from '../model/model.ts';
import { LabSession } from '../train/session.ts';
import type { ChatSplits } from './sft.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import { batchLoss, sequenceLogProbs, type TrainBatch } from '../train/objective.ts';
import { sampleBatch } from '../train/data.ts';
import type { TrainingStage } from '../train/stage.ts';

export type DpoLossType = 'sigmoid' | 'ipo' | 'hinge';
export const DPO_LOSS_TYPES: readonly DpoLossType[] = ['sigmoid', 'ipo', 'hinge'];
export const DEFAULT_BETA = 0.1;

export interface DpoLossOutput {
  loss: tf.Scalar; // mean of `losses`
  losses: tf.Tensor1D; // [n], one per pair
  chosenRewards: tf.Tensor1D; // [n], β·(π_c − ref_c)
  rejectedRewards: tf.Tensor1D; // [n], β·(π_r − ref_r)
}

/**
 * The DPO loss of a batch of preference pairs, from the log-probabilities (summed over each reply's
 * tokens) of the policy and of the frozen reference model. Rafailov et al., 2023, "Direct Preference
 * Optimization: Your Language Model is Secretly a Reward Model", eq. 7:
 *
 *     z = (π_c − ref_c) − (π_r − ref_r)
 *     sigmoid:  loss = −log σ(β·z)                       (DPO)
 *     ipo:      loss = (z − 1/(2β))²                      (Azar et al., 2023, "A General Theoretical
 *                                                         Paradigm to Understand Learning from Human
 *                                                         Preferences", eq. 17; β is their τ)
 *     hinge:    loss = max(0, 1 − β·z)                    (SLiC: Zhao et al., 2023)
 *
 * each averaged over the pairs. The implicit rewards are β·(π − ref) for each reply; their
 * difference is the margin that the loss pushes up. With β → 0 the sigmoid loss tends to log 2 and
 * its gradient, −β·σ(−β·z) per unit of π_c, to 0. Inputs are [n] tensors; the result's tensors
 * belong to the caller. (TRL's `dpo_loss` has this signature.)
 */
export function dpoLoss(
  policyChosen: tf.Tensor1D,
  policyRejected: tf.Tensor1D,
  refChosen: tf.Tensor1D,
  refRejected: tf.Tensor1D,
  beta = DEFAULT_BETA,
  lossType: DpoLossType = 'sigmoid',
): DpoLossOutput {
  if (!(beta > 0)) throw new Error(`dpo: beta must be positive, got ${beta}`);
  return tf.tidy(() => {
    const z = tf.sub(tf.sub(policyChosen, refChosen), tf.sub(policyRejected, refRejected)) as tf.Tensor1D; // [n]
    let losses: tf.Tensor1D;
    if (lossType === 'sigmoid') losses = tf.softplus(tf.mul(z, -beta)) as tf.Tensor1D; // −log σ(βz) = log(1 + e^(−βz)), stable for any z
    else if (lossType === 'ipo') losses = tf.square(tf.sub(z, 1 / (2 * beta))) as tf.Tensor1D;
    else if (lossType === 'hinge') losses = tf.relu(tf.sub(1, tf.mul(z, beta))) as tf.Tensor1D;
    else throw new Error(`dpo: unknown loss type "${lossType}"; choose one of ${DPO_LOSS_TYPES.join(', ')}`);
    return {
      loss: tf.mean(losses) as tf.Scalar,
      losses,
      chosenRewards: tf.mul(tf.sub(policyChosen, refChosen), beta) as tf.Tensor1D,
      rejectedRewards: tf.mul(tf.sub(policyRejected, refRejected), beta) as tf.Tensor1D,
    };
  });
}

/**
 * The "what if the pairs were length-biased" data: only the pairs whose chosen reply is the
 * shorter one. Trained on these, DPO can raise every margin by making replies shorter (the
 * rejected reply loses more log-probability than the chosen one for each token dropped), and with
 * nothing to anchor the chosen replies the policy's replies shrink towards nothing.
 */
export function lengthBiased<T extends { chosen: string; rejected: string }>(pairs: readonly T[]): T[] {
  return pairs.filter((p) => p.chosen.length < p.rejected.length);
}

/** A pair as the model sees it: prompt + reply for each reply, with the reply's target positions marked. */
export interface EncodedPair {
  chosen: { x: Int32Array; y: Int32Array; mask: Float32Array };
  rejected: { x: Int32Array; y: Int32Array; mask: Float32Array };
}

/** Replies keep at least this many tokens when a long prompt has to give way. */
const MIN_REPLY_TOKENS = 16;

/**
 * prompt ++ reply, cut to blockSize + 1 tokens: a long reply loses its tail; a prompt so long that
 * fewer than MIN_REPLY_TOKENS of the reply would fit loses its start.
 */
function encodeSequence(prompt: Int32Array, reply: Int32Array, blockSize: number) {
  const max = blockSize + 1;
  const keepPrompt = Math.min(prompt.length, max - Math.min(reply.length, MIN_REPLY_TOKENS));
  const p = prompt.subarray(prompt.length - keepPrompt);
  const ids = new Int32Array(Math.min(max, p.length + reply.length));
  ids.set(p);
  ids.set(reply.subarray(0, ids.length - p.length), p.length);
  const mask = new Float32Array(ids.length - 1); // on targets: position t predicts ids[t + 1]
  for (let t = p.length - 1; t < mask.length; t++) mask[t] = 1;
  return { x: ids.subarray(0, -1), y: ids.subarray(1), mask };
}

export function encodePair(tok: TextTokenizer, example: DpoExample, blockSize: number): EncodedPair {
  const prompt = renderPrompt(tok, example.prompt);
  return {
    chosen: encodeSequence(prompt, renderReply(tok, example.chosen), blockSize),
    rejected: encodeSequence(prompt, renderReply(tok, example.rejected), blockSize),
  };
}

/** n pairs as one batch of 2n rows, [chosen₀ … chosenₙ₋₁; rejected₀ … rejectedₙ₋₁], right-padded. */
export function pairBatch(pairs: readonly EncodedPair[], padId: number): TrainBatch & { mask: Float32Array } {
  return padBatch([...pairs.map((p) => p.chosen), ...pairs.map((p) => p.rejected)], padId);
}

/** Summed reply log-probs of chosen and rejected replies, by example index. */
export interface PairLogps {
  chosen: Float32Array;
  rejected: Float32Array;
}

/** Scores pairs with a model in batches of `batchSize` pairs (forward only). */
export async function scorePairs(model: GPT, pairs: readonly EncodedPair[], batchSize: number, padId: number): Promise<PairLogps> {
  const chosen = new Float32Array(pairs.length);
  const rejected = new Float32Array(pairs.length);
  for (let i = 0; i < pairs.length; i += batchSize) {
    const chunk = pairs.slice(i, i + batchSize);
    const logps = sequenceLogProbs(model, pairBatch(chunk, padId));
    const values = (await logps.data()) as Float32Array;
    logps.dispose();
    chosen.set(values.subarray(0, chunk.length), i);
    rejected.set(values.subarray(chunk.length), i);
  }
  return { chosen, rejected };
}

/**
 * Held-out preference metrics of a policy against a reference: the share of pairs whose margin
 * β·((π_c − ref_c) − (π_r − ref_r)) is positive (a tie counts half, so a policy identical to its
 * reference scores exactly 50%), and the mean margin.
 */
export function preferenceStats(policy: PairLogps, reference: PairLogps, beta: number): { accuracy: number; meanMargin: number; pairs: number } {
  const n = policy.chosen.length;
  if (n === 0) return { accuracy: 0, meanMargin: 0, pairs: 0 };
  let wins = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const margin = beta * ((policy.chosen[i] - reference.chosen[i]) - (policy.rejected[i] - reference.rejected[i]));
    wins += margin > 0 ? 1 : margin === 0 ? 0.5 : 0;
    total += margin;
  }
  return { accuracy: wins / n, meanMargin: total / n, pairs: n };
}

/** What a DPO checkpoint keeps in `extra.dpo`: its settings and the reference log-probs. */
export interface DpoExtra {
  beta: number;
  lossType: DpoLossType;
  /** Weight of the chosen replies' NLL in the loss (absent in older checkpoints: 0). */
  rpoAlpha?: number;
  /** Story windows per pair in each batch, trained with the next-token loss (absent: 0). */
  pretrainShare?: number;
  /** SHA-256 of the pairs (as JSON) that the reference log-probs belong to, per split. */
  dataSha256: { train: string; val: string };
  reference: { train: { chosen: number[]; rejected: number[] }; val: { chosen: number[]; rejected: number[] } };
}

export interface DpoOptions {
  /**
   * Windows of pretraining text per pair in each batch, whose next-token loss is added to the DPO
   * loss (as SFT's pretrainShare, and InstructGPT's "ptx" term): it keeps the stories' loss where
   * SFT left it. 0 (the default) is plain DPO.
   */
  pretrainShare?: number;
  beta?: number;
  lossType?: DpoLossType;
  /**
   * Adds rpoAlpha × the mean negative log-likelihood per token of the chosen replies to the loss,
   * which keeps the policy writing the chosen replies while it learns the preference (RPO: Pang et
   * al., 2024, "Iterative Reasoning Preference Optimization"; TRL's `rpo_alpha`). 0, the default,
   * is plain DPO.
   */
  rpoAlpha?: number;
}

/** Fingerprint of a split's pairs, to tell whether cached reference log-probs belong to them. */
export function pairsSha256(examples: readonly DpoExample[]): Promise<string> {
  return sha256Hex(new TextEncoder().encode(JSON.stringify(examples)));
}

export class DpoStage implements TrainingStage {
  /** Reply token counts (for ipo, which averages log-probs over tokens as TRL does). */
  private readonly tokens: { chosen: Float32Array; rejected: Float32Array };
  /** Forward passes spent on the reference so far: all of them before the first step. */
  referencePasses = 0;

  private constructor(
    readonly session: LabSession,
    readonly data: ChatSplits<DpoExample>,
    readonly pairs: ChatSplits<EncodedPair>,
    readonly beta: number,
    readonly lossType: DpoLossType,
    readonly rpoAlpha: number,
    /** The frozen reference's log-probs by example index; fixed for the life of the run. */
    readonly reference: Readonly<{ train: PairLogps; val: PairLogps }>,
  ) {
    const count = (m: Float32Array) => m.reduce((a, b) => a + b, 0);
    this.tokens = {
      chosen: Float32Array.from(pairs.train, (p) => count(p.chosen.mask)),
      rejected: Float32Array.from(pairs.train, (p) => count(p.rejected.mask)),
    };
  }

  private static encode(session: LabSession, data: ChatSplits<DpoExample>): ChatSplits<EncodedPair> {
    const block = session.model.config.blockSize;
    return { train: data.train.map((e) => encodePair(session.tokenizer, e, block)), val: data.val.map((e) => encodePair(session.tokenizer, e, block)) };
  }

  private static check(data: ChatSplits<DpoExample>, opts: DpoOptions): { beta: number; lossType: DpoLossType; rpoAlpha: number } {
    if (data.train.length === 0) throw new Error('dpo: no training pairs');
    const beta = opts.beta ?? DEFAULT_BETA;
    const lossType = opts.lossType ?? 'sigmoid';
    const rpoAlpha = opts.rpoAlpha ?? 0;
    if (!(rpoAlpha >= 0) || !Number.isFinite(rpoAlpha)) throw new Error(`dpo: rpoAlpha must be a number ≥ 0, got ${rpoAlpha}`);
    if (!(beta > 0) || !Number.isFinite(beta)) throw new Error(`dpo: beta must be a positive number, got ${beta}`);
    if (!DPO_LOSS_TYPES.includes(lossType)) throw new Error(`dpo: unknown loss type "${lossType}"; choose one of ${DPO_LOSS_TYPES.join(', ')}`);
    return { beta, lossType, rpoAlpha };
  }

  /**
   * A new DPO run from an SFT checkpoint file. The reference log-probs of every pair are computed
   * here, with the weights as loaded, before any step changes them.
   */
  static async start(parent: Uint8Array, data: ChatSplits<DpoExample>, corpus: Corpus, opts: DpoOptions & { train?: Partial<TrainConfig> } = {}): Promise<DpoStage> {
    const { beta, lossType, rpoAlpha } = DpoStage.check(data, opts);
    const session = await LabSession.fromParent(parent, { stage: 'dpo', corpus, train: opts.train });
    const pairs = DpoStage.encode(session, data);
    const bs = session.trainer.config.batchSize;
    const pad = session.tokenizer.specialId('<|end|>');
    const train = await scorePairs(session.model, pairs.train, bs, pad);
    const val = await scorePairs(session.model, pairs.val, bs, pad);
    const stage = new DpoStage(session, data, pairs, beta, lossType, rpoAlpha, Object.freeze({ train, val }));
    stage.referencePasses = Math.ceil(data.train.length / bs) + Math.ceil(data.val.length / bs);
    const pretrainShare = opts.pretrainShare ?? 0;
    if (!(pretrainShare >= 0 && pretrainShare <= 1)) {
      session.dispose();
      throw new Error(`dpo: pretrainShare must be between 0 and 1, got ${pretrainShare}`);
    }
    stage.pretrainShare = pretrainShare;
    const extra: DpoExtra = {
      beta,
      lossType,
      rpoAlpha,
      pretrainShare,
      dataSha256: { train: await pairsSha256(data.train), val: await pairsSha256(data.val) },
      reference: { train: { chosen: [...train.chosen], rejected: [...train.rejected] }, val: { chosen: [...val.chosen], rejected: [...val.rejected] } },
    };
    session.extra.dpo = extra;
    return stage;
  }

  /** Continues a DPO checkpoint: the reference log-probs come from the checkpoint, never recomputed. */
  static async resume(checkpoint: Uint8Array | CheckpointState, data: ChatSplits<DpoExample>, corpus: Corpus, train: Partial<TrainConfig> = {}): Promise<DpoStage> {
    const session = LabSession.fromCheckpoint(checkpoint, corpus, train);
    const extra = session.extra.dpo as DpoExtra | undefined;
    if (session.stage !== 'dpo' || !extra) {
      session.dispose();
      throw new Error(`dpo: the checkpoint is a ${session.stage} checkpoint without DPO state; start DPO from it instead of resuming`);
    }
    const sameData = extra.dataSha256.train === (await pairsSha256(data.train)) && extra.dataSha256.val === (await pairsSha256(data.val));
    if (!sameData) {
      session.dispose();
      throw new Error('dpo: these preference pairs differ from the ones the run started with, so its reference log-probs do not apply');
    }
    const { rpoAlpha } = DpoStage.check(data, extra);
    const f32 = (s: { chosen: number[]; rejected: number[] }) => ({ chosen: Float32Array.from(s.chosen), rejected: Float32Array.from(s.rejected) });
    const stage = new DpoStage(session, data, DpoStage.encode(session, data), extra.beta, extra.lossType, rpoAlpha, Object.freeze({ train: f32(extra.reference.train), val: f32(extra.reference.val) }));
    stage.pretrainShare = extra.pretrainShare ?? 0;
    return stage;
  }

  /** Story windows per pair in each batch (see DpoOptions.pretrainShare). */
  pretrainShare = 0;

  get done(): boolean {
    return this.session.done;
  }

  /**
   * One step on batchSize random pairs: the metric row has loss, gradNorm, lr, the TRL metrics and,
   * at evaluations, valLoss (stories) and eval/rewards/accuracies and eval/rewards/margins (held-out pairs).
   */
  async step(): Promise<MetricRow> {
    const { session, beta, lossType, rpoAlpha } = this;
    const n = Math.min(session.trainer.config.batchSize, this.pairs.train.length);
    const rng = session.trainer.rng;
    const picks = Array.from({ length: n }, () => rng.int(this.pairs.train.length));
    const batch = pairBatch(picks.map((i) => this.pairs.train[i]), session.tokenizer.specialId('<|end|>'));
    const ref = this.reference.train;
    const windows = Math.round(this.pretrainShare * n);
    const stories = windows > 0 ? sampleBatch(session.trainer.corpus.train, windows, batch.seqLen, rng) : null;
    let stats: tf.Tensor1D | null = null;
    const { valLoss } = await session.step({
      lossFn: () => {
        const logps = sequenceLogProbs(session.model, batch); // [2n]: chosen then rejected
        const pick = (values: Float32Array) => tf.tensor1d(picks.map((i) => values[i]));
        let [pc, pr] = [tf.slice(logps, 0, n), tf.slice(logps, n, n)];
        let [rc, rr] = [pick(ref.chosen), pick(ref.rejected)];
        const summed = [pc, pr];
        if (lossType === 'ipo') {
          const [nc, nr] = [pick(this.tokens.chosen), pick(this.tokens.rejected)];
          [pc, pr, rc, rr] = [tf.div(pc, nc), tf.div(pr, nr), tf.div(rc, nc), tf.div(rr, nr)];
        }
        const out = dpoLoss(pc, pr, rc, rr, beta, lossType);
        const margins = tf.sub(out.chosenRewards, out.rejectedRewards);
        stats = tf.keep(tf.stack([
          tf.mean(out.chosenRewards), tf.mean(out.rejectedRewards), tf.mean(margins),
          tf.mean(tf.cast(tf.greater(margins, 0), 'float32')), tf.mean(summed[0]), tf.mean(summed[1]),
        ]) as tf.Tensor1D);
        let loss: tf.Scalar = out.loss;
        if (rpoAlpha > 0) {
          const nll = tf.div(tf.neg(tf.sum(summed[0])), tf.sum(pick(this.tokens.chosen))); // mean per chosen token
          loss = tf.add(loss, tf.mul(nll, rpoAlpha));
        }
        if (stories) loss = tf.add(loss, batchLoss(session.model, stories)); // the stories' next-token loss
        return loss;
      },
    });
    const s = stats as tf.Tensor1D | null;
    if (s) {
      const [chosen, rejected, margins, accuracies, logpsChosen, logpsRejected] = (await s.data()) as Float32Array;
      s.dispose();
      session.annotate({
        'rewards/chosen': chosen,
        'rewards/rejected': rejected,
        'rewards/margins': margins,
        'rewards/accuracies': accuracies,
        'logps/chosen': logpsChosen,
        'logps/rejected': logpsRejected,
      });
    }
    if (valLoss !== undefined && this.pairs.val.length > 0) {
      const held = await this.heldOut();
      session.annotate({ 'eval/rewards/accuracies': held.accuracy, 'eval/rewards/margins': held.meanMargin });
    }
    return session.metrics[session.metrics.length - 1];
  }

  /** Preference accuracy and mean margin of the policy on the held-out pairs, against the reference. */
  async heldOut(): Promise<{ accuracy: number; meanMargin: number; pairs: number }> {
    const policy = await scorePairs(this.session.model, this.pairs.val, this.session.trainer.config.batchSize, this.session.tokenizer.specialId('<|end|>'));
    return preferenceStats(policy, this.reference.val, this.beta);
  }

  /** Frees the session and all the stage holds. */
  release(): void {
    this.session.dispose();
  }

}
