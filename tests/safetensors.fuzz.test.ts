import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  SafetensorsError,
  decodeSafetensors,
  encodeSafetensors,
  type DType,
  type TensorEntry,
} from '../src/core/io/safetensors';

// Property tests: valid files round-trip, and any mutation of a valid file is either refused with
// a SafetensorsError or still describes a file that re-encodes to the same thing.

const DTYPES: DType[] = [
  'F64', 'F32', 'F16', 'BF16', 'F8_E5M2', 'F8_E4M3', 'F8_E8M0',
  'I64', 'I32', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8', 'BOOL', 'C64',
];
const BYTES: Record<DType, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, F8_E5M2: 1, F8_E4M3: 1, F8_E8M0: 1,
  I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1, C64: 8,
};

// Names include the awkward ones: prototype keys, integer-like keys (which JS objects reorder),
// quotes, backslashes, control characters and astral code points.
const nameArb = fc
  .oneof(
    fc.string({ unit: 'binary', maxLength: 6 }),
    fc.constantFrom('__proto__', 'constructor', 'hasOwnProperty', '0', '17', 'a"b', 'c\\d', '\n', '😀'),
    fc.constantFrom('transformer.wte.weight', 'transformer.h.0.attn.c_attn.weight', 'lm_head.weight'),
  )
  .filter((name) => name !== '__metadata__');

const tensorArb = (name: string): fc.Arbitrary<TensorEntry> =>
  fc
    .record({ dtype: fc.constantFrom(...DTYPES), shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }) })
    .chain(({ dtype, shape }) => {
      const length = shape.reduce((a, b) => a * b, BYTES[dtype]);
      return fc
        .uint8Array({ minLength: length, maxLength: length })
        .map((data) => ({ name, dtype, shape, data }));
    });

const tensorsArb = fc
  .uniqueArray(nameArb, { maxLength: 5 })
  .chain((names) => fc.tuple(...names.map(tensorArb)));

const metadataArb = fc.dictionary(
  fc.oneof(fc.string({ unit: 'binary', maxLength: 6 }), fc.constantFrom('__proto__', 'constructor', '3')),
  fc.string({ unit: 'binary', maxLength: 10 }),
  { maxKeys: 4 },
);

const fileArb = fc.record({ tensors: tensorsArb, metadata: metadataArb });

// A comparable form: plain arrays, data as number arrays, metadata entries sorted by key.
function plain(decoded: { tensors: TensorEntry[]; metadata: Record<string, string> }) {
  return {
    tensors: decoded.tensors.map((t) => [t.name, t.dtype, t.shape, [...t.data]]),
    metadata: Object.entries(decoded.metadata).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  };
}

describe('valid files', () => {
  it('round-trip exactly', () => {
    fc.assert(
      fc.property(fileArb, ({ tensors, metadata }) => {
        const bytes = encodeSafetensors(tensors, metadata);
        expect(encodeSafetensors(tensors, metadata)).toEqual(bytes);
        expect(plain(decodeSafetensors(bytes))).toEqual(plain({ tensors, metadata }));
      }),
      { numRuns: 400 },
    );
  });
});

// ------------------------------------------------------------------------------------------------
// mutations

