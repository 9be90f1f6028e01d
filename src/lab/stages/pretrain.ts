/**
 * Pretraining in the lab: a new run from the form's settings (the bundled tales or the student's
 * own text, pretrainRecipe's configuration), and every pretraining session stepped through its
 * spike lab, whose rollback returns to the run's own checkpoints in IndexedDB.
 */
import { checkVocabForPreset } from '../../core/data/tokenizers.ts';
import { pretrainRecipe } from '../../core/lesson/recipes.ts';
import type { CheckpointState } from '../../core/io/checkpoint.ts';
import { LabSession } from '../../core/train/session.ts';
import * as store from '../../storage/index.ts';
import { type Corpora, requireText, type StoredSettings, storedSettings } from '../runs.ts';
import { type SpikeLabStage, spikeLabStage, StoredSnapshots } from '../spikes.ts';
import type { OwnText, RunSettings } from '../types.ts';

/** A new pretraining run: its record in storage and its session, not yet trained. */
export async function newPretrainRun(db: store.LabDB, corpora: Corpora, settings: RunSettings, ownText?: OwnText): Promise<{ run: store.RunRecord; session: LabSession }> {
  const stored: StoredSettings = { ...settings, ...(settings.corpus === 'own' ? { ownText: requireText(ownText) } : {}) };
  const { corpus, tokenizer } = await corpora.of(stored);
  const { preset, train, model } = pretrainRecipe(settings);
  if (settings.tokenizer) checkVocabForPreset(tokenizer, preset, model);
  const session = LabSession.create({ preset, corpus, tokenizer, train, model });
  const run = await store.createRun(db, {
    name: `${corpus.name} · ${settings.preset} · seed ${settings.seed}`,
    stage: 'pretrain',
    preset: settings.preset,
    settings: stored as unknown as Record<string, unknown>,
  });
  return { run, session };
}

/** A pretraining session as the loop steps it: through its spike lab; `save` writes the snapshots rollback asks for. */
export function pretrainingStage(db: store.LabDB, session: LabSession, run: store.RunRecord, save: (state: CheckpointState, bytes: Uint8Array) => Promise<void>): SpikeLabStage {
  return spikeLabStage(session, storedSettings(run), new StoredSnapshots(db, run.id, save));
}
