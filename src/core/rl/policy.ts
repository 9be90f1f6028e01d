/**
 * Policy optimisation: the SFT model, sampled and rewarded, learns to write what earns reward,
 * held near the SFT model by a KL penalty.
 *
 * Each step, in order:
 *   1. draw P prompts (with verifiers the unsolved ones more often: prioritized.ts) and sample G
 *      completions of each from the current policy (temperature 1);
 *   2. reward every completion: a verifier's check (RL with verifiable rewards) or a reward
 *      model's score (RLHF, Ouyang et al. 2022);
 *   3. subtract the KL penalty β · Σₜ k1ₜ, k1 = log π(oₜ) − log π_ref(oₜ) against the frozen SFT
 *      reference, from each reward (kl.ts: k1 in the reward, as TRL's RLOOTrainer);
 *   4. RLOO advantages within each prompt's group (advantages.ts);
 *   5. one on-policy update of the REINFORCE loss −mean(Â · log π(o)), the log-probs recomputed
 *      with gradients in one teacher-forced forward pass over prompt + completion (of the groups
 *      whose rewards differ: the others have no advantage).
 * Sampling, the reference's log-probs and the update are row by row, so when the trainer has
 * helper threads each takes a share of the rows (train/parallel.ts).
 *
 * Logged with TRL's names: reward, reward_std, kl, entropy, completions/mean_length,
 * completions/clipped_ratio (share that never ended their turn), frac_reward_zero_std; and
 * verifiedAccuracy (share of samples a verifier marks right, on checkable prompts),
 * solvedShare (with verifiers: the mean over the training prompts drawn so far of the share of
 * their latest group that was right), rewardModelScore (with a reward model) and, at evaluations
 * and at step 0 (the SFT model's score), eval/verifiableExactMatch.
 *
 * Without the penalty (β = 0) a policy facing a learned reward model finds what the model
 * overrates and the score rises while the replies get worse: reward hacking (Gao et al. 2022).
 */
import { fitPrompt, padBatch, renderPrompt } from '../post/chat.ts';
import type { ChatMessage, SftExample } from '../post/chatdata.ts';
import type { ChatSplits } from '../post/sft.ts';
import { type CheckpointState, decodeCheckpoint, type MetricRow, sha256Hex, weightsSha256 } from '../io/checkpoint.ts';
import type { TrainConfig } from '../model/config.ts';
import { type ProbedToken, probedTokens } from '../inspect/probed.ts';
import { GPT } from '../model/model.ts';
import type { Corpus } from '../train/data.ts';
import { parallelDecode, parallelLogProbs } from '../train/parallel.ts';
import { LabSession } from '../train/session.ts';
import { checkParent } from '../lesson/parents.ts';
import { PROMPT_SAMPLINGS, rlRecipe } from '../lesson/recipes.ts';
import { fracRewardZeroStd, learningRows, rlooAdvantages } from './advantages.ts';
import { replyFits, verifiableCard } from './evaluate.ts';
import { penalisedReward } from './kl.ts';
import { pickWeighted, promptWeight } from './prioritized.ts';
import { scoreAll } from './rewardmodel.ts';
import { replyIds, sampleCompletions, sequenceRow } from './sampler.ts';
import { expectedReply, FORMAT_REWARD, verifiableReward, verify } from './verifiers.ts';
import type { TrainingStage } from '../train/stage.ts';
import type { PromptSampling, RewardSource, RlSettings } from './settings.ts';

export type { PromptSampling, RewardSource, RlSettings };

/** One prompt of the RL data: a single user question, with the SFT data's answer to it. */
export interface RlPrompt {
  question: string;
  messages: ChatMessage[];
  /** The SFT data's reply, the "true" answer of a question no verifier can check. */
  reference?: string;
}

/** A verifiable reward: a number for a question it can check, null for one it cannot. */
/**
 * Alternatives kept per sampled token, for the page's replies table (the popover's five). Read off
 * the logits each decoding step already has, for every row (a row's share of a helper thread's
 * work cannot know whether it will be shown): a few passes over the vocabulary per token, no
 * forward pass.
 */
const SHOWN_ALTERNATIVES = 5;

export type Verifier = (question: string, reply: string, ended: boolean) => number | null;

/**
 * RL prompts from SFT conversations: the last user question of each, alone, once per distinct
 * question. With a verifier (verifiable rewards) only the questions it can check.
 */
