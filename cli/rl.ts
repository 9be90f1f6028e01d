/**
 * The RL commands: a reward model, and policy optimisation against it or against verifiers.
 *
 *   npm run lab -- rm --from SFT --out RM [--steps N] [--lm-coef A] [--json]
 *   npm run lab -- rl --from SFT --reward verifier|model [--rm RM] [--kl-coef B] [--group-size G]
 *                     [--steps N] --out FILE [--json]
 *
 * rm trains on the bundled preference pairs (corpora/chat/dpo_*.jsonl) unless --train / --val name
 * the user's own; rl draws its prompts from the SFT conversations (corpora/chat/sft_*.jsonl) and
 * reports held-out verifiable exact match, pass@1 and pass@8 before and after.
 */
import { parseDpoJsonl, parseSftJsonl } from '../src/core/post/chatdata.ts';
import { RewardModelStage } from '../src/core/rl/rewardmodel.ts';
import { type PromptSampling, type RewardSource, RlStage } from '../src/core/rl/policy.ts';
import { checkParent } from '../src/core/lesson/parents.ts';
import { LESSON_PLAN } from '../src/core/lesson/plan.ts';
import { PROMPT_SAMPLINGS, RL_DEFAULTS, rlRecipe, rmRecipe } from '../src/core/lesson/recipes.ts';
import type { VerifiableCard } from '../src/core/rl/evaluate.ts';
import { chatData, fmt, num, print, readCheckpoint, shareStageSteps, startLine, type StageOptions, storiesFor, str, trainFlags, trainLoop, useBackend } from './stages.ts';

export type RlCommand = 'rm' | 'rl';


