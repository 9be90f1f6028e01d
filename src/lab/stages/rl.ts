/**
 * RL in the lab: a run from the loaded SFT model against verifiers or a reward model, a stored run
 * resumed with its KL reference and reward model from storage, and what the RL view asks (the
 * latest sampled completions, the held-out verifiable card, the β comparison).
 *
 * A stored RL run names its parent SFT checkpoint (its KL reference, pinned) and, with a reward
 * model, that model's checkpoint (pinned too), so a reload rebuilds the run exactly. An RL file
 * dropped into the tab names them only by SHA-256: they are looked for among the tab's checkpoints,
 * and until they are there the run loads frozen (it samples, scores and exports, but does not train);
 * when a file that it lacked is dropped in, it stays loaded and trains on.
 */
import { decodeCheckpoint, inspectCheckpoint, type MetricRow } from '../../core/io/checkpoint.ts';
import * as recipes from '../../core/lesson/recipes.ts';
import type { SftExample } from '../../core/post/chatdata.ts';
import { isRecorded, type RewardSource, type RlExtra, RlStage } from '../../core/rl/policy.ts';
import { type VerifiableCard, verifiableCard } from '../../core/rl/evaluate.ts';
import { LabSession } from '../../core/train/session.ts';
import type { TrainingStage } from '../../core/train/stage.ts';
import * as store from '../../storage/index.ts';
import type { OwnChatData } from '../chat-data.ts';
import type { RewardModelInfo, SampleRow } from '../types.ts';
import { newestRewardModel, rewardModelList } from './rm.ts';
import { described, type Inspector, type StageEntry, stageRecord, stageRunName, type StoredStage, storedStage } from './stage.ts';

/** RL's recipe settings, and where its parent and reward model come from. */
export interface RlRunSettings extends recipes.RlRecipeSettings {
  reward: RewardSource;
  /** The reward model's checkpoint (reward 'model'); the newest reward model when absent. */
  rewardModelCheckpointId?: string;
  /** Start from this SFT checkpoint instead of the loaded model (the β comparison forks one checkpoint twice). */
  fromCheckpointId?: string;
  ownData?: OwnChatData;
}

/** One RL run of a β comparison: its settings and its whole metric history. */
export interface RlCurve {
  runId: string;
  name: string;
  klCoef: number;
  reward: RewardSource;
  rows: MetricRow[];
  loaded: boolean;
}

/** An RL run whose KL reference (or reward model) is not in this tab: its model loads, its training does not. */
export class FrozenRl implements TrainingStage {
  constructor(
    readonly session: LabSession,
    readonly frozen: string,
    /** The held-out questions its card is scored on. */
    readonly heldOut: SftExample[],
  ) {}

  get done(): boolean {
    return this.session.done;
  }

  async step(): Promise<never> {
    throw new Error(this.frozen);
  }

  release(): void {
    this.session.dispose();
  }
}

