/**
 * SFT in the lab: a run from the loaded base model on the bundled conversations or the student's
 * own, and a stored SFT run resumed on the same data (an imported SFT file, which stores no stage
 * settings, continues on the bundled conversations).
 */
import * as recipes from '../../core/lesson/recipes.ts';
import { SftStage } from '../../core/post/sft.ts';
import type { WithOwnData } from '../chat-data.ts';
import { described, type StageEntry, stageRecord, stageRunName, storedStage } from './stage.ts';

export type SftSettings = WithOwnData<recipes.SftSettings>;

export const sft: StageEntry<SftSettings> = {
  ...described('sft', recipes.sftRecipe),

  async start(parent, settings, { corpus, chat }) {
    const { train, pretrainShare, whatIf } = recipes.sftRecipe(settings); // a bad setting stops before the data is read
    const data = await chat.sft(settings.ownData);
    const stage = await SftStage.start(parent.bytes, data, corpus, train, { pretrainShare });
    const name = stageRunName(whatIf ? 'SFT, no story text' : 'SFT', parent, settings.ownData);
    return { stage, name, stored: stageRecord('sft', parent, settings), skipped: data.errors };
  },

  async resume(run, bytes, { corpus, chat }) {
    return SftStage.resume(bytes, await chat.sft(storedStage<SftSettings>(run)?.settings.ownData), corpus);
  },
};
