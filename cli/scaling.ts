/**
 * scaling: an IsoFLOP sweep on the stories (src/core/scaling/sweep.ts). Each point is an ordinary
 * pretraining run saved to its own checkpoint in --out, so running the command again skips the
 * points already there; --points fits a folder of point checkpoints (a class's) without training.
 * One line per point, then the summary: each budget's optimum, tokens per parameter, exponents.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { decodeCheckpoint } from '../src/core/io/checkpoint.ts';
import type { GPTConfig } from '../src/core/model/config.ts';
import { pointFromCheckpoint, summarizeSweep, type SweepResult, type SweepSummary } from '../src/core/scaling/points.ts';
import { planSweep, type PlannedPoint, pointFileName, pointSession, SWEEP_DEFAULTS, type SweepSettings, trainPoint } from '../src/core/scaling/sweep.ts';
import { parseBudgets } from '../src/core/scaling/sweep-defaults.ts';
import { type Command, flag, FLAGS, num, number, type Options, print, str, text, useBackend } from './args.ts';
import { loadCorpus } from './corpora.ts';
import { startHelpers } from './loop.ts';

const SIZES = number('sizes', SWEEP_DEFAULTS.sizes, { whole: true, min: 3 }, 'model sizes each budget trains (consecutive shapes of the family)');
const SEED = number('seed', 1, { whole: true, min: 0 }, 'the seed of every run of the sweep');


function budgetsFlag(written: string | undefined): number[] {
  try {
    return parseBudgets(written);
  } catch (e) {
    throw new Error(`--${e instanceof Error ? e.message : String(e)}`);
  }
}

const shapeOf = (m: GPTConfig): string => `${m.nLayer} layer${m.nLayer > 1 ? 's' : ''} × ${m.nEmbd}`;

function printPoint(json: boolean, r: SweepResult, model: GPTConfig, skipped: boolean): void {
  print(json, { budget: r.budget, params: r.params, nonEmbeddingParams: r.nonEmbeddingParams, tokens: r.tokens, steps: r.steps, valLoss: r.valLoss, seconds: r.seconds, ...(skipped ? { skipped: true } : {}) },
    `budget ${r.budget.toExponential(1)} | ${shapeOf(model).padEnd(13)} | ${r.params.toLocaleString().padStart(7)} params | ${r.steps.toLocaleString().padStart(6)} steps | ` +
      `${(r.tokens / 1e6).toFixed(2).padStart(6)} M tokens | val ${r.valLoss.toFixed(4)} | ${r.seconds.toFixed(0)} s${skipped ? ' (already in the folder)' : ''}`);
}

/** Trains the points not yet in `dir`, sizes sharing helper threads: all of one shape's budgets run back to back. */
async function sweep(plan: readonly PlannedPoint[], settings: SweepSettings, seed: number, dir: string, opts: Options): Promise<SweepResult[]> {
  const json = flag(opts, 'json');
  const backend = await useBackend(opts);
  const threads = num(opts, FLAGS.threads);
  const { corpus, tokenizer } = loadCorpus({ corpus: 'tales' });
  mkdirSync(dir, { recursive: true });
  const byShape = [...new Set(plan.map((p) => shapeOf(p.model)))].map((shape) => plan.filter((p) => shapeOf(p.model) === shape));
  const results: SweepResult[] = [];
  for (const points of byShape) {
    let stop: (() => Promise<void>) | undefined;
    let helpers: LabSessionHelpers = [];
    for (const point of points) {
      const file = join(dir, pointFileName(point, seed));
      if (existsSync(file)) {
        const found = pointFromCheckpoint(decodeCheckpoint(new Uint8Array(readFileSync(file))));
        if (typeof found === 'string') throw new Error(`${file} is in the way: ${found}; move it out of --out and run again`);
        results.push(found);
        printPoint(json, found, point.model, true);
        continue;
      }
      const session = pointSession(point, settings, seed, corpus, tokenizer);
      if (stop === undefined) {
        ({ stop } = await startHelpers(session, { threads, backend, json, indent: '  ' }));
        helpers = session.trainer.helpers;
      } else {
        session.trainer.helpers = helpers; // the same shape: the threads hold a model of the same config
      }
      const result = await trainPoint(session, point);
      writeFileSync(file, await session.toCheckpointBytes({ includeOptimizer: false }));
      session.dispose();
      results.push(result);
      printPoint(json, result, point.model, false);
    }
    await stop?.();
  }
  return results;
}

type LabSessionHelpers = ReturnType<typeof pointSession>['trainer']['helpers'];

