/**
 * The anneal experiment's clean-data arm: "change the mixture to higher-quality sources" at the end
 * of pretraining. One WSD stable run trains on the mixture (the raw crawl) at the peak rate; at the
 * step where WSD's decay starts it is checkpointed, and two decays of the same length leave from
 * that checkpoint: one keeps the mixture, the other trains on the cleanest data only (the filtered
 * crawl). Both are validated on the same clean text (the held-out tales), so the difference between
 * their final losses is what the data of the decay alone bought.
 */
import type { MetricRow } from '../io/checkpoint.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import type { Corpus } from '../train/data.ts';
import { LabSession } from '../train/session.ts';
import { type AnnealSettings, armConfig, planAnneal } from './anneal.ts';
import { ANNEAL_DEFAULTS, type CleanDecayResult } from './anneal-defaults.ts';

/** The three stretches of the clean-data arm, in the order they train. */
export type CleanArmPart = 'mixture-stable' | 'clean-decay' | 'mixture-decay';

export interface CleanArmHooks {
  /** Called on each new session before it steps. */
  attach?: (session: LabSession) => Promise<void>;
  /** Called after every step of every part. */
  onStep?: (part: CleanArmPart, session: LabSession) => void;
  finalEvalBatches?: number;
}

/** Steps the clean-data arm trains in all: the stable run with its mixture decay, and the clean decay. */
export const cleanArmSteps = (s: Pick<AnnealSettings, 'steps' | 'decayFraction' | 'earlyShare'>): number => {
  const plan = planAnneal(s);
  return plan.steps + plan.decaySteps;
};

const sameTokens = (a: Int32Array, b: Int32Array): boolean => a.length === b.length && a.every((t, i) => t === b[i]);

const curveOf = (rows: readonly MetricRow[], from: number, to = Infinity) =>
  rows.filter((r) => r.step >= from && r.step < to && r.valLoss !== undefined).map((r) => ({ step: r.step, valLoss: r.valLoss, lr: r.lr }));

/**
 * Runs the clean-data arm. `mixture` and `clean` must hold the same validation tokens (the clean
 * tales): the decays are compared on one yardstick, whatever they trained on.
 */
export async function runCleanDecays(s: AnnealSettings, data: { mixture: Corpus; clean: Corpus }, tokenizer: TextTokenizer, hooks: CleanArmHooks = {}): Promise<CleanDecayResult> {
  if (!sameTokens(data.mixture.val, data.clean.val)) throw new Error(`the mixture ("${data.mixture.name}") and the clean data ("${data.clean.name}") must be validated on the same text`);
  const plan = planAnneal(s);
  const batches = hooks.finalEvalBatches ?? ANNEAL_DEFAULTS.finalEvalBatches;
  const until = async (session: LabSession, part: CleanArmPart, step: number) => {
    while (session.stepsTaken < step) {
      await session.step();
      hooks.onStep?.(part, session);
    }
  };

  const stable = LabSession.create({ preset: s.preset ?? ANNEAL_DEFAULTS.preset, corpus: data.mixture, tokenizer, train: armConfig('wsd', plan, s) });
  await hooks.attach?.(stable);
  await until(stable, 'mixture-stable', plan.lateBranch);
  const before = await stable.trainer.evaluate(batches);
  const stableCurve = curveOf(stable.metrics, 0, plan.lateBranch);

  // The clean decay resumes the checkpoint exactly (weights, optimizer moments, step, schedule):
  // only the text it samples from changes.
  const clean = LabSession.fromCheckpoint(await stable.toCheckpoint(), data.clean);
  await hooks.attach?.(clean);
  await until(clean, 'clean-decay', plan.steps);
  const cleanAfter = await clean.trainer.evaluate(batches);
  const cleanCurve = curveOf(clean.metrics, plan.lateBranch);
  clean.dispose();

  await until(stable, 'mixture-decay', plan.steps);
  const mixtureAfter = await stable.trainer.evaluate(batches);
  const mixtureCurve = curveOf(stable.metrics, plan.lateBranch);
  const tokens = plan.steps * stable.trainer.tokensPerBatch;
  stable.dispose();
  return {
    plan, tokens, stable: stableCurve,
    mixture: { corpus: data.mixture.name, before, after: mixtureAfter, drop: before - mixtureAfter, curve: mixtureCurve },
    clean: { corpus: data.clean.name, before, after: cleanAfter, drop: before - cleanAfter, curve: cleanCurve },
    cleanMinusMixture: cleanAfter - mixtureAfter,
  };
}