export const rl: StageEntry<RlRunSettings> = {
  ...described('rl', recipes.rlRecipe),

  // From a loaded RL run or reward model, its SFT parent: runs with different β fork one checkpoint.
  forkPoint: (loaded, settings) => settings.fromCheckpointId ?? (loaded.stage === 'rl' || loaded.stage === 'rm' ? storedStage(loaded)?.parentCheckpointId : undefined),

  async start(parent, settings, { corpus, chat, db }) {
    const data = await chat.sft(settings.ownData);
    const rmId = settings.reward === 'model' ? (settings.rewardModelCheckpointId ?? (await newestRewardModel(db))) : undefined;
    if (settings.reward === 'model' && !rmId) throw new Error('RL against a reward model needs one: train a reward model first.');
    const rmRecord = rmId ? await store.loadCheckpoint(db, rmId) : undefined;
    if (rmId && !rmRecord) throw new Error('That reward model no longer exists.');
    const { train, settings: s } = recipes.rlRecipe(settings);
    const stage = await RlStage.start(parent.bytes, data, corpus, { ...s, rewardModel: rmRecord?.bytes, train });
    if (rmId) await store.pinCheckpoint(db, rmId, true); // the RL run needs it to resume
    const what = s.reward === 'model' ? `RL vs RM β ${s.klCoef}` : `RL verifiers β ${s.klCoef}`;
    return { stage, name: stageRunName(what, parent), stored: { ...stageRecord('rl', parent, settings), rewardModelCheckpointId: rmId }, skipped: data.errors };
  },

  async resume(run, bytes, { corpus, chat, db }) {
    const s = storedStage<RlRunSettings>(run) ?? (await adoptImported(run, bytes, db));
    if ('missing' in s) return new FrozenRl(LabSession.fromCheckpoint(bytes, corpus), s.missing, (await chat.sft()).val);
    const reference = await store.loadCheckpoint(db, s.parentCheckpointId);
    if (!reference) throw new Error('The SFT checkpoint this RL run started from was deleted, so it cannot continue.');
    const rm = s.rewardModelCheckpointId ? await store.loadCheckpoint(db, s.rewardModelCheckpointId) : undefined;
    if (s.rewardModelCheckpointId && !rm) throw new Error('The reward model this RL run trained against was deleted, so it cannot continue.');
    return RlStage.resume(bytes, reference.bytes, await chat.sft(s.settings.ownData), corpus, { rewardModel: rm?.bytes });
  },

  // Each step samples new completions: they reach the page with the step's rows.
  progress: (stage) => ({ rlSamples: stage instanceof RlStage ? stage.lastSamples : [] }),

  async rejoin(host, file) {
    const waiting = host.current?.run;
    const lacked = host.current?.stage.frozen;
    const at = waiting && lacked ? await store.latestCheckpoint(host.db, waiting.id) : undefined;
    if (!waiting || !at) return false;
    await host.open(waiting, at.id);
    const now = host.current?.stage;
    if (now?.frozen === lacked) return false;
    const still = now?.frozen;
    const stored = `Stored ${file.name} (step ${file.step}) as a run of its own. It is ${still ? 'one of the two files' : 'what'} "${waiting.name}" lacked, so that run stays loaded`;
    const then = still ? `. ${still}` : now?.done ? ' and is whole again: its before / after card and β comparison work, and new RL runs fork its SFT model.' : ' and is whole again: Resume continues it.';
    host.notify({ notice: { level: 'info', text: stored + then } });
    return true;
  },
};

/** The first stored checkpoint that `ok` admits and that is the recorded file or model. */
async function findRecorded(db: store.LabDB, ok: (c: store.CheckpointMeta) => boolean, sha256: string, weightsSha?: string): Promise<store.CheckpointMeta | undefined> {
  for (const run of await store.listRuns(db)) {
    for (const c of await store.listCheckpoints(db, run.id)) {
      if (!ok(c)) continue;
      const bytes = await store.loadCheckpointBytes(db, c.id);
      if (bytes && (await isRecorded(bytes, sha256, weightsSha))) return c;
    }
  }
  return undefined;
}

/**
 * The stored stage of an RL file dropped into the tab, once its KL reference (the checkpoint its
 * lineage ends with) and reward model are found among the tab's checkpoints: both pinned and the
 * run record completed, so from then on it loads like a run trained here. Otherwise what is missing.
 */
async function adoptImported(run: store.RunRecord, bytes: Uint8Array, db: store.LabDB): Promise<StoredStage<RlRunSettings> | { missing: string }> {
  const state = decodeCheckpoint(bytes);
  const extra = state.extra.rl as RlExtra | undefined;
  const parent = state.lineage[state.lineage.length - 1];
  if (!extra || !parent) return { missing: 'This RL file records no KL reference, so it cannot train on; you can sample it, score it and export it.' };
  const short = (sha: string) => `SHA-256 ${sha.slice(0, 12)}…`;
  const reference = await findRecorded(db, (c) => c.stage === parent.stage && c.step === parent.step && c.runId !== run.id, extra.referenceSha256, extra.referenceWeightsSha256);
  const rm = extra.rewardModelSha256 ? await findRecorded(db, (c) => c.stage === 'rm', extra.rewardModelSha256, extra.rewardModelWeightsSha256) : undefined;
  const missing = [
    ...(reference ? [] : [`its KL reference, the ${parent.stage.toUpperCase()} checkpoint it started from (step ${parent.step}, ${short(extra.referenceSha256)})`]),
    ...(extra.rewardModelSha256 && !rm ? [`the reward model it trained against (${short(extra.rewardModelSha256)})`] : []),
  ];
  if (!reference || missing.length > 0) {
    const files = missing.length > 1 ? 'those files' : 'that file';
    return { missing: `To train on, this RL run needs ${missing.join(', and ')}, which this tab does not have: drop ${files} in too and this run trains on. Until then you can sample it, score it and export it.` };
  }
  await store.pinCheckpoint(db, reference.id, true);
  if (rm) await store.pinCheckpoint(db, rm.id, true);
  const settings: RlRunSettings = { steps: state.train.steps, reward: extra.reward, klCoef: extra.klCoef, groupSize: extra.groupSize, promptsPerStep: extra.promptsPerStep, ...(extra.reward === 'verifier' ? { partialCredit: extra.partialCredit } : {}) };
  const stage: StoredStage<RlRunSettings> = { kind: 'rl', parentRunId: reference.runId, parentCheckpointId: reference.id, parentStep: reference.step, settings, ...(rm ? { rewardModelCheckpointId: rm.id } : {}) };
  Object.assign(run, await store.updateRun(db, run.id, { settings: { ...run.settings, stageSettings: stage } })); // the runner keeps this record
  return stage;
}

