/**
 * Reading and writing `.safetensors` files, the checkpoint format shared with PyTorch.
 *
 * Layout (https://github.com/huggingface/safetensors):
 *   [8 bytes]  N, the header length, unsigned 64-bit little-endian
 *   [N bytes]  UTF-8 JSON object, padded with spaces so the data buffer starts 8-byte aligned:
 *              { "__metadata__": { string: string },            (optional)
 *                name: { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, ... }
 *   [rest]     the data buffer; offsets are relative to its start, tensors are raw little-endian
 *
 * Checkpoints arrive from other people, so the decoder treats every byte as hostile. It refuses
 * at least everything the reference Rust reader refuses, and a little more (duplicate keys, extra
 * fields, lone surrogates), each with a SafetensorsError whose message names the problem. It never
 * allocates more than the file: tensor data comes back as views into the input bytes, and names
 * such as `__proto__` are only ever used as keys of Maps and null-prototype objects.
 *
 * Pure TypeScript with no tfjs, DOM or Node APIs, so the same code runs in the page, the worker,
 * the tests and the command line.
 */

export type DType =
  | 'F64' | 'F32' | 'F16' | 'BF16' | 'F8_E5M2' | 'F8_E4M3' | 'F8_E8M0'
  | 'I64' | 'I32' | 'I16' | 'I8'
  | 'U64' | 'U32' | 'U16' | 'U8'
  | 'BOOL' | 'C64';

/** Bytes per element. The sub-byte types of newer reference versions (F4, F6_*) are not read. */
const DTYPE_BYTES: ReadonlyMap<string, number> = new Map<DType, number>([
  ['F64', 8], ['F32', 4], ['F16', 2], ['BF16', 2], ['F8_E5M2', 1], ['F8_E4M3', 1], ['F8_E8M0', 1],
  ['I64', 8], ['I32', 4], ['I16', 2], ['I8', 1],
  ['U64', 8], ['U32', 4], ['U16', 2], ['U8', 1],
  ['BOOL', 1], ['C64', 8],
]);

export interface TensorEntry {
  name: string;
  dtype: DType;
  shape: number[];
  data: Uint8Array; // raw little-endian bytes
}

/** One tensor as the header describes it, before touching the data buffer. */
export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
  dataOffsets: [number, number]; // [begin, end) relative to the data buffer
}

export interface Header {
  tensors: TensorInfo[]; // sorted by data offset, i.e. in file order
  metadata: Record<string, string>; // null prototype
  dataLength: number; // the exact length the data buffer must have
}

export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

export interface DecodeLimits {
  maxHeaderBytes?: number; // default 100 MB, as the reference reader
}

const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';
const ENTRY_FIELDS = ['dtype', 'shape', 'data_offsets'];

// ---------------------------------------------------------------------------------------------
// encoder

/**
 * Serialise tensors, in the order given, with offsets contiguous from 0. The same input always
 * gives byte-identical output: no sorting by dtype as the Python writer does, no timestamps.
 */
