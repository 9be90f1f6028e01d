/**
 * rm: a reward model, the SFT trunk plus a scalar head, trained on preference pairs (the bundled
 * corpora/chat/dpo_*.jsonl unless --train / --val name the user's own).
 */
import { checkParent } from '../src/core/lesson/parents.ts';
import { type RmSettings, rmRecipe } from '../src/core/lesson/recipes.ts';
import { parseDpoJsonl } from '../src/core/post/chatdata.ts';
import { RewardModelStage } from '../src/core/rl/rewardmodel.ts';
import { type Command, flag, FLAGS, need, type Options, print, readCheckpoint, settingFlags, settingsFrom, str, useBackend } from './args.ts';
import { chatData, storiesFor } from './corpora.ts';
import { fmt, loopSettings, startLine, stepCol, trainLoop } from './loop.ts';

const OUT = { ...FLAGS.out, required: true };

async function run(opts: Options): Promise<void> {
  const json = flag(opts, 'json');
  const recipe = rmRecipe(settingsFrom('rm', opts) as RmSettings);
  const { centerCoef, lmCoef } = recipe;
  const out = need(opts, OUT);
  const parent = readCheckpoint(str(opts, 'from'), 'from');
  checkParent('rm', parent.state.stage);
  const data = chatData('dpo', parseDpoJsonl, { train: str(opts, 'train'), val: str(opts, 'val') });
  const backend = await useBackend(opts);
  const stage = await RewardModelStage.start(parent.bytes, data, storiesFor(parent.state, str(opts, 'text')), recipe);
  startLine(opts, stage.session, backend, { centerCoef, lmCoef, pairs: { train: data.train.length, val: data.val.length } },
    `reward model (Bradley–Terry${lmCoef > 0 ? ` + ${lmCoef} × the chosen replies' next-token loss` : ''}, scalar head score.weight at the reply's last token) from a ${parent.state.stage} checkpoint (step ${parent.state.step})`);
  await trainLoop(stage, loopSettings(opts), (r) =>
    `${stepCol(r.step)} | loss ${fmt(r.loss)} | accuracy ${fmt(r.accuracy, 2)} | margin ${fmt(r.margin, 3)} | mean reward ${fmt(r.mean_reward, 3)}${r.lm_loss !== undefined ? ` | lm ${fmt(r.lm_loss, 3)}` : ''}${r['eval/accuracy'] !== undefined ? ` | held-out acc ${fmt(r['eval/accuracy'], 3)}` : ''} | grad ${fmt(r.gradNorm, 3)}`);
  const held = await stage.heldOut();
  print(json, { summary: true, stage: 'rm', steps: stage.session.stepsTaken, heldOutAccuracy: held.accuracy, heldOutMargin: held.margin, pairs: held.pairs, out },
    `done: ${stage.session.stepsTaken} steps, held-out pair accuracy ${fmt(held.accuracy, 3)} of ${held.pairs} pairs, mean margin ${fmt(held.margin, 3)}, saved ${out}`);
  stage.release();
}

export const rm: Command = {
  name: 'rm',
  about: `reward model: the SFT trunk plus a scalar head, Bradley–Terry loss on preference pairs plus lm-coef × the chosen
replies' next-token loss (0: the pair loss alone); the summary carries heldOutAccuracy`,
  flags: [FLAGS.from('SFT'), OUT, ...settingFlags('rm'), FLAGS.train('preference pairs'), FLAGS.val('preference pairs'), FLAGS.stories, FLAGS.logInterval, FLAGS.backend, FLAGS.json],
  run,
};
