/**
 * The post-training commands: sft, dpo and eval.
 *
 *   npm run lab -- sft  --from BASE --steps N [--what-if no-pretrain-text] --out FILE [--json]
 *   npm run lab -- dpo  --from SFT  --steps N --beta B [--rpo-alpha A] [--what-if length-bias] --out FILE [--json]
 *   npm run lab -- eval --ckpt FILE [--json]
 *
 * Settings not given are the lesson plan's (src/core/lesson/plan.ts), then the parent's.
 * Chat data is the bundled corpora/chat/*.jsonl unless --train / --val name the user's own JSONL
 * files; lines that cannot be used are reported with their line number and skipped.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { selectBackend, type BackendPreference } from '../src/core/backend/backend.ts';
import { type Parsed, parseDpoJsonl, parseSftJsonl } from '../src/core/post/chatdata.ts';
import { type CheckpointState, decodeCheckpoint, type MetricRow } from '../src/core/io/checkpoint.ts';
import type { Corpus } from '../src/core/train/data.ts';
import { type DpoLossType, DpoStage, lengthBiased } from '../src/core/post/dpo.ts';
import { corpusWords, reportCard } from '../src/core/eval/evaluate.ts';
import { type DpoWhatIf, type SftWhatIf, WHAT_IFS } from '../src/core/lesson/plan.ts';
import { checkParent } from '../src/core/lesson/parents.ts';
import { dpoRecipe, sftRecipe, type TrainSettings } from '../src/core/lesson/recipes.ts';
import { GPT } from '../src/core/model/model.ts';
import { evaluateLoss } from '../src/core/train/trainer.ts';
import { type ChatSplits, SftStage } from '../src/core/post/sft.ts';
import { CharTokenizer } from '../src/core/model/tokenizer.ts';
import { BUNDLED_CORPORA, bundledTexts, CORPORA_DIR, loadCorpus, readTextFile } from './corpora.ts';
import { defaultThreads, shareSteps } from './gradient-threads.ts';

export type StageCommand = 'sft' | 'dpo' | 'eval';
export type StageOptions = Readonly<Record<string, unknown>>;

export function str(opts: StageOptions, key: string): string | undefined {
  const v = opts[key];
  return typeof v === 'string' ? v : undefined;
}

export function num(opts: StageOptions, key: string, { integer = false, min = -Infinity, exclusiveMin = false } = {}): number | undefined {
  const raw = str(opts, key);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  const tooSmall = exclusiveMin ? value <= min : value < min;
  if (raw.trim() === '' || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || tooSmall) {
    throw new Error(`--${key} must be ${integer ? 'a whole number' : 'a number'}${min > -Infinity ? ` ${exclusiveMin ? '>' : '≥'} ${min}` : ''}, got "${raw}"`);
  }
  return value;
}

export function readCheckpoint(path: string | undefined, flag: string): { bytes: Uint8Array; state: CheckpointState } {
  if (!path) throw new Error(`${flag} FILE is required`);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch {
    throw new Error(`cannot read checkpoint ${path}`);
  }
  return { bytes, state: decodeCheckpoint(bytes) };
}

export async function useBackend(opts: StageOptions): Promise<string> {
  const pref = (str(opts, 'backend') ?? 'auto') as BackendPreference;
  if (!['auto', 'webgpu', 'wasm', 'cpu'].includes(pref)) throw new Error(`--backend must be auto, webgpu, wasm or cpu, got "${pref}"`);
  const info = await selectBackend(pref);
  if (pref !== 'auto' && info.backend !== pref) throw new Error(`backend ${pref} is not available here (${info.reason})`);
  return info.backend;
}

/** How many threads share each step (--threads; one a core by default, up to 4). */
export function threadCount(opts: StageOptions): number {
  return num(opts, 'threads', { integer: true, min: 1 }) ?? defaultThreads();
}

/** Lets `threads` − 1 helper threads share a stage's steps; the returned function stops them. */
export function shareStageSteps(stage: StageLike, opts: StageOptions, backend: string): Promise<() => Promise<void>> {
  return shareSteps(stage.session.trainer, threadCount(opts), backend, (message) => print(Boolean(opts.json), { event: 'note', message }, message));
}

