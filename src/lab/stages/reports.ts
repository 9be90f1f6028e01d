/**
 * What the page asks about the stages of the loaded run: the metric history of its parents, the
 * report card of every stage, one prompt answered by each stage's model side by side, and a
 * conversation's loss mask. Stages meet only through checkpoints: the chain base → SFT → DPO (or
 * SFT → RL) is read back from storage by following each run's parent checkpoint (pinned).
 */
import bundledVocabulary from '../../../corpora/vocab.json';
import { decodeCheckpoint, inspectCheckpoint, type MetricRow, type Stage } from '../../core/io/checkpoint.ts';
import { corpusWords, type ReportCard, reportCard } from '../../core/eval/evaluate.ts';
import { compareModels } from '../../core/inspect/compare.ts';
import { buildTraceIndex, type TraceIndex } from '../../core/inspect/trace.ts';
import { type ProbedToken, probedTokens } from '../../core/inspect/probed.ts';
import { sampleBatch } from '../../core/model/decode.ts';
import { storiesNote } from '../../core/eval/forgetting.ts';
import { GPT } from '../../core/model/model.ts';
import { CharTokenizer, type CharTokenizerJSON, type TextTokenizer } from '../../core/model/tokenizer.ts';
import { tokenizerFromJSON } from '../../core/data/tokenizers.ts';
import { renderChat, renderPrompt, renderReply } from '../../core/post/chat.ts';
import * as store from '../../storage/index.ts';
import type { ChatData } from '../chat-data.ts';
import type { DpoSettings } from './dpo.ts';
import type { SftSettings } from './sft.ts';
import { type Inspector, storedStage } from './stage.ts';

export type { ReportCard, Stage };

/** One earlier stage of the loaded run, with the metric rows it logged up to the checkpoint its child started from. */
export interface StageHistory {
  stage: Stage;
  runId: string;
  name: string;
  step: number;
  rows: MetricRow[];
}

/** A report card, and which run and step it belongs to. */
export interface StageReport extends ReportCard {
  runId: string;
  name: string;
}

export interface CompareOptions {
  prompt: string;
  greedy: boolean;
  temperature: number;
  maxTokens: number;
  seed: number;
}

/** One model's answer to the side-by-side prompt. */
export interface StageReply {
  stage: Stage;
  step: number;
  text: string;
  /** The reply token by token, each with its probability and the model's five likeliest there. */
  tokens: ProbedToken[];
  ended: boolean; // it closed its turn with <|end|>
}

/**
 * One prompt and reply scored under every stage of the loaded run's lineage (core/inspect/compare.ts,
 * the numbers of the `compare` command): per reply token, its log-probability under each stage and
 * the change from the stage before.
 */
export interface StageChanges {
  stages: { stage: Stage; step: number; name: string; /** Σ log p over the reply. */ total: number }[];
  /** The reply's tokens in the chat format, its closing <|end|> included. */
  tokens: { text: string; /** [stage] */ logProbs: number[]; /** [stage]: null for the first */ deltas: (number | null)[] }[];
}

/** A conversation as tokens, each marked with whether the SFT loss counts it. */
export interface MaskedChat {
  index: number;
  of: number;
  tokens: { text: string; counted: boolean; special: boolean }[];
}

/** How many held-out questions and pairs a report card scores: seconds, not minutes. */
export const REPORT_LIMIT = 24;

export class StageReports {
  readonly #lab: Inspector;
  readonly #data: ChatData;
  /** Report cards by checkpoint (or run@step for the loaded, unsaved state). */
  #cards = new Map<string, StageReport>();

  constructor(lab: Inspector, data: ChatData) {
    this.#lab = lab;
    this.#data = data;
  }

