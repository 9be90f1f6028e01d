/**
 * anneal: cosine against warmup–stable–decay at equal tokens, and a second WSD model branched off
 * the same stable run (src/core/scaling/anneal.ts). Prints the validation loss as each arm goes,
 * then each arm's final loss and each decay's drop.
 */
import { ANNEAL_DEFAULTS, type AnnealArm, runAnneal } from '../src/core/scaling/anneal.ts';
import type { LabSession } from '../src/core/train/session.ts';
import { type Command, flag, FLAGS, num, number, type Options, print, useBackend } from './args.ts';
import { loadCorpus } from './corpora.ts';
import { startHelpers, stepCol } from './loop.ts';

const STEPS = number('steps', ANNEAL_DEFAULTS.steps, { whole: true, min: 20 }, 'steps of the cosine run and of the stable run (equal tokens)');
const SEED = number('seed', 1, { whole: true, min: 0 }, 'the seed of every arm');
const LR = number('learning-rate', ANNEAL_DEFAULTS.learningRate, { min: 0, above: true }, 'the peak rate of every arm (the floor is a tenth)');
const DECAY = number('decay-fraction', ANNEAL_DEFAULTS.decayFraction, { min: 0, above: true, below: 0.5 }, "the decay's share of the steps");
const EARLY = number('early-share', ANNEAL_DEFAULTS.earlyShare, { min: 0, above: true, below: 1 }, "where the early branch's model ends, as a share of the steps");

const DESCRIBE: Record<AnnealArm['name'], string> = {
  cosine: 'cosine',
  wsd: 'WSD (stable, then its decay)',
  'wsd-early': 'WSD, decay branched early',
};

async function run(opts: Options): Promise<void> {
  const json = flag(opts, 'json');
  const backend = await useBackend(opts);
  const threads = num(opts, FLAGS.threads);
  const { corpus, tokenizer } = loadCorpus({ corpus: 'tales' });
  const settings = { steps: num(opts, STEPS), learningRate: num(opts, LR), decayFraction: num(opts, DECAY), earlyShare: num(opts, EARLY), seed: num(opts, SEED) };
  const started = Date.now();
  let stop: (() => Promise<void>) | undefined;
  let helpers: LabSession['trainer']['helpers'] = [];
  print(json, { event: 'start', ...settings, preset: ANNEAL_DEFAULTS.preset, backend }, `anneal: cosine against WSD on the ${ANNEAL_DEFAULTS.preset} model, ${settings.steps} steps each, peak rate ${settings.learningRate}, seed ${settings.seed}`);
  const result = await runAnneal(settings, corpus, tokenizer, {
    // Every arm is the same model: the helper threads started for the first serve them all.
    attach: async (session) => {
      if (stop === undefined) {
        ({ stop } = await startHelpers(session, { threads, backend, json, indent: '  ' }));
        helpers = session.trainer.helpers;
      } else session.trainer.helpers = helpers;
    },
    onStep: (arm, session) => {
      const row = session.metrics[session.metrics.length - 1];
      if (row.valLoss !== undefined) print(json, { arm, step: row.step, valLoss: row.valLoss, lr: row.lr }, `  ${arm.padEnd(9)} ${stepCol(row.step)} | val ${row.valLoss.toFixed(4)} | lr ${row.lr.toExponential(2)}`);
    },
  });
  await stop?.();
  const seconds = Math.round((Date.now() - started) / 1000);
  const arms = result.arms.map(({ curve, ...arm }) => (void curve, arm));
  if (json) return print(true, { summary: true, plan: result.plan, arms, wsdMinusCosine: result.wsdMinusCosine, seconds }, '');
  for (const arm of result.arms) {
    const decay = arm.decay ? ` | decay from step ${arm.decay.from}: ${arm.decay.before.toFixed(4)} → ${arm.decay.after.toFixed(4)} (drop ${arm.decay.drop.toFixed(4)})` : '';
    console.log(`${DESCRIBE[arm.name].padEnd(28)} | ${(arm.tokens / 1e6).toFixed(2)} M tokens | final val ${arm.finalValLoss.toFixed(4)}${decay}`);
  }
  console.log(`at equal tokens WSD ends ${Math.abs(result.wsdMinusCosine).toFixed(4)} ${result.wsdMinusCosine <= 0 ? 'below' : 'above'} cosine; the early model cost ${result.plan.decaySteps} steps more, not a new run. ${seconds} s`);
  console.log('(a third arm that decays on filtered crawl text only is left out: the Data stage\'s filtered crawl has no loader here yet)');
}

export const anneal: Command = {
  name: 'anneal',
  about: `cosine against warmup–stable–decay (WSD) at equal tokens on the stories, with WSD's decay drop measured before
and after, and a second WSD model from a decay branched off the same stable run earlier; prints each arm's final
validation loss and each decay's drop`,
  flags: [STEPS, LR, DECAY, EARLY, SEED, FLAGS.threads, FLAGS.backend, FLAGS.json],
  run,
};
