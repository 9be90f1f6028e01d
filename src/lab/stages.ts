/**
 * The post-training stages as the worker runs them: SFT from a base checkpoint, DPO from an SFT
 * one, each trained by the runner's loop (pause, stop, autosave, metric rows) as a run of its own
 * whose stored settings name its parent checkpoint. Besides training, this file answers what the
 * page asks about the stages: the metric history of the parents, the report card of every stage,
 * one prompt answered by the base, SFT and DPO models side by side, and a conversation's loss mask.
 *
 * Stages meet only through checkpoints: the chain base → SFT → DPO is read back from storage by
 * following each run's `stageSettings.parentCheckpointId` (parent checkpoints are pinned).
 */
import { renderChat, renderPrompt } from '../core/post/chat.ts';
import { type DpoExample, type LineError, type Parsed, parseDpoJsonl, parseSftJsonl, type SftExample } from '../core/post/chatdata.ts';
import { decodeCheckpoint, inspectCheckpoint, type MetricRow, type Stage } from '../core/io/checkpoint.ts';
import { type DpoLossType, DpoStage, lengthBiased } from '../core/post/dpo.ts';
import * as recipes from '../core/lesson/recipes.ts';
import { checkParent } from '../core/lesson/parents.ts';
import { corpusWords, greedyReplies, type ReportCard, reportCard } from '../core/eval/evaluate.ts';
import { storiesNote } from '../core/eval/forgetting.ts';
import { GPT } from '../core/model/model.ts';
import { generate } from '../core/model/sample.ts';
import { type ChatSplits, SftStage } from '../core/post/sft.ts';
import { CharTokenizer, type TokenizerJSON } from '../core/model/tokenizer.ts';
import bundledVocabulary from '../../corpora/vocab.json';
import * as store from '../storage/index.ts';
import type { LabRunner, StageFactory, StageParent, Stepper } from './runner.ts';
import { resumeRlStage } from './rl.ts';

export type { DpoLossType, LineError, ReportCard, Stage };

/** The bundled chat data files (corpora/chat/*.jsonl). */
export type ChatFile = 'sft_train' | 'sft_val' | 'dpo_train' | 'dpo_val';

/** Where the worker finds the bundled chat data (fetched on first use in a browser, read from disk in Node). */
export interface StageEnv {
  loadChatData?(file: ChatFile): Promise<string>;
}

/** A JSONL file the student brought, in the documented shape (chatdata.ts). */
export interface OwnChatData {
  name: string;
  text: string;
}

/** SFT's recipe settings (src/core/lesson/recipes.ts), and the student's own conversations. */
export interface SftSettings extends recipes.SftSettings {
  ownData?: OwnChatData;
}

/** DPO's recipe settings, and the student's own preference pairs. */
export interface DpoSettings extends recipes.DpoSettings {
  ownData?: OwnChatData;
}

/** What a stage run stores under `settings.stageSettings`, so that it can be resumed and traced back. */
interface StoredStage {
  kind: 'sft' | 'dpo';
  parentRunId: string;
  parentCheckpointId: string;
  parentStep: number;
  settings: SftSettings | DpoSettings;
}

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
  ended: boolean; // it closed its turn with <|end|>
}

/** A conversation as tokens, each marked with whether the SFT loss counts it. */
export interface MaskedChat {
  index: number;
  of: number;
  tokens: { text: string; counted: boolean; special: boolean }[];
}

/** How many held-out questions and pairs a report card scores: seconds, not minutes. */
export const REPORT_LIMIT = 24;
/** Held-out share of a student's own JSONL file (the last lines), when it has at least 10 examples. */
const OWN_HELD_OUT = 0.1;

/** The bundled chat data, loaded once, and the student's own files, parsed and split. */
export class ChatData {
  readonly #env: StageEnv;
  #files = new Map<ChatFile, Promise<string>>();

  constructor(env: StageEnv) {
    this.#env = env;
  }

  async #file(name: ChatFile): Promise<string> {
    const load = this.#env.loadChatData;
    if (!load) throw new Error('The chat data is not available here.');
    if (!this.#files.has(name)) this.#files.set(name, load(name));
    return this.#files.get(name)!;
  }

  /** SFT conversations: the bundled splits, or the student's file (its last tenth held out). */
  sft(own?: OwnChatData): Promise<ChatSplits<SftExample> & { errors: LineError[] }> {
    return this.#splits(own, parseSftJsonl, 'sft');
  }

  dpo(own?: OwnChatData): Promise<ChatSplits<DpoExample> & { errors: LineError[] }> {
    return this.#splits(own, parseDpoJsonl, 'dpo');
  }

