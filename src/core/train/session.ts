/**
 * A run of one stage, as the command line and the browser worker both drive it: the model, its
 * trainer, the tokenizer, the metrics history and the events, created fresh or rebuilt from a
 * checkpoint, and written back to one. The loop around `step` (pause, autosave, spike recovery)
 * belongs to the caller.
 */
import { AdamW } from './adamw.ts';
import { type CheckpointState, decodeCheckpoint, encodeCheckpoint, type LabEvent, type LineageEntry, type MetricRow, sha256Hex, type Stage } from '../io/checkpoint.ts';
import { countParameters, defaultTrainConfig, type GPTConfig, modelConfig, type PresetName, type TrainConfig } from '../model/config.ts';
import { checkCorpus, type Corpus, valBitsPerChar } from './data.ts';
import { GPT } from '../model/model.ts';
import { generate, generateWithAlternatives } from '../model/sample.ts';
import { type ProbedToken, probedTokens } from '../inspect/probed.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import { describeTokenizer, tokenizerFromJSON } from '../data/tokenizers.ts';
import { checkParent } from '../lesson/parents.ts';
import { evalIntervalFor, floorRate, warmupFor } from './schedule.ts';
import { type StepResult, Trainer } from './trainer.ts';

export interface SessionInit {
  preset: PresetName;
  corpus: Corpus;
  tokenizer: TextTokenizer;
  train?: Partial<TrainConfig>;
  model?: Partial<GPTConfig>;
  stage?: Stage;
}

/** A later stage started from a parent checkpoint (SFT from a base model, DPO from an SFT model). */
export interface StageInit {
  stage: Stage;
  /** The stories, tokenized with the parent's tokenizer: the validation loss stays on them. */
  corpus: Corpus;
  /** Settings that differ from the parent's; everything else is inherited. */
  train?: Partial<TrainConfig>;
  /** Parameters the new stage adds to the parent's (a reward model's scalar head), with their initial values. */
  extraWeights?: (model: GPTConfig) => Map<string, Float32Array>;
}

/** A setting a stage changed from its parent's: which, and from what to what. */
export interface Override {
  key: keyof TrainConfig;
  from: unknown;
  to: unknown;
}

/**
 * The parent's training settings with `overrides` applied. Settings derived from others follow
 * them unless given too, with defaultTrainConfig's rules: warm-up and evaluation interval from the
 * number of steps, the learning-rate floor from the peak. Returns the config and what changed.
 */
export function inheritTrainConfig(parent: TrainConfig, overrides: Partial<TrainConfig> = {}): { config: TrainConfig; overridden: Override[] } {
  const config: TrainConfig = { ...parent, ...overrides };
  if (overrides.steps !== undefined) {
    if (overrides.warmupSteps === undefined) config.warmupSteps = warmupFor(config.steps);
    if (overrides.evalInterval === undefined) config.evalInterval = evalIntervalFor(config.steps);
  }
  if (overrides.learningRate !== undefined && overrides.minLearningRate === undefined) config.minLearningRate = floorRate(config.learningRate);
  const overridden = (Object.keys(config) as (keyof TrainConfig)[])
    .filter((key) => config[key] !== parent[key])
    .map((key) => ({ key, from: parent[key], to: config[key] }));
  return { config, overridden };
}

export interface SessionStep {
  result: StepResult;
  valLoss?: number;
}

export interface SampleRequest {
  maxTokens?: number;
  temperature?: number;
  topK?: number;
  seed?: number;
}

export class LabSession {
  metrics: MetricRow[] = [];
  events: LabEvent[] = [];
  lineage: LineageEntry[] = [];
  extra: Record<string, unknown> = {};
  /** Who trained it (a name or group the student typed); later stages inherit it. */
  student?: string;

  private constructor(
    readonly model: GPT,
    readonly trainer: Trainer,
    readonly tokenizer: TextTokenizer,
    readonly stage: Stage,
  ) {}

