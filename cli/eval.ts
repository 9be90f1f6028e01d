/**
 * eval: a checkpoint's report card: stories validation loss, real words in samples and the share of them copied from the pretraining text, held-out exact
 * match, format adherence, empty replies, mean reply length, preference accuracy and mean margin
 * (against --ref, else a DPO checkpoint's parent); with --ref, the change of the stories loss from it.
 */
import { corpusWords, reportCard } from '../src/core/eval/evaluate.ts';
import { buildTraceIndex } from '../src/core/inspect/trace.ts';
import { parseDpoJsonl, parseSftJsonl } from '../src/core/post/chatdata.ts';
import { GPT } from '../src/core/model/model.ts';
import { tokenizerFromJSON } from '../src/core/data/tokenizers.ts';
import { evaluateLoss } from '../src/core/train/trainer.ts';
import { type Command, flag, FLAGS, num, number, type Options, print, readCheckpoint, str, text, useBackend } from './args.ts';
import { bundledChat, bundledTexts, isBundledCorpus, readJsonl, storiesFor } from './corpora.ts';
import { pct } from './loop.ts';

const LIMIT = number('limit', undefined, { whole: true, min: 1 }, 'held-out questions and pairs at most (default: all)');
const BETA = number('beta', undefined, { min: 0, above: true }, "β of the preference margins (default: the checkpoint's, else DPO's)", 'B');

async function run(opts: Options): Promise<void> {
  const { state } = readCheckpoint(str(opts, 'ckpt'), 'ckpt');
  const limit = num(opts, LIMIT);
  const beta = num(opts, BETA);
  const refPath = str(opts, 'ref');
  const ref = refPath ? readCheckpoint(refPath, 'ref').state : undefined;
  if (ref && JSON.stringify(ref.model) !== JSON.stringify(state.model)) throw new Error('--ref has a different model shape from --ckpt');
  const stories = storiesFor(state, str(opts, 'text'));
  const sftVal = readJsonl(str(opts, 'sft-val') ?? bundledChat('sft', 'val'), parseSftJsonl, 'conversations');
  const dpoVal = readJsonl(str(opts, 'dpo-val') ?? bundledChat('dpo', 'val'), parseDpoJsonl, 'preference pairs');
  await useBackend(opts);
  const model = new GPT(state.model, state.weights);
  const referenceModel = ref ? new GPT(ref.model, ref.weights) : undefined;
  const card = await reportCard({
    model,
    tokenizer: tokenizerFromJSON(state.tokenizer),
    stage: state.stage,
    step: state.step,
    extra: state.extra,
    stories: { val: stories.val, chars: stories.valChars, batchSize: state.train.batchSize, batches: state.train.evalBatches, seed: state.train.seed },
    sftVal,
    dpoVal,
    referenceModel,
    beta,
    limit,
    // Real words are those of the bundled stories, also for a model of the crawl (whose junk words are not words); copies are
    // looked up in what it trained on. A checkpoint trained on other text has neither to compare with.
    ...(isBundledCorpus(state.corpus) && !str(opts, 'text') ? pretrainingText(bundledTexts('tales').train, bundledTexts(state.corpus).train) : {}),
    // With --ref (usually the parent), the change of the stories loss from it.
    ...(referenceModel ? { parentValLoss: await evaluateLoss(referenceModel, stories.val, state.train.batchSize, state.train.evalBatches, state.train.seed) } : {}),
  });
  print(flag(opts, 'json'), { ...card },
    [
      `${card.stage} checkpoint, step ${card.step}`,
      `  validation loss (stories)    ${card.valLoss.toFixed(4)}${card.storiesNote ? `  ${card.storiesNote}` : ''}`,
      ...(card.realWordRate !== undefined ? [`  real words in samples        ${pct(card.realWordRate)}`] : []),
      ...(card.copiedShare !== undefined ? [`  copied (20+ characters)      ${pct(card.copiedShare)}`] : []),
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

/** What the card compares the samples with: the stories' words and the pretraining text's trace index. */
function pretrainingText(stories: string, text: string) {
  return { words: corpusWords(stories), trace: buildTraceIndex([{ name: 'training text', texts: [text] }]) };
}

export const evaluate: Command = {
  name: 'eval',
  about: `report card: stories validation loss, real words in samples, held-out exact match, format adherence, empty
replies, mean reply length, preference accuracy and mean margin (against --ref, else a DPO checkpoint's parent); with
--ref, the change of the stories loss from it`,
  flags: [
    FLAGS.ckpt, text('ref', 'FILE', 'the reference model for the preference margins (usually the parent)'), LIMIT, BETA,
    text('sft-val', 'FILE.jsonl', 'held-out conversations (default: the bundled ones)'), text('dpo-val', 'FILE.jsonl', 'held-out preference pairs (default: the bundled ones)'),
    FLAGS.stories, FLAGS.backend, FLAGS.json,
  ],
  run,
};
