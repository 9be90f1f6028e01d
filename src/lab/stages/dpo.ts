/**
 * DPO in the lab: a run from the loaded SFT model on the bundled preference pairs or the student's
 * own (the length-bias what-if keeps only the pairs whose chosen reply is the shorter), and a
 * stored DPO run resumed with the reference log-probs it computed before its first step.
 */
import * as recipes from '../../core/lesson/recipes.ts';
import type { DpoExample } from '../../core/post/chatdata.ts';
import { DpoStage, lengthBiased } from '../../core/post/dpo.ts';
import type { ChatSplits } from '../../core/post/sft.ts';
import type { WithOwnData } from '../chat-data.ts';
import { described, type StageEntry, stageRecord, stageRunName, storedStage } from './stage.ts';

export type DpoSettings = WithOwnData<recipes.DpoSettings>;

export const dpo: StageEntry<DpoSettings> = {
  ...described('dpo', recipes.dpoRecipe),

  async start(parent, settings, { corpus, chat }) {
    const recipe = recipes.dpoRecipe(settings);
    const data = await chat.dpo(settings.ownData);
    const stage = await DpoStage.start(parent.bytes, trainedPairs(data, settings), corpus, recipe);
    const name = stageRunName(`DPO β ${recipe.beta}${recipe.lengthBiasedPairs ? ', length-biased pairs' : ''}`, parent, settings.ownData);
    return { stage, name, stored: stageRecord('dpo', parent, settings), skipped: data.errors };
  },

  async resume(run, bytes, { corpus, chat }) {
    const settings = storedStage<DpoSettings>(run)?.settings;
    return DpoStage.resume(bytes, trainedPairs(await chat.dpo(settings?.ownData), settings), corpus);
  },
};

/** The pairs a run trains on: all of them, or under the length-bias what-if those whose chosen reply is the shorter (on resume too, or its reference log-probs would not match). */
function trainedPairs<T extends ChatSplits<DpoExample>>(data: T, settings: DpoSettings | undefined): T {
  return settings && recipes.dpoRecipe(settings).lengthBiasedPairs ? { ...data, train: lengthBiased(data.train) } : data;
}