  async #splits<T>(own: OwnChatData | undefined, parse: (text: string) => Parsed<T>, kind: 'sft' | 'dpo'): Promise<ChatSplits<T> & { errors: LineError[] }> {
    const bundledVal = async () => parse(await this.#file(`${kind}_val`)).examples;
    if (!own) return { train: parse(await this.#file(`${kind}_train`)).examples, val: await bundledVal(), errors: [] };
    const { examples, errors } = parse(own.text);
    if (examples.length === 0) throw new Error(`${own.name} has no usable lines${errors.length ? ` (${describeErrors(errors)})` : ''}.`);
    if (examples.length < 10) return { train: examples, val: await bundledVal(), errors };
    const held = Math.max(1, Math.round(examples.length * OWN_HELD_OUT));
    return { train: examples.slice(0, -held), val: examples.slice(-held), errors };
  }
}

/** "line 3: not valid JSON; line 7: …" for the first few errors. */
export function describeErrors(errors: readonly LineError[], max = 5): string {
  const shown = errors.slice(0, max).map((e) => `line ${e.line}: ${e.message}`).join('; ');
  return errors.length > max ? `${shown}; and ${errors.length - max} more` : shown;
}

/** Resumes stored SFT and DPO runs for the runner. */
export function stageFactory(data: ChatData): StageFactory {
  return {
    async resume(run, bytes, corpus, db): Promise<Stepper> {
      if (run.stage === 'rm' || run.stage === 'rl') return resumeRlStage(run, bytes, corpus, db, data);
      // An imported SFT or DPO file has no stored stage settings: it continues on the bundled chat data.
      const ownData = storedStage(run)?.settings.ownData;
      if (run.stage === 'sft') return SftStage.resume(bytes, await data.sft(ownData), corpus);
      return DpoStage.resume(bytes, await data.dpo(ownData), corpus);
    },
  };
}

function storedStage(run: store.RunRecord): StoredStage | undefined {
  if (run.stage === 'pretrain') return undefined;
  return (run.settings as { stageSettings?: StoredStage }).stageSettings;
}

export class StageLab {
  readonly #runner: LabRunner;
  readonly #data: ChatData;
  /** Report cards by checkpoint (or run@step for the loaded, unsaved state). */
  #cards = new Map<string, StageReport>();

  constructor(runner: LabRunner, data: ChatData) {
    this.#runner = runner;
    this.#data = data;
  }

  /** The words of the pretraining text (for the report card's real-word rate), read once per text. */
  #wordCache: { text: Int32Array; words: Set<string> } | null = null;
  #words(tok: CharTokenizer, text: Int32Array): Set<string> {
    if (this.#wordCache?.text !== text) this.#wordCache = { text, words: corpusWords(tok.decode(text)) };
    return this.#wordCache.words;
  }

  /** SFT from the loaded base model (its current step becomes the pinned parent checkpoint). */
  async sft(settings: SftSettings): Promise<{ skipped: LineError[] }> {
    const data = await this.#data.sft(settings.ownData);
    await this.#runner.startStage(async (parent) => {
      checkParent('sft', parent.run.stage);
      const recipe = recipes.sftRecipe(settings);
      const stepper = await SftStage.start(parent.bytes, data, parent.corpus, recipe.train, { pretrainShare: recipe.pretrainShare });
      return { stepper, name: stageRunName(settings.whatIf ? 'SFT, no story text' : 'SFT', parent, settings.ownData), settings: { stageSettings: stored('sft', parent, settings) } };
    });
    return { skipped: data.errors };
  }