export function rlPrompts(conversations: readonly SftExample[], verifier?: Verifier): RlPrompt[] {
  const seen = new Map<string, RlPrompt>();
  for (const c of conversations) {
    const m = c.messages;
    const question = m[m.length - 2]?.content;
    if (!question || m[m.length - 2].role !== 'user' || seen.has(question)) continue;
    if (verifier && verifier(question, '', true) === null) continue;
    seen.set(question, { question, messages: [{ role: 'user', content: question }], reference: m[m.length - 1].content });
  }
  return [...seen.values()];
}

/** Whether a reply is right: by its verifier, else by exact match with the data's answer, else unknown. */
export function trueCorrect(p: RlPrompt, reply: string, ended: boolean): boolean | null {
  const v = verify(p.question, reply);
  if (v) return ended && v.correct;
  if (p.reference !== undefined) return ended && reply.trim() === p.reference;
  return null;
}

/** A row of the live completions table. */
export interface SampleRow {
  question: string;
  reply: string;
  /** The reply token by token, each with its probability and the policy's five likeliest there (the closing <|end|> left out). */
  tokens: ProbedToken[];
  ended: boolean;
  reward: number;
  /** By a verifier or the data's answer; null when neither can tell. */
  correct: boolean | null;
  /** The sequence KL estimate Σₜ k1ₜ of this completion, nats. */
  kl: number;
}

/**
 * What an RL checkpoint keeps in `extra.rl`: its settings, and its KL reference and reward model by
 * the SHA-256 of their files and of their models alone (weightsSha256; absent in runs from before
 * it was recorded), so that a copy of either sent without its optimizer moments is recognised too.
 */
export interface RlExtra extends RlSettings {
  referenceSha256: string;
  referenceWeightsSha256?: string;
  rewardModelSha256?: string;
  rewardModelWeightsSha256?: string;
}

/** Whether `bytes` are a checkpoint an RL run recorded: the same file, or a file of the same model. */
export async function isRecorded(bytes: Uint8Array, sha256: string, weightsSha?: string): Promise<boolean> {
  if ((await sha256Hex(bytes)) === sha256) return true;
  if (weightsSha === undefined) return false;
  try {
    return (await weightsSha256(decodeCheckpoint(bytes))) === weightsSha;
  } catch {
    return false; // not a checkpoint at all
  }
}

export interface RlStartOptions extends Partial<RlSettings> {
  /** The reward model checkpoint, for reward 'model'. */
  rewardModel?: Uint8Array;
  /** A verifier of one's own in place of the chat families' (a toy task); not saved in the checkpoint. */
  verifier?: Verifier;
  train?: Partial<TrainConfig>;
}


export class RlStage implements TrainingStage {
  /** The latest step's first completion of each prompt, for the live table. */
  lastSamples: SampleRow[] = [];
  /** The prompts it draws from. */
  readonly prompts: RlPrompt[];

  private constructor(
    readonly session: LabSession,
    readonly reference: GPT,
    readonly rewardModel: GPT | null,
    readonly settings: RlSettings,
    prompts: RlPrompt[],
    readonly heldOut: SftExample[],
    readonly verifier: Verifier = (q, r, e) => verifiableReward(q, r, e, settings.partialCredit),
  ) {
    if (prompts.length === 0) throw new Error(`rl: no prompts${settings.reward === 'verifier' ? ' that a verifier can check' : ''} in the data`);
    // A prompt must leave room in the context for at least one sampled token and, against a
    // verifier, for the whole accepted reply: a question whose answer cannot fit only ever scores 0,
    // a group with no gradient. (A context too short for every answer, micro's 16, keeps them all:
    // the run shows the mechanics, and the card says that none of its answers fit.)
    const block = session.model.config.blockSize;
    const tok = session.tokenizer;
    const room = prompts.map((p) => ({ p, length: fitPrompt(tok, p.messages, block).length })).filter((x) => x.length < block);
    const answerable = room.filter(({ p, length }) => {
      const expected = settings.reward === 'verifier' ? expectedReply(p.question)?.expected : undefined;
      return expected === undefined || replyFits(tok, length, expected, block);
    });
    this.prompts = (answerable.length > 0 ? answerable : room).map((x) => x.p);
    if (this.prompts.length === 0) throw new Error(`rl: every prompt fills the model's context of ${block} tokens`);
  }

