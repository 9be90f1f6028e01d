/**
 * Checkpoints are .safetensors files: nanoGPT's state dict (with `lm_head.weight` written as its
 * own copy of the tied embedding, so PyTorch's strict loading finds it), optionally the AdamW
 * moments as `optimizer.exp_avg.<name>` / `optimizer.exp_avg_sq.<name>`, and everything else a
 * resumed run needs as JSON strings in `__metadata__`. The keys are documented in the README.
 *
 * Reading treats the file as hostile: the safetensors layer checks the container; this module
 * checks that the contents are a model we can build (every parameter present with the right
 * shape for the declared config, finite values, metadata of a schema we can read or upgrade).
 */
import { type GPTConfig, type TrainConfig, validateModelConfig } from './config.ts';
import { parameterShapes } from './model.ts';
import { decodeSafetensors, encodeSafetensors, fromFloat32, readHeader, SafetensorsError, type TensorEntry, toFloat32 } from './safetensors.ts';
import { CharTokenizer, type TokenizerJSON } from './tokenizer.ts';

/** Version of the metadata layout. Bump it and add a case to `upgradeMetadata` when it changes. */
export const CHECKPOINT_SCHEMA = 1;

export type Stage = 'pretrain' | 'sft' | 'dpo';
export const STAGES: readonly Stage[] = ['pretrain', 'sft', 'dpo'];

/** One logged step; any field may be absent (validation loss is only measured every few steps). */
export interface MetricRow {
  step: number;
  [name: string]: number;
}

/** Something that happened at a step: an injection, a detected spike, a skip, a rollback… */
export interface LabEvent {
  step: number;
  event: string;
  [detail: string]: unknown;
}

/** A checkpoint this one descends from: its stage, step and the SHA-256 of its file. */
export interface LineageEntry {
  stage: Stage;
  step: number;
  sha256: string;
}

export interface CheckpointState {
  model: GPTConfig;
  train: TrainConfig;
  tokenizer: TokenizerJSON;
  stage: Stage;
  step: number; // steps taken in this stage
  corpus: string;
  dataState: { rngState: number }; // the data sampler's position
  weights: Map<string, Float32Array>; // nanoGPT names, PyTorch shapes
  optimizer?: { t: number; m: Map<string, Float32Array>; v: Map<string, Float32Array> };
  metrics: MetricRow[];
  events: LabEvent[];
  lineage: LineageEntry[];
  /** Stage-specific state that must survive a resume (e.g. the spike detector's window). */
  extra: Record<string, unknown>;
}

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

const M_PREFIX = 'optimizer.exp_avg.';
const V_PREFIX = 'optimizer.exp_avg_sq.';
const LM_HEAD = 'lm_head.weight';

/** "nanoGPT" when an exported model loads into nanoGPT's GPT unchanged; otherwise what differs. */
export function architectureOf(c: GPTConfig): string {
  return c.qkLayerNorm ? 'nanoGPT + QK-LayerNorm (not plain nanoGPT: q_ln/k_ln parameters)' : 'nanoGPT';
}

export function encodeCheckpoint(state: CheckpointState, opts: { includeOptimizer?: boolean } = {}): Uint8Array {
  const includeOptimizer = (opts.includeOptimizer ?? true) && state.optimizer !== undefined;
  const tensors: TensorEntry[] = [];
  const shapes = parameterShapes(state.model);
  for (const [name, shape] of shapes) tensors.push(fromFloat32(name, shape, need(state.weights, name)));
  tensors.push(fromFloat32(LM_HEAD, shapes[0][1], need(state.weights, 'transformer.wte.weight')));
  if (includeOptimizer) {
    for (const [name, shape] of shapes) tensors.push(fromFloat32(M_PREFIX + name, shape, need(state.optimizer!.m, name)));
    for (const [name, shape] of shapes) tensors.push(fromFloat32(V_PREFIX + name, shape, need(state.optimizer!.v, name)));
  }
  const metadata: Record<string, string> = {
    format: 'pt',
    lmlab_schema: String(CHECKPOINT_SCHEMA),
    architecture: architectureOf(state.model),
    stage: state.stage,
    step: String(state.step),
    corpus: state.corpus,
    model_config: JSON.stringify(state.model),
    train_config: JSON.stringify(state.train),
    tokenizer: JSON.stringify(state.tokenizer),
    data_state: JSON.stringify(state.dataState),
    optimizer_state: JSON.stringify(includeOptimizer ? { t: state.optimizer!.t } : null),
    metrics: JSON.stringify(state.metrics),
    events: JSON.stringify(state.events),
    lineage: JSON.stringify(state.lineage),
    extra: JSON.stringify(state.extra),
  };
  return encodeSafetensors(tensors, metadata);
}

