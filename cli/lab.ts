/**
 * LM Lab's command line: the same core as the browser lab, for teachers preparing checkpoints,
 * for benchmarks and for CI.   npm run lab -- <command> [options]   (npm run lab -- help)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { enableProdMode } from '@tensorflow/tfjs';
import { selectBackend, type BackendPreference } from '../src/core/backend/backend.ts';
import { decodeCheckpoint, inspectCheckpoint } from '../src/core/io/checkpoint.ts';
import { PRESETS, type PresetName, type TrainConfig } from '../src/core/model/config.ts';
import { LabSession } from '../src/core/train/session.ts';
import { parseInjection } from '../src/core/spikes/inject.ts';
import { DEFAULT_RECOVERY, isRecoveryPolicy, RECOVERY_POLICIES, type RecoveryConfig, SpikeLab } from '../src/core/spikes/spikelab.ts';
import type { LabEvent } from '../src/core/io/checkpoint.ts';
import { tokenLogProbs } from '../src/core/model/sample.ts';
import { CharTokenizer } from '../src/core/model/tokenizer.ts';
import { loadCorpus, readTextFile } from './corpora.ts';
import { runBench } from './bench.ts';
import { exportCommand, importCommand } from './share.ts';
import { runStage } from './stages.ts';
import { RL_HELP, runRl } from './rl.ts';
import { runLesson } from './lesson.ts';
import { defaultThreads, shareSteps } from './gradient-threads.ts';
import { LESSON_PLAN } from '../src/core/lesson/plan.ts';
import { type PretrainSettings, pretrainRecipe } from '../src/core/lesson/recipes.ts';

const HELP = `LM Lab command line

  npm run lab -- lesson   --out DIR [--preset tiny] [--seed 1] [--threads N] [--json]
                          the lesson plan: pretrain → SFT → DPO with the defaults below, writing DIR/base,
                          DIR/sft and DIR/dpo .safetensors and each stage's report card and wall time
  npm run lab -- pretrain [--corpus tales | --text FILE] [--preset tiny] [--steps ${LESSON_PLAN.pretrain.steps}] [--backend auto|wasm|cpu]
                          [--seed 1] [--lr 3e-3] [--batch-size 16] [--eval-interval N] [--log-interval 10]
                          [--schedule cosine|wsd] [--warmup N] [--anneal STEPS[:LR]]
                          [--resume CKPT] [--out FILE] [--threads N] [--json]
                          [--inject microwavegang@STEP[xK] | random-bytes@STEP[xK] | lr-spike@STEP[xN]] (repeatable)
                          [--recovery none|skip|rollback|lower-lr|filter] [--spike-window 128] [--spike-warmup 64]
                          [--spike-z 6] [--rollback-every 25] [--rollback-skip 20] [--lr-cut 0.1:50]
                          [--z-loss 1e-4] [--qk-layernorm]
  npm run lab -- sample   --ckpt FILE [--prompt TEXT] [--tokens 200] [--temperature 0.8] [--top-k 0] [--seed 1]
  npm run lab -- score    --ckpt FILE --text FILE    per-token log-probs and mean loss, as JSON
  npm run lab -- inspect  --ckpt FILE                config, stage, step and metadata, as JSON (checks the whole file)
  npm run lab -- export   --ckpt FILE --out FILE [--no-optimizer]    a checkpoint to share; --no-optimizer leaves out
                          the AdamW moments (a third of the size; training continues with fresh moments)
  npm run lab -- import   --file FILE [--out CKPT] [--n-head H] [--vocab FILE] [--corpus NAME] [--json]
                          validates a received file and prints its card; --out saves it as an LM Lab checkpoint
                          (never over an existing file). A plain nanoGPT state dict needs --n-head; its
                          vocabulary is --vocab FILE (LM Lab tokenizer JSON, or a JSON list of characters in
                          id order) or the bundled corpora/vocab.json
  npm run lab -- sft      --from BASE [--steps ${LESSON_PLAN.sft.steps}] [--lr ${LESSON_PLAN.sft.learningRate}] [--pretrain-share ${LESSON_PLAN.sft.pretrainShare}] [--out FILE]
                          [--batch-size N] [--eval-interval N] [--train FILE.jsonl] [--val FILE.jsonl] [--text FILE]
                          [--what-if no-pretrain-text] [--log-interval 10] [--threads N] [--json]
                          fine-tunes a base checkpoint on chat (bundled corpora/chat unless --train/--val), with
                          a share of each batch's rows story text; --what-if no-pretrain-text trains on chat
                          alone and shows forgetting. Other settings are the parent's
  npm run lab -- dpo      --from SFT [--steps ${LESSON_PLAN.dpo.steps}] [--lr ${LESSON_PLAN.dpo.learningRate}] [--beta ${LESSON_PLAN.dpo.beta}] [--loss sigmoid|ipo|hinge] [--rpo-alpha ${LESSON_PLAN.dpo.rpoAlpha}]
                          [--pretrain-share ${LESSON_PLAN.dpo.pretrainShare}] [--out FILE] [--batch-size N] [--train FILE.jsonl]
                          [--val FILE.jsonl] [--text FILE] [--what-if length-bias] [--json]
                          --what-if length-bias trains on the pairs whose chosen reply is the shorter one,
                          without the RPO term, and shows the replies collapse
  npm run lab -- eval     --ckpt FILE [--ref FILE] [--limit N] [--beta B] [--sft-val FILE] [--dpo-val FILE] [--json]
                          report card: stories validation loss, real words in samples, held-out exact match,
                          format adherence, empty replies, mean reply length, preference accuracy and mean
                          margin (against --ref, else a DPO checkpoint's parent); with --ref, the change of
                          the stories loss from it
${RL_HELP}
  npm run lab -- bench    [--json] [--steps 20] [--presets micro,tiny] [--backends wasm,cpu] [--browser] [--profile] [--vs-pytorch]
                          [--kernels fused,reference] [--submit 15] [--threads 1,2]
                          step time per preset and backend, then on wasm sampling and an RL step (tiny);
                          --profile lists the step's kernels by time;
                          --vs-pytorch adds nanoGPT in PyTorch on the same shapes, and the step's matrix
                          products alone on both; --browser adds headless Chromium (on a Linux machine with
                          a GPU it finds the flags that reach it, unless LM_LAB_CHROMIUM_ARGS gives them)

Presets: ${Object.keys(PRESETS).join(', ')}. With --json every log line is one JSON object and the
last line of pretrain is a summary with the final validation loss. On wasm, pretraining, SFT and RL share
each step's rows between --threads N worker threads (default: one a core, at most 4; 1: one thread).`;

const OPTIONS = {
  corpus: { type: 'string' },
  text: { type: 'string' },
  preset: { type: 'string' },
  steps: { type: 'string' },
  backend: { type: 'string' },
  seed: { type: 'string' },
  lr: { type: 'string' },
  'batch-size': { type: 'string' },
  'eval-interval': { type: 'string' },
  schedule: { type: 'string' },
  warmup: { type: 'string' },
  anneal: { type: 'string' },
  'log-interval': { type: 'string' },
  inject: { type: 'string', multiple: true },
  recovery: { type: 'string' },
  'spike-window': { type: 'string' },
  'spike-warmup': { type: 'string' },
  'spike-z': { type: 'string' },
  'rollback-every': { type: 'string' },
  'rollback-skip': { type: 'string' },
  'lr-cut': { type: 'string' },
  'z-loss': { type: 'string' },
  'qk-layernorm': { type: 'boolean' },
  resume: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean' },
  ckpt: { type: 'string' },
  prompt: { type: 'string' },
  tokens: { type: 'string' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  presets: { type: 'string' },
  backends: { type: 'string' },
  browser: { type: 'boolean' },
  profile: { type: 'boolean' },
  'vs-pytorch': { type: 'boolean' },
  kernels: { type: 'string' },
  submit: { type: 'string' },
  threads: { type: 'string' },
  file: { type: 'string' },
  'n-head': { type: 'string' },
  vocab: { type: 'string' },
  'no-optimizer': { type: 'boolean' },
  from: { type: 'string' },
  beta: { type: 'string' },
  'rpo-alpha': { type: 'string' },
  'pretrain-share': { type: 'string' },
  'what-if': { type: 'string' },
  loss: { type: 'string' },
  ref: { type: 'string' },
  train: { type: 'string' },
  val: { type: 'string' },
  'sft-val': { type: 'string' },
  'dpo-val': { type: 'string' },
  limit: { type: 'string' },
  rm: { type: 'string' },
  reward: { type: 'string' },
  'kl-coef': { type: 'string' },
  'group-size': { type: 'string' },
  'prompts-per-step': { type: 'string' },
  'prompt-sampling': { type: 'string' },
  'max-new-tokens': { type: 'string' },
  'partial-credit': { type: 'string' },
  'center-coef': { type: 'string' },
  'lm-coef': { type: 'string' },
  'no-card': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Options = ReturnType<typeof parseOptions>['values'];

function parseOptions(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
}

/** A numeric option, with a one-line error naming it when it is not a number in range. */
function num(opts: Options, key: keyof Options, fallback: number, { integer = false, min = -Infinity } = {}): number {
  const raw = opts[key];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min) {
    throw new Error(`--${key} must be ${integer ? 'a whole number' : 'a number'}${min > -Infinity ? ` ≥ ${min}` : ''}, got "${raw}"`);
  }
  return value;
}