/** The stories the checkpoint was trained on (for the validation loss), with its tokenizer. */
export function storiesFor(state: CheckpointState, opts: StageOptions): Corpus {
  const tok = CharTokenizer.fromJSON(state.tokenizer);
  const text = str(opts, 'text');
  if (text) return loadCorpus({ text }, tok).corpus;
  if (!BUNDLED_CORPORA.includes(state.corpus)) {
    throw new Error(`the checkpoint was trained on "${state.corpus}", which is not bundled; pass --text FILE with that text`);
  }
  return loadCorpus({ corpus: state.corpus }, tok).corpus;
}

/** Reads a JSONL file, reporting each unusable line on stderr; fails only when no line is usable. */
export function readJsonl<T>(path: string, parse: (text: string) => Parsed<T>, what: string): T[] {
  const { examples, errors } = parse(readTextFile(path));
  for (const e of errors.slice(0, 20)) console.error(`${path}:${e.line}: ${e.message} (skipped)`);
  if (errors.length > 20) console.error(`${path}: ${errors.length - 20} more unusable lines skipped`);
  if (examples.length === 0) throw new Error(`${path} has no usable ${what}${errors.length ? ` (${errors.length} bad lines)` : ''}`);
  return examples;
}

export function chatData<T>(opts: StageOptions, kind: 'sft' | 'dpo', parse: (text: string) => Parsed<T>): ChatSplits<T> {
  const what = kind === 'sft' ? 'conversations' : 'preference pairs';
  const bundled = (split: string) => join(CORPORA_DIR, 'chat', `${kind}_${split}.jsonl`);
  return {
    train: readJsonl(str(opts, 'train') ?? bundled('train'), parse, what),
    val: readJsonl(str(opts, 'val') ?? bundled('val'), parse, what),
  };
}

/** --steps, --lr, --batch-size, --eval-interval and --seed, as a recipe's settings (absent when not given). */
export function trainFlags(opts: StageOptions): TrainSettings {
  const given: TrainSettings = {
    steps: num(opts, 'steps', { integer: true, min: 1 }),
    learningRate: num(opts, 'lr', { min: 0, exclusiveMin: true }),
    batchSize: num(opts, 'batch-size', { integer: true, min: 1 }),
    evalInterval: num(opts, 'eval-interval', { integer: true, min: 1 }),
    seed: num(opts, 'seed', { integer: true }),
  };
  return Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
}

export function print(json: boolean, obj: Record<string, unknown>, text: string): void {
  console.log(json ? JSON.stringify(obj) : text);
}

/** A setting as people write it: 3e-4, not 0.00030000000000000003. */
const short = (v: unknown) => (typeof v === 'number' ? String(Number(v.toPrecision(6))) : String(v));

export const fmt = (v: number | undefined, digits = 4) => (v === undefined ? '—' : v.toFixed(digits));

export interface StageLike {
  session: SftStage['session'];
  done: boolean;
  step(): Promise<MetricRow>;
  dispose(): void;
}

/** The shared loop of both stages: step, print every log interval and at evaluations, save at the end. */
export async function trainLoop(stage: StageLike, opts: StageOptions, line: (row: MetricRow) => string): Promise<MetricRow[]> {
  const json = Boolean(opts.json);
  const logInterval = num(opts, 'log-interval', { integer: true, min: 1 }) ?? 10;
  const rows: MetricRow[] = [];
  while (!stage.done) {
    const row = await stage.step();
    rows.push(row);
    if (row.step % logInterval === 0 || row.valLoss !== undefined || stage.done) print(json, { ...row }, line(row));
  }
  const out = str(opts, 'out');
  if (out) writeFileSync(out, await stage.session.toCheckpointBytes());
  return rows;
}

export function startLine(json: boolean, stage: StageLike, backend: string, extra: Record<string, unknown>, text: string): void {
  const s = stage.session;
  const inherited = (s.extra.inherited ?? {}) as { overridden?: { key: string; from: unknown; to: unknown }[] };
  const overridden = inherited.overridden ?? [];
  print(json, { event: 'start', stage: s.stage, backend, model: s.model.config, train: s.trainer.config, overridden, lineage: s.lineage, ...extra },
    `${text} on ${backend}${Number(extra.threads) > 1 ? ` (${extra.threads} threads)` : ''}, ${s.trainer.config.steps} steps; settings inherited from the parent` +
      (overridden.length ? ` except ${overridden.map((o) => `${o.key} ${short(o.from)} → ${short(o.to)}`).join(', ')}` : ''));
}


