/**
 * anneal: cosine against warmup–stable–decay at equal tokens, and a second WSD model branched off
 * the same stable run (src/core/scaling/anneal.ts). Prints the validation loss as each arm goes,
 * then each arm's final loss and each decay's drop.
 */
import { ANNEAL_DEFAULTS, type AnnealArm, type AnnealResult, runAnneal } from '../src/core/scaling/anneal.ts';
import { runCleanDecays } from '../src/core/scaling/anneal-clean.ts';
import type { CleanDecayResult } from '../src/core/scaling/anneal-defaults.ts';
import type { LabSession } from '../src/core/train/session.ts';
import { bool, type Command, flag, FLAGS, num, number, type Options, print, useBackend } from './args.ts';
import { loadCorpus } from './corpora.ts';
import { startHelpers, stepCol } from './loop.ts';

const STEPS = number('steps', ANNEAL_DEFAULTS.steps, { whole: true, min: 20 }, 'steps of the cosine run and of the stable run (equal tokens)');
const SEED = number('seed', 1, { whole: true, min: 0 }, 'the seed of every arm');
const LR = number('learning-rate', ANNEAL_DEFAULTS.learningRate, { min: 0, above: true }, 'the peak rate of every arm (the floor is a tenth)');
const DECAY = number('decay-fraction', ANNEAL_DEFAULTS.decayFraction, { min: 0, above: true, below: 0.5 }, "the decay's share of the steps");
const EARLY = number('early-share', ANNEAL_DEFAULTS.earlyShare, { min: 0, above: true, below: 1 }, "where the early branch's model ends, as a share of the steps");

// Opt-in: the clean-data arm trains a third stable run plus two decays, half as many steps again as the other arms.
const CLEAN = bool('clean-arm', 'add the clean-data arm: a stable run on the raw crawl, then decays on the raw crawl and on the filtered crawl');
const CLEAN_ONLY = bool('clean-arm-only', 'run the clean-data arm alone (the other arms are left out)');

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
  const cleanOnly = flag(opts, 'clean-arm-only');
  const withClean = cleanOnly || flag(opts, 'clean-arm');
  // The crawl through no filters is the mixture; through the default filters, the cleanest data.
  const mixture = withClean ? loadCorpus({ corpus: 'crawl', filters: 'none' }, tokenizer).corpus : undefined;
  const clean = withClean ? loadCorpus({ corpus: 'crawl', filters: 'default' }, tokenizer).corpus : undefined;
  const settings = { steps: num(opts, STEPS), learningRate: num(opts, LR), decayFraction: num(opts, DECAY), earlyShare: num(opts, EARLY), seed: num(opts, SEED) };
  const started = Date.now();
  let stop: (() => Promise<void>) | undefined;
  let helpers: LabSession['trainer']['helpers'] = [];
  print(json, { event: 'start', ...settings, preset: ANNEAL_DEFAULTS.preset, backend, cleanArm: withClean, cleanArmOnly: cleanOnly }, `anneal: ${cleanOnly ? 'the clean-data arm' : 'cosine against WSD'} on the ${ANNEAL_DEFAULTS.preset} model, ${settings.steps} steps each, peak rate ${settings.learningRate}, seed ${settings.seed}`);
  const hooks = {
    // Every arm is the same model: the helper threads started for the first serve them all.
    attach: async (session: LabSession) => {
      if (stop === undefined) {
        ({ stop } = await startHelpers(session, { threads, backend, json, indent: '  ' }));
        helpers = session.trainer.helpers;
      } else session.trainer.helpers = helpers;
    },
    onStep: (arm: string, session: LabSession) => {
      const row = session.metrics[session.metrics.length - 1];
      if (row.valLoss !== undefined) print(json, { arm, step: row.step, valLoss: row.valLoss, lr: row.lr }, `  ${arm.padEnd(14)} ${stepCol(row.step)} | val ${row.valLoss.toFixed(4)} | lr ${row.lr.toExponential(2)}`);
    },
  };
  const result = cleanOnly ? undefined : await runAnneal(settings, corpus, tokenizer, hooks);
  const cleanArm = mixture && clean ? await runCleanDecays(settings, { mixture, clean }, tokenizer, hooks) : undefined;
  await stop?.();
  const seconds = Math.round((Date.now() - started) / 1000);
  if (json) return print(true, { summary: true, ...(result ? schedulesSummary(result) : {}), ...(cleanArm ? { cleanArm: cleanSummary(cleanArm) } : {}), seconds }, '');
  if (result) printSchedules(result);
  if (cleanArm) printClean(cleanArm);
  else console.log('(the clean-data arm, decaying on the filtered crawl against the raw crawl, runs with --clean-arm)');
  console.log(`${seconds} s`);
}