function readCheckpointFile(path: string | undefined): Uint8Array {
  if (!path) throw new Error('--ckpt FILE is required');
  try {
    return new Uint8Array(readFileSync(path));
  } catch {
    throw new Error(`cannot read checkpoint ${path}`);
  }
}

async function useBackend(opts: Options): Promise<string> {
  const pref = (opts.backend ?? 'auto') as BackendPreference;
  if (!['auto', 'webgpu', 'wasm', 'cpu'].includes(pref)) throw new Error(`--backend must be auto, webgpu, wasm or cpu, got "${pref}"`);
  const info = await selectBackend(pref);
  if (pref !== 'auto' && info.backend !== pref) throw new Error(`backend ${pref} is not available here (${info.reason})`);
  return info.backend;
}

function print(json: boolean, obj: Record<string, unknown>, text: string): void {
  console.log(json ? JSON.stringify(obj) : text);
}

/** The TrainConfig keys a resumed run takes from the flags given: those they set, and what follows from them. */
function resumeKeys(given: PretrainSettings): Set<string> {
  const keys = new Set<string>();
  if (given.steps !== undefined) keys.add('steps');
  if (given.seed !== undefined) keys.add('seed');
  if (given.learningRate !== undefined) keys.add('learningRate').add('minLearningRate');
  if (given.batchSize !== undefined) keys.add('batchSize');
  if (given.evalInterval !== undefined) keys.add('evalInterval');
  if (given.schedule !== undefined) keys.add('schedule');
  if (given.warmupSteps !== undefined) keys.add('warmupSteps');
  if (given.anneal !== undefined) keys.add('anneal');
  if (given.zLoss !== undefined) keys.add('zLoss');
  return keys;
}