async function rm(opts: StageOptions): Promise<void> {
  const json = Boolean(opts.json);
  const recipe = rmRecipe({ ...trainFlags(opts), centerCoef: num(opts, 'center-coef', { min: 0 }), lmCoef: num(opts, 'lm-coef', { min: 0 }) });
  const { centerCoef, lmCoef } = recipe;
  if (!str(opts, 'out')) throw new Error('--out FILE is required');
  const parent = readCheckpoint(str(opts, 'from'), '--from');
  checkParent('rm', parent.state.stage);
  const data = chatData(opts, 'dpo', parseDpoJsonl);
  const backend = await useBackend(opts);
  const stage = await RewardModelStage.start(parent.bytes, data, storiesFor(parent.state, opts), recipe);
  startLine(json, stage, backend, { centerCoef, lmCoef, pairs: { train: data.train.length, val: data.val.length } },
    `reward model (Bradley–Terry${lmCoef > 0 ? ` + ${lmCoef} × the chosen replies' next-token loss` : ''}, scalar head score.weight at the reply's last token) from a ${parent.state.stage} checkpoint (step ${parent.state.step})`);
  await trainLoop(stage, opts, (r) =>
    `step ${String(r.step).padStart(5)} | loss ${fmt(r.loss)} | accuracy ${fmt(r.accuracy, 2)} | margin ${fmt(r.margin, 3)} | mean reward ${fmt(r.mean_reward, 3)}${r.lm_loss !== undefined ? ` | lm ${fmt(r.lm_loss, 3)}` : ''}${r['eval/accuracy'] !== undefined ? ` | held-out acc ${fmt(r['eval/accuracy'], 3)}` : ''} | grad ${fmt(r.gradNorm, 3)}`);
  const held = await stage.heldOut();
  print(json, { summary: true, stage: 'rm', steps: stage.session.stepsTaken, heldOutAccuracy: held.accuracy, heldOutMargin: held.margin, pairs: held.pairs, out: str(opts, 'out') },
    `done: ${stage.session.stepsTaken} steps, held-out pair accuracy ${fmt(held.accuracy, 3)} of ${held.pairs} pairs, mean margin ${fmt(held.margin, 3)}, saved ${str(opts, 'out')}`);
  stage.dispose();
}

const cardFields = (c: VerifiableCard) => ({ verifiableExactMatch: c.verifiableExactMatch, passAt1: c.passAt1, passAt8: c.passAt8, checkable: c.checkable, unanswerable: c.unanswerable });
const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
const unanswered = (c: { unanswerable: number }) => (c.unanswerable ? ` (${c.unanswerable} more whose answer does not fit in the context)` : '');

async function rl(opts: StageOptions): Promise<void> {
  const json = Boolean(opts.json);
  const promptSampling = str(opts, 'prompt-sampling') as PromptSampling | undefined;
  if (promptSampling !== undefined && !PROMPT_SAMPLINGS.includes(promptSampling)) throw new Error(`--prompt-sampling must be uniform or prioritized, got "${promptSampling}"`);
  const recipe = rlRecipe({
    ...trainFlags(opts),
    reward: str(opts, 'reward') as RewardSource | undefined,
    klCoef: num(opts, 'kl-coef', { min: 0 }),
    groupSize: num(opts, 'group-size', { integer: true, min: 2 }),
    promptsPerStep: num(opts, 'prompts-per-step', { integer: true, min: 1 }),
    maxNewTokens: num(opts, 'max-new-tokens', { integer: true, min: 1 }),
    partialCredit: num(opts, 'partial-credit', { min: 0 }),
    promptSampling,
  });
  const reward = recipe.settings.reward;
  if (!str(opts, 'out')) throw new Error('--out FILE is required');
  if (reward === 'model' && !str(opts, 'rm')) throw new Error('--reward model needs --rm FILE (a reward model from the rm command)');
  if (reward === 'verifier' && str(opts, 'rm')) throw new Error('--rm is only used with --reward model');
  const parent = readCheckpoint(str(opts, 'from'), '--from');
  checkParent('rl', parent.state.stage);
  const rewardModel = reward === 'model' ? readCheckpoint(str(opts, 'rm'), '--rm') : undefined;
  if (rewardModel && rewardModel.state.stage !== 'rm') throw new Error(`--rm must be a reward model (stage rm), this one is a ${rewardModel.state.stage} checkpoint`);
  const data = chatData(opts, 'sft', parseSftJsonl);
  const backend = await useBackend(opts);
  const stage = await RlStage.start(parent.bytes, data, storiesFor(parent.state, opts), { ...recipe.settings, rewardModel: rewardModel?.bytes, train: recipe.train });
  const s = stage.settings;
  const stopThreads = await shareStageSteps(stage, opts, backend);
  const threads = stage.session.trainer.helpers.length + 1;
  const noCard = Boolean(opts['no-card']);
  const before = noCard ? undefined : await stage.evaluate();
  startLine(json, stage, backend, { ...s, prompts: stage.prompts.length, threads, ...(before ? { before: cardFields(before) } : {}) },
    `RL (${reward === 'model' ? 'reward model' : 'verifiers'}, RLOO over G=${s.groupSize}, k1 KL in the reward with β ${s.klCoef}) from a ${parent.state.stage} checkpoint (step ${parent.state.step}), ${stage.prompts.length} prompts drawn ${s.promptSampling === 'prioritized' ? 'the unsolved more often (prioritized)' : 'uniformly'}, ${s.promptsPerStep}×${s.groupSize} samples a step` +
      (before ? `\nbefore: held-out verifiable exact match ${pct(before.verifiableExactMatch)} of ${before.checkable}${unanswered(before)}, pass@1 ${pct(before.passAt1)}, pass@8 ${pct(before.passAt8)}` : ''));
  const started = performance.now();
  await trainLoop(stage, opts, (r) =>
    `step ${String(r.step).padStart(5)} | reward ${fmt(r.reward, 3)}${r.rewardModelScore !== undefined ? ` | rm score ${fmt(r.rewardModelScore, 3)}` : ''} | verified ${fmt(r.verifiedAccuracy, 3)}${r.solvedShare !== undefined ? ` | solved ${fmt(r.solvedShare, 3)}` : ''} | kl ${fmt(r.kl, 3)} | entropy ${fmt(r.entropy, 3)} | length ${fmt(r['completions/mean_length'], 1)} | zero-std ${fmt(r.frac_reward_zero_std, 2)}${r['eval/verifiableExactMatch'] !== undefined ? ` | held-out exact ${fmt(r['eval/verifiableExactMatch'], 3)}` : ''}`);
  const seconds = (performance.now() - started) / 1000;
  const after = noCard ? undefined : await stage.evaluate();
  const last = stage.session.metrics[stage.session.metrics.length - 1];
  const summary: Record<string, unknown> = {
    summary: true, stage: 'rl', rewardSource: reward, steps: stage.session.stepsTaken, trainSeconds: seconds,
    reward: last.reward, kl: last.kl, verifiedAccuracy: last.verifiedAccuracy, out: str(opts, 'out'),
  };
  if (last.rewardModelScore !== undefined) summary.rewardModelScore = last.rewardModelScore;
  if (before && after) Object.assign(summary, { before: cardFields(before), after: cardFields(after) });
  summary.samples = stage.lastSamples.slice(0, 4);
  print(json, summary,
    `done: ${stage.session.stepsTaken} steps in ${seconds.toFixed(0)} s, reward ${fmt(last.reward, 3)}, kl ${fmt(last.kl, 3)}, verified accuracy ${fmt(last.verifiedAccuracy, 3)}` +
      (before && after ? `\nheld-out verifiable exact match ${pct(before.verifiableExactMatch)} → ${pct(after.verifiableExactMatch)}, pass@1 ${pct(before.passAt1)} → ${pct(after.passAt1)}, pass@8 ${pct(before.passAt8)} → ${pct(after.passAt8)}` : '') +
      `, saved ${str(opts, 'out')}` +
      stage.lastSamples.slice(0, 4).map((x) => `\n  ${x.correct === null ? '·' : x.correct ? '✓' : '✗'} ${x.question} → ${JSON.stringify(x.reply)} (reward ${fmt(x.reward, 3)})`).join(''));
  await stopThreads();
  stage.dispose();
}

export function runRl(command: RlCommand, opts: StageOptions): Promise<void> {
  return command === 'rm' ? rm(opts) : rl(opts);
}

export const RL_HELP = `  npm run lab -- rm       --from SFT --out RM [--steps ${LESSON_PLAN.rm.steps}] [--batch-size ${LESSON_PLAN.rm.batchSize}] [--lr ${LESSON_PLAN.rm.learningRate}] [--center-coef ${LESSON_PLAN.rm.centerCoef}] [--lm-coef ${LESSON_PLAN.rm.lmCoef}] [--train FILE.jsonl] [--val FILE.jsonl] [--json]
                          reward model: the SFT trunk plus a scalar head, Bradley–Terry loss on preference pairs plus
                          lm-coef × the chosen replies' next-token loss (0: the pair loss alone); the summary carries heldOutAccuracy
  npm run lab -- rl       --from SFT --reward verifier|model [--rm RM] [--kl-coef B] [--group-size ${RL_DEFAULTS.verifier.groupSize}] [--steps ${LESSON_PLAN.rl.steps}]
                          --out FILE [--prompts-per-step ${RL_DEFAULTS.verifier.promptsPerStep} (${RL_DEFAULTS.model.promptsPerStep} with a reward model)] [--prompt-sampling prioritized|uniform] [--max-new-tokens ${RL_DEFAULTS.verifier.maxNewTokens}] [--partial-credit ${RL_DEFAULTS.verifier.partialCredit}] [--lr ${LESSON_PLAN.rl.learningRate}] [--seed N] [--threads N] [--no-card] [--json]
                          policy optimisation (RLOO, KL to the SFT model as k1 in the reward; β ${RL_DEFAULTS.verifier.klCoef} with
                          verifiers, ${RL_DEFAULTS.model.klCoef} with a reward model); with verifiers the prompts still unsolved are
                          drawn more often (prioritized; uniform with a reward model); prints held-out verifiable exact match, pass@1, pass@8`;
