/**
 * The lesson: pretrain → SFT → DPO with the lesson plan's settings, a report card after each stage.
 *
 *   npm run lab -- lesson [--preset P] [--seed N] [--tokenizer chars|bpe|DIR] [--vocab N] [--pretrain-steps N] --out DIR [--json]
 *
 * --tokenizer bpe trains a byte-level BPE of --vocab tokens on the tales' training text first and
 * runs every stage with it: the tokenizer experiment (characters against BPE, compared in bits per
 * character and question family by question family); --pretrain-steps sets pretraining's length,
 * so that the two can be compared at equal wall time.
 *
 * Writes DIR/base.safetensors, DIR/sft.safetensors and DIR/dpo.safetensors, and prints each stage's
 * report card and wall time (with --json, one JSON object a line; the last is the summary).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BpeTokenizer } from '../src/core/data/bpe.ts';
import { checkVocabForPreset, describeTokenizer } from '../src/core/data/tokenizers.ts';
import { isPresetName, PRESETS, type PresetName } from '../src/core/model/config.ts';
import type { TextTokenizer } from '../src/core/model/tokenizer.ts';
import { parseDpoJsonl, parseSftJsonl } from '../src/core/post/chatdata.ts';
import { DpoStage } from '../src/core/post/dpo.ts';
import { SftStage } from '../src/core/post/sft.ts';
import { corpusWords, type ReportCard, reportCard } from '../src/core/eval/evaluate.ts';
import { buildTraceIndex } from '../src/core/inspect/trace.ts';
import { LESSON_PLAN, type LessonPlan } from '../src/core/lesson/plan.ts';
import { dpoRecipe, pretrainRecipe, sftRecipe } from '../src/core/lesson/recipes.ts';
import { LabSession } from '../src/core/train/session.ts';
import { type Command, flag, FLAGS, need, num, number, type Options, settingFlags, settingsFrom, str, text, useBackend } from './args.ts';
import { bundledTexts, CORPORA_DIR, loadCorpus, readTextFile } from './corpora.ts';
import { readTokenizerDir } from './tokenizer.ts';
import { fmt, sessionStage, type StageLike, startHelpers, stepCol, trainLoop } from './loop.ts';

export interface LessonOptions {
  preset?: string;
  seed?: number;
  out: string;
  json: boolean;
  backend: string;
  /** Threads that share each pretraining and SFT step (data parallelism; 1: this thread alone). */
  threads: number;
  /** 'chars' (the default), 'bpe' (trained on the tales here) or a folder the tokenizer command wrote. */
  tokenizer?: string;
  /** Tokens of the BPE that 'bpe' trains. */
  vocab?: number;
  /** Pretraining steps instead of the plan's. */
  pretrainSteps?: number;
}

/** The lesson's tokenizer: the bundled characters, a BPE trained on the tales' training text, or one from a folder. */
function lessonTokenizer(choice: string | undefined, vocab: number): TextTokenizer | undefined {
  if (choice === undefined || choice === 'chars') return undefined;
  if (choice === 'bpe') return BpeTokenizer.train(bundledTexts('tales').train, vocab);
  return readTokenizerDir(choice);
}

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

/** The report card as a student reads it. */
export function cardText(card: ReportCard): string[] {
  return [
    `  stories validation loss   ${card.valLoss.toFixed(3)} nats/token, ${card.valBitsPerChar.toFixed(3)} bits/character${card.storiesNote ? `   ${card.storiesNote}` : ''}`,
    ...(card.realWordRate !== undefined ? [`  real words in samples     ${pct(card.realWordRate)}`] : []),
    ...(card.copiedShare !== undefined ? [`  copied (20+ characters)   ${pct(card.copiedShare)}`] : []),
    `  exact match               ${pct(card.exactMatch)} of ${card.questions} held-out questions`,
    `  format adherence          ${pct(card.formatAdherence)}`,
    `  by question family        ${Object.entries(card.byFamily).map(([k, v]) => `${k} ${v!.correct}/${v!.total}`).join(', ')}`,
    `  empty replies             ${pct(card.emptyReplies)}, mean reply ${card.meanReplyLength.toFixed(1)} characters`,
    `  preference accuracy       ${pct(card.preferenceAccuracy)} of ${card.pairs} pairs, mean margin ${card.meanMargin.toFixed(3)} (reference: ${card.reference})`,
    ...card.examples.map((e) => `    ${e.correct ? '✓' : '✗'} ${e.question} → ${JSON.stringify(e.answer)}`),
  ];
}