async function pretrain(opts: Options): Promise<void> {
  const json = Boolean(opts.json);
  const backend = await useBackend(opts);
  // Flags set what they name; a new run takes the rest from the pretraining recipe, a resumed one keeps its own.
  const given: PretrainSettings = {};
  if (opts.preset !== undefined) given.preset = opts.preset as PresetName;
  if (opts.steps !== undefined) given.steps = num(opts, 'steps', 0, { integer: true, min: 1 });
  if (opts.seed !== undefined) given.seed = num(opts, 'seed', 1, { integer: true });
  if (opts.lr !== undefined) given.learningRate = num(opts, 'lr', 0, { min: 0 });
  if (opts['batch-size'] !== undefined) given.batchSize = num(opts, 'batch-size', 0, { integer: true, min: 1 });
  if (opts['eval-interval'] !== undefined) given.evalInterval = num(opts, 'eval-interval', 0, { integer: true, min: 1 });
  if (opts.schedule !== undefined) given.schedule = opts.schedule as PretrainSettings['schedule'];
  if (opts.warmup !== undefined) given.warmupSteps = num(opts, 'warmup', 0, { integer: true, min: 0 });
  if (opts.anneal !== undefined) {
    const [steps, lr = '0'] = opts.anneal.split(':');
    if (!/^\d+$/.test(steps) || !Number.isFinite(Number(lr)) || Number(lr) < 0) throw new Error(`--anneal must be STEPS or STEPS:LR, got "${opts.anneal}"`);
    given.anneal = { steps: Number(steps), lr: Number(lr) };
  }
  if (opts['z-loss'] !== undefined) given.zLoss = num(opts, 'z-loss', 0, { min: 0 });
  given.qkLayerNorm = Boolean(opts['qk-layernorm']);
  const recipe = pretrainRecipe(given);
  // Resuming changes only what the flags name (more steps: the schedule follows them).
  const train: Partial<TrainConfig> = opts.resume ? Object.fromEntries(Object.entries(recipe.train).filter(([key]) => resumeKeys(given).has(key))) : recipe.train;
  const logInterval = num(opts, 'log-interval', 10, { integer: true, min: 1 });

  let session: LabSession;
  if (opts.resume) {
    const state = decodeCheckpoint(readCheckpointFile(opts.resume));
    const { corpus } = loadCorpus(opts.text ? { text: opts.text } : { corpus: state.corpus }, CharTokenizer.fromJSON(state.tokenizer));
    if (opts['qk-layernorm'] && !state.model.qkLayerNorm) throw new Error('--qk-layernorm changes the model; it cannot be turned on when resuming');
    session = LabSession.fromCheckpoint(state, corpus, train);
  } else {
    const { preset, model } = recipe;
    const { corpus, tokenizer } = loadCorpus({ corpus: opts.corpus, text: opts.text });
    session = LabSession.create({ preset, corpus, tokenizer, train, model });
  }
  const lab = spikeLabFor(session, opts);
  const cfg = session.trainer.config;
  const summary0 = session.summary();
  const stopThreads = await shareSteps(session.trainer, num(opts, 'threads', defaultThreads(), { integer: true, min: 1 }), backend, (message) => print(json, { event: 'note', message }, message));
  const threads = session.trainer.helpers.length + 1;
  print(json, { event: 'start', backend, threads, model: session.model.config, train: cfg, parameters: summary0.parameters },
    `pretraining ${summary0.parameters.toLocaleString()} parameters on ${backend}${threads > 1 ? ` (${threads} threads)` : ''}, ${cfg.steps} steps of ${cfg.batchSize}×${session.model.config.blockSize} tokens`);

  const speeds: number[] = [];
  let lastVal: number | undefined;
  while (!session.done) {
    const { result, valLoss, events } = lab ? await lab.step() : { ...(await session.step()), events: [] };
    for (const e of events) printEvent(json, e);
    speeds.push(result.tokensPerSec);
    if (valLoss !== undefined) lastVal = valLoss;
    if ((result.step + 1) % logInterval === 0 || result.step === 0 || valLoss !== undefined || session.done) {
      const row = { step: result.step, loss: result.loss, gradNorm: result.gradNorm, lr: result.lr, tokensPerSec: Math.round(result.tokensPerSec), ...(valLoss !== undefined ? { valLoss } : {}) };
      print(json, row, `step ${String(result.step).padStart(5)} | loss ${result.loss.toFixed(4)}${valLoss !== undefined ? ` | val ${valLoss.toFixed(4)}` : ''} | grad ${result.gradNorm.toFixed(3)} | lr ${result.lr.toExponential(2)} | ${Math.round(result.tokensPerSec).toLocaleString()} tok/s`);
    }
  }
  await stopThreads();
  const finalValLoss = lastVal ?? (await session.evaluate());
  if (opts.out) writeFileSync(opts.out, await session.toCheckpointBytes());
  speeds.sort((a, b) => a - b);
  const medianTokensPerSec = Math.round(speeds[Math.floor(speeds.length / 2)] ?? 0);
  const spikes = lab ? { policy: lab.config.policy, spikes: session.events.filter((e) => e.event === 'spike').length } : {};
  print(json, { summary: true, steps: session.stepsTaken, finalValLoss, medianTokensPerSec, backend, out: opts.out ?? null, ...spikes },
    `done: ${session.stepsTaken} steps, final validation loss ${finalValLoss.toFixed(4)}, median ${medianTokensPerSec.toLocaleString()} tok/s${opts.out ? `, saved ${opts.out}` : ''}`);
  session.dispose();
}

