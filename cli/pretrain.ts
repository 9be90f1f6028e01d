/**
 * pretrain: a new model on a bundled corpus or the user's text, or a saved run resumed; optionally
 * inside the spike lab (injected bad batches or rates, a detector and a recovery policy). Settings
 * not given are the pretraining recipe's (src/core/lesson/recipes.ts); a resumed run keeps its own.
 */
import type { LabEvent } from '../src/core/io/checkpoint.ts';
import { type PretrainSettings, pretrainRecipe } from '../src/core/lesson/recipes.ts';
import { PRESETS, type TrainConfig } from '../src/core/model/config.ts';
import { checkVocabForPreset, describeTokenizer, tokenizerFromJSON } from '../src/core/data/tokenizers.ts';
import { DEFAULT_LR_SPIKE_FACTOR, parseInjection } from '../src/core/spikes/inject.ts';
import { DEFAULT_RECOVERY, isRecoveryPolicy, RECOVERY_POLICIES, type RecoveryConfig, SpikeLab } from '../src/core/spikes/spikelab.ts';
import { LabSession } from '../src/core/train/session.ts';
import { type Command, flag, FLAGS, num, number, type Options, print, readCheckpoint, settingFlags, settingsFrom, str, text, useBackend } from './args.ts';
import { loadCorpus } from './corpora.ts';
import { readTokenizerDir } from './tokenizer.ts';
import { loopSettings, startHelpers, stepCol, trainLoop } from './loop.ts';

const detector = DEFAULT_RECOVERY.detector;
const SPIKE = {
  window: number('spike-window', undefined, { whole: true, min: 1 }, 'steps the detector compares a loss with', String(detector.window)),
  warmup: number('spike-warmup', undefined, { whole: true, min: 0 }, 'steps before the detector starts', String(detector.warmup)),
  z: number('spike-z', undefined, { min: 0 }, 'how many standard deviations above the window make a spike', String(detector.zThreshold)),
  every: number('rollback-every', undefined, { whole: true, min: 1 }, 'steps between the snapshots a rollback returns to', String(DEFAULT_RECOVERY.snapshotEvery)),
  skip: number('rollback-skip', undefined, { whole: true, min: 0 }, 'batches skipped after a rollback', String(DEFAULT_RECOVERY.skipBatches)),
};

/** The TrainConfig keys a resumed run takes from the flags given: those they set, and what follows from them. */
const RESUME_KEYS: Readonly<Record<string, readonly (keyof TrainConfig)[]>> = {
  steps: ['steps'], seed: ['seed'], learningRate: ['learningRate', 'minLearningRate'], batchSize: ['batchSize'], evalInterval: ['evalInterval'],
  schedule: ['schedule'], warmupSteps: ['warmupSteps'], anneal: ['anneal'], zLoss: ['zLoss'],
};