export async function runLesson(opts: LessonOptions): Promise<void> {
  const plan = lessonPlan();
  const preset: PresetName = (opts.preset ?? plan.pretrain.preset) as PresetName;
  if (!isPresetName(preset)) throw new Error(`unknown preset "${preset}"; choose one of ${Object.keys(PRESETS).join(', ')}`);
  mkdirSync(opts.out, { recursive: true });
  const say = (obj: Record<string, unknown>, text: string) => console.log(opts.json ? JSON.stringify(obj) : text);

  const own = lessonTokenizer(opts.tokenizer, opts.vocab ?? 1024);
  if (own) checkVocabForPreset(own, preset);
  const { corpus, tokenizer: tok } = loadCorpus({ corpus: 'tales' }, own);
  say({ event: 'tokenizer', tokenizer: describeTokenizer(tok) }, `tokenizer: ${describeTokenizer(tok)}`);
  const words = corpusWords(bundledTexts('tales').train);
  const trace = buildTraceIndex([{ name: 'tales', texts: [bundledTexts('tales').train] }]);
  const chat = (name: string) => readTextFile(join(CORPORA_DIR, 'chat', name));
  const sft = { train: parseSftJsonl(chat('sft_train.jsonl')).examples, val: parseSftJsonl(chat('sft_val.jsonl')).examples };
  const dpo = { train: parseDpoJsonl(chat('dpo_train.jsonl')).examples, val: parseDpoJsonl(chat('dpo_val.jsonl')).examples };
  const seed = opts.seed ?? 1;
  const cards: ReportCard[] = [];
  const seconds: Record<string, number> = {};
  const t0 = Date.now();

  const card = async (session: LabSession, parent?: ReportCard): Promise<ReportCard> => {
    const c = await reportCard({
      model: session.model,
      tokenizer: tok,
      stage: session.stage,
      step: session.stepsTaken,
      extra: session.extra,
      stories: { val: corpus.val, chars: corpus.valChars, batchSize: 16, batches: 8, seed: 1 },
      sftVal: sft.val,
      dpoVal: dpo.val,
      words,
      trace,
      parentValLoss: parent?.valLoss,
      seed,
    });
    cards.push(c);
    return c;
  };
  // DPO's objective is its own loss function, which the threads do not share (see Trainer.trainStep).
  const stage = async (name: string, run: StageLike, parent?: ReportCard): Promise<Uint8Array> => {
    const { session } = run;
    const started = Date.now();
    const helpers = await startHelpers(session, { threads: name === 'dpo' ? 1 : opts.threads, backend: opts.backend, json: opts.json, indent: '  ' });
    const { threads } = helpers;
    say({ event: 'start', stage: name, steps: session.trainer.config.steps, threads, train: session.trainer.config }, `${name}: ${session.trainer.config.steps} steps${threads > 1 ? ` on ${threads} threads` : ''}`);
    // Only the evaluations: the lesson's output is its report cards.
    await trainLoop(run, { json: opts.json, fields: { stage: session.stage } }, (row) => `  ${stepCol(row.step)} | loss ${row.loss.toFixed(4)} | stories val ${fmt(row.valLoss)}`);
    await helpers.stop();
    const trained = (Date.now() - started) / 1000;
    const c = await card(session, parent);
    seconds[name] = (Date.now() - started) / 1000;
    const bytes = await session.toCheckpointBytes();
    const file = join(opts.out, `${name === 'pretrain' ? 'base' : name}.safetensors`);
    writeFileSync(file, bytes);
    say({ event: 'card', ...c, seconds: seconds[name], trainSeconds: trained, file },
      [`${name}: done in ${seconds[name].toFixed(0)} s (training ${trained.toFixed(0)} s), saved ${file}`, ...cardText(c)].join('\n'));
    return bytes;
  };
  const pretrain = pretrainRecipe({ preset, seed, ...(opts.pretrainSteps ? { steps: opts.pretrainSteps } : {}) });
  const pre = LabSession.create({ preset, corpus, tokenizer: tok, train: pretrain.train });
  const baseBytes = await stage('pretrain', sessionStage(pre));
  pre.dispose();

  const sftRun = sftRecipe({ seed });
  const sftStage = await SftStage.start(baseBytes, sft, corpus, sftRun.train, { pretrainShare: sftRun.pretrainShare });
  const sftBytes = await stage('sft', sftStage, cards[0]);
  sftStage.release();

  const dpoStage = await DpoStage.start(sftBytes, dpo, corpus, dpoRecipe({ seed }));
  await stage('dpo', dpoStage, cards[1]);
  dpoStage.release();

  const total = (Date.now() - t0) / 1000;
  const brief = (c: ReportCard) => ({
    stage: c.stage, valLoss: c.valLoss, valBitsPerChar: c.valBitsPerChar, byFamily: c.byFamily, valLossChange: c.valLossChange, realWordRate: c.realWordRate, copiedShare: c.copiedShare, exactMatch: c.exactMatch,
    formatAdherence: c.formatAdherence, emptyReplies: c.emptyReplies, meanReplyLength: c.meanReplyLength, preferenceAccuracy: c.preferenceAccuracy,
  });
  say({ summary: true, seed, preset, tokenizer: describeTokenizer(tok), backend: opts.backend, threads: opts.threads, seconds: { ...seconds, total }, cards: cards.map(brief), out: opts.out },
    `lesson done in ${total.toFixed(0)} s (${Object.entries(seconds).map(([k, v]) => `${k} ${v.toFixed(0)} s`).join(', ')}), checkpoints in ${opts.out}`);
}

