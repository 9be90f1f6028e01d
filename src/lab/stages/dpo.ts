/**
 * DPO in the lab: a run from the loaded SFT model on the bundled preference pairs or the student's
 * own (the length-bias what-if keeps only the pairs whose chosen reply is the shorter), and a
 * stored DPO run resumed with the reference log-probs it computed before its first step.
 */
import * as recipes from '../../core/lesson/recipes.ts';
import { DpoStage, lengthBiased } from '../../core/post/dpo.ts';
import type { WithOwnData } from '../chat-data.ts';
import { described, type StageEntry, stageRecord, stageRunName, storedStage } from './stage.ts';

export type DpoSettings = WithOwnData<recipes.DpoSettings>;

export const dpo: StageEntry<DpoSettings> = {
  ...described('dpo', recipes.dpoRecipe),

  async start(parent, settings, { corpus, chat }) {
    const recipe = recipes.dpoRecipe(settings);
    const data = await chat.dpo(settings.ownData);
    const pairs = recipe.lengthBiasedPairs ? { ...data, train: lengthBiased(data.train) } : data;
    const stage = await DpoStage.start(parent.bytes, pairs, corpus, recipe);
    const name = stageRunName(`DPO β ${recipe.beta}${recipe.lengthBiasedPairs ? ', length-biased pairs' : ''}`, parent, settings.ownData);
    return { stage, name, stored: stageRecord('dpo', parent, settings), skipped: data.errors };
  },

  async resume(run, bytes, { corpus, chat }) {
    return DpoStage.resume(bytes, await chat.dpo(storedStage<DpoSettings>(run)?.settings.ownData), corpus);
  },
};
