/**
 * The training worker's whole surface: one object of plain functions that the page calls through
 * comlink (`workers/lab.worker.ts` exposes it) and that Node tests call directly. Arguments and
 * results are plain data; the page's one callback (`subscribe`) receives batched metric rows.
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../core/backend/backend.ts';
import type { PresetName } from '../core/model/config.ts';
import { backendAtOnce, measuredBackend, rememberedBackend } from './measured-backend.ts';
import type { Injection } from '../core/spikes/inject.ts';
import { ChatData, type StageEnv } from './chat-data.ts';
import { CurationExperiment, type CurationProgress } from './curation.ts';
import type { CurationExperimentSettings } from '../core/data/curation-experiment.ts';
import type { TokenizerExperimentSettings } from '../core/data/tokenizer-experiment.ts';
import { ExperimentArms } from './experiment-arms.ts';
import { TokenizerExperiment, type TokenizerProgress } from './tokenizer-experiment.ts';
import { type CurationSettings, DataLab, type DataEnv, type DocShow, type TokenizerSettings } from './data.ts';
import { LabRunner, type LabEnv } from './runner.ts';
import { Corpora } from './runs.ts';
import { HelperPool } from './helper-pool.ts';
import { type ScalingProgress, ScalingLab, type ScalingRequest } from './scaling.ts';
import { AnnealLab, type AnnealProgress, type AnnealRequest } from './anneal.ts';
import { Inside, type WriteOptions } from './inspect.ts';
import { type ChatOptions, type ChatTurn, Conversation } from './conversation.ts';
import type { ProbedToken } from './types.ts';
import { SpikeCommands } from './spike-commands.ts';
import type { DpoSettings } from './stages/dpo.ts';
import { type CompareOptions, StageReports } from './stages/reports.ts';
import { RlViews, type RlRunSettings } from './stages/rl.ts';
import type { RmSettings } from './stages/rm.ts';
import type { SftSettings } from './stages/sft.ts';
import { Transfer } from './transfer.ts';
import type { BackendInfo, BackendPreference, LabUpdate, OwnText, RecoveryPolicy, RunSettings, SampleOptions } from './types.ts';

export type { LabEnv } from './runner.ts';

export function createLabApi(env: LabEnv & StageEnv & DataEnv) {
  const chat = new ChatData(env);
  const runner = new LabRunner(env, chat);
  const transfer = new Transfer(runner);
  const spikes = new SpikeCommands(runner);
  const reports = new StageReports(runner, chat);
  const rl = new RlViews(runner);
  const inside = new Inside(runner, chat);
  const conversation = new Conversation(runner);
  const data = new DataLab(env);
  // A new run takes the tokenizer the Data view trained when the student chose it; its settings keep it.
  const withTokenizer = (settings: RunSettings): RunSettings => {
    const tokenizer = data.pretrainingTokenizer();
    return tokenizer ? { ...settings, tokenizer } : settings;
  };
  // One experiment of the Data view at a time: they share the loop, its Stop and its lock.
  const experiments = new ExperimentArms(runner);
  const curation = new CurationExperiment(experiments, () => data.crawlDocs(), () => env.loadBundledCorpus('tales'));
  const tokenizerExperiment = new TokenizerExperiment(experiments, () => data.trainedTokenizer(), () => env.loadBundledCorpus('tales'));
  const stories = new Corpora((name) => env.loadBundledCorpus(name), env.loadCrawl && (() => env.loadCrawl!()));
  const scaling = new ScalingLab(stories, (warn) => new HelperPool(env.gradientHelpers, warn));
  const anneal = new AnnealLab(stories);
  return {
    /**
     * Chooses the backend, then restores the last run. `auto` times a few steps of `preset` on each
     * backend that starts and takes the faster (remembered per preset and adapter; `remeasure`
     * times them again); a named backend is tried first, then WebGPU → wasm → cpu. While it
     * measures, `onProgress` hears what it is timing (from the page: a `Comlink.proxy`).
     */
    async init(preference: BackendPreference = 'auto', opts: { preset?: PresetName; remeasure?: boolean; measureLater?: boolean } = {}, onProgress?: (text: string) => void): Promise<BackendInfo> {
      const preset = opts.preset ?? 'tiny';
      // `measureLater` (the page): nothing remembered yet, start on wasm at once and let the page time the backends alongside.
      const chosen = preference !== 'auto' ? await selectBackend(preference)
        : opts.measureLater && !opts.remeasure ? (await rememberedBackend(preset)) ?? (await backendAtOnce())
        : await measuredBackend(env, preset, opts.remeasure, onProgress);
      const info: BackendInfo = {
        ...chosen,
        preference,
        crossOriginIsolated: Boolean((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated),
        ...(chosen.backend === 'wasm' ? { workers: 1 + (env.gradientHelpers?.count() ?? 0) } : {}),
      };
      await runner.init(info);
      return info;
    },
    /** Answers at once: the page's check that this worker's thread is not stuck. */
    alive: () => true,
    /** The page's one callback: status, runs, metric rows in batches, checkpoints, notices. */
    subscribe: (listener: (update: LabUpdate) => unknown) => runner.subscribe(listener),
    /** Starts a new pretraining run; resolves once it is training. */
    pretrain: (settings: RunSettings, ownText?: OwnText) => runner.pretrain(withTokenizer(settings), ownText),
    pause: () => runner.pause(),
    resume: () => runner.resume(),
    stop: () => runner.stop(),
    /** One step (starting a run from `settings` when none is loaded). */
    stepOnce: (settings: RunSettings, ownText?: OwnText) => runner.stepOnce(withTokenizer(settings), ownText),
    sample: (opts: SampleOptions) => runner.sample(opts),
    /** Lines sampled every so often while pretraining (at most 5% of the time, src/lab/live.ts). */
    setLiveSamples: (on: boolean) => runner.setLiveSamples(on),
    listCheckpoints: () => runner.listCheckpoints(),
    loadCheckpoint: (id: string) => runner.loadCheckpoint(id),
    pinCheckpoint: (id: string, pinned: boolean) => runner.pinCheckpoint(id, pinned),
    deleteCheckpoint: (id: string) => runner.deleteCheckpoint(id),
    /** A new run from a copy of a checkpoint, optionally with another recovery policy (to compare). */
    forkCheckpoint: (id: string, policy?: RecoveryPolicy) => runner.forkCheckpoint(id, policy),
    /** Export: a checkpoint's or the current model's .safetensors file, with or without the AdamW moments. */
    checkpointFile: (id: string, includeOptimizer?: boolean) => transfer.checkpointFile(id, includeOptimizer),
    currentFile: (includeOptimizer?: boolean) => transfer.currentFile(includeOptimizer),
    /** Import: check a received file and describe it (nothing stored), then load it into a new run. */
    previewImport: (bytes: Uint8Array, fileName: string, nHead?: number) => transfer.preview(bytes, fileName, nHead),
    acceptImport: () => transfer.accept(),
    cancelImport: () => transfer.cancel(),
    /** The loss-spike lab: inject into the next batches, change the recovery, overlay forked runs. */
    inject: (inj: Omit<Injection, 'step'>) => spikes.inject(inj),
    setPolicy: (policy: RecoveryPolicy) => spikes.setPolicy(policy),
    compareCurves: () => spikes.compareCurves(),
    status: () => runner.status,
    /** The worker's tfjs memory, what the loaded model and its stage hold: a long lesson's test watches it. */
    memory: () => {
      const { numTensors, numBytes } = tf.memory();
      return { numTensors, numBytes };
    },
    /** Post-training (stages/): SFT from the loaded base model, DPO from the loaded SFT model; the lines of the student's file left out. */
    sft: (settings: SftSettings) => runner.startStage('sft', settings),
    dpo: (settings: DpoSettings) => runner.startStage('dpo', settings),
    stageHistory: () => reports.history(),
    reportCards: () => reports.reportCards(),
    compare: (opts: CompareOptions) => reports.compare(opts),
    /** A prompt and reply scored under every stage of the loaded run (the `compare` command's numbers). */
    stageChanges: (prompt: string, reply: string) => reports.changes(prompt, reply),
    maskExample: (index: number) => reports.maskExample(index),
    /** The RL stages: a reward model from the loaded SFT model, RL against verifiers or it. */
    rm: async (settings: RmSettings) => void (await runner.startStage('rm', settings)),
    rl: async (settings: RlRunSettings) => void (await runner.startStage('rl', settings)),
    /** The latest RL step's completions; the same arrive as `rlSamples` in the updates. */
    rlSamples: () => rl.samples(),
    rlCards: (limit?: number) => rl.verifiableCards(limit),
    /** The stored reward models; the same arrive as `rewardModels` in the updates when they change. */
    rewardModels: () => rl.rewardModels(),
    rlComparison: () => rl.comparison(),
    /** The Inside view (inspect.ts): computed on request from the loaded model, nothing kept while training. */
    writeWithProbabilities: (prompt: string, opts: WriteOptions) => inside.write(prompt, opts),
    attention: (text: string | number[]) => inside.attention(text),
    lens: (text: string | number[], k?: number) => inside.lens(text, k),
    trace: (text: string, minChars?: number) => inside.trace(text, minChars),
    /** The chat panel (conversation.ts): the loaded model's next turn, each token to `onToken` as it is drawn (from the page, a `Comlink.proxy`). */
    chat: (turns: ChatTurn[], opts: ChatOptions, onToken?: (token: ProbedToken) => unknown) => conversation.reply(turns, opts, onToken),
    stopChat: () => conversation.stop(),
    /** The Data stage: the crawl cleaned by named filters, a page of its documents, a BPE tokenizer on what was kept (progress to `onProgress`, from the page a `Comlink.proxy`) and its two Hugging Face files. */
    curate: (settings: CurationSettings) => data.curate(settings),
    documents: (page: number, pageSize?: number, show?: DocShow) => data.documents(page, pageSize, show),
    trainTokenizer: (settings: TokenizerSettings, onProgress?: (done: number, wanted: number) => unknown) => data.trainTokenizer(settings, onProgress),
    tokenizerFiles: async () => data.tokenizerFiles(),
    /** Whether new pretraining runs use the trained tokenizer; answers which tokenizer they will use. */
    usePretrainingTokenizer: async (on: boolean) => data.usePretrainingTokenizer(on),
    /** The curation experiment: the same pretraining on the raw and the filtered crawl, validated on the tales; pauses a training run first. */
    curationExperiment: (settings: CurationExperimentSettings, onProgress?: (p: CurationProgress) => unknown) => curation.run(settings, onProgress),
    stopCurationExperiment: async () => experiments.stop(),
    /** The tokenizer experiment: the tales pretrained for the same seconds with characters and with the trained BPE, in bits per character; pauses a training run first. */
    tokenizerExperiment: (settings: TokenizerExperimentSettings, onProgress?: (p: TokenizerProgress) => unknown) => tokenizerExperiment.run(settings, onProgress),
    stopTokenizerExperiment: async () => experiments.stop(),
    /** The Scaling lab (scaling.ts): plan a sweep, run it as a queue of stored runs (progress to `onProgress`), stop it, its points, files dropped in. */
    scalingPlan: (request: ScalingRequest) => scaling.plan(request),
    scalingRun: (request: ScalingRequest, onProgress: (p: ScalingProgress) => unknown) => scaling.run(request, onProgress),
    scalingStop: () => scaling.stop(),
    scalingPoints: () => scaling.points(),
    scalingAddFile: (name: string, bytes: Uint8Array) => scaling.addFile(name, bytes),
    scalingClear: () => scaling.clear(),
    /** Cosine against WSD at equal tokens, and a decay branched early (anneal.ts); progress to `onProgress`. */
    anneal: (request: AnnealRequest, onProgress: (p: AnnealProgress) => unknown) => anneal.run(request, onProgress),
  };
}

export type LabApi = ReturnType<typeof createLabApi>;