/** The plan this command runs (the page's defaults come from the same object). */
export function lessonPlan(): Readonly<LessonPlan> {
  return LESSON_PLAN;
}

const VOCAB = number('vocab', 1024, { whole: true, min: 1 }, 'tokens of the BPE that --tokenizer bpe trains');
const PRETRAIN_STEPS = number('pretrain-steps', undefined, { whole: true, min: 1 }, "pretraining steps instead of the plan's (equal wall time for another tokenizer)", String(LESSON_PLAN.pretrain.steps));
const OUT = { ...FLAGS.out, value: 'DIR', required: true, help: 'where base, sft and dpo .safetensors are written' };

async function run(opts: Options): Promise<void> {
  const out = need(opts, OUT, ' (the three checkpoints are written there)');
  const { preset, seed } = settingsFrom('pretrain', opts) as { preset?: string; seed?: number };
  const tokenizer = str(opts, 'tokenizer');
  const backend = await useBackend(opts);
  return runLesson({ preset, seed, out, json: flag(opts, 'json'), backend, threads: num(opts, FLAGS.threads), tokenizer, vocab: num(opts, VOCAB), pretrainSteps: num(opts, PRETRAIN_STEPS) });
}

export const lesson: Command = {
  name: 'lesson',
  about: `the lesson plan: pretrain → SFT → DPO with the defaults of those commands, writing DIR/base, DIR/sft and DIR/dpo
.safetensors and each stage's report card and wall time`,
  flags: [
    OUT, ...settingFlags('pretrain', ['preset', 'seed']), text('tokenizer', 'chars', 'chars, bpe (trained on the tales) or a folder the tokenizer command wrote'), VOCAB, PRETRAIN_STEPS,
    FLAGS.threads, FLAGS.backend, FLAGS.json,
  ],
  run,
};
