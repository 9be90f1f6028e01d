/**
 * Each stage's recipe (src/core/lesson/recipes.ts) and parent table (parents.ts): the schedule sized
 * to any run length, the lesson plan's own values at the plan's length, parents refused with the same
 * message everywhere, and the page's path and the command line's giving one configuration.
 */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Stage } from '../src/core/io/checkpoint.ts';
import { decodeCheckpoint } from '../src/core/io/checkpoint.ts';
import { PRESETS, type TrainConfig } from '../src/core/model/config.ts';
import { LESSON_PLAN } from '../src/core/lesson/plan.ts';
import { parentProblem, STAGE_PARENTS } from '../src/core/lesson/parents.ts';
import { dpoRecipe, pretrainRecipe, rlRecipe, rmRecipe, sftRecipe } from '../src/core/lesson/recipes.ts';
import { ROOT } from './helpers.ts';
import { finished, openLab } from './lab-harness.ts';

const RECIPES = {
  pretrain: (steps?: number) => pretrainRecipe({ steps }).train,
  sft: (steps?: number) => sftRecipe({ steps }).train,
  dpo: (steps?: number) => dpoRecipe({ steps }).train,
  rm: (steps?: number) => rmRecipe({ steps }).train,
  rl: (steps?: number) => rlRecipe({ steps }).train,
} satisfies Record<Stage, (steps?: number) => Partial<TrainConfig>>;

describe('stage recipes', () => {
  for (const [stage, recipe] of Object.entries(RECIPES)) {
    for (const steps of [50, LESSON_PLAN[stage as Stage].steps]) {
      it(`${stage} at ${steps} steps: warm-up at most a tenth, an evaluation inside the run, the floor a tenth of the peak`, () => {
        const t = recipe(steps);
        expect(t.steps).toBe(steps);
        expect(t.warmupSteps!).toBeLessThanOrEqual(steps / 10);
        expect(t.evalInterval!).toBeGreaterThanOrEqual(1);
        expect(t.evalInterval!).toBeLessThan(steps); // at least one evaluation before the last step's
        expect(t.minLearningRate).toBeCloseTo(t.learningRate! / 10, 12);
      });
    }
  }

  it('gives the lesson plan its own schedule at the plan length (worked out by hand)', () => {
    // The floor is checked above; these are the plan's steps, peak, warm-up and interval.
    const t = (r: Partial<TrainConfig>) => [r.steps, r.learningRate, r.warmupSteps, r.evalInterval];
    expect(t(RECIPES.pretrain())).toEqual([3000, 3e-3, 100, 250]);
    expect(t(RECIPES.sft())).toEqual([1800, 3e-3, 100, 200]);
    expect(t(RECIPES.dpo())).toEqual([250, 3e-4, 25, 50]);
    expect(t(RECIPES.rm())).toEqual([200, 1e-3, 20, 50]);
    expect(t(RECIPES.rl())).toEqual([300, 3e-4, 0, 100]); // RL starts at the full rate
    expect(rmRecipe().train.batchSize).toBe(LESSON_PLAN.rm.batchSize);
  });

  it('sizes a short run: the page\'s 50-step SFT warms up for 5 steps and evaluates every 10', () => {
    const t = sftRecipe({ steps: 50, learningRate: 1e-3 }).train;
    expect([t.warmupSteps, t.evalInterval, t.learningRate]).toEqual([5, 10, 1e-3]);
  });

  it('keeps the stage\'s own settings: what-ifs, shares, β, the reward source\'s defaults', () => {
    expect(sftRecipe({ whatIf: 'no-pretrain-text' }).pretrainShare).toBe(0);
    expect(sftRecipe().pretrainShare).toBe(LESSON_PLAN.sft.pretrainShare);
    const biased = dpoRecipe({ whatIf: 'length-bias' });
    expect([biased.rpoAlpha, biased.pretrainShare, biased.lengthBiasedPairs]).toEqual([0, 0, true]);
    expect(dpoRecipe({ whatIf: 'length-bias', rpoAlpha: 2 }).rpoAlpha).toBe(2);
    expect(rlRecipe({ reward: 'model' }).settings).toMatchObject({ klCoef: LESSON_PLAN.rl.klCoef.model, promptSampling: 'uniform', partialCredit: 0 });
    expect(rlRecipe().settings).toMatchObject({ reward: 'verifier', klCoef: LESSON_PLAN.rl.klCoef.verifier, promptSampling: 'prioritized' });
    expect(pretrainRecipe({ preset: 'small' }).train.learningRate).toBe(PRESETS.small.learningRate); // another preset keeps its own
    expect(pretrainRecipe({ zLoss: true }).train.zLoss).toBe(1e-4);
  });

  it('refuses settings no run can use, with a message a student can act on', () => {
    expect(() => sftRecipe({ steps: 0 })).toThrow(/steps must be a whole number ≥ 1, got 0/);
    expect(() => sftRecipe({ pretrainShare: 1 })).toThrow(/story share must be at least 0 and below 1/);
    expect(() => sftRecipe({ whatIf: 'no-pretrain-text', pretrainShare: 0.5 })).toThrow(/contradict/);
    expect(() => dpoRecipe({ whatIf: 'no-pretrain-text' as never })).toThrow(/what-if for dpo must be length-bias/);
    expect(() => dpoRecipe({ beta: 0 })).toThrow(/β must be a number above 0/);
    expect(() => rlRecipe({ reward: 'vibes' as never })).toThrow(/reward must be verifier or model/);
    expect(() => pretrainRecipe({ preset: 'huge' as never })).toThrow(/unknown preset "huge"/);
  });
});