  /** DPO from the loaded SFT model; the reference log-probs are computed before the first step. */
  async dpo(settings: DpoSettings): Promise<{ skipped: LineError[] }> {
    const data = await this.#data.dpo(settings.ownData);
    await this.#runner.startStage(async (parent) => {
      checkParent('dpo', parent.run.stage);
      const recipe = recipes.dpoRecipe(settings);
      const pairs = recipe.lengthBiasedPairs ? { ...data, train: lengthBiased(data.train) } : data;
      const stepper = await DpoStage.start(parent.bytes, pairs, parent.corpus, recipe);
      return { stepper, name: stageRunName(`DPO β ${recipe.beta}${recipe.lengthBiasedPairs ? ', length-biased pairs' : ''}`, parent, settings.ownData), settings: { stageSettings: stored('dpo', parent, settings) } };
    });
    return { skipped: data.errors };
  }

  /** The loaded run's earlier stages, oldest first, with their metric rows (for the charts). */
  history(): Promise<StageHistory[]> {
    return this.#runner.inspect(async ({ run, db }) => {
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
    return this.#runner.inspect(async ({ run, session, db }) => {
      if (!run || !session) return [];
      const chain = await ancestors(db, run);
      const dpoRun = [run, ...chain.map((c) => c.run)].find((r) => r.stage === 'dpo');
      const sftRun = [run, ...chain.map((c) => c.run)].find((r) => r.stage === 'sft');
      const sftVal = (await this.#data.sft(sftRun && storedStage(sftRun)?.settings.ownData)).val;
      const dpoVal = (await this.#data.dpo(dpoRun && storedStage(dpoRun)?.settings.ownData)).val;
      const cards: StageReport[] = [];
      const score = async (key: string, r: store.RunRecord, s: { model: GPT; tokenizer: CharTokenizer; stage: Stage; step: number; extra: Record<string, unknown>; batchSize: number; seed: number }) => {
        let card = this.#cards.get(key);
        if (!card) {
          card = {
            ...(await reportCard({
              model: s.model,
              tokenizer: s.tokenizer,
              stage: s.stage,
              step: s.step,
              extra: s.extra,
              stories: { val: session.trainer.corpus.val, batchSize: s.batchSize, batches: 2, seed: s.seed },
              sftVal,
              dpoVal,
              limit: REPORT_LIMIT,
              batchSize: REPORT_LIMIT,
              words: this.#words(session.tokenizer, session.trainer.corpus.train),
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
          await score(meta.id, r, { model, tokenizer: CharTokenizer.fromJSON(state.tokenizer), stage: state.stage, step: state.step, extra: state.extra, batchSize: state.train.batchSize, seed: state.train.seed });
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
    return this.#runner.inspect(async ({ run, session, db }) => {
      if (!run || !session) throw new Error('There is no model yet: pretrain one first.');
      const replies: StageReply[] = [];
      for (const { bytes } of await ancestors(db, run)) {
        const state = decodeCheckpoint(bytes);
        const model = new GPT(state.model, state.weights);
        try {
          replies.push(await answer(model, CharTokenizer.fromJSON(state.tokenizer), state.stage, state.step, opts));
        } finally {
          model.dispose();
        }
      }
      replies.push(await answer(session.model, session.tokenizer, session.stage, session.stepsTaken, opts));
      return replies;
    });
  }

  /** Conversation `index` of the SFT training data (bundled), rendered with the chat template and its loss mask. */
  async maskExample(index: number): Promise<MaskedChat> {
    const { train } = await this.#data.sft();
    const tok = await this.#runner.inspect(async ({ session }) => session?.tokenizer ?? CharTokenizer.fromJSON(bundledVocabulary as TokenizerJSON));
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

  /** Parses a student's JSONL file as the worker will, to show skipped lines before training. */
  static check(kind: 'sft' | 'dpo', text: string): { examples: number; errors: LineError[] } {
    const { examples, errors } = kind === 'sft' ? parseSftJsonl(text) : parseDpoJsonl(text);
    return { examples: examples.length, errors };
  }
}

function stored(kind: 'sft' | 'dpo', parent: StageParent, settings: SftSettings | DpoSettings): StoredStage {
  return { kind, parentRunId: parent.run.id, parentCheckpointId: parent.checkpointId, parentStep: inspectCheckpoint(parent.bytes).step, settings };
}

function stageRunName(what: string, parent: StageParent, own?: OwnChatData): string {
  const base = parent.run.name.replace(/^(SFT|DPO)[^·]*· /, '');
  return `${what}${own ? ` on ${own.name}` : ''} · ${base}`;
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

/** One reply to `opts.prompt` as a single user turn: greedy or sampled, stopped at <|end|>. */
async function answer(model: GPT, tok: CharTokenizer, stage: Stage, step: number, opts: CompareOptions): Promise<StageReply> {
  const prompt = renderPrompt(tok, [{ role: 'user', content: opts.prompt }]);
  const endId = tok.specialId('<|end|>');
  let ids: number[];
  let ended: boolean;
  if (opts.greedy || opts.temperature <= 0) {
    const [reply] = await greedyReplies(model, [prompt], endId, opts.maxTokens, 1);
    ({ ids, ended } = reply);
  } else {
    ids = await generate(model, prompt, { maxTokens: opts.maxTokens, temperature: opts.temperature, topK: 0, seed: opts.seed, stopToken: endId });
    ended = ids[ids.length - 1] === endId;
    if (ended) ids = ids.slice(0, -1);
  }
  return { stage, step, text: tok.decode(ids), ended };
}
