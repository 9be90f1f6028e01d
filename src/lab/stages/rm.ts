/**
 * The reward model in the lab: a run from the loaded SFT model on the preference pairs, a stored
 * one resumed, and the list of stored reward models that RL chooses from. The list is read from
 * storage when it can have changed (at start-up and when a reward model is saved), never per step.
 */
import { inspectCheckpoint } from '../../core/io/checkpoint.ts';
import * as recipes from '../../core/lesson/recipes.ts';
import { RewardModelStage } from '../../core/rl/rewardmodel.ts';
import * as store from '../../storage/index.ts';
import type { WithOwnData } from '../chat-data.ts';
import type { RewardModelInfo } from '../types.ts';
import { described, type StageEntry, stageRecord, stageRunName, storedStage } from './stage.ts';

export type RmSettings = WithOwnData<recipes.RmSettings>;

export const rm: StageEntry<RmSettings> = {
  ...described('rm', recipes.rmRecipe),

  async start(parent, settings, { corpus, chat }) {
    const data = await chat.dpo(settings.ownData);
    const stage = await RewardModelStage.start(parent.bytes, data, corpus, recipes.rmRecipe(settings));
    return { stage, name: stageRunName('RM', parent), stored: stageRecord('rm', parent, settings), skipped: data.errors };
  },

  async resume(run, bytes, { corpus, chat }) {
    return RewardModelStage.resume(bytes, await chat.dpo(storedStage<RmSettings>(run)?.settings.ownData), corpus);
  },

  catalog: async (db) => ({ rewardModels: await rewardModelList(db) }),
};

/** The stored reward-model runs, newest first, each at its latest checkpoint (no bytes read). */
async function newestFirst(db: store.LabDB): Promise<{ run: store.RunRecord; meta: store.CheckpointMeta }[]> {
  const runs = (await store.listRuns(db)).filter((r) => r.stage === 'rm').sort((a, b) => b.updatedAt - a.updatedAt);
  const out: { run: store.RunRecord; meta: store.CheckpointMeta }[] = [];
  for (const run of runs) {
    const meta = await store.latestCheckpoint(db, run.id);
    if (meta) out.push({ run, meta });
  }
  return out;
}

/** Stored reward models, newest first, with the held-out accuracy each last logged. */
export async function rewardModelList(db: store.LabDB): Promise<RewardModelInfo[]> {
  const out: RewardModelInfo[] = [];
  for (const { run, meta } of await newestFirst(db)) {
    const bytes = await store.loadCheckpointBytes(db, meta.id);
    const last = bytes ? [...inspectCheckpoint(bytes).metrics].reverse().find((m) => m['eval/accuracy'] !== undefined) : undefined;
    out.push({ checkpointId: meta.id, runId: run.id, name: run.name, step: meta.step, heldOutAccuracy: last?.['eval/accuracy'] });
  }
  return out;
}

/** The checkpoint of the newest stored reward model, if any. */
export async function newestRewardModel(db: store.LabDB): Promise<string | undefined> {
  return (await newestFirst(db))[0]?.meta.id;
}
