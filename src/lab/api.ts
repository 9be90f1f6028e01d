/**
 * The training worker's whole surface: one object of plain functions that the page calls through
 * comlink (`workers/lab.worker.ts` exposes it) and that Node tests call directly. Arguments and
 * results are plain data; the page's one callback (`subscribe`) receives batched metric rows.
 */
import { selectBackend } from '../core/backend/backend.ts';
import type { PresetName } from '../core/model/config.ts';
import { backendAtOnce, measuredBackend, rememberedBackend } from './measured-backend.ts';
import { LabRunner, type LabEnv } from './runner.ts';
import { ChatData, type CompareOptions, type DpoSettings, type SftSettings, StageLab, type StageEnv, stageFactory } from './stages.ts';
import type { Injection } from '../core/spikes/inject.ts';
import { RlLab, type RlRunSettings, type RmSettings } from './rl.ts';
import type { BackendInfo, BackendPreference, LabUpdate, OwnText, RecoveryPolicy, RunSettings, SampleOptions } from './types.ts';

export type { LabEnv } from './runner.ts';

export function createLabApi(env: LabEnv & StageEnv) {
  const chat = new ChatData(env);
  const runner = new LabRunner(env, stageFactory(chat));
  const stages = new StageLab(runner, chat);
  const rl = new RlLab(runner, chat);
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
    pretrain: (settings: RunSettings, ownText?: OwnText) => runner.pretrain(settings, ownText),
    pause: () => runner.pause(),
    resume: () => runner.resume(),
    stop: () => runner.stop(),
    /** One step (starting a run from `settings` when none is loaded). */
    stepOnce: (settings: RunSettings, ownText?: OwnText) => runner.stepOnce(settings, ownText),
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
    checkpointFile: (id: string, includeOptimizer?: boolean) => runner.checkpointFile(id, includeOptimizer),
    currentFile: (includeOptimizer?: boolean) => runner.currentFile(includeOptimizer),
    /** Import: check a received file and describe it (nothing stored), then load it into a new run. */
    previewImport: (bytes: Uint8Array, fileName: string, nHead?: number) => runner.previewImport(bytes, fileName, nHead),
    acceptImport: () => runner.acceptImport(),
    cancelImport: () => runner.cancelImport(),
    /** The loss-spike lab: inject into the next batches, change the recovery, overlay forked runs. */
    inject: (inj: Omit<Injection, 'step'>) => runner.inject(inj),
    setPolicy: (policy: RecoveryPolicy) => runner.setPolicy(policy),
    compareCurves: () => runner.compareCurves(),
    status: () => runner.status,
    /** Post-training: SFT from the loaded base model, DPO from the loaded SFT model (stages.ts). */
    sft: (settings: SftSettings) => stages.sft(settings),
    dpo: (settings: DpoSettings) => stages.dpo(settings),
    stageHistory: () => stages.history(),
    reportCards: () => stages.reportCards(),
    compare: (opts: CompareOptions) => stages.compare(opts),
    maskExample: (index: number) => stages.maskExample(index),
    /** The RL stages (rl.ts): a reward model from the loaded SFT model, RL against verifiers or it. */
    rm: (settings: RmSettings) => rl.rm(settings),
    rl: (settings: RlRunSettings) => rl.rl(settings),
    rlSamples: () => rl.samples(),
    rlCards: (limit?: number) => rl.verifiableCards(limit),
    rewardModels: () => rl.rewardModels(),
    rlComparison: () => rl.comparison(),
  };
}

export type LabApi = ReturnType<typeof createLabApi>;