  private static settingsOf(opts: Partial<RlSettings>): RlSettings {
    const { settings: s } = rlRecipe(opts); // only settings: never the reward model's bytes
    const reward = s.reward;
    if (!(s.partialCredit >= 0 && s.partialCredit < 1 - FORMAT_REWARD)) throw new Error(`rl: the partial credit must be a number in [0, ${1 - FORMAT_REWARD}), got ${s.partialCredit}`);
    if (!PROMPT_SAMPLINGS.includes(s.promptSampling)) throw new Error(`rl: prompt sampling must be uniform or prioritized, got "${s.promptSampling}"`);
    if (reward === 'model' && s.promptSampling === 'prioritized') throw new Error('rl: prioritized prompt sampling needs verifiers (a reward model\'s score is no success rate)');
    if (!(s.klCoef >= 0) || !Number.isFinite(s.klCoef)) throw new Error(`rl: the KL coefficient must be a number ≥ 0, got ${s.klCoef}`);
    for (const [key, min] of [['groupSize', 2], ['promptsPerStep', 1], ['maxNewTokens', 1], ['evalQuestions', 0]] as const) {
      if (!Number.isInteger(s[key]) || s[key] < min) throw new Error(`rl: ${key} must be a whole number ≥ ${min}, got ${s[key]}`);
    }
    return s;
  }

  private static models(parent: Uint8Array, settings: RlSettings, rm: Uint8Array | undefined): { reference: GPT; rewardModel: GPT | null } {
    const p = decodeCheckpoint(parent);
    let rewardModel: GPT | null = null;
    if (settings.reward === 'model') {
      if (!rm) throw new Error('rl: --reward model needs a reward model checkpoint (--rm FILE)');
      const r = decodeCheckpoint(rm);
      if (r.stage !== 'rm') throw new Error(`rl: the reward model checkpoint is a ${r.stage} checkpoint; train one with the rm command`);
      if (JSON.stringify(r.tokenizer) !== JSON.stringify(p.tokenizer)) throw new Error('rl: the reward model uses a different tokenizer from the policy');
      rewardModel = new GPT(r.model, r.weights);
    }
    return { reference: new GPT(p.model, p.weights), rewardModel };
  }

  /**
   * A new RL run from an SFT checkpoint. The reference is a frozen copy of it; the reward model,
   * for reward 'model', is a checkpoint of the rm stage with the same tokenizer.
   */
  static async start(parent: Uint8Array, data: ChatSplits<SftExample>, corpus: Corpus, opts: RlStartOptions = {}): Promise<RlStage> {
    const settings = RlStage.settingsOf(opts);
    const head = decodeCheckpoint(parent);
    checkParent('rl', head.stage);
    const { reference, rewardModel } = RlStage.models(parent, settings, opts.rewardModel);
    const session = await LabSession.fromParent(parent, { stage: 'rl', corpus, train: { ...rlRecipe({ reward: settings.reward }).train, ...opts.train } });
    const extra: RlExtra = { ...settings, referenceSha256: await sha256Hex(parent), referenceWeightsSha256: await weightsSha256(head) };
    if (opts.rewardModel) {
      extra.rewardModelSha256 = await sha256Hex(opts.rewardModel);
      extra.rewardModelWeightsSha256 = await weightsSha256(decodeCheckpoint(opts.rewardModel));
    }
    session.extra.rl = extra;
    const verifier = opts.verifier ?? ((q: string, r: string, e: boolean) => verifiableReward(q, r, e, settings.partialCredit));
    return new RlStage(session, reference, rewardModel, settings, rlPrompts(data.train, settings.reward === 'verifier' ? verifier : undefined), data.val, verifier);
  }

  /**
   * Continues an RL checkpoint exactly. `reference` must be the checkpoint it started from (and
   * `rewardModel` its reward model): their SHA-256 are checked against the ones it recorded.
   */
  static async resume(checkpoint: Uint8Array | CheckpointState, reference: Uint8Array, data: ChatSplits<SftExample>, corpus: Corpus, opts: { rewardModel?: Uint8Array; verifier?: Verifier; train?: Partial<TrainConfig> } = {}): Promise<RlStage> {
    const state = checkpoint instanceof Uint8Array ? decodeCheckpoint(checkpoint) : checkpoint;
    const extra = state.extra.rl as RlExtra | undefined;
    if (state.stage !== 'rl' || !extra) throw new Error(`rl: the checkpoint is a ${state.stage} checkpoint without RL state; start RL from it instead of resuming`);
    if (!(await isRecorded(reference, extra.referenceSha256, extra.referenceWeightsSha256))) throw new Error('rl: this is not the checkpoint the run started from (its SHA-256 differs), so it cannot be the KL reference');
    if (extra.rewardModelSha256 && !(opts.rewardModel && (await isRecorded(opts.rewardModel, extra.rewardModelSha256, extra.rewardModelWeightsSha256)))) throw new Error('rl: the run was trained against a different reward model (SHA-256 differs)');
    // A run recorded before prompts could be prioritized drew them uniformly, and goes on so.
    const settings = RlStage.settingsOf({ ...extra, promptSampling: extra.promptSampling ?? 'uniform' });
    const { reference: ref, rewardModel } = RlStage.models(reference, settings, opts.rewardModel);
    const session = LabSession.fromCheckpoint(state, corpus, opts.train);
    const verifier = opts.verifier ?? ((q: string, r: string, e: boolean) => verifiableReward(q, r, e, settings.partialCredit));
    return new RlStage(session, ref, rewardModel, settings, rlPrompts(data.train, settings.reward === 'verifier' ? verifier : undefined), data.val, verifier);
  }