describe('stage parents', () => {
  it('lets each stage start only from the stages its table names', () => {
    const stages: Stage[] = ['pretrain', 'sft', 'dpo', 'rm', 'rl'];
    for (const stage of stages) {
      for (const parent of stages) expect(parentProblem(stage, parent) === null, `${stage} from ${parent}`).toBe(STAGE_PARENTS[stage].parents.includes(parent));
    }
    expect(parentProblem('dpo', 'pretrain')).toBe('DPO starts from an SFT model, and this one is a base model: run SFT first.');
    expect(parentProblem('sft', 'dpo')).toMatch(/^SFT starts from a pretrained \(base\) model, and this one is a DPO model/);
    expect(parentProblem('rl', 'rm')).toMatch(/this one is a reward model: a reward model scores RL's replies/);
  });
});

// ── the page's path and the command line's ────────────────────────────────────────────────────

const dir = mkdtempSync(join(tmpdir(), 'lmlab-recipes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the command line until it prints its start line (the configuration it will train with), then stops it. */
function startLine(args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(ROOT, 'node_modules', '.bin', 'tsx'), ['cli/lab.ts', ...args, '--json', ...(args[0] === 'dpo' ? [] : ['--threads', '1'])], { cwd: ROOT });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const start = out.split('\n').map((l) => (l.startsWith('{') ? JSON.parse(l) : null)).find((o) => o?.event === 'start');
      if (start) {
        child.kill();
        resolve(start);
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => reject(new Error(`the command ended (${code}) before its start line: ${err}`)));
  });
}

describe('one configuration from the page and from the command line', () => {
  it('SFT and DPO at 50 steps train with the identical schedule either way', { timeout: 240_000 }, async () => {
    const lab = await openLab(new IDBFactory(), 'lm-lab-recipes');
    await lab.api.pretrain({ corpus: 'tales', preset: 'micro', steps: 4, learningRate: 3e-3, batchSize: 4, seed: 3, autosaveEvery: 100, keepAutosaves: 1 });
    await finished(lab.api);
    const baseFile = join(dir, 'base.safetensors');
    writeFileSync(baseFile, (await lab.api.currentFile()).bytes);

    // The page: SFT from the loaded base model, paused at once; its file carries the configuration.
    const fromPage = async (start: () => Promise<unknown>): Promise<TrainConfig> => {
      await start();
      await lab.api.pause();
      const { bytes } = await lab.api.currentFile();
      return decodeCheckpoint(bytes).train;
    };
    const pageSft = await fromPage(() => lab.api.sft({ steps: 50, learningRate: 1e-3 }));
    const cliSft = (await startLine(['sft', '--from', baseFile, '--steps', '50', '--lr', '1e-3'])).train as TrainConfig;
    expect(pageSft).toEqual(cliSft);
    expect([pageSft.warmupSteps, pageSft.evalInterval]).toEqual([5, 10]);

    const sftFile = join(dir, 'sft.safetensors');
    writeFileSync(sftFile, (await lab.api.currentFile()).bytes);
    const pageDpo = await fromPage(() => lab.api.dpo({ steps: 50, beta: 0.2 }));
    const cliDpo = (await startLine(['dpo', '--from', sftFile, '--steps', '50', '--beta', '0.2'])).train as TrainConfig;
    expect(pageDpo).toEqual(cliDpo);
    expect(pageDpo.learningRate).toBe(LESSON_PLAN.dpo.learningRate);
  });
});