async function sft(opts: StageOptions): Promise<void> {
  const json = Boolean(opts.json);
  const { train, pretrainShare, whatIf: what } = sftRecipe({ ...trainFlags(opts), pretrainShare: num(opts, 'pretrain-share', { min: 0 }), whatIf: str(opts, 'what-if') as SftWhatIf | undefined });
  const parent = readCheckpoint(str(opts, 'from'), '--from');
  checkParent('sft', parent.state.stage);
  const data = chatData(opts, 'sft', parseSftJsonl);
  const backend = await useBackend(opts);
  const stage = await SftStage.start(parent.bytes, data, storiesFor(parent.state, opts), train, { pretrainShare });
  if (what) print(json, { event: 'what-if', name: what, why: WHAT_IFS.sft[what] }, `what if: ${WHAT_IFS.sft[what]}`);
  const stopThreads = await shareStageSteps(stage, opts, backend);
  const threads = stage.session.trainer.helpers.length + 1;
  startLine(json, stage, backend, { conversations: { train: data.train.length, val: data.val.length }, pretrainShare, threads }, `SFT from a ${parent.state.stage} checkpoint (step ${parent.state.step}), ${Math.round(pretrainShare * 100)}% of each batch story text,`);
  const rows = await trainLoop(stage, opts, (r) =>
    `step ${String(r.step).padStart(5)} | loss ${fmt(r.loss)} | masked acc ${fmt(r.maskedAccuracy, 3)}${r.valLoss !== undefined ? ` | chat val ${fmt(r.chatValLoss)} | stories val ${fmt(r.valLoss)}` : ''} | grad ${fmt(r.gradNorm, 3)} | lr ${r.lr.toExponential(2)}`);
  const last = rows[rows.length - 1];
  print(json, { summary: true, stage: 'sft', steps: stage.session.stepsTaken, loss: last.loss, maskedAccuracy: last.maskedAccuracy, chatValLoss: last.chatValLoss, valLoss: last.valLoss, out: str(opts, 'out') ?? null },
    `done: ${stage.session.stepsTaken} steps, masked accuracy ${fmt(last.maskedAccuracy, 3)}, held-out chat loss ${fmt(last.chatValLoss)}${str(opts, 'out') ? `, saved ${str(opts, 'out')}` : ''}`);
  await stopThreads();
  stage.dispose();
}

async function dpo(opts: StageOptions): Promise<void> {
  const json = Boolean(opts.json);
  const recipe = dpoRecipe({
    ...trainFlags(opts),
    beta: num(opts, 'beta', { min: 0, exclusiveMin: true }),
    lossType: str(opts, 'loss') as DpoLossType | undefined,
    rpoAlpha: num(opts, 'rpo-alpha', { min: 0 }),
    pretrainShare: num(opts, 'pretrain-share', { min: 0 }),
    whatIf: str(opts, 'what-if') as DpoWhatIf | undefined,
  });
  const { beta, lossType, rpoAlpha, whatIf: what } = recipe;
  const parent = readCheckpoint(str(opts, 'from'), '--from');
  checkParent('dpo', parent.state.stage);
  const all = chatData(opts, 'dpo', parseDpoJsonl);
  const data = recipe.lengthBiasedPairs ? { train: lengthBiased(all.train), val: all.val } : all;
  if (data.train.length === 0) throw new Error('--what-if length-bias: no training pair has a chosen reply shorter than the rejected one');
  const backend = await useBackend(opts);
  if (what) print(json, { event: 'what-if', name: what, why: WHAT_IFS.dpo[what], pairs: data.train.length }, `what if: ${WHAT_IFS.dpo[what]} (${data.train.length} of ${all.train.length} pairs)`);
  const stage = await DpoStage.start(parent.bytes, data, storiesFor(parent.state, opts), recipe);
  startLine(json, stage, backend, { beta, loss: lossType, rpoAlpha, pairs: { train: data.train.length, val: data.val.length } }, `DPO (${lossType}, β ${beta}${rpoAlpha > 0 ? `, + ${rpoAlpha} × chosen NLL` : ''}) from a ${parent.state.stage} checkpoint (step ${parent.state.step}); reference log-probs of ${data.train.length + data.val.length} pairs computed once`);
  const rows = await trainLoop(stage, opts, (r) =>
    `step ${String(r.step).padStart(5)} | loss ${fmt(r.loss)} | margin ${fmt(r['rewards/margins'], 3)} | acc ${fmt(r['rewards/accuracies'], 2)} | chosen ${fmt(r['rewards/chosen'], 3)} | rejected ${fmt(r['rewards/rejected'], 3)}${r.valLoss !== undefined ? ` | held-out acc ${fmt(r['eval/rewards/accuracies'], 3)}` : ''} | grad ${fmt(r.gradNorm, 3)}`);
  const last = rows[rows.length - 1];
  const held = await stage.heldOut();
  print(json, { summary: true, stage: 'dpo', steps: stage.session.stepsTaken, loss: last.loss, heldOutPreferenceAccuracy: held.accuracy, heldOutMeanMargin: held.meanMargin, out: str(opts, 'out') ?? null },
    `done: ${stage.session.stepsTaken} steps, held-out preference accuracy ${fmt(held.accuracy, 3)}, mean margin ${fmt(held.meanMargin, 3)}${str(opts, 'out') ? `, saved ${str(opts, 'out')}` : ''}`);
  stage.dispose();
}

