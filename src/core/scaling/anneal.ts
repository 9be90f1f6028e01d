/**
 * What annealing buys, as one experiment of three runs at the same model and peak rate:
 *
 *   cosine     nanoGPT's schedule over `steps` steps (warm-up, then a cosine down to the floor)
 *   wsd        warmup–stable–decay (MiniCPM; Hägele et al. 2024): the rate held at its peak, then a
 *              straight line down to the same floor over the last `decaySteps` — the same tokens
 *              as cosine; the validation loss drops during the decay
 *   wsd-early  a decay branched off the same stable run earlier, at `earlyBranch`: a second
 *              finished model for the price of `decaySteps` more steps, where cosine would need a
 *              whole new run (its length is fixed when it starts)
 *
 * Each arm's final loss, and each decay's loss before and after, use more validation windows than
 * training's evaluations (the drops compared are small).
 */
import type { MetricRow } from '../io/checkpoint.ts';
import type { PresetName, TrainConfig } from '../model/config.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import type { Corpus } from '../train/data.ts';
import { LabSession } from '../train/session.ts';
import { evalIntervalFor, floorRate } from '../train/schedule.ts';
import { ANNEAL_DEFAULTS, type AnnealArm, type AnnealPlan, type AnnealResult } from './anneal-defaults.ts';

export { ANNEAL_DEFAULTS, type AnnealArm, type AnnealPlan, type AnnealResult } from './anneal-defaults.ts';


export interface AnnealSettings {
  steps: number;
  learningRate: number;
  decayFraction: number;
  earlyShare: number;
  seed: number;
  /** The model (tests use `micro`). */
  preset?: PresetName;
}


/** Where the decays start; throws a message for settings that leave no stable stretch before them. */
export function planAnneal(s: Pick<AnnealSettings, 'steps' | 'decayFraction' | 'earlyShare'>): AnnealPlan {
  if (!Number.isInteger(s.steps) || s.steps < 20) throw new Error(`the anneal experiment needs at least 20 steps, got ${s.steps}`);
  if (!(s.decayFraction > 0 && s.decayFraction < 0.5)) throw new Error(`the decay's share of the steps must be above 0 and below 0.5, got ${s.decayFraction}`);
  const decaySteps = Math.round(s.decayFraction * s.steps);
  const earlyBranch = Math.round(s.earlyShare * s.steps) - decaySteps;
  const lateBranch = s.steps - decaySteps;
  const warmup = warmupOf(s.steps);
  if (!(earlyBranch > warmup && earlyBranch < lateBranch)) throw new Error(`the early branch must end after the warm-up plus one decay and before the end: choose an early share between ${((warmup + decaySteps + 1) / s.steps).toFixed(2)} and ${(1 - 1 / s.steps).toFixed(2)}`);
  return { steps: s.steps, decaySteps, earlyBranch, lateBranch };
}

/** The warm-up of every arm: the same for all, so only what follows differs. */
const warmupOf = (steps: number): number => Math.min(100, Math.max(1, Math.floor(steps / 10)));

/** The training settings of the cosine run and of the stable run (whose own decay ends it at `steps`). */
export function armConfig(kind: 'cosine' | 'wsd', plan: AnnealPlan, s: AnnealSettings): Partial<TrainConfig> {
  return {
    steps: plan.steps, schedule: kind, decayFraction: plan.decaySteps / plan.steps, learningRate: s.learningRate, minLearningRate: floorRate(s.learningRate),
    warmupSteps: warmupOf(plan.steps), evalInterval: evalIntervalFor(plan.steps, 30), seed: s.seed,
  };
}

/** The early branch: the stable run's settings, ending `decaySteps` after `earlyBranch`, all of them decaying. */
export function earlyBranchConfig(plan: AnnealPlan): Partial<TrainConfig> {
  const steps = plan.earlyBranch + plan.decaySteps;
  return { steps, decayFraction: plan.decaySteps / steps };
}

export interface AnnealHooks {
  /** Called on each new session before it steps (the command line adds helper threads here). */
  attach?: (session: LabSession) => Promise<void>;
  /** Called after every step of every arm (the command line prints evaluations, the page moves a progress bar). */
  onStep?: (arm: AnnealArm['name'], session: LabSession) => void;
  finalEvalBatches?: number;
}

const curveOf = (rows: readonly MetricRow[], from = 0) => rows.filter((r) => r.step >= from && r.valLoss !== undefined).map((r) => ({ step: r.step, valLoss: r.valLoss, lr: r.lr }));

/** Runs the three arms on the stories: cosine, then the stable run with its early branch and its own decay. */
export async function runAnneal(s: AnnealSettings, corpus: Corpus, tokenizer: TextTokenizer, hooks: AnnealHooks = {}): Promise<AnnealResult> {
  const plan = planAnneal(s);
  const batches = hooks.finalEvalBatches ?? ANNEAL_DEFAULTS.finalEvalBatches;
  const until = async (session: LabSession, name: AnnealArm['name'], step: number) => {
    while (session.stepsTaken < step) {
      await session.step();
      hooks.onStep?.(name, session);
    }
  };
  const start = async (session: LabSession) => {
    await hooks.attach?.(session);
    return session;
  };

  const cosine = await start(LabSession.create({ preset: s.preset ?? ANNEAL_DEFAULTS.preset, corpus, tokenizer, train: armConfig('cosine', plan, s) }));
  const tokensPerStep = cosine.trainer.tokensPerBatch;
  await until(cosine, 'cosine', plan.steps);
  const cosineArm: AnnealArm = { name: 'cosine', tokens: plan.steps * tokensPerStep, extraSteps: plan.steps, finalValLoss: await cosine.trainer.evaluate(batches), curve: curveOf(cosine.metrics) };
  cosine.dispose();

  const stable = await start(LabSession.create({ preset: s.preset ?? ANNEAL_DEFAULTS.preset, corpus, tokenizer, train: armConfig('wsd', plan, s) }));
  await until(stable, 'wsd', plan.earlyBranch);
  const beforeEarly = await stable.trainer.evaluate(batches);
  const early = await start(LabSession.fromCheckpoint(await stable.toCheckpoint(), corpus, earlyBranchConfig(plan)));
  await until(early, 'wsd-early', plan.earlyBranch + plan.decaySteps);
  const afterEarly = await early.trainer.evaluate(batches);
  const earlyArm: AnnealArm = {
    name: 'wsd-early', tokens: (plan.earlyBranch + plan.decaySteps) * tokensPerStep, extraSteps: plan.decaySteps, finalValLoss: afterEarly,
    decay: { from: plan.earlyBranch, before: beforeEarly, after: afterEarly, drop: beforeEarly - afterEarly }, curve: curveOf(early.metrics, plan.earlyBranch),
  };
  early.dispose();

  await until(stable, 'wsd', plan.lateBranch);
  const beforeLate = await stable.trainer.evaluate(batches);
  await until(stable, 'wsd', plan.steps);
  const afterLate = await stable.trainer.evaluate(batches);
  const wsdArm: AnnealArm = {
    name: 'wsd', tokens: plan.steps * tokensPerStep, extraSteps: plan.steps, finalValLoss: afterLate,
    decay: { from: plan.lateBranch, before: beforeLate, after: afterLate, drop: beforeLate - afterLate }, curve: curveOf(stable.metrics),
  };
  stable.dispose();
  return { plan, arms: [cosineArm, wsdArm, earlyArm], wsdMinusCosine: afterLate - cosineArm.finalValLoss };
}