type Mutation =
  | { kind: 'flip'; at: number; xor: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'extend'; bytes: Uint8Array }
  | { kind: 'length'; value: bigint }
  | { kind: 'number'; which: number; value: string; relength: boolean }
  | { kind: 'duplicate'; which: number; value: string }
  | { kind: 'drop'; field: 'dtype' | 'shape' | 'data_offsets' | '__metadata__'; which: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip'), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate'), at: fc.nat() }),
  fc.record({ kind: fc.constant('extend'), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({
    kind: fc.constant('length'),
    value: fc.oneof(fc.bigInt({ min: 0n, max: 300n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
  }),
  fc.record({
    kind: fc.constant('number'),
    which: fc.nat(),
    value: fc.oneof(
      fc.integer({ min: 0, max: 80 }).map(String),
      fc.constantFrom('-1', '1.5', '1e2', '9007199254740993', '18446744073709551616', 'null', '"2"'),
    ),
    relength: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('duplicate'),
    which: fc.nat(),
    value: fc.constantFrom('0', '"F32"', '{}', '[]', '{"dtype":"U8","shape":[0],"data_offsets":[0,0]}'),
  }),
  fc.record({
    kind: fc.constantFrom('drop'),
    field: fc.constantFrom('dtype', 'shape', 'data_offsets', '__metadata__'),
    which: fc.nat(),
  }),
) as fc.Arbitrary<Mutation>;

function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  const out = bytes.slice();
  if (out.length < 8 && m.kind !== 'extend') return out; // earlier mutations cut the file short
  switch (m.kind) {
    case 'flip':
      out[m.at % out.length] ^= m.xor;
      return out;
    case 'truncate':
      return out.subarray(0, m.at % out.length);
    case 'extend': {
      const longer = new Uint8Array(out.length + m.bytes.length);
      longer.set(out);
      longer.set(m.bytes, out.length);
      return longer;
    }
    case 'length':
      new DataView(out.buffer).setBigUint64(0, m.value, true);
      return out;
    default:
      return editHeader(bytes, m);
  }
}

// Header edits work on the JSON text and then rebuild the file around it, so that they reach
// the checks behind the length and UTF-8 ones.
function editHeader(bytes: Uint8Array, m: Mutation): Uint8Array {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  if (n > bytes.length - 8) return bytes;
  let text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  const data = bytes.subarray(8 + n);
  let relength = true;
  // Strings first, so that digits and colons inside names are never taken for syntax.
  const tokens = [...text.matchAll(/"(?:[^"\\]|\\.)*"|-?\d+/g)];
  const pick = <T>(xs: T[], i: number): T | undefined => (xs.length ? xs[i % xs.length] : undefined);
  if (m.kind === 'number') {
    const t = pick(tokens.filter((t) => !t[0].startsWith('"')), m.which);
    if (t) text = text.slice(0, t.index) + m.value + text.slice(t.index! + t[0].length);
    relength = m.relength;
  } else if (m.kind === 'duplicate') {
    const key = pick(tokens.filter((t) => text[t.index! + t[0].length] === ':'), m.which);
    if (key) text = text.slice(0, key.index) + `${key[0]}:${m.value},` + text.slice(key.index);
  } else if (m.kind === 'drop') {
    const value = m.field === '__metadata__' ? '\\{[^{}]*\\}' : m.field === 'dtype' ? '"[^"]*"' : '\\[[^\\]]*\\]';
    const fields = [...text.matchAll(new RegExp(`"${m.field}":${value},?`, 'g'))];
    const f = pick(fields, m.which);
    if (f) text = (text.slice(0, f.index) + text.slice(f.index! + f[0].length)).replace(',}', '}');
  }
  const json = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(relength ? json.length : n), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('mutated files', () => {
  it('are refused with a SafetensorsError, or re-encode to the same result', () => {
    let refused = 0;
    let accepted = 0;
    fc.assert(
      fc.property(fileArb, fc.array(mutationArb, { minLength: 1, maxLength: 3 }), ({ tensors, metadata }, mutations) => {
        const bytes = mutations.reduce(mutate, encodeSafetensors(tensors, metadata));
        let decoded: ReturnType<typeof decodeSafetensors>;
        try {
          decoded = decodeSafetensors(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(SafetensorsError);
          expect((e as Error).message).not.toBe('');
          refused++;
          return;
        }
        accepted++;
        for (const t of decoded.tensors) expect(t.data.buffer).toBe(bytes.buffer);
        const again = decodeSafetensors(encodeSafetensors(decoded.tensors, decoded.metadata));
        expect(plain(again)).toEqual(plain(decoded));
      }),
      { numRuns: 1000 },
    );
    // Both outcomes must actually occur, or the property says nothing about one of them.
    expect(refused).toBeGreaterThan(100);
    expect(accepted).toBeGreaterThan(10);
  });
});
