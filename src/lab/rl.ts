/**
 * The reward-model and RL stages as the worker runs them, through the runner's loop (pause, stop,
 * autosave, metric rows) like SFT and DPO: a reward model from the loaded SFT model, and RL from it
 * against verifiers or against a reward model. Besides training, this file answers what the RL
 * view asks: the latest sampled completions with their rewards, the stored reward models to choose
 * from, and every RL run forked from the same SFT checkpoint, to draw β = 0 against β > 0 on one chart.
 *
 * A stored RL run names its parent SFT checkpoint (its KL reference, pinned) and, with a reward
 * model, that model's checkpoint (pinned too), so a reload rebuilds the run exactly. An RL file
 * dropped into the tab names them only by SHA-256: they are looked for among the tab's checkpoints,
 * and until they are there the run loads frozen (it samples, scores and exports, but does not train).
 */
import { decodeCheckpoint, inspectCheckpoint, type MetricRow } from '../core/io/checkpoint.ts';
import type { SftExample } from '../core/post/chatdata.ts';
import type { Corpus } from '../core/train/data.ts';
import { LabSession } from '../core/train/session.ts';
import { RewardModelStage } from '../core/rl/rewardmodel.ts';
import * as recipes from '../core/lesson/recipes.ts';
import { checkParent } from '../core/lesson/parents.ts';
import { isRecorded, type RewardSource, type RlExtra, RlStage, type SampleRow } from '../core/rl/policy.ts';
import { type VerifiableCard, verifiableCard } from '../core/rl/evaluate.ts';
import * as store from '../storage/index.ts';
import type { LabRunner, StageParent, Stepper } from './runner.ts';
import type { ChatData, OwnChatData } from './stages.ts';

export type { RewardSource, SampleRow, VerifiableCard };

/** The reward model's recipe settings (src/core/lesson/recipes.ts), and the student's own pairs. */
export interface RmSettings extends recipes.RmSettings {
  ownData?: OwnChatData;
}

/** RL's recipe settings, and where its parent and reward model come from. */
export interface RlRunSettings extends recipes.RlRecipeSettings {
  reward: RewardSource;
  /** The reward model's checkpoint (reward 'model'); the newest reward model of this SFT model when absent. */
  rewardModelCheckpointId?: string;
  /** Start from this SFT checkpoint instead of the loaded model (the β comparison forks one checkpoint twice). */
  fromCheckpointId?: string;
  ownData?: OwnChatData;
}

/** What an rm or rl run stores under `settings.stageSettings` (the same shape as SFT's and DPO's). */
interface StoredRlStage {
  kind: 'rm' | 'rl';
  parentRunId: string;
  parentCheckpointId: string;
  parentStep: number;
  settings: RmSettings | RlRunSettings;
  rewardModelCheckpointId?: string;
}

/** A stored reward model to choose from. */
export interface RewardModelInfo {
  checkpointId: string;
  runId: string;
  name: string;
  step: number;
  heldOutAccuracy?: number;
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

function storedRl(run: store.RunRecord): StoredRlStage | undefined {
  const s = (run.settings as { stageSettings?: StoredRlStage }).stageSettings;
  return s && (s.kind === 'rm' || s.kind === 'rl') ? s : undefined;
}


/** An RL run whose KL reference (or reward model) is not in this tab: its model loads, its training does not. */
export class FrozenRl implements Stepper {
  constructor(
    readonly session: LabSession,
    readonly frozen: string,
    /** The held-out questions its card is scored on. */
    readonly heldOut: SftExample[],
  ) {}