export function encodeSafetensors(
  tensors: TensorEntry[],
  metadata: Record<string, string>,
): Uint8Array {
  if (!isObject(metadata)) fail(`metadata is ${typeName(metadata)}, not an object`);
  const fields: string[] = [];
  const metaEntries = Object.entries(metadata);
  if (metaEntries.length > 0) {
    const pairs = metaEntries.map(([key, value]) => {
      if (typeof value !== 'string') {
        fail(`metadata ${quote(key)} is ${typeName(value)}, not a string`);
      }
      return `${jsonString(key, 'metadata key')}:${jsonString(value, `metadata ${quote(key)}`)}`;
    });
    fields.push(`"${METADATA_KEY}":{${pairs.join(',')}}`);
  }

  const seen = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    if (t.name === METADATA_KEY) fail(`a tensor cannot be named ${METADATA_KEY}`);
    if (seen.has(t.name)) fail(`tensor ${quote(t.name)} appears twice`);
    seen.add(t.name);
    const nbytes = byteSize(t.name, t.dtype, t.shape);
    if (t.data.length !== nbytes) {
      fail(`tensor ${quote(t.name)}: ${t.dtype} ${shapeText(t.shape)} needs ${nbytes} bytes but data has ${t.data.length}`);
    }
    const info = `{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + nbytes}]}`;
    fields.push(`${jsonString(t.name, 'tensor name')}:${info}`);
    offset += nbytes;
  }

  const json = new TextEncoder().encode(`{${fields.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8; // pad so the data starts 8-byte aligned
  const out = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLength % 2 ** 32, true);
  view.setUint32(4, Math.floor(headerLength / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const t of tensors) {
    out.set(t.data, at);
    at += t.data.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// decoder

/** Parse and check a whole file; tensor data are views into `bytes`, in file order. */
export function decodeSafetensors(
  bytes: Uint8Array,
  limits?: DecodeLimits,
): { tensors: TensorEntry[]; metadata: Record<string, string> } {
  const { header, dataStart } = readHeader(bytes, limits);
  const dataBytes = bytes.length - dataStart;
  if (dataBytes !== header.dataLength) {
    fail(`the tensors cover ${header.dataLength} bytes but the data buffer holds ${dataBytes}`);
  }
  const tensors = header.tensors.map(({ name, dtype, shape, dataOffsets: [begin, end] }) => ({
    name,
    dtype,
    shape,
    data: bytes.subarray(dataStart + begin, dataStart + end),
  }));
  return { tensors, metadata: header.metadata };
}

/**
 * Parse and check the header alone. Only the first `dataStart` bytes are read, so an inspect
 * view can pass just the start of a large file; the data buffer's length is checked by
 * decodeSafetensors against `header.dataLength`.
 */
export function readHeader(
  bytes: Uint8Array,
  limits?: DecodeLimits,
): { header: Header; dataStart: number } {
  const { text, byteLength } = headerText(bytes, limits?.maxHeaderBytes ?? MAX_HEADER_BYTES);
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    // The engine's message quotes the text around the error; keep it to one short line.
    fail(`header is not valid JSON (${shorten((e as Error).message.replace(/\s+/g, ' '))})`);
  }
  // A text that starts with '{' and parses is an object. JSON.parse stores every key, even
  // "__proto__", as an own property, so parsed[name] below never reads from a prototype.
  let metadata: Record<string, string> = Object.create(null);
  const tensors: TensorInfo[] = [];
  for (const name of keysInOrder(text)) {
    if (name === METADATA_KEY) metadata = parseMetadata(parsed[name]);
    else tensors.push(parseTensorInfo(name, parsed[name]));
  }
  // The reference reader sorts by offsets too: writers may list tensors in any order.
  // Array.sort is stable, so empty tensors sharing an offset keep their header order.
  tensors.sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let end = 0;
  for (const t of tensors) {
    const [begin, stop] = t.dataOffsets;
    if (begin !== end) {
      const what = begin > end ? `a gap of ${begin - end} bytes` : `an overlap of ${end - begin} bytes`;
      fail(`tensor ${quote(t.name)} starts at ${begin} but the previous tensor ends at ${end}: ${what}`);
    }
    end = stop;
  }
  return { header: { tensors, metadata, dataLength: end }, dataStart: 8 + byteLength };
}

/** The header's JSON text and its length in bytes, after the length, size and encoding checks. */
function headerText(bytes: Uint8Array, maxHeaderBytes: number): { text: string; byteLength: number } {
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  // A u64 can exceed 2^53, so compare as BigInt before turning it into a Number.
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(maxHeaderBytes)) fail(`header length ${n} exceeds the limit of ${maxHeaderBytes} bytes`);
  if (n > BigInt(bytes.length - 8)) {
    fail(`header length ${n} runs past the end of the ${bytes.length}-byte file`);
  }
  const raw = bytes.subarray(8, 8 + Number(n));
  // Checked on the bytes: TextDecoder would otherwise strip a UTF-8 byte order mark.
  if (raw[0] !== 0x7b) fail(`header does not start with '{'`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    fail('header is not valid UTF-8');
  }
  return { text, byteLength: raw.length };
}

function parseMetadata(value: unknown): Record<string, string> {
  if (!isObject(value)) fail(`${METADATA_KEY} is ${typeName(value)}, not an object`);
  const metadata: Record<string, string> = Object.create(null);
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') fail(`metadata ${quote(key)} is ${typeName(v)}, not a string`);
    metadata[wellFormed(key, 'metadata key')] = wellFormed(v, `metadata ${quote(key)}`);
  }
  return metadata;
}

function parseTensorInfo(name: string, value: unknown): TensorInfo {
  const what = `tensor ${quote(name)}`;
  wellFormed(name, 'tensor name');
  if (!isObject(value)) fail(`${what} is ${typeName(value)}, not an object`);
  const keys = Object.keys(value);
  if (keys.length !== ENTRY_FIELDS.length || !ENTRY_FIELDS.every((f) => Object.hasOwn(value, f))) {
    const found = keys.slice(0, 8).map(quote).join(', ') + (keys.length > 8 ? ', ...' : '');
    fail(`${what} must have exactly the fields dtype, shape, data_offsets, not ${found || 'none'}`);
  }
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string') fail(`${what}: dtype is ${typeName(dtype)}, not a string`);
  if (!DTYPE_BYTES.has(dtype)) fail(`${what}: unknown dtype ${quote(dtype)}`);
  if (!Array.isArray(shape) || !shape.every(isIndex)) {
    fail(`${what}: shape must be a list of non-negative integers, not ${preview(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex)) {
    fail(`${what}: data_offsets must be two non-negative integers, not ${preview(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) fail(`${what}: data_offsets [${begin},${end}] end before they begin`);
  const nbytes = byteSize(name, dtype as DType, shape);
  if (end - begin !== nbytes) {
    fail(`${what}: ${dtype} ${shapeText(shape)} needs ${nbytes} bytes but data_offsets [${begin},${end}] span ${end - begin}`);
  }
  return { name, dtype: dtype as DType, shape, dataOffsets: [begin, end] };
}

/**
 * The top-level keys in the order the text has them, refusing a key repeated in any one object.
 *
 * Why a scan of our own: JSON.parse keeps the last of two equal keys, so a header could show one
 * thing to us and another to a reader that keeps the first; and Object.keys lists integer-like
 * keys first, whatever their place in the file, while empty tensors sharing an offset should come
 * back in file order. The text is already known to be valid JSON, so it is enough to track the
 * open objects and which strings stand in key position.
 */
function keysInOrder(text: string): string[] {
  const topLevel: string[] = [];
  const open: (Set<string> | null)[] = []; // a Set of keys per open object, null per open array
  let keyNext = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (keyNext) {
        const raw = text.slice(i + 1, j);
        const key = raw.includes('\\') ? (JSON.parse(text.slice(i, j + 1)) as string) : raw;
        const keys = open[open.length - 1]!;
        if (keys.has(key)) fail(`header has the key ${quote(key)} twice in one object`);
        keys.add(key);
        if (open.length === 1) topLevel.push(key);
        keyNext = false;
      }
      i = j;
    } else if (c === '{') {
      open.push(new Set());
      keyNext = true;
    } else if (c === '[') {
      open.push(null);
    } else if (c === '}' || c === ']') {
      open.pop();
    } else if (c === ',') {
      keyNext = open[open.length - 1] !== null;
    }
  }
  return topLevel;
}

// ---------------------------------------------------------------------------------------------
// float conversion

/** Elements as float32: F32 (copied, any alignment), F16, BF16 and F64 (rounded). */
export function toFloat32(t: TensorEntry): Float32Array {
  const size = byteSize(t.name, t.dtype, t.shape);
  if (t.data.length !== size) {
    fail(`tensor ${quote(t.name)}: ${t.dtype} ${shapeText(t.shape)} needs ${size} bytes but data has ${t.data.length}`);
  }
  const count = size / DTYPE_BYTES.get(t.dtype)!;
  const view = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = new Float32Array(count);
  switch (t.dtype) {
    case 'F32':
      if (LITTLE_ENDIAN_HOST) new Uint8Array(out.buffer).set(t.data);
      else for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    case 'BF16': {
      // bfloat16 is the top half of a float32: shift its bits back into place.
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      return out;
    }
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      return out;
    default:
      fail(`tensor ${quote(t.name)}: cannot convert ${t.dtype} to float32`);
  }
}

/** An F32 entry holding a copy of `values`. */
export function fromFloat32(name: string, shape: number[], values: Float32Array): TensorEntry {
  const size = byteSize(name, 'F32', shape);
  if (size !== values.byteLength) {
    fail(`tensor ${quote(name)}: F32 ${shapeText(shape)} needs ${size / 4} values but got ${values.length}`);
  }
  const data = new Uint8Array(size);
  if (LITTLE_ENDIAN_HOST) {
    data.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  } else {
    const view = new DataView(data.buffer);
    values.forEach((v, i) => view.setFloat32(4 * i, v, true));
  }
  return { name, dtype: 'F32', shape: [...shape], data };
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** IEEE 754 binary16: 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

// ---------------------------------------------------------------------------------------------
// helpers

/** Bytes for `shape` elements of `dtype`, refusing any product that leaves the safe integers. */
function byteSize(name: string, dtype: DType, shape: number[]): number {
  const elementBytes = DTYPE_BYTES.get(dtype);
  if (elementBytes === undefined) fail(`tensor ${quote(name)}: unknown dtype ${quote(String(dtype))}`);
  if (!Array.isArray(shape) || !shape.every(isIndex)) {
    fail(`tensor ${quote(name)}: shape must be a list of non-negative integers, not ${preview(shape)}`);
  }
  let n = elementBytes;
  for (const dim of shape) {
    n *= dim;
    if (!Number.isSafeInteger(n)) fail(`tensor ${quote(name)}: ${dtype} ${shapeText(shape)} overflows the byte count`);
  }
  return n;
}

function isIndex(x: unknown): x is number {
  return Number.isSafeInteger(x) && (x as number) >= 0;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** The reference reader refuses lone UTF-16 surrogates in \u escapes, and so do we. */
function wellFormed(s: string, what: string): string {
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s)) {
    fail(`${what} ${quote(s)} contains a lone UTF-16 surrogate`);
  }
  return s;
}

function jsonString(s: string, what: string): string {
  if (typeof s !== 'string') fail(`${what} is ${typeName(s)}, not a string`);
  return JSON.stringify(wellFormed(s, what));
}

/** What a JSON value is, for messages: "null", "a list", "an object", "a number", ... */
function typeName(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'a list';
  return typeof x === 'object' ? 'an object' : `a ${typeof x}`;
}

/** Names and values come from hostile files: quote them, and cut them short in messages. */
function quote(s: string): string {
  return JSON.stringify(shorten(s));
}

/** A value from the file, shown one level deep: it may be nested far too deep to print whole. */
function preview(x: unknown): string {
  if (!Array.isArray(x)) return shallow(x);
  return shorten(`[${x.slice(0, 8).map(shallow).join(',')}${x.length > 8 ? ',...' : ''}]`);
}

function shallow(x: unknown): string {
  return Array.isArray(x) ? '[...]' : isObject(x) ? '{...}' : shorten(String(JSON.stringify(x)));
}

function shorten(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}...` : s;
}

function shapeText(shape: number[]): string {
  return `[${shape.join(',')}]`;
}

function fail(message: string): never {
  throw new SafetensorsError(message);
}
