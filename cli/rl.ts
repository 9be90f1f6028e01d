/**
 * rl: policy optimisation from an SFT model (RLOO, KL to it as k1 in the reward), rewarded by
 * verifiers or by a reward model from the rm command. Prompts come from the SFT conversations
 * (corpora/chat/sft_*.jsonl unless --train / --val); held-out verifiable exact match, pass@1 and
 * pass@8 are reported before and after.
 */
import { checkParent } from '../src/core/lesson/parents.ts';
import { type RlRecipeSettings, rlRecipe } from '../src/core/lesson/recipes.ts';
import { parseSftJsonl } from '../src/core/post/chatdata.ts';
import type { VerifiableCard } from '../src/core/rl/evaluate.ts';
import { RlStage } from '../src/core/rl/policy.ts';
import { bool, type Command, flag, FLAGS, need, num, type Options, print, readCheckpoint, settingFlags, settingsFrom, str, text, useBackend } from './args.ts';
import { chatData, storiesFor } from './corpora.ts';
import { fmt, loopSettings, pct, startHelpers, startLine, stepCol, trainLoop } from './loop.ts';

const OUT = { ...FLAGS.out, required: true };
const cardFields = (c: VerifiableCard) => ({ verifiableExactMatch: c.verifiableExactMatch, passAt1: c.passAt1, passAt8: c.passAt8, checkable: c.checkable, unanswerable: c.unanswerable });
const unanswered = (c: { unanswerable: number }) => (c.unanswerable ? ` (${c.unanswerable} more whose answer does not fit in the context)` : '');
const cardLine = (c: VerifiableCard) => `held-out verifiable exact match ${pct(c.verifiableExactMatch)} of ${c.checkable}${unanswered(c)}, pass@1 ${pct(c.passAt1)}, pass@8 ${pct(c.passAt8)}`;

async function run(opts: Options): Promise<void> {
  const json = flag(opts, 'json');
  const recipe = rlRecipe(settingsFrom('rl', opts) as RlRecipeSettings);
  const reward = recipe.settings.reward;
  const out = need(opts, OUT);
  if (reward === 'model' && !str(opts, 'rm')) throw new Error('--reward model needs --rm FILE (a reward model from the rm command)');
  if (reward === 'verifier' && str(opts, 'rm')) throw new Error('--rm is only used with --reward model');
  const parent = readCheckpoint(str(opts, 'from'), 'from');
  checkParent('rl', parent.state.stage);
  const rewardModel = reward === 'model' ? readCheckpoint(str(opts, 'rm'), 'rm') : undefined;
  if (rewardModel && rewardModel.state.stage !== 'rm') throw new Error(`--rm must be a reward model (stage rm), this one is a ${rewardModel.state.stage} checkpoint`);
  const data = chatData('sft', parseSftJsonl, { train: str(opts, 'train'), val: str(opts, 'val') });
  const backend = await useBackend(opts);
  const stage = await RlStage.start(parent.bytes, data, storiesFor(parent.state, str(opts, 'text')), { ...recipe.settings, rewardModel: rewardModel?.bytes, train: recipe.train });
  const s = stage.settings;
  const helpers = await startHelpers(stage.session, { threads: num(opts, FLAGS.threads), backend, json });
  const noCard = flag(opts, 'no-card');
  const before = noCard ? undefined : await stage.evaluate();
  startLine(opts, stage.session, backend, { ...s, prompts: stage.prompts.length, threads: helpers.threads, ...(before ? { before: cardFields(before) } : {}) },
    `RL (${reward === 'model' ? 'reward model' : 'verifiers'}, RLOO over G=${s.groupSize}, k1 KL in the reward with β ${s.klCoef}) from a ${parent.state.stage} checkpoint (step ${parent.state.step}), ${stage.prompts.length} prompts drawn ${s.promptSampling === 'prioritized' ? 'the unsolved more often (prioritized)' : 'uniformly'}, ${s.promptsPerStep}×${s.groupSize} samples a step` +
      (before ? `\nbefore: ${cardLine(before)}` : ''));
  const started = performance.now();
  await trainLoop(stage, loopSettings(opts), (r) =>
    `${stepCol(r.step)} | reward ${fmt(r.reward, 3)}${r.rewardModelScore !== undefined ? ` | rm score ${fmt(r.rewardModelScore, 3)}` : ''} | verified ${fmt(r.verifiedAccuracy, 3)}${r.solvedShare !== undefined ? ` | solved ${fmt(r.solvedShare, 3)}` : ''} | kl ${fmt(r.kl, 3)} | entropy ${fmt(r.entropy, 3)} | length ${fmt(r['completions/mean_length'], 1)} | zero-std ${fmt(r.frac_reward_zero_std, 2)}${r['eval/verifiableExactMatch'] !== undefined ? ` | held-out exact ${fmt(r['eval/verifiableExactMatch'], 3)}` : ''}`);
  const seconds = (performance.now() - started) / 1000;
  const after = noCard ? undefined : await stage.evaluate();
  const last = stage.session.metrics[stage.session.metrics.length - 1];
  const summary: Record<string, unknown> = {
    summary: true, stage: 'rl', rewardSource: reward, steps: stage.session.stepsTaken, trainSeconds: seconds,
    reward: last.reward, kl: last.kl, verifiedAccuracy: last.verifiedAccuracy, out,
  };
  if (last.rewardModelScore !== undefined) summary.rewardModelScore = last.rewardModelScore;
  if (before && after) Object.assign(summary, { before: cardFields(before), after: cardFields(after) });
  summary.samples = stage.lastSamples.slice(0, 4).map(({ tokens: _, ...row }) => row); // the page's per-token probabilities stay out of the summary
  print(json, summary,
    `done: ${stage.session.stepsTaken} steps in ${seconds.toFixed(0)} s, reward ${fmt(last.reward, 3)}, kl ${fmt(last.kl, 3)}, verified accuracy ${fmt(last.verifiedAccuracy, 3)}` +
      (before && after ? `\nheld-out verifiable exact match ${pct(before.verifiableExactMatch)} → ${pct(after.verifiableExactMatch)}, pass@1 ${pct(before.passAt1)} → ${pct(after.passAt1)}, pass@8 ${pct(before.passAt8)} → ${pct(after.passAt8)}` : '') +
      `, saved ${out}` +
      stage.lastSamples.slice(0, 4).map((x) => `\n  ${x.correct === null ? '·' : x.correct ? '✓' : '✗'} ${x.question} → ${JSON.stringify(x.reply)} (reward ${fmt(x.reward, 3)})`).join(''));
  await helpers.stop();
  stage.release();
}

export const rl: Command = {
  name: 'rl',
  about: `policy optimisation (RLOO, KL to the SFT model as k1 in the reward); with verifiers the prompts still unsolved are
drawn more often; the defaults shown are those with verifiers (the help says where a reward model's differ); prints
held-out verifiable exact match, pass@1 and pass@8 before and after`,
  flags: [
    FLAGS.from('SFT'), OUT, ...settingFlags('rl'), text('rm', 'RM', 'the reward model (from the rm command) for --reward model'),
    FLAGS.train('conversations', ', whose questions are the prompts'), FLAGS.val('conversations'), FLAGS.stories, FLAGS.logInterval, FLAGS.threads,
    bool('no-card', 'skip the held-out evaluation before and after'), FLAGS.backend, FLAGS.json,
  ],
  run,
};