/**
 * The spike lab around a pretraining run, when the command line asks for injections, a recovery
 * policy or detector settings, or the resumed checkpoint was already running one.
 */
function spikeLabFor(session: LabSession, opts: Options): SpikeLab | undefined {
  const recovery: Partial<RecoveryConfig> = {};
  if (opts.recovery !== undefined) {
    if (!isRecoveryPolicy(opts.recovery)) throw new Error(`--recovery must be one of ${RECOVERY_POLICIES.join(', ')}, got "${opts.recovery}"`);
    recovery.policy = opts.recovery;
  }
  const saved = (session.extra.spikeLab as { config?: RecoveryConfig } | undefined)?.config;
  const detector = { ...(saved?.detector ?? DEFAULT_RECOVERY.detector) };
  if (opts['spike-window'] !== undefined) detector.window = num(opts, 'spike-window', 0, { integer: true, min: 1 });
  if (opts['spike-warmup'] !== undefined) detector.warmup = num(opts, 'spike-warmup', 0, { integer: true, min: 0 });
  if (opts['spike-z'] !== undefined) detector.zThreshold = num(opts, 'spike-z', 0, { min: 0 });
  if (opts['spike-window'] !== undefined || opts['spike-warmup'] !== undefined || opts['spike-z'] !== undefined) recovery.detector = detector;
  if (opts['rollback-every'] !== undefined) recovery.snapshotEvery = num(opts, 'rollback-every', 0, { integer: true, min: 1 });
  if (opts['rollback-skip'] !== undefined) recovery.skipBatches = num(opts, 'rollback-skip', 0, { integer: true, min: 0 });
  if (opts['lr-cut'] !== undefined) {
    const [factor, steps] = opts['lr-cut'].split(':');
    if (!(Number(factor) > 0) || (steps !== undefined && !/^\d+$/.test(steps))) throw new Error(`--lr-cut must be FACTOR or FACTOR:STEPS, e.g. 0.1:50, got "${opts['lr-cut']}"`);
    recovery.lrCut = Number(factor);
    if (steps !== undefined) recovery.lrCutSteps = Number(steps);
  }
  const injections = (opts.inject ?? []).map(parseInjection);
  if (injections.length === 0 && Object.keys(recovery).length === 0 && session.extra.spikeLab === undefined) return undefined;
  return new SpikeLab(session, { recovery, injections });
}