  async step(): Promise<never> {
    throw new Error(this.frozen);
  }
}

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
async function adoptImported(run: store.RunRecord, bytes: Uint8Array, db: store.LabDB): Promise<StoredRlStage | { missing: string }> {
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
  const stage: StoredRlStage = { kind: 'rl', parentRunId: reference.runId, parentCheckpointId: reference.id, parentStep: reference.step, settings, ...(rm ? { rewardModelCheckpointId: rm.id } : {}) };
  Object.assign(run, await store.updateRun(db, run.id, { settings: { ...run.settings, stageSettings: stage } })); // the runner keeps this record
  return stage;
}

/** Rebuilds a stored rm or rl run from one of its checkpoints: the RL run's reference and reward model come from storage. */
export async function resumeRlStage(run: store.RunRecord, bytes: Uint8Array, corpus: Corpus, db: store.LabDB, data: ChatData): Promise<Stepper> {
  if (run.stage === 'rm') return RewardModelStage.resume(bytes, await data.dpo(storedRl(run)?.settings.ownData), corpus);
  const s = storedRl(run) ?? (await adoptImported(run, bytes, db));
  if ('missing' in s) return new FrozenRl(LabSession.fromCheckpoint(bytes, corpus), s.missing, (await data.sft()).val);
  const reference = await store.loadCheckpoint(db, s.parentCheckpointId);
  if (!reference) throw new Error('The SFT checkpoint this RL run started from was deleted, so it cannot continue.');
  const rm = s.rewardModelCheckpointId ? await store.loadCheckpoint(db, s.rewardModelCheckpointId) : undefined;
  if (s.rewardModelCheckpointId && !rm) throw new Error('The reward model this RL run trained against was deleted, so it cannot continue.');
  return RlStage.resume(bytes, reference.bytes, await data.sft(s.settings.ownData), corpus, { rewardModel: rm?.bytes });
}

function parentLabel(parent: StageParent): string {
  return parent.run.name.replace(/^(SFT|DPO|RM|RL)[^·]*· /, '');
}

export class RlLab {
  readonly #runner: LabRunner;
  readonly #data: ChatData;

  constructor(runner: LabRunner, data: ChatData) {
    this.#runner = runner;
    this.#data = data;
  }

  /** A reward model from the loaded SFT model, trained on the preference pairs. */
  async rm(settings: RmSettings): Promise<void> {
    const data = await this.#data.dpo(settings.ownData);
    await this.#runner.startStage(async (parent) => {
      checkParent('rm', parent.run.stage);
      const stepper = await RewardModelStage.start(parent.bytes, data, parent.corpus, recipes.rmRecipe(settings));
      return { stepper, name: `RM · ${parentLabel(parent)}`, settings: { stageSettings: this.#stored('rm', parent, settings) } };
    });
  }

  /**
   * RL from the loaded SFT model (or `fromCheckpointId`; from a loaded RL run or reward model, its
   * SFT parent, so that runs with different β fork one checkpoint).
   */
  async rl(settings: RlRunSettings): Promise<void> {
    const data = await this.#data.sft(settings.ownData);
    const from = settings.fromCheckpointId ?? (await this.#forkPoint());
    const rmId = settings.reward === 'model' ? (settings.rewardModelCheckpointId ?? (await this.rewardModels())[0]?.checkpointId) : undefined;
    if (settings.reward === 'model' && !rmId) throw new Error('RL against a reward model needs one: train a reward model first.');
    let rewardModel: Uint8Array | undefined;
    if (rmId) {
      const record = await this.#runner.inspect(async ({ db }) => {
        await store.pinCheckpoint(db, rmId, true); // the RL run needs it to resume
        return store.loadCheckpoint(db, rmId);
      });
      if (!record) throw new Error('That reward model no longer exists.');
      rewardModel = record.bytes;
    }
    await this.#runner.startStage(async (parent) => {
      checkParent('rl', parent.run.stage);
      const { train, settings: rl } = recipes.rlRecipe(settings);
      const stage = await RlStage.start(parent.bytes, data, parent.corpus, { ...rl, rewardModel, train });
      const what = rl.reward === 'model' ? `RL vs RM β ${rl.klCoef}` : `RL verifiers β ${rl.klCoef}`;
      return { stepper: stage, name: `${what} · ${parentLabel(parent)}`, settings: { stageSettings: { ...this.#stored('rl', parent, settings), rewardModelCheckpointId: rmId } } };
    }, from);
  }

  /** The checkpoint a new RL run forks: a loaded RL run's or reward model's SFT parent, else the loaded model itself. */
  async #forkPoint(): Promise<string | undefined> {
    return this.#runner.inspect(async ({ run }) => (run?.stage === 'rl' || run?.stage === 'rm' ? storedRl(run)?.parentCheckpointId : undefined));
  }