/** What the RL view asks about the loaded run. */
export class RlViews {
  readonly #lab: Inspector;

  constructor(lab: Inspector) {
    this.#lab = lab;
  }

  /** The latest step's sampled completions (the first of each prompt), with rewards; empty unless an RL run is loaded. Also sent with each step's rows as `rlSamples`. */
  samples(): Promise<SampleRow[]> {
    return this.#lab.inspect(async ({ stage }) => (stage instanceof RlStage ? stage.lastSamples : []));
  }

  /** Stored reward models, newest first (the latest checkpoint of each rm run). Also sent as `rewardModels` when the list changes. */
  rewardModels(): Promise<RewardModelInfo[]> {
    return this.#lab.inspect(({ db }) => rewardModelList(db));
  }

  /**
   * Held-out verifiable exact match, pass@1 and pass@8 of the loaded RL run now and of its SFT
   * reference (null for a frozen run, whose reference is not in this tab).
   */
  verifiableCards(limit = Infinity): Promise<{ reference: VerifiableCard | null; current: VerifiableCard } | null> {
    return this.#lab.inspect(async ({ stage }) => {
      if (!(stage instanceof RlStage) && !(stage instanceof FrozenRl)) return null;
      const tok = stage.session.tokenizer;
      return {
        reference: stage instanceof RlStage ? await verifiableCard(stage.reference, tok, stage.heldOut, { limit }) : null,
        current: await verifiableCard(stage.session.model, tok, stage.heldOut, { limit }),
      };
    });
  }

  /** Every RL run forked from the same SFT checkpoint as the loaded one, with its rows: the β comparison (a frozen run alone). */
  comparison(): Promise<RlCurve[]> {
    return this.#lab.inspect(async ({ run, session, db, stage }) => {
      if (run && stage instanceof FrozenRl) {
        const { klCoef, reward } = stage.session.extra.rl as RlExtra;
        return [{ runId: run.id, name: run.name, klCoef, reward, rows: stage.session.metrics.slice(), loaded: true }];
      }
      const mine = run && storedStage(run);
      if (!run || !mine || run.stage !== 'rl') return [];
      const curves: RlCurve[] = [];
      for (const r of await store.listRuns(db)) {
        const s = storedStage<RlRunSettings>(r);
        if (r.stage !== 'rl' || !s || s.parentCheckpointId !== mine.parentCheckpointId) continue;
        const rows = r.id === run.id && session ? session.metrics.slice() : await storedRows(db, r.id);
        curves.push({ runId: r.id, name: r.name, klCoef: recipes.rlRecipe(s.settings).settings.klCoef, reward: s.settings.reward, rows, loaded: r.id === run.id });
      }
      return curves.sort((a, b) => a.klCoef - b.klCoef);
    });
  }
}

/** A stored run's metric rows up to its latest checkpoint. */
async function storedRows(db: store.LabDB, runId: string): Promise<MetricRow[]> {
  const meta = await store.latestCheckpoint(db, runId);
  const bytes = meta && (await store.loadCheckpointBytes(db, meta.id));
  if (!bytes) return [];
  const s = inspectCheckpoint(bytes);
  return s.metrics.filter((m) => m.step < s.step);
}
