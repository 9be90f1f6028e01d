/**
 * The reward model: the SFT model's trunk plus a scalar head, trained on preference pairs so that it
 * gives any reply a score (Ouyang et al. 2022, "Training language models to follow instructions
 * with human feedback", §3.5; Stiennon et al. 2020).
 *
 * The score of a conversation is the final hidden state at its last token (the reply's <|end|>)
 * times the head `score.weight` [1, C], as Hugging Face's `*ForSequenceClassification` reads it at
 * the last non-padding token. Training minimises the Bradley–Terry loss on (chosen, rejected) pairs,
 * plus (lmCoef > 0) the chosen replies' next-token loss through the trunk's own LM head: Yang et
 * al. 2024, "Regularizing Hidden States Enables Learning Generalizable Reward Models" (GRM). The
 * pair loss alone lets the trunk forget language and learn whatever separates the training pairs;
 * still having to predict good replies keeps features that carry to new pairs (held-out pair
 * accuracy with and without it: docs/results/reward-model.md).
 * Logged with TRL RewardTrainer's names: accuracy, margin, mean_reward, min_reward, max_reward.
 */
import * as tf from '@tensorflow/tfjs';
import { padBatch, renderPrompt, renderReply } from '../post/chat.ts';
import type { ChatMessage, DpoExample } from '../post/chatdata.ts';
import { type EncodedPair, encodePair } from '../post/dpo.ts';
import type { ChatSplits } from '../post/sft.ts';
import type { CheckpointState, MetricRow } from '../io/checkpoint.ts';
import type { TrainConfig } from '../model/config.ts';
import { type GPT, SCORE_HEAD } from '../model/model.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import type { Corpus } from '../train/data.ts';
import { sequenceLogProbs } from '../train/objective.ts';
import { LabSession } from '../train/session.ts';
import { LESSON_PLAN } from '../lesson/plan.ts';
import type { TrainingStage } from '../train/stage.ts';

/**
 * The Bradley–Terry loss of a batch of pairs (Bradley & Terry 1952; the reward-model loss of
 * InstructGPT, eq. 1), with TRL's optional centring term:
 *
 *     loss = mean(−log σ(r_c − r_r)) + centerCoef · mean((r_c + r_r)²)
 *
 * −log σ(z) is computed as softplus(−z), finite for any z. Its gradient in r_c is
 * −σ(−z)/n + 2·centerCoef·(r_c + r_r)/n, and the opposite first term in r_r. The centring term
 * (Eisenstein et al. 2023, "Helping or Herding?") pins the scores' sum near 0, since the loss sees
 * only their difference. chosen, rejected: [n]. The caller owns the result.
 */
export function bradleyTerryLoss(chosen: tf.Tensor1D, rejected: tf.Tensor1D, centerCoef = 0): tf.Scalar {
  return tf.tidy(() => {
    const bt = tf.mean(tf.softplus(tf.neg(tf.sub(chosen, rejected))));
    if (centerCoef === 0) return bt as tf.Scalar;
    return tf.add(bt, tf.mul(centerCoef, tf.mean(tf.square(tf.add(chosen, rejected))))) as tf.Scalar;
  });
}

/** prompt ++ reply ++ <|end|>, keeping the last blockSize tokens (the score is read at the end). */
export function encodeScored(tok: TextTokenizer, prompt: readonly ChatMessage[] | Int32Array, reply: string | Int32Array, blockSize: number): Int32Array {
  const p = prompt instanceof Int32Array ? prompt : renderPrompt(tok, prompt);
  const r = reply instanceof Int32Array ? reply : renderReply(tok, reply);
  const ids = new Int32Array(p.length + r.length);
  ids.set(p);
  ids.set(r, p.length);
  return ids.length > blockSize ? ids.subarray(ids.length - blockSize) : ids;
}

/**
 * The scores of sequences [B]: the final hidden state at each row's last token through the head.
 * Rows are right-padded time-major [T, B]; the last tokens are picked with a one-hot [B, T·B]
 * matmul, not a gather (the wasm backend has no kernel for gather's gradient). Differentiable;
 * the caller owns the result.
 */