  #stored(kind: 'rm' | 'rl', parent: StageParent, settings: RmSettings | RlRunSettings): StoredRlStage {
    return { kind, parentRunId: parent.run.id, parentCheckpointId: parent.checkpointId, parentStep: inspectCheckpoint(parent.bytes).step, settings };
  }

  /** The latest step's sampled completions (the first of each prompt), with rewards; empty unless an RL run is loaded. */
  samples(): Promise<SampleRow[]> {
    return this.#runner.inspect(async ({ stepper }) => (stepper instanceof RlStage ? stepper.lastSamples : []));
  }

  /**
   * Held-out verifiable exact match, pass@1 and pass@8 of the loaded RL run now and of its SFT
   * reference (null for a frozen run, whose reference is not in this tab).
   */
  verifiableCards(limit = Infinity): Promise<{ reference: VerifiableCard | null; current: VerifiableCard } | null> {
    return this.#runner.inspect(async ({ stepper }) => {
      if (!(stepper instanceof RlStage) && !(stepper instanceof FrozenRl)) return null;
      const tok = stepper.session.tokenizer;
      return {
        reference: stepper instanceof RlStage ? await verifiableCard(stepper.reference, tok, stepper.heldOut, { limit }) : null,
        current: await verifiableCard(stepper.session.model, tok, stepper.heldOut, { limit }),
      };
    });
  }

  /** Stored reward models, newest first (the latest checkpoint of each rm run). */
  rewardModels(): Promise<RewardModelInfo[]> {
    return this.#runner.inspect(async ({ db }) => {
      const runs = (await store.listRuns(db)).filter((r) => r.stage === 'rm').sort((a, b) => b.updatedAt - a.updatedAt);
      const out: RewardModelInfo[] = [];
      for (const r of runs) {
        const meta = await store.latestCheckpoint(db, r.id);
        if (!meta) continue;
        const bytes = await store.loadCheckpointBytes(db, meta.id);
        const last = bytes ? [...inspectCheckpoint(bytes).metrics].reverse().find((m) => m['eval/accuracy'] !== undefined) : undefined;
        out.push({ checkpointId: meta.id, runId: r.id, name: r.name, step: meta.step, heldOutAccuracy: last?.['eval/accuracy'] });
      }
      return out;
    });
  }

  /** Every RL run forked from the same SFT checkpoint as the loaded one, with its rows: the β comparison (a frozen run alone). */
  comparison(): Promise<RlCurve[]> {
    return this.#runner.inspect(async ({ run, session, db, stepper }) => {
      if (run && stepper instanceof FrozenRl) {
        const { klCoef, reward } = stepper.session.extra.rl as RlExtra;
        return [{ runId: run.id, name: run.name, klCoef, reward, rows: stepper.session.metrics.slice(), loaded: true }];
      }
      const mine = run && storedRl(run);
      if (!run || !mine || run.stage !== 'rl') return [];
      const curves: RlCurve[] = [];
      for (const r of await store.listRuns(db)) {
        const s = storedRl(r);
        if (r.stage !== 'rl' || !s || s.parentCheckpointId !== mine.parentCheckpointId) continue;
        const settings = s.settings as RlRunSettings;
        let rows: MetricRow[];
        if (r.id === run.id && session) rows = session.metrics.slice();
        else {
          const meta = await store.latestCheckpoint(db, r.id);
          const bytes = meta && (await store.loadCheckpointBytes(db, meta.id));
          rows = bytes ? decodeMetrics(bytes) : [];
        }
        curves.push({ runId: r.id, name: r.name, klCoef: recipes.rlRecipe(settings).settings.klCoef, reward: settings.reward, rows, loaded: r.id === run.id });
      }
      return curves.sort((a, b) => a.klCoef - b.klCoef);
    });
  }
}

function decodeMetrics(bytes: Uint8Array): MetricRow[] {
  const s = inspectCheckpoint(bytes);
  return s.metrics.filter((m) => m.step < s.step);
}
