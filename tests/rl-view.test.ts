/**
 * The RL view's state (src/ui/views/rl/rl.svelte.ts), compiled by Svelte as the page's build does:
 * it shows the samples and reward models the worker's updates bring, and asks the worker for them
 * only while no update has brought them.
 */
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import type { RewardModelInfo, SampleRow } from '../src/lab/types.ts';
import type { RlState } from '../src/ui/views/rl/rl.svelte.ts';

let vite: ViteDevServer;
let View: typeof RlState;

beforeAll(async () => {
  vite = await createServer({ configFile: 'vite.config.ts', logLevel: 'error', server: { middlewareMode: true, hmr: false }, optimizeDeps: { noDiscovery: true, entries: [] } });
  View = ((await vite.ssrLoadModule('/src/ui/views/rl/rl.svelte.ts')) as { RlState: typeof RlState }).RlState;
});
afterAll(async () => {
  await vite?.close();
});

const sample = (question: string): SampleRow => ({ question, reply: 'four', reward: 1, correct: true, kl: 0.1, ended: true }) as SampleRow;
const model = (name: string): RewardModelInfo => ({ checkpointId: `c-${name}`, runId: `r-${name}`, name, step: 4 });

/** The part of the page's Lab that the RL view reads, with a worker that counts what it is asked. */
function fakeLab() {
  const api = {
    rlSamples: vi.fn(async () => [sample('polled')]),
    rewardModels: vi.fn(async () => [model('polled')]),
    rlComparison: vi.fn(async () => []),
  };
  const lab = {
    api,
    rlSamples: null as SampleRow[] | null,
    rewardModels: null as RewardModelInfo[] | null,
    run: { stage: 'rl' },
    rows: [],
    busy: false,
    status: 'running',
    call: <T>(f: (a: typeof api) => Promise<T>) => f(api),
  };
  return { api, lab };
}

describe('the RL view reads samples and reward models from the updates', () => {
  test('until an update brings them, a refresh asks the worker', async () => {
    const { api, lab } = fakeLab();
    const view = new View(lab as never);
    await view.refresh();
    expect(view.samples.map((s) => s.question)).toEqual(['polled']);
    expect(view.rewardModels.map((m) => m.name)).toEqual(['polled']);
    expect(api.rlSamples).toHaveBeenCalledTimes(1);
    expect(api.rewardModels).toHaveBeenCalledTimes(1);
  });

  test('once an update has brought them, the view shows those and stops asking', async () => {
    const { api, lab } = fakeLab();
    const view = new View(lab as never);
    lab.rlSamples = [sample('streamed')];
    lab.rewardModels = [model('streamed')];
    await view.refresh();
    await view.refresh();
    expect(view.samples.map((s) => s.question)).toEqual(['streamed']);
    expect(view.rewardModels.map((m) => m.name)).toEqual(['streamed']);
    expect(api.rlSamples).not.toHaveBeenCalled();
    expect(api.rewardModels).not.toHaveBeenCalled();
    expect(api.rlComparison).toHaveBeenCalledTimes(2); // the β comparison is not in the updates: still asked for
  });
});