function printEvent(json: boolean, e: LabEvent): void {
  const { tokenLosses, text, event, step, ...rest } = e; // the batch's text and per-token losses are for the charts
  void tokenLosses;
  void text;
  const detail = Object.entries(rest).map(([k, v]) => `${k} ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(', ');
  print(json, { event, step, ...rest }, `  ! step ${String(step).padStart(5)} | ${event}${detail ? ` | ${detail}` : ''}`);
}

function sessionFromFile(path: string | undefined): LabSession {
  const state = decodeCheckpoint(readCheckpointFile(path));
  // Sampling and scoring need no training text: give the session a stand-in long enough to pass checks.
  const filler = new Int32Array(state.model.blockSize + 1);
  return LabSession.fromCheckpoint(state, { name: state.corpus, train: filler, val: filler });
}

async function sample(opts: Options): Promise<void> {
  await useBackend(opts);
  const session = sessionFromFile(opts.ckpt);
  const prompt = opts.prompt ?? '\n';
  const unknown = session.tokenizer.unknownChars(prompt);
  if (unknown.length) console.error(`note: the model's vocabulary lacks ${unknown.map((c) => JSON.stringify(c)).join(', ')}; they read as <|unk|>`);
  const text = await session.sample(prompt, {
    maxTokens: num(opts, 'tokens', 200, { integer: true, min: 1 }),
    temperature: num(opts, 'temperature', 0.8, { min: 0 }),
    topK: num(opts, 'top-k', 0, { integer: true, min: 0 }),
    seed: num(opts, 'seed', 1, { integer: true }),
  });
  print(Boolean(opts.json), { prompt, completion: text }, prompt + text);
  session.dispose();
}

async function score(opts: Options): Promise<void> {
  await useBackend(opts);
  if (!opts.text) throw new Error('--text FILE is required');
  const session = sessionFromFile(opts.ckpt);
  const text = readTextFile(opts.text);
  const ids = session.tokenizer.encode(text);
  if (ids.length < 2) throw new Error(`${opts.text} has fewer than two characters; nothing to score`);
  const { positions, logProbs } = await tokenLogProbs(session.model, ids);
  const meanLoss = -logProbs.reduce((a, b) => a + b, 0) / logProbs.length;
  console.log(JSON.stringify({ meanLoss, tokens: positions.map((p, i) => ({ position: p, token: session.tokenizer.tokenText(ids[p]), logProb: logProbs[i] })) }));
  session.dispose();
}

function inspect(opts: Options): void {
  const bytes = readCheckpointFile(opts.ckpt);
  const s = inspectCheckpoint(bytes);
  decodeCheckpoint(bytes); // the whole file, not just its header: tensors, shapes, finite values
  const { metrics, ...rest } = s;
  console.log(JSON.stringify({ ...rest, sizeBytes: bytes.length, metricsLogged: metrics.length, lastMetrics: metrics.slice(-3) }, null, 2));
}

async function main(argv: string[]): Promise<void> {
  const { values: opts, positionals } = parseOptions(argv);
  const command = positionals[0];
  if (opts.help || !command || command === 'help') return void console.log(HELP);
  switch (command) {
    case 'pretrain': return pretrain(opts);
    case 'sample': return sample(opts);
    case 'score': return score(opts);
    case 'inspect': return inspect(opts);
    case 'export': return exportCommand(opts);
    case 'import': return importCommand(opts);
    case 'sft':
    case 'dpo':
    case 'eval': return runStage(command, opts);
    case 'rm':
    case 'rl': return runRl(command, opts);
    case 'lesson': {
      if (!opts.out) throw new Error('--out DIR is required (the three checkpoints are written there)');
      const backend = await useBackend(opts);
      return runLesson({ preset: opts.preset, seed: opts.seed !== undefined ? num(opts, 'seed', 1, { integer: true }) : undefined, out: opts.out, json: Boolean(opts.json), backend, threads: num(opts, 'threads', defaultThreads(), { integer: true, min: 1 }) });
    }
    case 'bench': return void (await runBench({ json: Boolean(opts.json), steps: num(opts, 'steps', 20, { integer: true, min: 1 }), presets: opts.presets, backends: opts.backends, browser: Boolean(opts.browser), profile: Boolean(opts.profile), vsPytorch: Boolean(opts['vs-pytorch']), kernels: opts.kernels, submit: opts.submit === undefined ? undefined : num(opts, 'submit', 15, { integer: true, min: 1 }), threads: opts.threads }));
    default: throw new Error(`unknown command "${command}"; try: npm run lab -- help`);
  }
}

// Quiet tfjs's advice to install tfjs-node (LM Lab runs the same backends as the browser on purpose)
// and its other console notes, so errors stay one line.
enableProdMode();
main(process.argv.slice(2)).catch((e: unknown) => {
  console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