function need(values: Map<string, Float32Array>, name: string): Float32Array {
  const v = values.get(name);
  if (!v) throw new CheckpointError(`checkpoint: no values for ${name}`);
  return v;
}

/** What an import card shows, read from the header alone. */
export interface CheckpointSummary {
  model: GPTConfig;
  stage: Stage;
  step: number;
  corpus: string;
  architecture: string;
  hasOptimizer: boolean;
  lineage: LineageEntry[];
  metrics: MetricRow[];
  tensorCount: number;
  schema: number;
}

export function inspectCheckpoint(bytes: Uint8Array): CheckpointSummary {
  const { header } = guard(() => readHeader(bytes));
  const meta = readMetadata(header.metadata);
  return {
    model: meta.model,
    stage: meta.stage,
    step: meta.step,
    corpus: meta.corpus,
    architecture: architectureOf(meta.model),
    hasOptimizer: header.tensors.some((t) => t.name.startsWith(M_PREFIX)),
    lineage: meta.lineage,
    metrics: meta.metrics,
    tensorCount: header.tensors.length,
    schema: meta.schema,
  };
}

export function decodeCheckpoint(bytes: Uint8Array): CheckpointState {
  const file = guard(() => decodeSafetensors(bytes));
  const meta = readMetadata(file.metadata);
  const byName = new Map<string, TensorEntry>();
  for (const t of file.tensors) byName.set(t.name, t);

  const shapes = parameterShapes(meta.model);
  const expected = new Set<string>([LM_HEAD]);
  for (const [name] of shapes) expected.add(name).add(M_PREFIX + name).add(V_PREFIX + name);
  const missing = shapes.map(([n]) => n).filter((n) => !byName.has(n));
  const unexpected = [...byName.keys()].filter((n) => !expected.has(n));
  if (missing.length || unexpected.length) {
    const parts = [];
    if (missing.length) parts.push(`missing ${list(missing)}`);
    if (unexpected.length) parts.push(`unexpected ${list(unexpected)}`);
    throw new CheckpointError(`checkpoint does not match its config (${describe(meta.model)}): ${parts.join('; ')}`);
  }

  const read = (name: string, shape: number[]): Float32Array => {
    const t = byName.get(name)!;
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new CheckpointError(`checkpoint: ${name} has shape [${t.shape}] but the config (${describe(meta.model)}) needs [${shape}]`);
    }
    const values = guard(() => toFloat32(t));
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) throw new CheckpointError(`checkpoint: ${name} holds a non-finite value (${values[i]}) at index ${i}`);
    }
    return values;
  };

  const weights = new Map<string, Float32Array>();
  for (const [name, shape] of shapes) weights.set(name, read(name, shape));
  if (byName.has(LM_HEAD)) {
    const head = read(LM_HEAD, shapes[0][1]);
    const wte = weights.get('transformer.wte.weight')!;
    if (head.some((x, i) => x !== wte[i])) {
      throw new CheckpointError('checkpoint: lm_head.weight differs from transformer.wte.weight; LM Lab ties the two, so it cannot load an untied head');
    }
  }

  const momentNames = shapes.filter(([n]) => byName.has(M_PREFIX + n) || byName.has(V_PREFIX + n));
  let optimizer: CheckpointState['optimizer'];
  if (momentNames.length > 0) {
    if (momentNames.length !== shapes.length || shapes.some(([n]) => !byName.has(M_PREFIX + n) || !byName.has(V_PREFIX + n))) {
      throw new CheckpointError('checkpoint: the optimizer moments are incomplete (some parameters have exp_avg/exp_avg_sq, others not)');
    }
    const m = new Map<string, Float32Array>();
    const v = new Map<string, Float32Array>();
    for (const [name, shape] of shapes) {
      m.set(name, read(M_PREFIX + name, shape));
      v.set(name, read(V_PREFIX + name, shape));
    }
    optimizer = { t: meta.optimizerT ?? meta.step, m, v };
  }

  return {
    model: meta.model,
    train: meta.train,
    tokenizer: meta.tokenizer,
    stage: meta.stage,
    step: meta.step,
    corpus: meta.corpus,
    dataState: meta.dataState,
    weights,
    optimizer,
    metrics: meta.metrics,
    events: meta.events,
    lineage: meta.lineage,
    extra: meta.extra,
  };
}

