/**
 * Checkpoint files that cross from one person to another: export for sharing, and import of a
 * file someone sent, which is either an LM Lab checkpoint or a plain nanoGPT state dict saved with
 * `safetensors` (no LM Lab metadata: the config is read off the tensor shapes, and the number of
 * heads and the vocabulary, which shapes cannot tell, come from the user).
 *
 * Import treats the file as hostile and does all its checking before anything is stored: it
 * returns a card to show (config, stage, lineage, size, metrics) and the exact LM Lab checkpoint
 * bytes to store if the user accepts. Every refusal is a CheckpointError with a one-line message.
 *
 * Lineage: a checkpoint that starts from another (a new stage, an import of a foreign file)
 * records its parent's stage, step and the SHA-256 of the parent's file; see `childLineage`.
 */
import {
  type CheckpointState,
  CheckpointError,
  type CheckpointSummary,
  decodeCheckpoint,
  encodeCheckpoint,
  inspectCheckpoint,
  type LineageEntry,
  sha256Hex,
} from './checkpoint.ts';
import { countParameters, defaultTrainConfig, type GPTConfig, validateModelConfig } from '../model/config.ts';
import { parameterShapes, SCORE_HEAD } from '../model/model.ts';
import { decodeSafetensors, readHeader, SafetensorsError, type TensorEntry, toFloat32 } from './safetensors.ts';
import type { TextTokenizer, TokenizerJSON } from '../model/tokenizer.ts';
import { tokenizerFromJSON } from '../data/tokenizers.ts';
import { fromHfTokenizerJson } from '../data/hf-tokenizer.ts';

/** A checkpoint ready to send on: the same state, optionally without the AdamW moments. */
export function exportCheckpoint(bytes: Uint8Array, opts: { includeOptimizer?: boolean } = {}): Uint8Array {
  return encodeCheckpoint(decodeCheckpoint(bytes), opts);
}

export type FileKind = 'lmlab' | 'nanogpt';

/** Which kind of file this is, from its header alone (LM Lab files carry `lmlab_schema`). */
export function fileKind(bytes: Uint8Array): FileKind {
  const { header } = container(() => readHeader(bytes));
  return header.metadata.lmlab_schema !== undefined ? 'lmlab' : 'nanogpt';
}

export interface ImportOptions {
  /** Heads of attention: a nanoGPT state dict does not record it (shapes depend only on C). */
  nHead?: number;
  /** The vocabulary the foreign model was trained with: characters in id order, or a BPE tokenizer. */
  tokenizer?: TokenizerJSON;
  /** Corpus name recorded in an imported nanoGPT model (what `pretrain --resume` trains on). */
  corpus?: string;
  /** Shown in the lineage of an imported nanoGPT model, e.g. the file name. */
  sourceName?: string;
}

/** What the user sees before choosing to load a file. Every string is plain text, never markup. */
export interface ImportCard {
  kind: FileKind;
  summary: CheckpointSummary;
  parameters: number;
  sizeBytes: number; // of the file as received
  sha256: string; // of the file as received
  notes: string[]; // what the import changed or assumed, e.g. zero biases for a bias-free model
}

export interface PreparedImport {
  card: ImportCard;
  /** The LM Lab checkpoint to store (for an LM Lab file, its canonical encoding: the same bytes LM Lab writes). */
  bytes: Uint8Array;
  state: CheckpointState;
}

/**
 * Validates a received file completely and prepares it for storing in a new run. Nothing is
 * written here; a file that fails any check throws a CheckpointError and leaves no trace.
 */
export async function prepareImport(file: Uint8Array, opts: ImportOptions = {}): Promise<PreparedImport> {
  const kind = fileKind(file);
  const sha256 = await sha256Hex(file);
  let state: CheckpointState;
  const notes: string[] = [];
  if (kind === 'lmlab') {
    state = decodeCheckpoint(file);
  } else {
    const foreign = stateFromStateDict(file, opts, sha256);
    state = foreign.state;
    notes.push(...foreign.notes);
  }
  if (state.weights.has(SCORE_HEAD)) notes.push(`a reward model: the GPT trunk plus the scalar head ${SCORE_HEAD} [1, ${state.model.nEmbd}], read at a reply's last token (Hugging Face's sequence-classification layout)`);
  const bytes = encodeCheckpoint(state);
  const summary = inspectCheckpoint(bytes);
  return { card: { kind, summary, parameters: countParameters(state.model), sizeBytes: file.length, sha256, notes }, bytes, state };
}

