/**
 * Checkpoints are .safetensors files: nanoGPT's state dict (with `lm_head.weight` written as its
 * own copy of the tied embedding, so PyTorch's strict loading finds it), optionally the AdamW
 * moments as `optimizer.exp_avg.<name>` / `optimizer.exp_avg_sq.<name>`, and everything else a
 * resumed run needs as JSON strings in `__metadata__`. The keys are documented in docs/checkpoint-format.md.
 *
 * Reading treats the file as hostile: the safetensors layer checks the container; this module
 * checks that the contents are a model we can build (every parameter present with the right
 * shape for the declared config, finite values, metadata of a schema we can read or upgrade).
 */
import { type GPTConfig, type TrainConfig, validateModelConfig } from '../model/config.ts';
import { parameterShapes as gptShapes, SCORE_HEAD } from '../model/model.ts';
import { decodeSafetensors, encodeSafetensors, fromFloat32, readHeader, SafetensorsError, type TensorEntry, toFloat32 } from './safetensors.ts';
import type { TextTokenizer, TokenizerJSON } from '../model/tokenizer.ts';
import { tokenizerFromJSON } from '../data/tokenizers.ts';

/** Version of the metadata layout. Bump it and add a case to `upgradeMetadata` when it changes. */
export const CHECKPOINT_SCHEMA = 1;

/** rm: a reward model (the GPT trunk plus the scalar head `score.weight`); rl: a policy optimised by RL. */
export type Stage = 'pretrain' | 'sft' | 'dpo' | 'rm' | 'rl';
export const STAGES: readonly Stage[] = ['pretrain', 'sft', 'dpo', 'rm', 'rl'];

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
  /** Where a parent from outside LM Lab came from, e.g. "nanoGPT state dict model.safetensors". */
  origin?: string;
  /** Tokens that stage trained on (its steps × batch × context), so a later stage can say what its base saw. */
  tokens?: number;
  /** The tokenizer that stage used, as a student reads it ("byte-level BPE, 1,024 tokens"). */
  tokenizer?: string;
  /** What that stage trained on: "tales", "crawl:default" (the crawl through the default filters), a file's name. */
  corpus?: string;
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
  /** The name or group a student typed, so a teacher can tell the class's files apart; kept on export. */
  student?: string;
}

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

/** The GPT's parameters, and a reward model's scalar head `score.weight` [1, C] after them. */
function parameterShapes(c: GPTConfig, withScoreHead = false): [string, number[]][] {
  const shapes = gptShapes(c);
  if (withScoreHead) shapes.push([SCORE_HEAD, [1, c.nEmbd]]);
  return shapes;
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
  const shapes = parameterShapes(state.model, state.weights.has(SCORE_HEAD));
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
    ...(state.student ? { student: cleanStudent(state.student) } : {}),
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

  // Listing the expected names costs memory in proportion to nLayer: check it against the file
  // first, so that a config claiming a billion layers is refused instead of exhausting memory.
  if (meta.model.nLayer > file.tensors.length) {
    throw new CheckpointError(`checkpoint does not match its config (${describe(meta.model)}): ${meta.model.nLayer} layers need more tensors than the ${file.tensors.length} in the file`);
  }
  const shapes = parameterShapes(meta.model, byName.has(SCORE_HEAD));
  if (meta.stage === 'rm' && !byName.has(SCORE_HEAD)) throw new CheckpointError(`checkpoint: a reward model (stage rm) needs its scalar head ${SCORE_HEAD}`);
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
    ...(meta.student ? { student: meta.student } : {}),
  };
}

/** A student's name as a file may carry it: one line, no control characters, at most 60 characters. */
export function cleanStudent(name: string): string {
  return name.replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, ' ').replace(/\s+/g, ' ').trim().slice(0, 60);
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
  // Names come from the file: quote any that are not plain, so a message stays one short line.
  const shown = names.slice(0, 6).map((n) => (/^[\w.]{1,100}$/.test(n) ? n : JSON.stringify(n.length > 80 ? `${n.slice(0, 80)}...` : n))).join(', ');
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

/** Limits on the JSON inside metadata, so that a hostile header cannot cost far more than its size. */
const MAX_JSON_DEPTH = 64; // deeper values would overflow the stack of JSON.stringify when re-encoding
const MAX_EXTRA_CHARS = 1_000_000; // free-form stage state; the lists have a minimum size per entry
const MODEL_FIELDS = new Set(['vocabSize', 'blockSize', 'nLayer', 'nHead', 'nEmbd', 'qkLayerNorm']);
const TRAIN_NUMBERS = ['batchSize', 'steps', 'learningRate', 'minLearningRate', 'warmupSteps', 'decayFraction', 'weightDecay', 'beta1', 'beta2', 'eps', 'gradClip', 'evalInterval', 'evalBatches', 'seed'] as const;
const TRAIN_WHOLE = new Set(['batchSize', 'steps', 'warmupSteps', 'evalInterval', 'evalBatches', 'seed']);
const SHA256 = /^[0-9a-f]{64}$/;