function guard<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof SafetensorsError) throw new CheckpointError(`not a valid .safetensors file: ${e.message}`);
    throw e;
  }
}

function list(names: string[]): string {
  const shown = names.slice(0, 6).join(', ');
  return names.length > 6 ? `${shown} and ${names.length - 6} more` : shown;
}

function describe(c: GPTConfig): string {
  return `vocab ${c.vocabSize}, block ${c.blockSize}, ${c.nLayer} layers, ${c.nHead} heads, C=${c.nEmbd}`;
}

/** Metadata of older schema versions, brought up to the current one (none exist yet). */
function upgradeMetadata(meta: Record<string, string>, schema: number): Record<string, string> {
  if (schema > CHECKPOINT_SCHEMA) {
    throw new CheckpointError(`checkpoint: metadata schema ${schema} is newer than this LM Lab understands (${CHECKPOINT_SCHEMA}); update LM Lab to open it`);
  }
  // case 1: current.
  return meta;
}

function readMetadata(raw: Record<string, string>) {
  if (raw.lmlab_schema === undefined) {
    throw new CheckpointError('checkpoint: no LM Lab metadata (lmlab_schema); a plain state dict needs its config and tokenizer, see the README on importing nanoGPT files');
  }
  const schema = Number(raw.lmlab_schema);
  if (!Number.isInteger(schema) || schema < 1) throw new CheckpointError(`checkpoint: lmlab_schema "${raw.lmlab_schema}" is not a version number`);
  const meta = upgradeMetadata(raw, schema);
  const json = <T>(key: string, fallback?: T): T => {
    const text = meta[key];
    if (text === undefined) {
      if (fallback !== undefined) return fallback;
      throw new CheckpointError(`checkpoint: metadata has no "${key}"`);
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CheckpointError(`checkpoint: metadata "${key}" is not valid JSON`);
    }
  };
  const model = json<GPTConfig>('model_config');
  if (typeof model !== 'object' || model === null) throw new CheckpointError('checkpoint: model_config is not an object');
  try {
    validateModelConfig(model);
  } catch (e) {
    throw new CheckpointError(`checkpoint: ${(e as Error).message}`);
  }
  const tokenizerJSON = json<TokenizerJSON>('tokenizer');
  let tokenizer: CharTokenizer;
  try {
    tokenizer = CharTokenizer.fromJSON(tokenizerJSON);
  } catch (e) {
    throw new CheckpointError(`checkpoint: ${(e as Error).message}`);
  }
  if (tokenizer.vocabSize !== model.vocabSize) {
    throw new CheckpointError(`checkpoint: the tokenizer has ${tokenizer.vocabSize} tokens but model_config.vocabSize is ${model.vocabSize}`);
  }
  const stage = meta.stage as Stage;
  if (!STAGES.includes(stage)) throw new CheckpointError(`checkpoint: unknown stage "${meta.stage}"`);
  const step = Number(meta.step);
  if (!Number.isSafeInteger(step) || step < 0) throw new CheckpointError(`checkpoint: step "${meta.step}" is not a whole number`);
  const arrayOf = <T>(key: string): T[] => {
    const v = json<T[]>(key, []);
    if (!Array.isArray(v)) throw new CheckpointError(`checkpoint: metadata "${key}" is not a list`);
    return v;
  };
  const extra = json<Record<string, unknown>>('extra', {});
  const optimizerState = json<{ t: number } | null>('optimizer_state', null);
  return {
    schema,
    model,
    train: json<TrainConfig>('train_config'),
    tokenizer: tokenizer.toJSON(),
    stage,
    step,
    corpus: typeof meta.corpus === 'string' ? meta.corpus : '',
    dataState: json<{ rngState: number }>('data_state', { rngState: 0 }),
    metrics: arrayOf<MetricRow>('metrics'),
    events: arrayOf<LabEvent>('events'),
    lineage: arrayOf<LineageEntry>('lineage'),
    extra: typeof extra === 'object' && extra !== null ? extra : {},
    optimizerT: optimizerState && Number.isSafeInteger(optimizerState.t) ? optimizerState.t : undefined,
  };
}

/** Hex SHA-256 of a file, for lineage records (Web Crypto: the same in browsers, workers and Node). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