  /** The words of the pretraining text (for the report card's real-word rate) and its trace index (for its copied share), built once per text. */
  #textCache: { text: Int32Array; words: Set<string>; trace: TraceIndex } | null = null;
  #pretrainingText(tok: TextTokenizer, text: Int32Array): { words: Set<string>; trace: TraceIndex } {
    if (this.#textCache?.text !== text) {
      this.#textCache = null; // the old index's arrays can go before the new one is built
      const decoded = tok.decode(text);
      this.#textCache = { text, words: corpusWords(decoded), trace: buildTraceIndex([{ name: 'training text', texts: [decoded] }]) };
    }
    return this.#textCache;
  }

  /** The loaded run's earlier stages, oldest first, with their metric rows (for the charts). */
  history(): Promise<StageHistory[]> {
    return this.#lab.inspect(async ({ run, db }) => {
      const chain = run ? await ancestors(db, run) : [];
      return chain.map(({ run: r, meta, bytes }) => ({
        stage: r.stage,
        runId: r.id,
        name: r.name,
        step: meta.step,
        rows: inspectCheckpoint(bytes).metrics.filter((m) => m.step < meta.step),
      }));
    });
  }

  /** The report card of every stage of the loaded run's chain, oldest first; cached per checkpoint. */
  reportCards(): Promise<StageReport[]> {
    return this.#lab.inspect(async ({ run, session, db }) => {
      if (!run || !session) return [];
      const chain = await ancestors(db, run);
      const dpoRun = [run, ...chain.map((c) => c.run)].find((r) => r.stage === 'dpo');
      const sftRun = [run, ...chain.map((c) => c.run)].find((r) => r.stage === 'sft');
      const sftVal = (await this.#data.sft(sftRun && storedStage<SftSettings>(sftRun)?.settings.ownData)).val;
      const dpoVal = (await this.#data.dpo(dpoRun && storedStage<DpoSettings>(dpoRun)?.settings.ownData)).val;
      const cards: StageReport[] = [];
      const score = async (key: string, r: store.RunRecord, s: { model: GPT; tokenizer: TextTokenizer; stage: Stage; step: number; extra: Record<string, unknown>; batchSize: number; seed: number }) => {
        let card = this.#cards.get(key);
        if (!card) {
          card = {
            ...(await reportCard({
              model: s.model,
              tokenizer: s.tokenizer,
              stage: s.stage,
              step: s.step,
              extra: s.extra,
              stories: { val: session.trainer.corpus.val, chars: session.trainer.corpus.valChars, batchSize: s.batchSize, batches: 2, seed: s.seed },
              sftVal,
              dpoVal,
              limit: REPORT_LIMIT,
              batchSize: REPORT_LIMIT,
              ...this.#pretrainingText(session.tokenizer, session.trainer.corpus.train),
              seed: s.seed,
            })),
            runId: r.id,
            name: r.name,
          };
          this.#cards.set(key, card);
        }
        cards.push(card);
      };
      for (const { run: r, meta, bytes } of chain) {
        const state = decodeCheckpoint(bytes);
        const model = new GPT(state.model, state.weights);
        try {
          await score(meta.id, r, { model, tokenizer: tokenizerFromJSON(state.tokenizer), stage: state.stage, step: state.step, extra: state.extra, batchSize: state.train.batchSize, seed: state.train.seed });
        } finally {
          model.dispose();
        }
      }
      const cfg = session.trainer.config;
      await score(`${run.id}@${session.stepsTaken}`, run, { model: session.model, tokenizer: session.tokenizer, stage: session.stage, step: session.stepsTaken, extra: session.extra, batchSize: cfg.batchSize, seed: cfg.seed });
      // Each stage's stories loss next to its parent's: forgetting shows as a rise.
      return cards.map((c, i) => (i === 0 ? c : { ...c, valLossChange: c.valLoss - cards[i - 1].valLoss, storiesNote: storiesNote(c.valLoss - cards[i - 1].valLoss) }));
    });
  }

  /** One prompt answered by every stage of the loaded run's chain (base, SFT, DPO), oldest first. */
  compare(opts: CompareOptions): Promise<StageReply[]> {
    return this.#lab.inspect(async ({ run, session, db }) => {
      if (!run || !session) throw new Error('There is no model yet: pretrain one first.');
      const replies: StageReply[] = [];
      for (const { bytes } of await ancestors(db, run)) {
        const state = decodeCheckpoint(bytes);
        const model = new GPT(state.model, state.weights);
        try {
          replies.push(await answer(model, tokenizerFromJSON(state.tokenizer), state.stage, state.step, opts));
        } finally {
          model.dispose();
        }
      }
      replies.push(await answer(session.model, session.tokenizer, session.stage, session.stepsTaken, opts));
      return replies;
    });
  }

  /**
   * `reply` to `prompt` (one user turn, in the chat format) scored under every stage of the loaded
   * run's chain, oldest first, the loaded model last: one teacher-forced pass per model, each
   * parent's model built from its checkpoint and disposed.
   */
  changes(prompt: string, reply: string): Promise<StageChanges> {
    return this.#lab.inspect(async ({ run, session, db }) => {
      if (!run || !session) throw new Error('There is no model loaded: pretrain one, or load a checkpoint in Share, first.');
      if (reply.trim() === '') throw new Error('Type a reply, or use the one the model wrote: there is nothing to score.');
      const tok = session.tokenizer;
      const head = renderPrompt(tok, [{ role: 'user', content: prompt }]);
      const ids = Int32Array.from([...head, ...renderReply(tok, reply)]);
      const chain = await ancestors(db, run);
      const vocab = JSON.stringify(tok.toJSON());
      const parents = chain.map(({ run: r, bytes }) => ({ run: r, state: decodeCheckpoint(bytes) })).filter(({ state }) => JSON.stringify(state.tokenizer) === vocab);
      const models = parents.map(({ state }) => new GPT(state.model, state.weights));
      try {
        const c = await compareModels([...models, session.model], ids, head.length);
        const stages = [...parents.map(({ run: r, state }) => ({ stage: state.stage, step: state.step, name: r.name })), { stage: session.stage, step: session.stepsTaken, name: run.name }];
        return {
          stages: stages.map((s, m) => ({ ...s, total: c.totals[m] })),
          tokens: c.tokens.map((id, i) => ({ text: tok.tokenText(id), logProbs: c.logProbs.map((lp) => lp[i]), deltas: c.deltas.map((d) => (d ? d[i] : null)) })),
        };
      } finally {
        for (const m of models) m.dispose();
      }
    });
  }

  /** Conversation `index` of the SFT training data (bundled), rendered with the chat template and its loss mask. */
  async maskExample(index: number): Promise<MaskedChat> {
    const { train } = await this.#data.sft();
    const tok = await this.#lab.inspect(async ({ session }) => session?.tokenizer ?? CharTokenizer.fromJSON(bundledVocabulary as CharTokenizerJSON));
    const i = ((index % train.length) + train.length) % train.length;
    const { ids, mask } = renderChat(tok, train[i].messages);
    const specials = new Set(tok.specials);
    return {
      index: i,
      of: train.length,
      tokens: Array.from(ids, (id, t) => {
        const text = tok.tokenText(id);
        return { text, counted: mask[t] === 1, special: specials.has(text) };
      }),
    };
  }
}

