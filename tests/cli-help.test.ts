/**
 * The command line's help is written from the flags it parses, and a training stage's flags from the
 * core's setting descriptors (src/core/lesson/settings.ts): every setting is listed with the value a
 * run gets when it is left alone (read here from the recipes themselves), a flag a command does not
 * have is refused, and a flag's value reaches the recipe.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeCheckpoint, type Stage } from '../src/core/io/checkpoint.ts';
import { defaultTrainConfig, modelConfig } from '../src/core/model/config.ts';
import { initialValues } from '../src/core/model/model.ts';
import { dpoRecipe, pretrainRecipe, RL_DEFAULTS, rlRecipe, rmRecipe, sftRecipe } from '../src/core/lesson/recipes.ts';
import { STAGE_SETTINGS } from '../src/core/lesson/settings.ts';
import { commandHelp, parseFor } from '../cli/args.ts';
import { COMMANDS } from '../cli/commands.ts';
import { bundledTokenizer, ROOT } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'lmlab-cli-help-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const STAGES = ['pretrain', 'sft', 'dpo', 'rm', 'rl'] as const satisfies readonly Stage[];

/** What each stage trains with when a flag is not given, by flag, straight from the recipes. */
const RECIPE_DEFAULTS: Record<Stage, Record<string, number | string>> = (() => {
  const p = pretrainRecipe();
  const t = defaultTrainConfig(p.preset, p.train);
  const [sft, dpo, rm, rl, v] = [sftRecipe(), dpoRecipe(), rmRecipe(), rlRecipe(), RL_DEFAULTS.verifier];
  const train = (x: { steps?: number; learningRate?: number; evalInterval?: number }) => ({ steps: x.steps!, lr: x.learningRate!, 'eval-interval': x.evalInterval! });
  return {
    pretrain: { preset: p.preset, ...train(t), 'batch-size': t.batchSize, seed: t.seed, schedule: t.schedule, warmup: t.warmupSteps },
    sft: { ...train(sft.train), 'pretrain-share': sft.pretrainShare },
    dpo: { ...train(dpo.train), beta: dpo.beta, loss: dpo.lossType, 'rpo-alpha': dpo.rpoAlpha, 'pretrain-share': dpo.pretrainShare },
    rm: { ...train(rm.train), 'batch-size': rm.train.batchSize!, 'center-coef': rm.centerCoef, 'lm-coef': rm.lmCoef },
    rl: {
      ...train(rl.train), reward: rl.settings.reward, 'kl-coef': v.klCoef, 'group-size': v.groupSize, 'prompts-per-step': v.promptsPerStep,
      'prompt-sampling': v.promptSampling, 'max-new-tokens': v.maxNewTokens, 'partial-credit': v.partialCredit, 'eval-questions': v.evalQuestions,
    },
  };
})();

