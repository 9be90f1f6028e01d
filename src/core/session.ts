/**
 * A run of one stage, as the command line and the browser worker both drive it: the model, its
 * trainer, the tokenizer, the metrics history and the events, created fresh or rebuilt from a
 * checkpoint, and written back to one. The loop around `step` (pause, autosave, spike recovery)
 * belongs to the caller.
 */
import * as tf from '@tensorflow/tfjs';
import { AdamW } from './adamw.ts';
import { type CheckpointState, decodeCheckpoint, encodeCheckpoint, type LabEvent, type LineageEntry, type MetricRow, type Stage } from './checkpoint.ts';
import { countParameters, defaultTrainConfig, type GPTConfig, modelConfig, type PresetName, type TrainConfig } from './config.ts';
import { checkCorpus, type Corpus } from './data.ts';
import { GPT } from './model.ts';
import { generate } from './sample.ts';
import { CharTokenizer } from './tokenizer.ts';
import { type StepDecision, type StepResult, Trainer, type TrainBatch } from './trainer.ts';

export interface SessionInit {
  preset: PresetName;
  corpus: Corpus;
  tokenizer: CharTokenizer;
  train?: Partial<TrainConfig>;
  model?: Partial<GPTConfig>;
  stage?: Stage;
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

  private constructor(
    readonly model: GPT,
    readonly trainer: Trainer,
    readonly tokenizer: CharTokenizer,
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
    const session = new LabSession(model, trainer, CharTokenizer.fromJSON(state.tokenizer), state.stage);
    session.metrics = state.metrics.filter((m) => m.step < state.step);
    session.events = state.events.filter((e) => e.step < state.step);
    session.lineage = state.lineage;
    session.extra = state.extra;
    return session;
  }

  /** Steps taken so far in this stage; the next step is number `stepsTaken`. */
  get stepsTaken(): number {
    return this.trainer.step;
  }

  get done(): boolean {
    return this.trainer.step >= this.trainer.config.steps;
  }

  /** One training step; evaluates on the validation text every evalInterval steps and at the end. */
  async step(opts: { batch?: TrainBatch; decide?: (loss: number, gradNorm: number) => StepDecision; lossFn?: () => tf.Scalar; lrMultiplier?: number } = {}): Promise<SessionStep> {
    const result = await this.trainer.trainStep(opts);
    const row: MetricRow = { step: result.step, loss: result.loss, gradNorm: result.gradNorm, lr: result.lr, tokensPerSec: result.tokensPerSec };
    const { evalInterval, steps } = this.trainer.config;
    let valLoss: number | undefined;
    if ((result.step + 1) % evalInterval === 0 || result.step + 1 === steps) {
      valLoss = await this.evaluate();
      row.valLoss = valLoss;
    }
    this.metrics.push(row);
    return { result, valLoss };
  }

  evaluate(): Promise<number> {
    return this.trainer.evaluate();
  }

  async toCheckpoint(): Promise<CheckpointState> {
    const { optimizer } = this.trainer;
    const read = async (vars: Map<string, tf.Variable>) => {
      const out = new Map<string, Float32Array>();
      for (const [name, v] of vars) out.set(name, (await v.data()) as Float32Array);
      return out;
    };
    return {
      model: this.model.config,
      train: this.trainer.config,
      tokenizer: this.tokenizer.toJSON(),
      stage: this.stage,
      step: this.trainer.step,
      corpus: this.trainer.corpus.name,
      dataState: { rngState: this.trainer.rng.state },
      weights: await this.model.values(),
      optimizer: { t: optimizer.t, m: await read(optimizer.m), v: await read(optimizer.v) },
      metrics: this.metrics,
      events: this.events,
      lineage: this.lineage,
      extra: this.extra,
    };
  }

  async toCheckpointBytes(opts: { includeOptimizer?: boolean } = {}): Promise<Uint8Array> {
    return encodeCheckpoint(await this.toCheckpoint(), opts);
  }

  /** Continues a text prompt. Unknown characters in the prompt become <|unk|>. */
  sample(prompt: string, req: SampleRequest = {}): string {
    const ids = this.tokenizer.encode(prompt.length > 0 ? prompt : '\n');
    const out = generate(this.model, ids, {
      maxTokens: req.maxTokens ?? 200,
      temperature: req.temperature ?? 0.8,
      topK: req.topK ?? 0,
      seed: req.seed ?? 1,
    });
    return this.tokenizer.decode(out);
  }

  summary() {
    const parameters = countParameters(this.model.config);
    const tokensSeen = this.trainer.step * this.trainer.tokensPerBatch;
    return { parameters, tokensSeen, tokensPerParameter: tokensSeen / parameters, step: this.trainer.step, steps: this.trainer.config.steps, stage: this.stage };
  }

  dispose(): void {
    this.trainer.optimizer.dispose();
    this.model.dispose();
  }
}

/** Tokenizes a corpus's text with a given (checkpoint's) tokenizer, holding out the same split. */
export function corpusFor(name: string, train: string, val: string, tokenizer: CharTokenizer): Corpus {
  return { name, train: tokenizer.encode(train), val: tokenizer.encode(val) };
}
