/**
 * Which stage may start from which, and what to tell someone who tries otherwise: one table that the
 * core enforces when a stage starts from its parent (LabSession.fromParent), and that the worker,
 * the page and the command line read to explain themselves.
 *
 *   pretrain  from nothing (a new model)
 *   sft       from a base model: SFT teaches the chat format to what pretraining taught
 *   dpo       from an SFT model: preferences between two replies need a model that replies
 *   rm        from an SFT or DPO model: its trunk must read conversations; the head scores them
 *   rl        from an SFT or DPO model: the policy must sometimes answer right for RL to sharpen it,
 *             and that model is its KL reference
 */
import type { Stage } from '../io/checkpoint.ts';

/** The model a stage makes, as a student calls it ("the base model", "the SFT model"; run names). */
export const STAGE_TITLES: Readonly<Record<Stage, string>> = Object.freeze({ pretrain: 'base', sft: 'SFT', dpo: 'DPO', rm: 'reward model', rl: 'RL' });
/** The stage as something done ("pretraining", "SFT"): chart legends and captions. */
export const STAGE_NAMES: Readonly<Record<Stage, string>> = Object.freeze({ ...STAGE_TITLES, pretrain: 'pretraining' });

interface ParentRule {
  parents: readonly Stage[];
  /** What the stage needs, said to a student: "DPO starts from an SFT model". */
  needs: string;
  /** What to do about it. */
  fix: string;
  /** A better word than `fix` for one kind of wrong parent. */
  instead?: Partial<Record<Stage, string>>;
}

export const STAGE_PARENTS: Readonly<Record<Stage, ParentRule>> = Object.freeze({
  pretrain: { parents: [], needs: 'Pretraining starts a new model', fix: 'start a new run instead' },
  sft: { parents: ['pretrain'], needs: 'SFT starts from a pretrained (base) model', fix: 'pretrain one first, or load a base checkpoint' },
  dpo: { parents: ['sft'], needs: 'DPO starts from an SFT model', fix: 'run SFT first' },
  rm: { parents: ['sft', 'dpo'], needs: 'A reward model starts from an SFT model', fix: 'run SFT first' },
  rl: { parents: ['sft', 'dpo'], needs: 'RL starts from an SFT model', fix: 'run SFT first', instead: { rm: "a reward model scores RL's replies: start from the SFT model it was trained from" } },
});

/** "a base model", "an SFT model", "a reward model". */
export function modelKind(stage: Stage): string {
  const article = stage === 'sft' || stage === 'rl' ? 'an' : 'a'; // as said aloud: "an ess-eff-tee"
  const title = STAGE_TITLES[stage];
  return `${article} ${title}${title.endsWith('model') ? '' : ' model'}`;
}

/** Why `stage` cannot start from a `parent` checkpoint, or null when it can. */
export function parentProblem(stage: Stage, parent: Stage): string | null {
  const rule = STAGE_PARENTS[stage];
  if (rule.parents.includes(parent)) return null;
  return `${rule.needs}, and this one is ${modelKind(parent)}: ${rule.instead?.[parent] ?? rule.fix}.`;
}

/** Throws parentProblem's message. */
export function checkParent(stage: Stage, parent: Stage): void {
  const problem = parentProblem(stage, parent);
  if (problem) throw new Error(problem);
}