function schedulesSummary(result: AnnealResult) {
  return { plan: result.plan, arms: result.arms.map(({ curve, ...arm }) => (void curve, arm)), wsdMinusCosine: result.wsdMinusCosine };
}

/** The clean-data arm's summary fields: each decay's data and losses, and their difference. */
function cleanSummary(c: CleanDecayResult) {
  const decay = ({ curve, ...d }: CleanDecayResult['mixture']) => (void curve, d);
  return { plan: c.plan, tokens: c.tokens, branchStep: c.plan.lateBranch, decaySteps: c.plan.decaySteps, mixtureDecay: decay(c.mixture), cleanDecay: decay(c.clean), cleanMinusMixture: c.cleanMinusMixture };
}

function printClean(c: CleanDecayResult): void {
  console.log(`clean-data arm: stable on ${c.mixture.corpus} to step ${c.plan.lateBranch}, then ${c.plan.decaySteps} decay steps each, validated on the held-out tales (${(c.tokens / 1e6).toFixed(2)} M tokens each)`);
  for (const [what, d] of [['decay on the raw mixture', c.mixture], ['decay on the cleanest data', c.clean]] as const) {
    console.log(`  ${what.padEnd(27)} (${d.corpus.padEnd(13)}) | final val ${d.after.toFixed(4)} | ${d.before.toFixed(4)} → ${d.after.toFixed(4)} (drop ${d.drop.toFixed(4)})`);
  }
  console.log(`  the clean decay ends ${Math.abs(c.cleanMinusMixture).toFixed(4)} ${c.cleanMinusMixture <= 0 ? 'below' : 'above'} the mixture's`);
}

function printSchedules(result: AnnealResult): void {
  for (const arm of result.arms) {
    const decay = arm.decay ? ` | decay from step ${arm.decay.from}: ${arm.decay.before.toFixed(4)} → ${arm.decay.after.toFixed(4)} (drop ${arm.decay.drop.toFixed(4)})` : '';
    console.log(`${DESCRIBE[arm.name].padEnd(28)} | ${(arm.tokens / 1e6).toFixed(2)} M tokens | final val ${arm.finalValLoss.toFixed(4)}${decay}`);
  }
  console.log(`at equal tokens WSD ends ${Math.abs(result.wsdMinusCosine).toFixed(4)} ${result.wsdMinusCosine <= 0 ? 'below' : 'above'} cosine; the early model cost ${result.plan.decaySteps} steps more, not a new run.`);
}

export const anneal: Command = {
  name: 'anneal',
  about: `cosine against warmup–stable–decay (WSD) at equal tokens on the stories, with WSD's decay drop measured before
and after, and a second WSD model from a decay branched off the same stable run earlier; prints each arm's final
validation loss and each decay's drop; --clean-arm adds a WSD run on the raw crawl whose decay is branched twice, on
the raw crawl and on the filtered crawl only, both validated on the held-out tales`,
  flags: [STEPS, LR, DECAY, EARLY, SEED, CLEAN, CLEAN_ONLY, FLAGS.threads, FLAGS.backend, FLAGS.json],
  run,
};
