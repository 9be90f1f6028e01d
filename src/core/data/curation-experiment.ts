/**
 * The curation experiment: same compute, cleaner data, better model. Two pretraining runs of the
 * same preset, steps, learning rate and seed — one on the raw crawl, one on the crawl through the
 * filters — both validated on the same clean held-out tales. Whatever the filtered run gains it
 * gains from its data alone: each run sees the same number of tokens, but the raw run spends some
 * of its steps (and its small model's capacity) on menus, spam, tables and gibberish that the
 * tales never contain.
 *
 * The command line (`lab curation`) and the Data view (the worker's CurationExperiment) both build
 * their two runs here, step them their own way (helper threads, progress, Stop), and finish each
 * arm here: the final loss on more validation windows than a curve point uses, and a few samples.
 */
import type { PresetName } from '../model/config.ts';
import { type Arm, ARMS, CURATION_EXPERIMENT } from './curation-plan.ts';
import type { CharTokenizer } from '../model/tokenizer.ts';
import { pretrainRecipe } from '../lesson/recipes.ts';
import { LabSession } from '../train/session.ts';
import { crawlCorpusName, crawlSteps, curatedText } from './crawl-corpus.ts';
import type { Doc } from './curate.ts';
import { armFigures } from './arm-figures.ts';

export { type Arm, ARMS, CURATION_EXPERIMENT };

export interface CurationExperimentSettings {
  preset?: PresetName;
  steps?: number;
  seed?: number;
  /** The filtered run's filters: "default" or a list of curation steps (the raw run has none). */
  filters?: string;
  /** Characters each sample runs to (CURATION_EXPERIMENT.sampleTokens when absent). */
  sampleTokens?: number;
}

export interface ArmPlan {
  arm: Arm;
  /** "none" for the raw run. */
  filters: string;
  /** The training text: the crawl's documents (kept of them), a blank line apart. */
  text: string;
  kept: number;
  total: number;
}

/** The two runs' training texts; throws (with which filter removed what) when the filters keep nothing. */
export function experimentArms(docs: readonly Doc[], filters: string = CURATION_EXPERIMENT.filters): ArmPlan[] {
  return ARMS.map((arm) => {
    const spec = arm === 'raw' ? 'none' : filters;
    return { arm, filters: spec, ...curatedText(docs, crawlSteps(spec)) };
  });
}

/** One arm's pretraining session: the same recipe for both, on its own text, validated on `valText` (the tales). */
export function armSession(plan: ArmPlan, valText: string, tokenizer: CharTokenizer, settings: CurationExperimentSettings = {}): LabSession {
  const steps = settings.steps ?? CURATION_EXPERIMENT.steps;
  const { preset, train, model } = pretrainRecipe({
    preset: settings.preset ?? CURATION_EXPERIMENT.preset,
    steps,
    seed: settings.seed ?? 1,
    evalInterval: Math.max(1, Math.ceil(steps / CURATION_EXPERIMENT.evaluations)),
  });
  const corpus = { name: crawlCorpusName(plan.filters), train: tokenizer.encode(plan.text), val: tokenizer.encode(valText) };
  const session = LabSession.create({ preset, corpus, tokenizer, train, model });
  session.extra = { data: { corpus: 'crawl', filters: plan.filters, kept: plan.kept, documents: plan.total, validation: 'tales' } };
  return session;
}

export interface ArmResult {
  arm: Arm;
  filters: string;
  kept: number;
  total: number;
  steps: number;
  /** On CURATION_EXPERIMENT.finalEvalBatches windows of the held-out tales, in nats per character. */
  finalValLoss: number;
  /** The validation curve the run logged: [step, loss]. */
  curve: [number, number][];
  samples: string[];
}

/** The validation points a session logged so far, as [step, loss] (the step counted from 1). */
export function valCurve(session: LabSession): [number, number][] {
  return session.metrics.filter((r) => r.valLoss !== undefined).map((r) => [r.step + 1, r.valLoss]);
}

/** An arm's result once its session has taken its steps: the final loss and the samples. */
export async function finishArm(plan: ArmPlan, session: LabSession, sampleTokens: number = CURATION_EXPERIMENT.sampleTokens): Promise<ArmResult> {
  const { finalEvalBatches: evalBatches, samples: count, temperature } = CURATION_EXPERIMENT;
  const { finalValLoss, samples } = await armFigures(session, { evalBatches, samples: count, maxTokens: sampleTokens, temperature });
  return { arm: plan.arm, filters: plan.filters, kept: plan.kept, total: plan.total, steps: session.stepsTaken, finalValLoss, curve: valCurve(session), samples };
}

/** How much lower the filtered run's loss is than the raw run's (positive: cleaner data helped). */
export function lossGain(raw: Pick<ArmResult, 'finalValLoss'>, filtered: Pick<ArmResult, 'finalValLoss'>): number {
  return raw.finalValLoss - filtered.finalValLoss;
}