/** The points in a folder of checkpoints; a file that is not one is reported and left out. */
function pointsIn(dir: string, json: boolean): SweepResult[] {
  if (!existsSync(dir)) throw new Error(`--points: no such folder: ${dir}`);
  const files = readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort();
  if (files.length === 0) throw new Error(`--points: ${dir} holds no .safetensors files`);
  return files.flatMap((f) => {
    let found: SweepResult | string;
    try {
      found = pointFromCheckpoint(decodeCheckpoint(new Uint8Array(readFileSync(join(dir, f)))));
    } catch (e) {
      found = e instanceof Error ? e.message : String(e);
    }
    if (typeof found === 'string') {
      print(json, { event: 'refused', file: basename(f), reason: found }, `  left out ${f}: ${found}`);
      return [];
    }
    return [found];
  });
}

function printSummary(json: boolean, withEmbeddings: SweepSummary, without: SweepSummary, extra: Record<string, unknown>): void {
  const view = (s: SweepSummary) => ({
    fits: s.fits.map((f) => ({ budget: f.budget, optimalParams: Math.round(f.optimalParams), optimalTokens: Math.round(f.optimalTokens), interiorMinimum: f.interiorMinimum, convex: f.convex })),
    tokensPerParam: s.tokensPerParam.map((r) => +r.toFixed(2)),
    exponents: s.exponents && { params: +s.exponents.params.toFixed(3), tokens: +s.exponents.tokens.toFixed(3) },
  });
  if (json) return print(true, { summary: true, ...view(withEmbeddings), nonEmbedding: view(without), ...extra }, '');
  for (const [name, s] of [['with embedding parameters (Chinchilla)', withEmbeddings], ['without embedding parameters (Kaplan)', without]] as const) {
    console.log(`fit ${name}:`);
    for (const [i, f] of s.fits.entries()) {
      console.log(`  budget ${f.budget.toExponential(1)}: optimum ${Math.round(f.optimalParams).toLocaleString()} params, ${(f.optimalTokens / 1e6).toFixed(2)} M tokens, ` +
        `${s.tokensPerParam[i].toFixed(1)} tokens/param${f.interiorMinimum ? '' : ' — the lowest loss is at an end of the sizes: the optimum is outside them'}${f.convex ? '' : ' — no minimum (the parabola opens downwards)'}`);
    }
    console.log(s.exponents ? `  N_opt ∝ C^${s.exponents.params.toFixed(2)}, D_opt ∝ C^${s.exponents.tokens.toFixed(2)} (Chinchilla: about 0.5 and 0.5, 20 tokens per parameter)` : '  exponents need two budgets with a minimum');
  }
  if (extra.seconds !== undefined) console.log(`${Number(extra.seconds).toFixed(0)} s in all`);
}

async function run(opts: Options): Promise<void> {
  const json = flag(opts, 'json');
  const started = Date.now();
  const pointsDir = str(opts, 'points');
  let results: SweepResult[];
  let extra: Record<string, unknown> = {};
  if (pointsDir !== undefined) {
    results = pointsIn(pointsDir, json);
  } else {
    const dir = str(opts, 'out');
    if (!dir) throw new Error('--out DIR is required: the folder that keeps each point\'s checkpoint (running again resumes), or --points DIR to fit saved points');
    const seed = num(opts, SEED);
    const settings: SweepSettings = { ...SWEEP_DEFAULTS, budgets: budgetsFlag(str(opts, 'budgets')), sizes: num(opts, SIZES) };
    const plan = planSweep(settings, loadCorpus({ corpus: 'tales' }).tokenizer.vocabSize);
    print(json, { event: 'start', seed, budgets: settings.budgets, sizes: settings.sizes, batchSize: settings.batchSize, learningRate: settings.learningRate, points: plan.length },
      `IsoFLOP sweep: ${plan.length} runs (${settings.budgets.length} budgets × ${settings.sizes} sizes), seed ${seed}, batch ${settings.batchSize}×64, learning rate ${settings.learningRate} at every size`);
    results = await sweep(plan, settings, seed, dir, opts);
    extra = { seconds: Math.round((Date.now() - started) / 1000), seed, out: dir };
  }
  printSummary(json, summarizeSweep(results, { embeddings: true }), summarizeSweep(results, { embeddings: false }), extra);
}

export const scaling: Command = {
  name: 'scaling',
  about: `an IsoFLOP sweep (Chinchilla's approach 2) on the stories: each budget trains a window of model sizes for
the tokens it buys (C ≈ 6·N·D), one checkpoint per run in --out (running again skips the runs already there); then
each budget's parabola in log N, its optimum, tokens per parameter and the exponents, with and without embedding
parameters. --points DIR fits a folder of such checkpoints instead (a sweep a class split)`,
  flags: [
    text('budgets', SWEEP_DEFAULTS.budgets.map((b) => b.toExponential(0).replace('+', '')).join(','), 'one to three compute budgets in FLOPs'),
    SIZES, SEED, FLAGS.threads, text('out', 'DIR', 'the folder of the sweep\'s checkpoints'), text('points', 'DIR', 'fit the point checkpoints in DIR instead of training'),
    FLAGS.backend, FLAGS.json,
  ],
  run,
};
