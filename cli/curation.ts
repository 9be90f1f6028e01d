/**
 * curation: the data lesson's experiment (src/core/data/curation-experiment.ts). The same preset
 * pretrains for the same steps on the raw crawl and on the crawl through the filters, both scored
 * on the clean held-out tales; prints both final losses, the difference, samples and the seconds.
 */
import { isPresetName, PRESETS } from '../src/core/model/config.ts';
import { ARMS, armSession, type ArmResult, CURATION_EXPERIMENT, experimentArms, finishArm, lossGain } from '../src/core/data/curation-experiment.ts';
import { CURATION_STEPS, EmptyCorpusError } from '../src/core/data/curate.ts';
import { type Command, flag, FLAGS, num, number, type Options, print, str, text, useBackend } from './args.ts';
import { bundledTexts, bundledTokenizer, CRAWL_DOCS, readDocs } from './corpora.ts';
import { startHelpers, stepCol } from './loop.ts';

const STEPS = number('steps', CURATION_EXPERIMENT.steps, { whole: true, min: 1 }, 'steps of each run');
const SEED = number('seed', 1, { whole: true }, 'the seed of both runs (weights, batches, validation windows)');

async function run(opts: Options): Promise<void> {
  const json = flag(opts, 'json');
  const preset = str(opts, 'preset') ?? CURATION_EXPERIMENT.preset;
  if (!isPresetName(preset)) throw new Error(`unknown preset "${preset}"; choose one of ${Object.keys(PRESETS).join(', ')}`);
  const filters = str(opts, 'filters') ?? CURATION_EXPERIMENT.filters;
  if (filters === 'none') throw new Error('--filters none would train the raw crawl twice: name the filters the second run uses (default, or a list)');
  const backend = await useBackend(opts);
  const settings = { preset, steps: num(opts, STEPS), seed: num(opts, SEED), filters };
  let arms;
  try {
    arms = experimentArms(readDocs(CRAWL_DOCS), filters);
  } catch (e) {
    throw e instanceof EmptyCorpusError ? new Error(`the crawl through --filters ${filters}: ${e.message}`) : e;
  }
  const val = bundledTexts('tales').val;
  const tokenizer = bundledTokenizer();
  const started = performance.now();
  const results: (ArmResult & { seconds: number })[] = [];
  for (const plan of arms) {
    const t0 = performance.now();
    const session = armSession(plan, val, tokenizer, settings);
    const helpers = await startHelpers(session, { threads: num(opts, FLAGS.threads), backend, json, indent: '  ' });
    print(json, { event: 'start', arm: plan.arm, filters: plan.filters, kept: plan.kept, documents: plan.total, characters: plan.text.length, threads: helpers.threads },
      `${plan.arm} crawl (filters ${plan.filters}): ${plan.kept} of ${plan.total} documents, ${plan.text.length.toLocaleString()} characters; ${settings.steps} steps of ${preset}${helpers.threads > 1 ? ` on ${helpers.threads} threads` : ''}`);
    while (!session.done) {
      const { result, valLoss } = await session.step();
      if (valLoss !== undefined) print(json, { arm: plan.arm, step: result.step, loss: result.loss, valLoss }, `  ${stepCol(result.step)} | loss ${result.loss.toFixed(4)} | val (tales) ${valLoss.toFixed(4)}`);
    }
    await helpers.stop();
    const result = { ...(await finishArm(plan, session)), seconds: (performance.now() - t0) / 1000 };
    session.dispose();
    results.push(result);
    print(json, { event: 'samples', arm: plan.arm, samples: result.samples }, `  samples of the ${plan.arm} run:\n${result.samples.map((s) => `    | ${s.replace(/\n/g, '\n    | ')}`).join('\n')}`);
  }
  const [raw, filtered] = ARMS.map((arm) => results.find((r) => r.arm === arm)!);
  const gain = lossGain(raw, filtered);
  const seconds = (performance.now() - started) / 1000;
  const arm = (r: (typeof results)[number]) => ({ filters: r.filters, kept: r.kept, finalValLoss: r.finalValLoss, seconds: r.seconds, curve: r.curve, samples: r.samples });
  print(json, { summary: true, preset, steps: settings.steps, seed: settings.seed, backend, raw: arm(raw), filtered: arm(filtered), gain, seconds },
    `validation loss on the held-out tales after ${settings.steps} steps: raw ${raw.finalValLoss.toFixed(4)}, filtered ${filtered.finalValLoss.toFixed(4)}; ` +
      `the filtered run is ${gain >= 0 ? 'lower' : 'higher'} by ${Math.abs(gain).toFixed(4)} nats a character; ${raw.seconds.toFixed(0)} s + ${filtered.seconds.toFixed(0)} s = ${seconds.toFixed(0)} s`);
}

export const curation: Command = {
  name: 'curation',
  about: `the data lesson's experiment: the same preset pretrains for the same steps on the raw crawl and on the crawl
through the filters, both validated on the clean held-out tales; prints both final validation losses (on
${CURATION_EXPERIMENT.finalEvalBatches} windows), the difference, samples from each and the seconds`,
  flags: [
    STEPS, SEED, text('preset', CURATION_EXPERIMENT.preset, Object.keys(PRESETS).join(', ')),
    text('filters', CURATION_EXPERIMENT.filters, `the filtered run's filters: default or a list of ${Object.keys(CURATION_STEPS).join(', ')} (near-dedup@T: Jaccard ≥ T)`),
    FLAGS.threads, FLAGS.backend, FLAGS.json,
  ],
  run,
};