async function evaluate(opts: StageOptions): Promise<void> {
  const { state } = readCheckpoint(str(opts, 'ckpt'), '--ckpt');
  const limit = num(opts, 'limit', { integer: true, min: 1 });
  const beta = num(opts, 'beta', { min: 0, exclusiveMin: true });
  const refPath = str(opts, 'ref');
  const ref = refPath ? readCheckpoint(refPath, '--ref').state : undefined;
  if (ref && JSON.stringify(ref.model) !== JSON.stringify(state.model)) throw new Error('--ref has a different model shape from --ckpt');
  const stories = storiesFor(state, opts);
  const sftVal = readJsonl(str(opts, 'sft-val') ?? join(CORPORA_DIR, 'chat', 'sft_val.jsonl'), parseSftJsonl, 'conversations');
  const dpoVal = readJsonl(str(opts, 'dpo-val') ?? join(CORPORA_DIR, 'chat', 'dpo_val.jsonl'), parseDpoJsonl, 'preference pairs');
  await useBackend(opts);
  const model = new GPT(state.model, state.weights);
  const referenceModel = ref ? new GPT(ref.model, ref.weights) : undefined;
  const card = await reportCard({
    model,
    tokenizer: CharTokenizer.fromJSON(state.tokenizer),
    stage: state.stage,
    step: state.step,
    extra: state.extra,
    stories: { val: stories.val, batchSize: state.train.batchSize, batches: state.train.evalBatches, seed: state.train.seed },
    sftVal,
    dpoVal,
    referenceModel,
    beta,
    limit,
    // Real words are those of the bundled stories (a checkpoint trained on other text has none to compare with).
    ...(BUNDLED_CORPORA.includes(state.corpus) && !str(opts, 'text') ? { words: corpusWords(bundledTexts(state.corpus).train) } : {}),
    // With --ref (usually the parent), the change of the stories loss from it.
    ...(referenceModel ? { parentValLoss: await evaluateLoss(referenceModel, stories.val, state.train.batchSize, state.train.evalBatches, state.train.seed) } : {}),
  });
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  print(Boolean(opts.json), { ...card },
    [
      `${card.stage} checkpoint, step ${card.step}`,
      `  validation loss (stories)    ${card.valLoss.toFixed(4)}${card.storiesNote ? `  ${card.storiesNote}` : ''}`,
      ...(card.realWordRate !== undefined ? [`  real words in samples        ${pct(card.realWordRate)}`] : []),
      `  exact match (held-out Q&A)   ${pct(card.exactMatch)} of ${card.questions}`,
      `  format adherence             ${pct(card.formatAdherence)}`,
      `  verifiable exact match       ${pct(card.verifiableExactMatch)} of ${card.checkable} checkable${card.unanswerable ? ` (${card.unanswerable} left out: the answer does not fit in the context)` : ''}, pass@1 ${pct(card.passAt1)}, pass@8 ${pct(card.passAt8)}`,
      `  empty replies                ${pct(card.emptyReplies)}, mean reply ${card.meanReplyLength.toFixed(1)} characters`,
      `  preference accuracy          ${pct(card.preferenceAccuracy)} of ${card.pairs} pairs, mean margin ${card.meanMargin.toFixed(3)} (β ${card.beta}, reference: ${card.reference})`,
      ...card.examples.map((e) => `  ${e.correct ? '✓' : '✗'} ${e.question} → ${JSON.stringify(e.answer)}${e.ended ? '' : ' (no end of turn)'}`),
    ].join('\n'));
  model.dispose();
  referenceModel?.dispose();
}

export function runStage(command: StageCommand, opts: StageOptions): Promise<void> {
  if (command === 'sft') return sft(opts);
  if (command === 'dpo') return dpo(opts);
  return evaluate(opts);
}