  get done(): boolean {
    return this.session.done;
  }

  /**
   * With verifiers, each prompt's share of right samples when last drawn, by question. In the
   * checkpoint's `extra.rlSolveRates`, so that a resumed run draws the prompts the uninterrupted one would.
   */
  private get solveRates(): Record<string, number> {
    return (this.session.extra.rlSolveRates ??= {}) as Record<string, number>;
  }

  /** One prompt: uniformly, or by prioritized sampling (prioritized.ts). One draw of the run's generator either way. */
  private drawPrompt(): RlPrompt {
    const rng = this.session.trainer.rng;
    if (this.settings.promptSampling === 'uniform') return this.prompts[rng.int(this.prompts.length)];
    const rates = this.solveRates;
    return this.prompts[pickWeighted(this.prompts.map((p) => promptWeight(rates[p.question])), rng.next())];
  }

  /** The seed of a step's samples: a function of the run's seed and the step, so a resumed run samples the same. */
  private sampleSeed(step: number): number {
    return (Math.imul(this.session.trainer.config.seed, 0x9e3779b1) ^ Math.imul(step + 1, 0x85ebca6b)) >>> 0;
  }

  async step(): Promise<MetricRow> {
    const { session, settings } = this;
    const { groupSize: G, promptsPerStep: P, klCoef: beta } = settings;
    const tok = session.tokenizer;
    const endId = tok.specialId('<|end|>');
    const block = session.model.config.blockSize;

    // Where the held-out line starts: the SFT model's score, before the first update.
    const before = session.stepsTaken === 0 && settings.evalQuestions > 0 ? await this.evaluate(settings.evalQuestions, 0) : undefined;

    // 1. prompts and samples (shared with the helper threads, when there are any, as are the
    // reference's log-probs and the update: each is row by row)
    const { trainer } = session;
    const names = trainer.optimizer.names;
    const picked = Array.from({ length: P }, () => this.drawPrompt());
    const rows = picked.flatMap((p) => Array.from({ length: G }, () => p));
    const promptIds = picked.map((p) => fitPrompt(tok, p.messages, block));
    const prompts = promptIds.flatMap((p) => Array.from({ length: G }, () => p));
    const samples = await sampleCompletions(session.model, prompts, {
      maxNewTokens: settings.maxNewTokens, temperature: 1, seed: this.sampleSeed(session.stepsTaken), endId, alternatives: SHOWN_ALTERNATIVES,
      decode: (chunk, options) => trainer.shared(chunk.length, block, (helpers) => parallelDecode(session.model, names, helpers, chunk, options)),
    });
    const replies = samples.map((c) => tok.decode(replyIds(c, endId)));

    // 2. rewards
    const truth = rows.map((p, i) => trueCorrect(p, replies[i], samples[i].ended));
    const checkable = rows.map((p) => verify(p.question, '') !== null);
    let rewards: number[];
    let rmScores: Float32Array | null = null;
    if (this.rewardModel) {
      rmScores = await scoreAll(this.rewardModel, prompts.map((p, i) => Int32Array.from([...p, ...samples[i].ids].slice(-block))), endId);
      rewards = [...rmScores];
    } else {
      rewards = rows.map((p, i) => this.verifier(p.question, replies[i], samples[i].ended) ?? 0);
    }

    // 3. KL to the reference, k1 summed over each completion, in the reward
    const batch = padBatch(prompts.map((p, i) => sequenceRow(p, samples[i].ids)), endId);
    const refLogps = await trainer.shared(batch.batchSize, batch.seqLen, (helpers) => parallelLogProbs(this.reference, names, helpers, batch));
    const kls = samples.map((c, i) => c.logProbs.reduce((a, b) => a + b, 0) - refLogps[i]);
    const shaped = rewards.map((r, i) => penalisedReward(r, kls[i], beta));

    // 4. advantages; 5. the update, over the groups whose rewards differ (the others' terms are 0;
    // leaving them out saves their forward and backward pass, a quarter of the rows in the lesson)
    const advantages = rlooAdvantages(shaped, G);
    const learning = learningRows(shaped, G);
    const update = learning.length === 0 || learning.length === rows.length ? { ...batch, advantages: Float32Array.from(advantages) } : {
      ...padBatch(learning.map((i) => sequenceRow(prompts[i], samples[i].ids)), endId),
      advantages: Float32Array.from(learning, (i) => advantages[i]),
    };
    const { valLoss } = await session.step({ batch: update, objective: { kind: 'policy', rows: rows.length } });

    const mean = (xs: ArrayLike<number>) => (xs.length === 0 ? 0 : Array.from(xs).reduce((a, b) => a + b, 0) / xs.length);
    const groupStd = mean(Array.from({ length: P }, (_, g) => {
      const r = rewards.slice(g * G, (g + 1) * G);
      const m = mean(r);
      return Math.sqrt(r.reduce((a, b) => a + (b - m) ** 2, 0) / (G - 1));
    }));
    const tokens = samples.reduce((a, c) => a + c.ids.length, 0);
    const checked = truth.filter((_, i) => checkable[i]);
    const known = truth.filter((t) => t !== null);
    const row: Record<string, number> = {
      reward: mean(rewards),
      reward_std: groupStd,
      kl: mean(kls),
      entropy: samples.reduce((a, c) => a + c.entropies.reduce((x, y) => x + y, 0), 0) / Math.max(1, tokens),
      'completions/mean_length': tokens / samples.length,
      'completions/clipped_ratio': samples.filter((c) => !c.ended).length / samples.length,
      frac_reward_zero_std: fracRewardZeroStd(rewards, G),
      verifiedAccuracy: checked.length ? checked.filter(Boolean).length / checked.length : 0,
      trueAccuracy: known.length ? known.filter(Boolean).length / known.length : 0,
      sqrtKl: Math.sqrt(Math.max(0, mean(kls))),
    };
    if (rmScores) row.rewardModelScore = mean(rmScores);
    if (!this.rewardModel) {
      // What each drawn prompt's group solved: right by the chat verifiers, else (a verifier of one's
      // own) the share of a full reward earned. Prioritized sampling draws by these; solvedShare is
      // their mean, the training questions' accuracy, which the step's own samples no longer
      // measure once the unsolved questions are drawn more often.
      const solved = rows.map((_, i) => (checkable[i] ? Number(truth[i]) : Math.min(1, Math.max(0, rewards[i]))));
      picked.forEach((p, g) => (this.solveRates[p.question] = mean(solved.slice(g * G, (g + 1) * G))));
      row.solvedShare = mean(Object.values(this.solveRates));
    }
    session.annotate(row);
    this.lastSamples = picked.map((p, g) => {
      const i = g * G;
      const ids = replyIds(samples[i], endId);
      const tokens = probedTokens((id) => tok.tokenText(id), ids, samples[i].logProbs, samples[i].alternatives);
      return { question: p.question, reply: replies[i], tokens, ended: samples[i].ended, reward: rewards[i], correct: truth[i], kl: kls[i] };
    });
    // A model whose context fits no held-out answer (micro) has no score to draw, rather than 0%.
    if (before?.checkable) session.annotate({ 'eval/verifiableExactMatch': before.verifiableExactMatch });
    if (valLoss !== undefined && settings.evalQuestions > 0) {
      const card = await this.evaluate(settings.evalQuestions, 0);
      if (card.checkable) session.annotate({ 'eval/verifiableExactMatch': card.verifiableExactMatch });
    }
    return session.metrics[session.metrics.length - 1];
  }

  /** Greedy exact match (and pass@1/8 from `samples` samples a question; none: greedy alone) on the first held-out checkable questions. */
  evaluate(limit = Infinity, samples = 8) {
    return verifiableCard(this.session.model, this.session.tokenizer, this.heldOut, { limit, samples, maxNewTokens: this.settings.maxNewTokens });
  }

  /** Frees the session, the reference and the reward model. */
  release(): void {
    this.session.dispose();
    this.reference.dispose();
    this.rewardModel?.dispose();
  }

}

/** The chat template's prompt for a single question (what the sample table and side-by-side answers use). */
export function questionPrompt(tok: LabSession['tokenizer'], question: string): Int32Array {
  return renderPrompt(tok, [{ role: 'user', content: question }]);
}