function bad(message: string): never {
  throw new CheckpointError(`checkpoint: ${message}`);
}

/**
 * JSON.parse of one metadata value, refusing values nested deeper than MAX_JSON_DEPTH and objects
 * with a "__proto__" key (JSON.parse stores it as an own property, harmless until some later code
 * copies the object with Object.assign; no LM Lab checkpoint has one, so it is simply refused).
 */
function parseJSON(key: string, text: string): unknown {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x7b || c === 0x5b /* { [ */) {
      if (++depth > MAX_JSON_DEPTH) bad(`metadata "${key}" is nested more than ${MAX_JSON_DEPTH} levels deep`);
    } else if (c === 0x7d || c === 0x5d /* } ] */) depth--;
  }
  try {
    return JSON.parse(text, (name, value) => {
      if (name === '__proto__') throw new CheckpointError(`checkpoint: metadata "${key}" has a "__proto__" key`);
      return value;
    });
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    bad(`metadata "${key}" is not valid JSON`);
  }
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isCount(x: unknown): x is number {
  return Number.isSafeInteger(x) && (x as number) >= 0;
}

/** model_config with only the fields LM Lab knows, in the file's order; anything else is refused. */
function readModelConfig(value: unknown): GPTConfig {
  if (!isPlainObject(value)) bad('model_config is not an object');
  const unknown = Object.keys(value).filter((k) => !MODEL_FIELDS.has(k));
  if (unknown.length) bad(`model_config has fields this LM Lab does not know (${unknown.slice(0, 4).map((k) => JSON.stringify(k.slice(0, 40))).join(', ')})`);
  if (value.qkLayerNorm !== undefined && typeof value.qkLayerNorm !== 'boolean') bad('model_config.qkLayerNorm must be true or false');
  const model = value as unknown as GPTConfig;
  try {
    validateModelConfig(model);
  } catch (e) {
    bad((e as Error).message);
  }
  return model;
}

function readTrainConfig(value: unknown): TrainConfig {
  if (!isPlainObject(value)) bad('train_config is not an object');
  for (const key of TRAIN_NUMBERS) {
    const v = value[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || (TRAIN_WHOLE.has(key) && !Number.isSafeInteger(v))) {
      bad(`train_config.${key} must be ${TRAIN_WHOLE.has(key) ? 'a whole number' : 'a finite number'}, got ${JSON.stringify(v) ?? 'nothing'}`.slice(0, 200));
    }
  }
  if (value.schedule !== 'cosine' && value.schedule !== 'wsd') bad('train_config.schedule must be "cosine" or "wsd"');
  return value as unknown as TrainConfig;
}

/** A list whose entries are objects with a whole-number `step`, plus a check of its own per entry. */
function readList<T>(key: string, value: unknown, check: (entry: Record<string, unknown>) => string | undefined): T[] {
  if (!Array.isArray(value)) bad(`metadata "${key}" is not a list`);
  value.forEach((entry, i) => {
    if (!isPlainObject(entry)) bad(`${key}[${i}] is not an object`);
    if (!isCount(entry.step)) bad(`${key}[${i}].step is not a whole number`);
    const problem = check(entry);
    if (problem) bad(`${key}[${i}] ${problem}`);
  });
  return value as T[];
}

/** JSON writes NaN and ±Infinity as null, so a metrics value is a number or null. */
function metricProblem(row: Record<string, unknown>): string | undefined {
  for (const [name, v] of Object.entries(row)) {
    if (v !== null && typeof v !== 'number') return `has a non-numeric value for ${JSON.stringify(name.slice(0, 40))}`;
  }
  return undefined;
}

function eventProblem(e: Record<string, unknown>): string | undefined {
  return typeof e.event === 'string' ? undefined : 'has no "event" name';
}

function lineageProblem(e: Record<string, unknown>): string | undefined {
  if (!STAGES.includes(e.stage as Stage)) return 'has an unknown stage';
  if (typeof e.sha256 !== 'string' || !SHA256.test(e.sha256)) return 'has no valid sha256 (64 lowercase hex digits)';
  if (e.origin !== undefined && (typeof e.origin !== 'string' || e.origin.length > 200)) return 'has an origin that is not a short text';
  if (e.tokens !== undefined && !isCount(e.tokens)) return 'has a token count that is not a whole number';
  if (e.tokenizer !== undefined && (typeof e.tokenizer !== 'string' || e.tokenizer.length > 200)) return 'has a tokenizer that is not a short text';
  if (e.corpus !== undefined && (typeof e.corpus !== 'string' || e.corpus.length > 200)) return 'has a corpus that is not a short text';
  return undefined;
}