  static create(init: SessionInit): LabSession {
    const config = modelConfig(init.preset, init.tokenizer.vocabSize, init.model);
    const train = defaultTrainConfig(init.preset, init.train);
    checkCorpus(init.corpus, config.blockSize);
    const model = GPT.init(config, train.seed);
    return new LabSession(model, new Trainer(model, train, init.corpus), init.tokenizer, init.stage ?? 'pretrain');
  }

  /**
   * Rebuilds a run exactly where its checkpoint left it: weights, optimizer moments, step, data
   * position, metrics and events. `corpus` must be the text the run trained on, tokenized with
   * the checkpoint's tokenizer (see `corpusFor`). `train` overrides settings (e.g. more steps).
   */
  static fromCheckpoint(source: Uint8Array | CheckpointState, corpus: Corpus, train: Partial<TrainConfig> = {}): LabSession {
    const state = source instanceof Uint8Array ? decodeCheckpoint(source) : source;
    checkCorpus(corpus, state.model.blockSize);
    const model = new GPT(state.model, state.weights);
    const config = { ...state.train, ...train };
    const optimizer = new AdamW(model.params, config);
    if (state.optimizer) optimizer.load(state.optimizer.m, state.optimizer.v, state.optimizer.t);
    const trainer = new Trainer(model, config, corpus, optimizer);
    trainer.step = state.step;
    trainer.rng.state = state.dataState.rngState;
    const session = new LabSession(model, trainer, tokenizerFromJSON(state.tokenizer), state.stage);
    session.metrics = state.metrics.filter((m) => m.step < state.step);
    session.events = state.events.filter((e) => e.step < state.step);
    session.lineage = state.lineage;
    session.extra = state.extra;
    session.student = state.student;
    return session;
  }

  /**
   * Starts a new stage from a parent checkpoint's weights, with a fresh optimizer at step 0 and
   * empty metrics. The model config and tokenizer are the parent's; the training settings are the
   * parent's unless overridden (`extra.inherited` says which). The lineage gains the parent: its
   * stage, step, the SHA-256 of its file, the tokens it saw and the corpus it trained on.
   */
  static async fromParent(parentBytes: Uint8Array, init: StageInit): Promise<LabSession> {
    const parent = decodeCheckpoint(parentBytes);
    checkParent(init.stage, parent.stage);
    checkCorpus(init.corpus, parent.model.blockSize);
    const { config, overridden } = inheritTrainConfig(parent.train, init.train);
    const weights = init.extraWeights ? new Map([...parent.weights, ...init.extraWeights(parent.model)]) : parent.weights;
    const model = new GPT(parent.model, weights);
    const tokenizer = tokenizerFromJSON(parent.tokenizer);
    const session = new LabSession(model, new Trainer(model, config, init.corpus), tokenizer, init.stage);
    const tokens = parent.step * parent.train.batchSize * parent.model.blockSize;
    session.lineage = [...parent.lineage, { stage: parent.stage, step: parent.step, sha256: await sha256Hex(parentBytes), tokens, tokenizer: describeTokenizer(tokenizer), corpus: parent.corpus }];
    session.student = parent.student;
    session.extra = { inherited: { fromStage: parent.stage, overridden } };
    return session;
  }

  /** Adds values to the metric row of the latest step (a stage's own metrics: DPO rewards, accuracy…). */
  annotate(values: Record<string, number>): void {
    const row = this.metrics[this.metrics.length - 1];
    if (!row) throw new Error('session: no step has been logged yet');
    Object.assign(row, values);
  }

  /** Steps taken so far in this stage; the next step is number `stepsTaken`. */
  get stepsTaken(): number {
    return this.trainer.step;
  }

  get done(): boolean {
    return this.trainer.step >= this.trainer.config.steps;
  }