async function run(opts: Options): Promise<void> {
  const json = flag(opts, 'json');
  const backend = await useBackend(opts);
  // Flags set what they name; a new run takes the rest from the pretraining recipe, a resumed one keeps its own.
  const given = settingsFrom('pretrain', opts) as PretrainSettings;
  const recipe = pretrainRecipe(given);
  const resume = str(opts, 'resume');
  const keep = new Set(Object.keys(given).flatMap((key) => RESUME_KEYS[key] ?? []));
  // Resuming changes only what the flags name (more steps: the schedule follows them).
  const train: Partial<TrainConfig> = resume ? Object.fromEntries(Object.entries(recipe.train).filter(([key]) => keep.has(key as keyof TrainConfig))) : recipe.train;

  let session: LabSession;
  if (resume) {
    if (str(opts, 'tokenizer')) throw new Error('--tokenizer is for a new run; a resumed run keeps its checkpoint\'s tokenizer');
    const { state } = readCheckpoint(resume, 'resume');
    const { corpus } = loadCorpus(str(opts, 'text') ? { text: str(opts, 'text') } : { corpus: state.corpus }, tokenizerFromJSON(state.tokenizer));
    if (given.qkLayerNorm && !state.model.qkLayerNorm) throw new Error('--qk-layernorm changes the model; it cannot be turned on when resuming');
    session = LabSession.fromCheckpoint(state, corpus, train);
  } else {
    const tokenizerDir = str(opts, 'tokenizer');
    const own = tokenizerDir ? readTokenizerDir(tokenizerDir) : undefined;
    if (own) checkVocabForPreset(own, recipe.preset, recipe.model);
    const { corpus, tokenizer } = loadCorpus({ corpus: str(opts, 'corpus'), text: str(opts, 'text'), filters: str(opts, 'filters') }, own);
    session = LabSession.create({ preset: recipe.preset, corpus, tokenizer, train, model: recipe.model });
  }
  const lab = spikeLabFor(session, opts);
  const cfg = session.trainer.config;
  const { parameters } = session.summary();
  const helpers = await startHelpers(session, { threads: num(opts, FLAGS.threads), backend, json });
  const tokenizer = describeTokenizer(session.tokenizer);
  const corpus = session.trainer.corpus.name;
  print(json, { event: 'start', backend, threads: helpers.threads, corpus, model: session.model.config, train: cfg, parameters, tokenizer },
    `pretraining ${parameters.toLocaleString()} parameters (${tokenizer}) on ${corpus}, ${backend}${helpers.threads > 1 ? ` (${helpers.threads} threads)` : ''}, ${cfg.steps} steps of ${cfg.batchSize}×${session.model.config.blockSize} tokens`);

  const speeds: number[] = [];
  const stage = {
    session,
    get done() {
      return session.done;
    },
    async step() {
      const { result, valLoss, events } = lab ? await lab.step() : { ...(await session.step()), events: [] };
      for (const e of events) printEvent(json, e);
      speeds.push(result.tokensPerSec);
      return { step: result.step, loss: result.loss, gradNorm: result.gradNorm, lr: result.lr, tokensPerSec: Math.round(result.tokensPerSec), ...(valLoss !== undefined ? { valLoss } : {}) };
    },
  };
  const rows = await trainLoop(stage, loopSettings(opts), (r) =>
    `${stepCol(r.step)} | loss ${r.loss.toFixed(4)}${r.valLoss !== undefined ? ` | val ${r.valLoss.toFixed(4)}` : ''} | grad ${r.gradNorm.toFixed(3)} | lr ${r.lr.toExponential(2)} | ${r.tokensPerSec.toLocaleString()} tok/s`);
  await helpers.stop();
  const finalValLoss = rows.filter((r) => r.valLoss !== undefined).pop()?.valLoss ?? (await session.evaluate());
  speeds.sort((a, b) => a - b);
  const medianTokensPerSec = Math.round(speeds[Math.floor(speeds.length / 2)] ?? 0);
  const spikes = lab ? { policy: lab.config.policy, spikes: session.events.filter((e) => e.event === 'spike').length } : {};
  const out = str(opts, 'out');
  const valBitsPerChar = session.bitsPerChar(finalValLoss);
  print(json, { summary: true, corpus, steps: session.stepsTaken, finalValLoss, valBitsPerChar, tokenizer, medianTokensPerSec, backend, out: out ?? null, ...spikes },
    `done: ${session.stepsTaken} steps, final validation loss ${finalValLoss.toFixed(4)} nats/token = ${valBitsPerChar.toFixed(4)} bits/character, median ${medianTokensPerSec.toLocaleString()} tok/s${out ? `, saved ${out}` : ''}`);
  session.dispose();
}

/**
 * The spike lab around a pretraining run, when the command line asks for injections, a recovery
 * policy or detector settings, or the resumed checkpoint was already running one.
 */