/**
 * A vocabulary as a user may give it: LM Lab's tokenizer JSON (char or bpe), the tokenizer.json
 * that LM Lab writes beside an exported BPE model (Hugging Face's format), or a JSON list of
 * characters in id order (nanoGPT's `itos`), which becomes a tokenizer with no special tokens.
 */
export function tokenizerFromVocab(value: unknown): TokenizerJSON {
  if (Array.isArray(value)) return { kind: 'char', specials: [], chars: value as string[] };
  const kind = typeof value === 'object' && value !== null ? (value as { kind?: unknown }).kind : undefined;
  if (kind === 'char' || kind === 'bpe') return value as TokenizerJSON;
  if (typeof value === 'object' && value !== null && 'model' in value) {
    try {
      return fromHfTokenizerJson(value).toJSON();
    } catch (e) {
      fail((e as Error).message);
    }
  }
  fail('a vocabulary must be LM Lab\'s {"kind":"char",…} or {"kind":"bpe",…}, a tokenizer.json that LM Lab wrote, or a JSON list of characters in id order');
}

/** The card as plain text lines, for the command line (and anywhere a text rendering will do). */
export function cardLines(card: ImportCard): string[] {
  const { summary: s } = card;
  const m = s.model;
  const last = s.metrics[s.metrics.length - 1];
  const metric = (k: string) => (typeof last?.[k] === 'number' ? `${k} ${last[k].toFixed(4)}` : undefined);
  const lines = [
    `${card.kind === 'lmlab' ? 'LM Lab checkpoint' : 'nanoGPT state dict'}, ${(card.sizeBytes / 1e6).toFixed(2)} MB, sha256 ${card.sha256}`,
    `model: ${s.architecture}, ${card.parameters.toLocaleString('en-US')} parameters: vocab ${m.vocabSize}, block ${m.blockSize}, ${m.nLayer} layers, ${m.nHead} heads, C=${m.nEmbd}`,
    `stage: ${s.stage}, step ${s.step}, corpus ${JSON.stringify(s.corpus)}, optimizer moments ${s.hasOptimizer ? 'included' : 'not included'}`,
    `metrics: ${s.metrics.length} rows logged${last ? `; last after step ${last.step + 1}: ${[metric('loss'), metric('valLoss')].filter(Boolean).join(', ') || 'no loss'}` : ''}`,
    `lineage: ${s.lineage.length === 0 ? 'none' : s.lineage.map((e) => `${e.origin ?? `${e.stage} step ${e.step}`} (sha256 ${e.sha256.slice(0, 12)}…)`).join(' -> ')}`,
  ];
  for (const note of card.notes) lines.push(`note: ${note}`);
  return lines;
}

/** The lineage entry naming `parent` (an LM Lab checkpoint file) as the parent of a new checkpoint. */
export async function lineageEntry(parent: Uint8Array): Promise<LineageEntry> {
  const { stage, step } = inspectCheckpoint(parent);
  return { stage, step, sha256: await sha256Hex(parent) };
}

/** The lineage of a checkpoint that starts from `parent`: the parent's own lineage, then the parent. */
export async function childLineage(parent: Uint8Array): Promise<LineageEntry[]> {
  const { lineage } = inspectCheckpoint(parent);
  return [...lineage, await lineageEntry(parent)];
}

// ---------------------------------------------------------------------------------------------
// plain nanoGPT state dicts

const WTE = 'transformer.wte.weight';
const LM_HEAD = 'lm_head.weight';
const COMPILED_PREFIX = '_orig_mod.'; // torch.compile's wrapper; nanoGPT's train.py strips it too
const LAYER = /^transformer\.h\.(0|[1-9]\d{0,8})\./;
const MAX_HEADS = 1024; // head counts offered for choosing; a header alone can claim any C
const MASK = /^transformer\.h\.(0|[1-9]\d{0,8})\.attn\.bias$/; // nanoGPT's causal-mask buffer without flash attention

/** The shapes of a nanoGPT state dict that do not depend on the number of heads. */
export interface StateDictShape {
  vocabSize: number;
  blockSize: number;
  nLayer: number;
  nEmbd: number;
  qkLayerNorm: boolean;
  bias: boolean;
  /** Head counts that divide C (up to 1024): what an import form can offer. */
  headChoices: number[];
}

