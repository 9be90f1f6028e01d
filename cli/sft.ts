/**
 * sft: fine-tunes a base checkpoint on chat, with a share of each batch story text so it keeps the
 * stories. Settings not given are the lesson plan's (the recipe's), then the parent's.
 */
import { WHAT_IFS } from '../src/core/lesson/plan.ts';
import { checkParent } from '../src/core/lesson/parents.ts';
import { type SftSettings, sftRecipe } from '../src/core/lesson/recipes.ts';
import { parseSftJsonl } from '../src/core/post/chatdata.ts';
import { SftStage } from '../src/core/post/sft.ts';
import { type Command, flag, FLAGS, num, type Options, print, readCheckpoint, settingFlags, settingsFrom, str, useBackend } from './args.ts';
import { chatData, storiesFor } from './corpora.ts';
import { fmt, loopSettings, startHelpers, startLine, stepCol, trainLoop } from './loop.ts';

async function run(opts: Options): Promise<void> {
  const json = flag(opts, 'json');
  const { train, pretrainShare, whatIf } = sftRecipe(settingsFrom('sft', opts) as SftSettings);
  const parent = readCheckpoint(str(opts, 'from'), 'from');
  checkParent('sft', parent.state.stage);
  const data = chatData('sft', parseSftJsonl, { train: str(opts, 'train'), val: str(opts, 'val') });
  const backend = await useBackend(opts);
  const stage = await SftStage.start(parent.bytes, data, storiesFor(parent.state, str(opts, 'text')), train, { pretrainShare });
  if (whatIf) print(json, { event: 'what-if', name: whatIf, why: WHAT_IFS.sft[whatIf] }, `what if: ${WHAT_IFS.sft[whatIf]}`);
  const helpers = await startHelpers(stage.session, { threads: num(opts, FLAGS.threads), backend, json });
  startLine(opts, stage.session, backend, { conversations: { train: data.train.length, val: data.val.length }, pretrainShare, threads: helpers.threads },
    `SFT from a ${parent.state.stage} checkpoint (step ${parent.state.step}), ${Math.round(pretrainShare * 100)}% of each batch story text,`);
  const rows = await trainLoop(stage, loopSettings(opts), (r) =>
    `${stepCol(r.step)} | loss ${fmt(r.loss)} | masked acc ${fmt(r.maskedAccuracy, 3)}${r.valLoss !== undefined ? ` | chat val ${fmt(r.chatValLoss)} | stories val ${fmt(r.valLoss)}` : ''} | grad ${fmt(r.gradNorm, 3)} | lr ${r.lr.toExponential(2)}`);
  const last = rows[rows.length - 1];
  const out = str(opts, 'out');
  print(json, { summary: true, stage: 'sft', steps: stage.session.stepsTaken, loss: last.loss, maskedAccuracy: last.maskedAccuracy, chatValLoss: last.chatValLoss, valLoss: last.valLoss, out: out ?? null },
    `done: ${stage.session.stepsTaken} steps, masked accuracy ${fmt(last.maskedAccuracy, 3)}, held-out chat loss ${fmt(last.chatValLoss)}${out ? `, saved ${out}` : ''}`);
  await helpers.stop();
  stage.release();
}

export const sft: Command = {
  name: 'sft',
  about: `fine-tunes a base checkpoint on chat (bundled corpora/chat unless --train/--val), with a share of each batch's rows
story text; --what-if no-pretrain-text trains on chat alone and shows forgetting. Other settings are the parent's`,
  flags: [FLAGS.from('BASE'), FLAGS.out, ...settingFlags('sft'), FLAGS.train('conversations'), FLAGS.val('conversations'), FLAGS.stories, FLAGS.logInterval, FLAGS.threads, FLAGS.backend, FLAGS.json],
  run,
};