/** The loaded run's parents, oldest first: each parent run with the checkpoint its child started from. */
async function ancestors(db: store.LabDB, run: store.RunRecord): Promise<{ run: store.RunRecord; meta: store.CheckpointMeta; bytes: Uint8Array }[]> {
  const chain: { run: store.RunRecord; meta: store.CheckpointMeta; bytes: Uint8Array }[] = [];
  let child = run;
  for (let depth = 0; depth < 4; depth++) {
    const s = storedStage(child);
    if (!s) break;
    const record = await store.loadCheckpoint(db, s.parentCheckpointId);
    const parent = record && (await store.getRun(db, record.runId));
    if (!record || !parent) break; // the parent checkpoint was deleted: the chain ends here
    const { bytes, ...meta } = record;
    chain.unshift({ run: parent, meta, bytes });
    child = parent;
  }
  return chain;
}

/**
 * One reply to `opts.prompt` as a single user turn: greedy or sampled, stopped at <|end|>. Each
 * token comes with its probability and the model's five likeliest, from the decoder's own steps.
 */
async function answer(model: GPT, tok: TextTokenizer, stage: Stage, step: number, opts: CompareOptions): Promise<StageReply> {
  const prompt = renderPrompt(tok, [{ role: 'user', content: opts.prompt }]);
  const endId = tok.specialId('<|end|>');
  const temperature = opts.greedy ? 0 : Math.max(0, opts.temperature);
  const d = await sampleBatch(model, [prompt], { maxNewTokens: opts.maxTokens, temperature, topK: 0, seed: opts.seed, stopToken: endId, alternatives: 5 });
  const ended = d.ended[0];
  const n = ended ? d.ids[0].length - 1 : d.ids[0].length; // the closing <|end|> is not part of the text
  const ids = d.ids[0].slice(0, n);
  return { stage, step, text: tok.decode(ids), tokens: probedTokens((id) => tok.tokenText(id), ids, d.logProbs[0], d.alternatives?.[0]), ended };
}