/** Reads the model's size off a state dict, for an import form to ask only for what is missing. */
export function inspectStateDict(bytes: Uint8Array): StateDictShape {
  const { header } = container(() => readHeader(bytes));
  return shapeOf(renamed(header.tensors));
}

function stateFromStateDict(bytes: Uint8Array, opts: ImportOptions, sha256: string): { state: CheckpointState; notes: string[] } {
  const file = container(() => decodeSafetensors(bytes));
  const byName = renamed(file.tensors);
  const shape = shapeOf(byName);
  const notes: string[] = [];
  if (opts.nHead === undefined) {
    fail(`a nanoGPT state dict does not record the number of heads; give it (one of ${shape.headChoices.join(', ')} for C=${shape.nEmbd})`);
  }
  const model: GPTConfig = { blockSize: shape.blockSize, nLayer: shape.nLayer, nHead: opts.nHead, nEmbd: shape.nEmbd, vocabSize: shape.vocabSize };
  if (shape.qkLayerNorm) model.qkLayerNorm = true;
  try {
    validateModelConfig(model);
  } catch (e) {
    fail((e as Error).message);
  }
  if (!opts.tokenizer) fail('a nanoGPT state dict carries no vocabulary; give the one the model was trained with');
  let tokenizer: TextTokenizer;
  try {
    tokenizer = tokenizerFromJSON(opts.tokenizer);
  } catch (e) {
    fail((e as Error).message);
  }
  if (tokenizer.vocabSize !== shape.vocabSize) {
    fail(`the vocabulary has ${tokenizer.vocabSize} tokens but ${WTE} has ${shape.vocabSize} rows; give the vocabulary the model was trained with`);
  }

  const shapes = parameterShapes(model);
  const needed = shapes.filter(([n]) => shape.bias || !n.endsWith('.bias'));
  const known = new Set(needed.map(([n]) => n)).add(LM_HEAD);
  const missing = needed.map(([n]) => n).filter((n) => !byName.has(n) && !(n === WTE && byName.has(LM_HEAD)));
  const unexpected = [...byName.keys()].filter((n) => !known.has(n) && !(MASK.test(n) && Number(MASK.exec(n)![1]) < shape.nLayer));
  if (missing.length || unexpected.length) {
    const parts = [];
    if (missing.length) parts.push(`missing ${list(missing)}`);
    if (unexpected.length) parts.push(`unexpected ${list(unexpected)}`);
    fail(`the state dict is not nanoGPT's GPT with ${shape.nLayer} layers and C=${shape.nEmbd}: ${parts.join('; ')}`);
  }

  const weights = new Map<string, Float32Array>();
  for (const [name, dims] of shapes) {
    const source = name === WTE && !byName.has(WTE) ? LM_HEAD : name;
    weights.set(name, byName.has(source) ? read(byName.get(source)!, dims) : new Float32Array(dims.reduce((a, b) => a * b, 1)));
  }
  if (byName.has(WTE) && byName.has(LM_HEAD)) {
    const head = read(byName.get(LM_HEAD)!, [shape.vocabSize, shape.nEmbd]);
    const wte = weights.get(WTE)!;
    if (head.some((x, i) => x !== wte[i])) fail(`${LM_HEAD} differs from ${WTE}; LM Lab ties the two, as nanoGPT does, so it cannot load an untied head`);
  }
  for (const [name, t] of byName) if (MASK.test(name)) checkMask(t, shape.blockSize);
  if (!shape.bias) notes.push('the model has no biases (nanoGPT bias=False); they are imported as zeros, which computes the same function');
  if ([...byName.values()].some((t) => t.dtype !== 'F32')) notes.push('tensors stored in a lower or higher precision were converted to float32');

  const train = defaultTrainConfig('tiny');
  const origin = `nanoGPT state dict${opts.sourceName ? ` ${opts.sourceName}` : ''}`.slice(0, 200);
  const state: CheckpointState = {
    model,
    train,
    tokenizer: tokenizer.toJSON(),
    stage: 'pretrain',
    step: 0,
    corpus: opts.corpus ?? 'imported',
    dataState: { rngState: train.seed >>> 0 }, // where a fresh run's sampler starts
    weights,
    metrics: [],
    events: [],
    lineage: [{ stage: 'pretrain', step: 0, sha256, origin }],
    extra: {},
  };
  return { state, notes };
}