function lab(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(join(ROOT, 'node_modules', '.bin', 'tsx'), ['cli/lab.ts', ...args], { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

const command = (name: string) => COMMANDS.find((c) => c.name === name)!;

describe('the help is written from the descriptors, with the recipes\' defaults', () => {
  it('every descriptor\'s default is what its recipe gives, and only those have one', () => {
    for (const stage of STAGES) {
      const specs = STAGE_SETTINGS[stage];
      for (const spec of specs) expect([stage, spec.flag, spec.default]).toEqual([stage, spec.flag, RECIPE_DEFAULTS[stage][spec.flag]]);
      expect(Object.keys(RECIPE_DEFAULTS[stage]).filter((flag) => !specs.some((s) => s.flag === flag))).toEqual([]);
    }
  });

  it('npm run lab -- --help lists every setting of pretrain, sft, dpo, rm and rl with its default', { timeout: 60_000 }, async () => {
    const run = await lab('--help');
    expect(run.code, run.stderr).toBe(0);
    const sections = run.stdout.split(/\n(?= {2}npm run lab -- )/);
    for (const stage of STAGES) {
      const section = sections.find((s) => s.startsWith(`  npm run lab -- ${stage} `));
      expect(section, stage).toBeDefined();
      for (const spec of STAGE_SETTINGS[stage]) {
        const shown = RECIPE_DEFAULTS[stage][spec.flag];
        const item = spec.kind === 'bool' ? `[--${spec.flag}]` : shown !== undefined ? `[--${spec.flag} ${shown}]` : `[--${spec.flag} `;
        expect(section, `${stage} --${spec.flag}`).toContain(item);
      }
    }
  });

  it("each stage's own --help explains every setting, its default first", () => {
    for (const stage of STAGES) {
      const text = commandHelp(command(stage));
      for (const spec of STAGE_SETTINGS[stage]) {
        const shown = RECIPE_DEFAULTS[stage][spec.flag];
        const row = text.split('\n').find((l) => l.startsWith(`    --${spec.flag} `) || l === `    --${spec.flag}`);
        expect(row, `${stage} --${spec.flag}`).toBeDefined();
        if (shown !== undefined) expect(row).toMatch(new RegExp(`^ {4}--${spec.flag} ${String(shown).replace('.', '\\.')}( |$)`));
      }
    }
  });

  it('every command parses exactly the flags its help lists, and refuses any other', () => {
    for (const cmd of COMMANDS) {
      const listed = [...commandHelp(cmd).matchAll(/^ {4}--([a-z-]+)/gm)].map((m) => m[1]);
      expect(listed.sort()).toEqual(cmd.flags.map((f) => f.name).sort());
      for (const name of listed) {
        const kind = cmd.flags.find((f) => f.name === name)!.kind;
        expect(() => parseFor(cmd, kind === 'bool' ? [`--${name}`] : [`--${name}`, '1'])).not.toThrow();
      }
      expect(() => parseFor(cmd, ['--no-such-flag', '1'])).toThrow(`${cmd.name} has no option --no-such-flag`);
    }
  });
});

describe('flags reach the recipe', () => {
  it("one stage's flag is refused by another, with one error line", { timeout: 60_000 }, async () => {
    for (const run of await Promise.all([lab('sft', '--beta', '0.1'), lab('rm', '--kl-coef', '1')])) {
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(/^error: (sft has no option --beta|rm has no option --kl-coef);/);
    }
  });

  it('sft trains with the steps, rate, seed and story share given', { timeout: 60_000 }, async () => {
    const tokenizer = bundledTokenizer();
    const model = modelConfig('micro', tokenizer.vocabSize);
    const base = join(dir, 'base.safetensors');
    writeFileSync(base, encodeCheckpoint({
      model, train: defaultTrainConfig('micro'), tokenizer: tokenizer.toJSON(), stage: 'pretrain', step: 0, corpus: 'tales', dataState: { rngState: 1 },
      weights: initialValues(model, 1), metrics: [], events: [], lineage: [], extra: {},
    }));
    const start = await startLine(['sft', '--from', base, '--steps', '7', '--lr', '2e-3', '--seed', '4', '--pretrain-share', '0.5', '--backend', 'cpu', '--threads', '1', '--json']);
    expect(start.train).toMatchObject({ steps: 7, learningRate: 2e-3, minLearningRate: 2e-4, seed: 4 });
    expect(start.pretrainShare).toBe(0.5);
  });
});

/** Runs the command line until it prints its start line, then stops it. */
function startLine(args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(ROOT, 'node_modules', '.bin', 'tsx'), ['cli/lab.ts', ...args], { cwd: ROOT });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const start = out.split('\n').slice(0, -1).map((l) => (l.startsWith('{') ? (JSON.parse(l) as Record<string, unknown>) : null)).find((o) => o?.event === 'start');
      if (start) {
        child.kill();
        resolve(start);
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => reject(new Error(`the command ended (${code}) before its start line: ${err}`)));
  });
}