export function scoreSequences(model: GPT, rows: readonly Int32Array[], padId: number): tf.Tensor1D {
  const head = model.params.get(SCORE_HEAD);
  if (!head) throw new Error(`reward model: the model has no ${SCORE_HEAD}; it is not a reward model`);
  const B = rows.length;
  const T = Math.max(1, ...rows.map((r) => r.length));
  const ids = new Int32Array(T * B).fill(padId); // [T, B] time-major
  const pick = new Float32Array(B * T * B); // [B, T·B]: row b selects position (len_b − 1)·B + b
  rows.forEach((r, b) => {
    r.forEach((id, t) => (ids[t * B + b] = id));
    pick[b * T * B + (r.length - 1) * B + b] = 1;
  });
  return tf.tidy(() => {
    const hidden = model.hiddenTimeMajor(tf.tensor2d(ids, [T, B], 'int32')); // [T·B, C]
    const last = tf.matMul(tf.tensor2d(pick, [B, T * B]), hidden); // [B, C]
    return tf.matMul(last, head, false, true).reshape([B]) as tf.Tensor1D; // [B, C] · [C, 1]
  });
}

/** Scores of many sequences, forward only, in batches. */
export async function scoreAll(model: GPT, rows: readonly Int32Array[], padId: number, batchSize = 64): Promise<Float32Array> {
  const out = new Float32Array(rows.length);
  for (let i = 0; i < rows.length; i += batchSize) {
    const s = scoreSequences(model, rows.slice(i, i + batchSize), padId);
    out.set((await s.data()) as Float32Array, i);
    s.dispose();
  }
  return out;
}

/** Pair accuracy (a tie counts half) and mean margin of scored pairs. */
export function pairStats(chosen: ArrayLike<number>, rejected: ArrayLike<number>): { accuracy: number; margin: number } {
  const n = chosen.length;
  if (n === 0) return { accuracy: 0, margin: 0 };
  let wins = 0;
  let margin = 0;
  for (let i = 0; i < n; i++) {
    const d = chosen[i] - rejected[i];
    wins += d > 0 ? 1 : d === 0 ? 0.5 : 0;
    margin += d;
  }
  return { accuracy: wins / n, margin: margin / n };
}

export interface RewardModelOptions {
  /** TRL's center_rewards_coefficient; 0.01 keeps the scores near 0, which the RL stage's β assumes. */
  centerCoef?: number;
  /** Weight of the chosen replies' mean next-token NLL in the loss (GRM's regulariser); 0 for the pair loss alone. */
  lmCoef?: number;
  train?: Partial<TrainConfig>;
}

export const DEFAULT_CENTER_COEF = LESSON_PLAN.rm.centerCoef;
export const DEFAULT_LM_COEF = LESSON_PLAN.rm.lmCoef;


interface EncodedPairRows {
  chosen: Int32Array;
  rejected: Int32Array;
  /** The chosen conversation as next-token targets, the reply's tokens masked in (DPO's encoding). */
  chosenTargets: EncodedPair['chosen'];
}

function checkCoef(name: string, value: number): number {
  if (!(value >= 0) || !Number.isFinite(value)) throw new Error(`rm: ${name} must be a number ≥ 0, got ${value}`);
  return value;
}

export class RewardModelStage implements TrainingStage {
  private constructor(
    readonly session: LabSession,
    readonly data: ChatSplits<DpoExample>,
    readonly pairs: ChatSplits<EncodedPairRows>,
    readonly centerCoef: number,
    readonly lmCoef: number,
  ) {
    if (data.train.length === 0) throw new Error('rm: no training pairs');
  }

  private static encode(session: LabSession, data: ChatSplits<DpoExample>): ChatSplits<EncodedPairRows> {
    const { tokenizer: tok } = session;
    const block = session.model.config.blockSize;
    const enc = (e: DpoExample) => ({
      chosen: encodeScored(tok, e.prompt, e.chosen, block),
      rejected: encodeScored(tok, e.prompt, e.rejected, block),
      chosenTargets: encodePair(tok, e, block).chosen,
    });
    return { train: data.train.map(enc), val: data.val.map(enc) };
  }

  /** A new reward model from an SFT (or DPO) checkpoint: its weights plus a zero scalar head. */
  static async start(parent: Uint8Array, data: ChatSplits<DpoExample>, corpus: Corpus, opts: RewardModelOptions = {}): Promise<RewardModelStage> {
    const centerCoef = checkCoef('centerCoef', opts.centerCoef ?? DEFAULT_CENTER_COEF);
    const lmCoef = checkCoef('lmCoef', opts.lmCoef ?? DEFAULT_LM_COEF);
    const session = await LabSession.fromParent(parent, { stage: 'rm', corpus, train: opts.train, extraWeights: (c) => new Map([[SCORE_HEAD, new Float32Array(c.nEmbd)]]) });
    session.extra.rm = { centerCoef, lmCoef };
    return new RewardModelStage(session, data, RewardModelStage.encode(session, data), centerCoef, lmCoef);
  }

