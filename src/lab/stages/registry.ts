/**
 * Every later stage by name: the runner starts, resumes and reports on a stage only through this
 * table, so a new stage is its core folder, one entry here and its view folder.
 *
 * The registry lives in the lab, not the core: an entry resumes runs from IndexedDB (RL finds its
 * KL reference and reward model there) and loads the chat data through the worker's surroundings,
 * which the core knows nothing of. What is pure about a stage (its recipe, its parents, its title)
 * stays in src/core/lesson and is what an entry points at.
 */
import type { Stage } from '../../core/io/checkpoint.ts';
import type { LabDB } from '../../storage/index.ts';
import type { LabUpdate } from '../types.ts';
import { dpo } from './dpo.ts';
import { rl } from './rl.ts';
import { rm } from './rm.ts';
import { sft } from './sft.ts';
import type { LaterStage, StageEntry } from './stage.ts';

export const STAGES = { sft, dpo, rm, rl } as const satisfies { [K in LaterStage]: StageEntry<never> };

/** The settings each stage's start takes. */
export type StageSettings = { [K in LaterStage]: (typeof STAGES)[K] extends StageEntry<infer S> ? S : never };

/** The entry of `stage`; undefined for pretraining, which the runner and the spike lab drive themselves. */
export function stageEntry(stage: Stage): StageEntry<never> | undefined {
  return stage === 'pretrain' ? undefined : (STAGES[stage] as StageEntry<never>);
}

/** What `stage`'s entry lists of its stored runs for every view (the reward models), if anything. */
export async function catalogOf(stage: Stage, db: LabDB): Promise<LabUpdate | undefined> {
  return stageEntry(stage)?.catalog?.(db);
}
