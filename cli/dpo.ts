/**
 * dpo: teaches an SFT model to prefer the better of two replies. Settings not given are the lesson
 * plan's (the recipe's), then the parent's. DPO's loss is its own, which helper threads do not share.
 */
import { WHAT_IFS } from '../src/core/lesson/plan.ts';
import { checkParent } from '../src/core/lesson/parents.ts';
import { type DpoSettings, dpoRecipe } from '../src/core/lesson/recipes.ts';
import { parseDpoJsonl } from '../src/core/post/chatdata.ts';
import { DpoStage, lengthBiased } from '../src/core/post/dpo.ts';
import { type Command, flag, FLAGS, type Options, print, readCheckpoint, settingFlags, settingsFrom, str, useBackend } from './args.ts';
import { chatData, storiesFor } from './corpora.ts';
import { fmt, loopSettings, startLine, stepCol, trainLoop } from './loop.ts';

async function run(opts: Options): Promise<void> {
  const json = flag(opts, 'json');
  const recipe = dpoRecipe(settingsFrom('dpo', opts) as DpoSettings);
  const { beta, lossType, rpoAlpha, whatIf } = recipe;
  const parent = readCheckpoint(str(opts, 'from'), 'from');
  checkParent('dpo', parent.state.stage);
  const all = chatData('dpo', parseDpoJsonl, { train: str(opts, 'train'), val: str(opts, 'val') });
  const data = recipe.lengthBiasedPairs ? { train: lengthBiased(all.train), val: all.val } : all;
  if (data.train.length === 0) throw new Error('--what-if length-bias: no training pair has a chosen reply shorter than the rejected one');
  const backend = await useBackend(opts);
  if (whatIf) print(json, { event: 'what-if', name: whatIf, why: WHAT_IFS.dpo[whatIf], pairs: data.train.length }, `what if: ${WHAT_IFS.dpo[whatIf]} (${data.train.length} of ${all.train.length} pairs)`);
  const stage = await DpoStage.start(parent.bytes, data, storiesFor(parent.state, str(opts, 'text')), recipe);
  startLine(opts, stage.session, backend, { beta, loss: lossType, rpoAlpha, pairs: { train: data.train.length, val: data.val.length } },
    `DPO (${lossType}, β ${beta}${rpoAlpha > 0 ? `, + ${rpoAlpha} × chosen NLL` : ''}) from a ${parent.state.stage} checkpoint (step ${parent.state.step}); reference log-probs of ${data.train.length + data.val.length} pairs computed once`);
  const rows = await trainLoop(stage, loopSettings(opts), (r) =>
    `${stepCol(r.step)} | loss ${fmt(r.loss)} | margin ${fmt(r['rewards/margins'], 3)} | acc ${fmt(r['rewards/accuracies'], 2)} | chosen ${fmt(r['rewards/chosen'], 3)} | rejected ${fmt(r['rewards/rejected'], 3)}${r.valLoss !== undefined ? ` | held-out acc ${fmt(r['eval/rewards/accuracies'], 3)}` : ''} | grad ${fmt(r.gradNorm, 3)}`);
  const last = rows[rows.length - 1];
  const held = await stage.heldOut();
  const out = str(opts, 'out');
  print(json, { summary: true, stage: 'dpo', steps: stage.session.stepsTaken, loss: last.loss, heldOutPreferenceAccuracy: held.accuracy, heldOutMeanMargin: held.meanMargin, out: out ?? null },
    `done: ${stage.session.stepsTaken} steps, held-out preference accuracy ${fmt(held.accuracy, 3)}, mean margin ${fmt(held.meanMargin, 3)}${out ? `, saved ${out}` : ''}`);
  stage.release();
}

export const dpo: Command = {
  name: 'dpo',
  about: `prefers the better of two replies (β, the loss, the chosen replies' NLL as RPO, story windows beside the pairs);
--what-if length-bias trains on the pairs whose chosen reply is the shorter one, without the RPO term, and shows the
replies collapse`,
  flags: [
    FLAGS.from('SFT'), FLAGS.out, ...settingFlags('dpo'), FLAGS.train('preference pairs'), FLAGS.val('preference pairs'), FLAGS.stories, FLAGS.logInterval,
    FLAGS.backend, FLAGS.json,
  ],
  run,
};
