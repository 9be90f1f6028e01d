/**
 * The training worker's whole surface: one object of plain functions that the page calls through
 * comlink (`workers/lab.worker.ts` exposes it) and that Node tests call directly. Arguments and
 * results are plain data; the page's one callback (`subscribe`) receives batched metric rows.
 */
import { selectBackend } from '../core/backend.ts';
import { applyKernelFixes } from './kernel-fixes.ts';
import { LabRunner, type LabEnv } from './runner.ts';
import type { BackendInfo, BackendPreference, LabUpdate, OwnText, RunSettings, SampleOptions } from './types.ts';

export type { LabEnv } from './runner.ts';

export function createLabApi(env: LabEnv) {
  const runner = new LabRunner(env);
  return {
    /** Chooses the backend (WebGPU → wasm → cpu, or the preference first), then restores the last run. */
    async init(preference: BackendPreference = 'auto'): Promise<BackendInfo> {
      const chosen = await selectBackend(preference);
      applyKernelFixes(chosen.backend);
      const info: BackendInfo = {
        ...chosen,
        preference,
        crossOriginIsolated: Boolean((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated),
      };
      await runner.init(info);
      return info;
    },
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
    listCheckpoints: () => runner.listCheckpoints(),
    loadCheckpoint: (id: string) => runner.loadCheckpoint(id),
    pinCheckpoint: (id: string, pinned: boolean) => runner.pinCheckpoint(id, pinned),
    deleteCheckpoint: (id: string) => runner.deleteCheckpoint(id),
    forkCheckpoint: (id: string) => runner.forkCheckpoint(id),
    checkpointFile: (id: string) => runner.checkpointFile(id),
    status: () => runner.status,
  };
}

export type LabApi = ReturnType<typeof createLabApi>;