  /** Continues a reward-model checkpoint where it stopped. */
  static resume(checkpoint: Uint8Array | CheckpointState, data: ChatSplits<DpoExample>, corpus: Corpus, train: Partial<TrainConfig> = {}): RewardModelStage {
    const session = LabSession.fromCheckpoint(checkpoint, corpus, train);
    if (session.stage !== 'rm') {
      session.dispose();
      throw new Error(`rm: the checkpoint is a ${session.stage} checkpoint, not a reward model`);
    }
    const saved = session.extra.rm as { centerCoef?: number; lmCoef?: number } | undefined;
    // A reward model saved before the LM term existed was trained on the pair loss alone.
    const lmCoef = saved?.lmCoef ?? (saved ? 0 : DEFAULT_LM_COEF);
    return new RewardModelStage(session, data, RewardModelStage.encode(session, data), saved?.centerCoef ?? DEFAULT_CENTER_COEF, lmCoef);
  }

  get done(): boolean {
    return this.session.done;
  }

  /** One step on batchSize random pairs; at evaluations the row gains eval/accuracy and eval/margin; with lmCoef > 0, lm_loss. */
  async step(): Promise<MetricRow> {
    const { session } = this;
    const n = Math.min(session.trainer.config.batchSize, this.pairs.train.length);
    const rng = session.trainer.rng;
    const picks = Array.from({ length: n }, () => this.pairs.train[rng.int(this.pairs.train.length)]);
    const pad = session.tokenizer.specialId('<|end|>');
    const targets = this.lmCoef > 0 ? padBatch(picks.map((p) => p.chosenTargets), pad) : null;
    let scores: tf.Tensor1D | null = null;
    let lmLoss: tf.Scalar | null = null;
    const { valLoss } = await session.step({
      lossFn: () => {
        const s = scoreSequences(session.model, [...picks.map((p) => p.chosen), ...picks.map((p) => p.rejected)], pad); // [2n]
        scores = tf.keep(s);
        const bt = bradleyTerryLoss(tf.slice(s, 0, n), tf.slice(s, n, n), this.centerCoef);
        if (!targets) return bt;
        const replyTokens = targets.mask.reduce((a, b) => a + b, 0);
        const nll = tf.div(tf.neg(tf.sum(sequenceLogProbs(session.model, targets))), replyTokens) as tf.Scalar; // mean per reply token
        lmLoss = tf.keep(nll);
        return tf.add(bt, tf.mul(nll, this.lmCoef)) as tf.Scalar;
      },
    });
    const lm = lmLoss as tf.Scalar | null;
    if (lm) {
      session.annotate({ lm_loss: (await lm.data())[0] });
      lm.dispose();
    }
    const held = scores as tf.Tensor1D | null;
    if (held) {
      const values = (await held.data()) as Float32Array;
      held.dispose();
      const [c, r] = [values.subarray(0, n), values.subarray(n)];
      const { accuracy, margin } = pairStats(c, r);
      session.annotate({ accuracy, margin, mean_reward: values.reduce((a, b) => a + b, 0) / values.length, min_reward: Math.min(...values), max_reward: Math.max(...values) });
    }
    if (valLoss !== undefined && this.pairs.val.length > 0) {
      const h = await this.heldOut();
      session.annotate({ 'eval/accuracy': h.accuracy, 'eval/margin': h.margin });
    }
    return session.metrics[session.metrics.length - 1];
  }

  /** Pair accuracy and mean margin on the held-out pairs. */
  async heldOut(): Promise<{ accuracy: number; margin: number; pairs: number }> {
    const pad = this.session.tokenizer.specialId('<|end|>');
    const bs = 64;
    const chosen = await scoreAll(this.session.model, this.pairs.val.map((p) => p.chosen), pad, bs);
    const rejected = await scoreAll(this.session.model, this.pairs.val.map((p) => p.rejected), pad, bs);
    return { ...pairStats(chosen, rejected), pairs: this.pairs.val.length };
  }

  /** Frees the session and all the stage holds. */
  release(): void {
    this.session.dispose();
  }

}