  /** One training step; evaluates on the validation text every evalInterval steps and at the end. */
  async step(opts: Parameters<Trainer['trainStep']>[0] = {}): Promise<SessionStep> {
    const result = await this.trainer.trainStep(opts);
    const row: MetricRow = { step: result.step, loss: result.loss, gradNorm: result.gradNorm, lr: result.lr, tokensPerSec: result.tokensPerSec };
    const { evalInterval, steps } = this.trainer.config;
    let valLoss: number | undefined;
    if ((result.step + 1) % evalInterval === 0 || result.step + 1 === steps) {
      valLoss = await this.evaluate();
      row.valLoss = valLoss;
      row.valBitsPerChar = this.bitsPerChar(valLoss);
    }
    this.metrics.push(row);
    return { result, valLoss };
  }

  evaluate(): Promise<number> {
    return this.trainer.evaluate();
  }

  /** A validation loss of this run (nats per token) in bits per character of its validation text. */
  bitsPerChar(valLoss: number): number {
    return valBitsPerChar(valLoss, this.trainer.corpus);
  }

  async toCheckpoint(): Promise<CheckpointState> {
    const { optimizer } = this.trainer;
    const { m, v } = await optimizer.moments();
    return {
      model: this.model.config,
      train: this.trainer.config,
      tokenizer: this.tokenizer.toJSON(),
      stage: this.stage,
      step: this.trainer.step,
      corpus: this.trainer.corpus.name,
      dataState: { rngState: this.trainer.rng.state },
      weights: await this.model.values(),
      optimizer: { t: optimizer.t, m, v },
      metrics: this.metrics,
      events: this.events,
      lineage: this.lineage,
      extra: this.extra,
      ...(this.student ? { student: this.student } : {}),
    };
  }

  async toCheckpointBytes(opts: { includeOptimizer?: boolean } = {}): Promise<Uint8Array> {
    return encodeCheckpoint(await this.toCheckpoint(), opts);
  }

  /** Continues a text prompt. Unknown characters in the prompt become <|unk|>. */
  async sample(prompt: string, req: SampleRequest = {}): Promise<string> {
    const ids = this.tokenizer.encode(prompt.length > 0 ? prompt : '\n');
    const out = await generate(this.model, ids, {
      maxTokens: req.maxTokens ?? 200,
      temperature: req.temperature ?? 0.8,
      topK: req.topK ?? 0,
      seed: req.seed ?? 1,
    });
    return this.tokenizer.decode(out);
  }

  /**
   * `sample`, token by token: the same draws (one row of the same decoder, the same seed), each
   * new token with its probability and the model's `k` likeliest at that step, read off the
   * logits the step already has.
   */
  async sampleTokens(prompt: string, req: SampleRequest = {}, k = 5): Promise<{ text: string; tokens: ProbedToken[] }> {
    const ids = this.tokenizer.encode(prompt.length > 0 ? prompt : '\n');
    const written = await generateWithAlternatives(this.model, ids, { maxTokens: req.maxTokens ?? 200, temperature: req.temperature ?? 0.8, topK: req.topK ?? 0, seed: req.seed ?? 1 }, k);
    const tokens = probedTokens((id) => this.tokenizer.tokenText(id), written.map((w) => w.token), written.map((w) => w.logProb), written.map((w) => w.top));
    return { text: this.tokenizer.decode(written.map((w) => w.token)), tokens };
  }

  /**
   * Parameters, the tokens this stage has trained on, and tokens per parameter of the pretraining
   * (Chinchilla's ratio is about pretraining: a later stage reports its base's, from the lineage).
   */
  summary() {
    const parameters = countParameters(this.model.config);
    const tokensSeen = this.trainer.step * this.trainer.tokensPerBatch;
    const base = this.lineage.find((l) => l.stage === 'pretrain');
    // A parent recorded before lineage kept token counts: its steps at this run's batch and context.
    const pretrainTokens = this.stage === 'pretrain' ? tokensSeen : base ? (base.tokens ?? base.step * this.trainer.tokensPerBatch) : 0;
    return { parameters, tokensSeen, pretrainTokens, tokensPerParameter: pretrainTokens / parameters, step: this.trainer.step, steps: this.trainer.config.steps, stage: this.stage };
  }

  dispose(): void {
    this.trainer.optimizer.dispose();
    this.model.dispose();
  }
}