function spikeLabFor(session: LabSession, opts: Options): SpikeLab | undefined {
  const recovery: Partial<RecoveryConfig> = {};
  const policy = str(opts, 'recovery');
  if (policy !== undefined) {
    if (!isRecoveryPolicy(policy)) throw new Error(`--recovery must be one of ${RECOVERY_POLICIES.join(', ')}, got "${policy}"`);
    recovery.policy = policy;
  }
  const saved = (session.extra.spikeLab as { config?: RecoveryConfig } | undefined)?.config;
  const given = { window: num(opts, SPIKE.window), warmup: num(opts, SPIKE.warmup), zThreshold: num(opts, SPIKE.z) };
  if (Object.values(given).some((v) => v !== undefined)) {
    recovery.detector = { ...(saved?.detector ?? detector), ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) };
  }
  const every = num(opts, SPIKE.every);
  const skip = num(opts, SPIKE.skip);
  if (every !== undefined) recovery.snapshotEvery = every;
  if (skip !== undefined) recovery.skipBatches = skip;
  const cut = str(opts, 'lr-cut');
  if (cut !== undefined) {
    const [factor, steps] = cut.split(':');
    if (!(Number(factor) > 0) || (steps !== undefined && !/^\d+$/.test(steps))) throw new Error(`--lr-cut must be FACTOR or FACTOR:STEPS, e.g. 0.1:50, got "${cut}"`);
    recovery.lrCut = Number(factor);
    if (steps !== undefined) recovery.lrCutSteps = Number(steps);
  }
  const written = opts.inject;
  const injections = (Array.isArray(written) ? written : []).map(parseInjection);
  if (injections.length === 0 && Object.keys(recovery).length === 0 && session.extra.spikeLab === undefined) return undefined;
  return new SpikeLab(session, { recovery, injections });
}

function printEvent(json: boolean, e: LabEvent): void {
  const { tokenLosses, text: batch, event, step, ...rest } = e; // the batch's text and per-token losses are for the charts
  void tokenLosses;
  void batch;
  const detail = Object.entries(rest).map(([k, v]) => `${k} ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(', ');
  print(json, { event, step, ...rest }, `  ! ${stepCol(step)} | ${event}${detail ? ` | ${detail}` : ''}`);
}

export const pretrain: Command = {
  name: 'pretrain',
  about: `trains a new model (or --resume a saved run: flags then change only what they name); with --json the last line
is a summary with the final validation loss. Presets: ${Object.keys(PRESETS).join(', ')}. --inject (repeatable) puts bad
batches or a rate spike at a step, and --recovery chooses what the spike lab does about a spike`,
  flags: [
    text('corpus', 'tales', 'a bundled corpus: tales, or crawl (validated on the held-out tales)'), text('filters', 'default', 'with --corpus crawl: default, none, or a list of the data command\'s filters (near-dedup@T: Jaccard ≥ T)'),
    text('text', 'FILE', 'your own UTF-8 text instead'), ...settingFlags('pretrain'),
    text('tokenizer', 'DIR', 'a BPE tokenizer written by the tokenizer command (default: characters)'),
    text('resume', 'CKPT', 'continue a saved run exactly where it stopped'), FLAGS.out, FLAGS.logInterval, FLAGS.threads, FLAGS.backend, FLAGS.json,
    { name: 'inject', kind: 'list', value: 'KIND@STEP[xN]', help: `microwavegang or random-bytes: N bad batches from STEP; lr-spike: the rate ×N (${DEFAULT_LR_SPIKE_FACTOR}) at STEP; repeatable` },
    text('recovery', DEFAULT_RECOVERY.policy, `what to do about a spike (${RECOVERY_POLICIES.join(', ')})`),
    SPIKE.window, SPIKE.warmup, SPIKE.z, SPIKE.every, SPIKE.skip,
    text('lr-cut', `${DEFAULT_RECOVERY.lrCut}:${DEFAULT_RECOVERY.lrCutSteps}`, 'lower-lr: the rate × FACTOR for STEPS steps (FACTOR[:STEPS])'),
  ],
  run,
};