function readMetadata(raw: Record<string, string>) {
  if (raw.lmlab_schema === undefined) {
    throw new CheckpointError('checkpoint: no LM Lab metadata (lmlab_schema); a plain state dict needs its config and tokenizer, see the README on importing nanoGPT files');
  }
  const schema = Number(raw.lmlab_schema);
  if (!Number.isInteger(schema) || schema < 1) bad(`lmlab_schema ${JSON.stringify(raw.lmlab_schema.slice(0, 40))} is not a version number`);
  const meta = upgradeMetadata(raw, schema);
  const json = (key: string, fallback?: unknown): unknown => {
    const text = meta[key];
    if (text === undefined) {
      if (fallback !== undefined) return fallback;
      bad(`metadata has no "${key}"`);
    }
    return parseJSON(key, text);
  };
  const model = readModelConfig(json('model_config'));
  let tokenizer: TextTokenizer;
  try {
    const t = json('tokenizer');
    if (isPlainObject(t) && Array.isArray(t.specials) && !t.specials.every((s) => typeof s === 'string')) throw new Error('tokenizer: every entry of "specials" must be a string');
    tokenizer = tokenizerFromJSON(t);
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    bad((e as Error).message);
  }
  if (tokenizer.vocabSize !== model.vocabSize) {
    bad(`the tokenizer has ${tokenizer.vocabSize} tokens but model_config.vocabSize is ${model.vocabSize}`);
  }
  const stage = meta.stage as Stage;
  if (!STAGES.includes(stage)) bad(`unknown stage ${JSON.stringify(String(meta.stage).slice(0, 40))}`);
  const step = Number(meta.step);
  if (meta.step === undefined || !/^\d+$/.test(meta.step) || !Number.isSafeInteger(step)) bad(`step ${JSON.stringify(String(meta.step).slice(0, 40))} is not a whole number`);
  const dataState = json('data_state', { rngState: 0 });
  if (!isPlainObject(dataState) || !Number.isInteger(dataState.rngState) || (dataState.rngState as number) < 0 || (dataState.rngState as number) >= 2 ** 32) {
    bad('data_state must be {"rngState": a 32-bit unsigned integer}');
  }
  if ((meta.extra?.length ?? 0) > MAX_EXTRA_CHARS) bad(`metadata "extra" is longer than ${MAX_EXTRA_CHARS} characters`);
  const extra = json('extra', {});
  if (!isPlainObject(extra)) bad('metadata "extra" is not an object');
  const optimizerState = json('optimizer_state', null);
  if (optimizerState !== null && !(isPlainObject(optimizerState) && isCount(optimizerState.t))) bad('optimizer_state must be null or {"t": a whole number}');
  return {
    schema,
    model,
    train: readTrainConfig(json('train_config')),
    tokenizer: tokenizer.toJSON(),
    stage,
    step,
    corpus: typeof meta.corpus === 'string' ? meta.corpus : '',
    dataState: dataState as { rngState: number },
    metrics: readList<MetricRow>('metrics', json('metrics', []), metricProblem),
    events: readList<LabEvent>('events', json('events', []), eventProblem),
    lineage: readList<LineageEntry>('lineage', json('lineage', []), lineageProblem),
    extra,
    student: typeof meta.student === 'string' ? cleanStudent(meta.student) || undefined : undefined,
    optimizerT: optimizerState === null ? undefined : (optimizerState.t as number),
  };
}

/** Hex SHA-256 of a file, for lineage records (Web Crypto: the same in browsers, workers and Node). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Hex SHA-256 of a model alone: its config, tokenizer and weights, not its optimizer moments,
 * metrics or step. Two files of one model agree on it when their bytes do not (a copy exported
 * without the optimizer is a third of the size): what an RL run needs of its KL reference is the
 * model, so a reference sent either way is recognised.
 */
export async function weightsSha256(state: Pick<CheckpointState, 'model' | 'tokenizer' | 'weights'>): Promise<string> {
  const text = new TextEncoder();
  const parts: Uint8Array[] = [text.encode([state.model, state.tokenizer].map((o) => JSON.stringify(o, Object.keys(o).sort())).join('\n'))];
  for (const name of [...state.weights.keys()].sort()) {
    const w = state.weights.get(name)!;
    parts.push(text.encode(`\0${name}\0`), new Uint8Array(w.buffer, w.byteOffset, w.byteLength));
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return sha256Hex(all);
}