/** Tensors by name, without torch.compile's prefix; a name that appears twice after that is refused. */
function renamed<T extends { name: string }>(tensors: T[]): Map<string, T> {
  const byName = new Map<string, T>();
  for (const t of tensors) {
    const name = t.name.startsWith(COMPILED_PREFIX) ? t.name.slice(COMPILED_PREFIX.length) : t.name;
    if (byName.has(name)) fail(`the state dict holds ${quote(name)} twice (with and without the ${COMPILED_PREFIX} prefix)`);
    byName.set(name, t);
  }
  return byName;
}

function shapeOf(byName: Map<string, { shape: number[] }>): StateDictShape {
  const embedding = byName.get(WTE) ?? byName.get(LM_HEAD);
  if (!embedding) fail(`no ${WTE} (nor ${LM_HEAD}): this is not a nanoGPT state dict`);
  if (embedding.shape.length !== 2 || embedding.shape.includes(0)) fail(`${WTE} has shape [${embedding.shape}], not [vocab, C]`);
  const [vocabSize, nEmbd] = embedding.shape;
  const wpe = byName.get('transformer.wpe.weight');
  if (!wpe) fail('no transformer.wpe.weight: this is not a nanoGPT state dict');
  if (wpe.shape.length !== 2 || wpe.shape[1] !== nEmbd || wpe.shape[0] === 0) fail(`transformer.wpe.weight has shape [${wpe.shape}], not [block, ${nEmbd}]`);
  const layers = new Set<number>();
  for (const name of byName.keys()) {
    const m = LAYER.exec(name);
    if (m) layers.add(Number(m[1]));
  }
  if (layers.size === 0) fail('the state dict has no transformer blocks (transformer.h.0.…)');
  let nLayer = 0;
  for (const i of layers) nLayer = Math.max(nLayer, i + 1);
  if (nLayer !== layers.size) {
    const absent: number[] = [];
    for (let i = 0; absent.length < 6 && i < nLayer; i++) if (!layers.has(i)) absent.push(i);
    fail(`the state dict has layer ${nLayer - 1} but no tensors for layer${absent.length > 1 ? 's' : ''} ${absent.join(', ')}`);
  }
  const headChoices: number[] = [];
  for (let h = 1; h <= Math.min(nEmbd, MAX_HEADS); h++) if (nEmbd % h === 0) headChoices.push(h);
  return {
    vocabSize,
    blockSize: wpe.shape[0],
    nLayer,
    nEmbd,
    qkLayerNorm: byName.has('transformer.h.0.attn.q_ln.weight'),
    bias: [...byName.keys()].some((n) => n.endsWith('.bias') && !MASK.test(n)),
    headChoices,
  };
}

/** Values of one tensor, after checking its shape and that every value is finite. */
function read(t: TensorEntry, dims: number[]): Float32Array {
  if (t.shape.length !== dims.length || t.shape.some((d, i) => d !== dims[i])) {
    fail(`${quote(t.name)} has shape [${t.shape}] but nanoGPT's GPT of this size needs [${dims}]`);
  }
  const values = container(() => toFloat32(t));
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) fail(`${quote(t.name)} holds a non-finite value (${values[i]}) at index ${i}`);
  }
  return values;
}

/** nanoGPT's `attn.bias` buffer must be the causal mask (ones on and below the diagonal), or the model computes something else. */
function checkMask(t: TensorEntry, blockSize: number): void {
  const values = read(t, [1, 1, blockSize, blockSize]);
  for (let r = 0; r < blockSize; r++) {
    for (let c = 0; c < blockSize; c++) {
      if (values[r * blockSize + c] !== (c <= r ? 1 : 0)) fail(`${quote(t.name)} is not nanoGPT's causal mask (row ${r}, column ${c})`);
    }
  }
}

function container<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof SafetensorsError) fail(`not a valid .safetensors file: ${e.message}`);
    throw e;
  }
}

function list(names: string[]): string {
  const shown = names.slice(0, 6).map(quote).join(', ');
  return names.length > 6 ? `${shown} and ${names.length - 6} more` : shown;
}

function quote(s: string): string {
  return s.length > 80 ? `${JSON.stringify(s.slice(0, 80))}...` : /^[\w.]+$/.test(s) ? s : JSON.stringify(s);
}

function fail(message: string): never {
  throw new CheckpointError(message);
}
