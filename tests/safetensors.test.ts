import { describe, expect, it } from 'vitest';
import {
  SafetensorsError,
  decodeSafetensors,
  encodeSafetensors,
  fromFloat32,
  readHeader,
  toFloat32,
  type TensorEntry,
} from '../src/core/io/safetensors';

// A file built by hand: the 8-byte little-endian length (the header's byte length unless given),
// the header text as UTF-8 (or raw bytes), then the data buffer.
function file(header: string | Uint8Array, data: ArrayLike<number> = [], length?: bigint): Uint8Array {
  const json = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

// One tensor entry's JSON, for hand-built headers.
function entry(dtype: string, shape: unknown, offsets: unknown): string {
  return JSON.stringify({ dtype, shape, data_offsets: offsets });
}

function rejects(action: () => unknown, message: RegExp): void {
  let caught: unknown;
  try {
    action();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(SafetensorsError);
  expect((caught as Error).message).toMatch(message);
  expect((caught as Error).message).not.toContain('\n');
}

const decodeRejects = (bytes: Uint8Array, message: RegExp) => rejects(() => decodeSafetensors(bytes), message);

const u8 = (...xs: number[]) => new Uint8Array(xs);

describe('encode and decode', () => {
  const tensors: TensorEntry[] = [
    fromFloat32('transformer.wte.weight', [2, 3], new Float32Array([0, 1, -2, 3.5, 1e-8, -0])),
    { name: 'half', dtype: 'F16', shape: [2], data: u8(0x00, 0x3c, 0x00, 0xc0) },
    { name: 'step', dtype: 'I64', shape: [], data: u8(42, 0, 0, 0, 0, 0, 0, 0) },
    { name: 'mask', dtype: 'BOOL', shape: [3], data: u8(1, 0, 1) },
    { name: 'empty', dtype: 'F32', shape: [0, 4], data: u8() },
    { name: 'ünïcode ✓', dtype: 'U8', shape: [1], data: u8(255) },
  ];
  const metadata = { format: 'pt', config: '{"n_layer": 2}' };

  it('round-trips several tensors and the metadata, in order', () => {
    const decoded = decodeSafetensors(encodeSafetensors(tensors, metadata));
    expect(decoded.tensors).toEqual(tensors);
    expect({ ...decoded.metadata }).toEqual(metadata);
  });

  it('is deterministic', () => {
    expect(encodeSafetensors(tensors, metadata)).toEqual(encodeSafetensors(tensors, metadata));
  });

  it('returns tensor data as views into the input, not copies', () => {
    const bytes = encodeSafetensors(tensors, metadata);
    for (const t of decodeSafetensors(bytes).tensors) expect(t.data.buffer).toBe(bytes.buffer);
  });

  it('lays out a tiny file byte by byte', () => {
    const bytes = encodeSafetensors([{ name: 'a', dtype: 'U8', shape: [2], data: u8(7, 9) }], {});
    const json = '{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}'; // 53 bytes
    expect(json.length).toBe(53);
    expect([...bytes.subarray(0, 8)]).toEqual([56, 0, 0, 0, 0, 0, 0, 0]); // 53 padded to 56
    expect(new TextDecoder().decode(bytes.subarray(8, 61))).toBe(json);
    expect([...bytes.subarray(61, 64)]).toEqual([0x20, 0x20, 0x20]);
    expect([...bytes.subarray(64)]).toEqual([7, 9]);
    expect(bytes.length).toBe(66);
  });

  it('writes metadata first and offsets contiguously in the order given', () => {
    const bytes = encodeSafetensors(
      [
        { name: 'b', dtype: 'I16', shape: [1], data: u8(1, 2) },
        { name: 'a', dtype: 'U8', shape: [3], data: u8(3, 4, 5) },
      ],
      { k: 'v' },
    );
    const { header, dataStart } = readHeader(bytes);
    expect(new TextDecoder().decode(bytes.subarray(8, dataStart)).trimEnd()).toBe(
      '{"__metadata__":{"k":"v"},"b":{"dtype":"I16","shape":[1],"data_offsets":[0,2]},' +
        '"a":{"dtype":"U8","shape":[3],"data_offsets":[2,5]}}',
    );
    expect(dataStart % 8).toBe(0);
    expect(header.dataLength).toBe(5);
    expect([...bytes.subarray(dataStart)]).toEqual([1, 2, 3, 4, 5]);
  });

  // Byte-for-byte outputs of the reference serializer (from its own test suite): one F32 tensor
  // "attn0" of shape [1,1,2,3] holding 0..5, and an empty file with metadata {"framework":"pt"}.
  const reference = {
    attn0: u8(
      72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116, 121, 112,
      101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 49, 44,
      50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91,
      48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32, 32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0,
      64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ),
    emptyWithMetadata: u8(
      40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95, 95, 34,
      58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112, 116, 34, 125, 125,
      32, 32, 32, 32, 32,
    ),
  };

  it('reads and reproduces the reference layout', () => {
    const { tensors: [attn0], metadata } = decodeSafetensors(reference.attn0);
    expect(attn0!.name).toBe('attn0');
    expect(attn0!.shape).toEqual([1, 1, 2, 3]);
    expect([...toFloat32(attn0!)]).toEqual([0, 1, 2, 3, 4, 5]);
    expect(Object.keys(metadata)).toEqual([]);
    expect(Object.getPrototypeOf(metadata)).toBeNull();
    expect(encodeSafetensors([attn0!], {})).toEqual(reference.attn0);

    const empty = decodeSafetensors(reference.emptyWithMetadata);
    expect(empty.tensors).toEqual([]);
    expect({ ...empty.metadata }).toEqual({ framework: 'pt' });
    expect(encodeSafetensors([], { framework: 'pt' })).toEqual(reference.emptyWithMetadata);
  });

  it('accepts tensors listed out of offset order and returns them in file order', () => {
    const header = `{"second":${entry('U8', [1], [1, 2])},"first":${entry('U8', [1], [0, 1])}}`;
    const { tensors } = decodeSafetensors(file(header, [10, 20]));
    expect(tensors.map((t) => [t.name, t.data[0]])).toEqual([['first', 10], ['second', 20]]);
  });

  it('keeps the file order of empty tensors, even with integer-like names', () => {
    // Object.keys would list "17" before "b"; the file lists "b" first.
    const empty = (name: string): TensorEntry => ({ name, dtype: 'F64', shape: [0], data: u8() });
    const decoded = decodeSafetensors(encodeSafetensors([empty('b'), empty('17'), empty('')], {}));
    expect(decoded.tensors.map((t) => t.name)).toEqual(['b', '17', '']);
  });

  it('reads the header from the start of a file alone', () => {
    const bytes = encodeSafetensors(tensors, metadata);
    const { dataStart } = readHeader(bytes);
    const { header } = readHeader(bytes.subarray(0, dataStart));
    expect(header.tensors.map((t) => t.name)).toEqual(tensors.map((t) => t.name));
    expect(header.tensors[1]).toEqual({ name: 'half', dtype: 'F16', shape: [2], dataOffsets: [24, 28] });
    expect(header.dataLength).toBe(bytes.length - dataStart);
  });
});

describe('hostile names', () => {
  const names = ['__proto__', 'constructor', 'hasOwnProperty', 'toString'];

  it('keeps __proto__ and friends as plain tensor names and metadata keys', () => {
    const tensors = names.map((name, i) => ({ name, dtype: 'U8' as const, shape: [1], data: u8(i) }));
    const metadata: Record<string, string> = Object.create(null);
    for (const name of names) metadata[name] = `value of ${name}`;
    const decoded = decodeSafetensors(encodeSafetensors(tensors, metadata));

    expect(decoded.tensors.map((t) => t.name)).toEqual(names);
    expect(Object.getPrototypeOf(decoded.metadata)).toBeNull();
    expect(Object.keys(decoded.metadata).sort()).toEqual([...names].sort());
    expect(decoded.metadata['__proto__']).toBe('value of __proto__');
    expect(decoded.metadata['hasOwnProperty']).toBe('value of hasOwnProperty');
  });

  it('does not let a __proto__ metadata object reach the prototype chain', () => {
    const header = '{"__metadata__":{"__proto__":"x","constructor":"y"}}';
    const { metadata } = decodeSafetensors(file(header));
    expect(Object.getPrototypeOf(metadata)).toBeNull();
    expect(metadata['constructor']).toBe('y');
    expect(Object.prototype).not.toHaveProperty('x');
  });

  it('treats an inherited name as an unknown dtype', () => {
    decodeRejects(file(`{"t":${entry('constructor', [1], [0, 1])}}`, [0]), /unknown dtype "constructor"/);
  });
});

describe('decoder rejections', () => {
  const ok = (extra = '') => `{"t":${entry('U8', [2], [0, 2])}${extra}}`;

  it('refuses a file shorter than 8 bytes', () => {
    decodeRejects(u8(1, 0, 0), /file is 3 bytes, shorter than the 8-byte header length/);
  });

  it('refuses a header length above the cap, reading all 64 bits', () => {
    decodeRejects(file(ok(), [1, 2], 2n ** 64n - 1n), /header length 18446744073709551615 exceeds the limit of 100000000/);
    // 2^32 + 8 would look like 8 if only the low 32 bits were read.
    decodeRejects(file('{}      ', [], 2n ** 32n + 8n), /header length 4294967304 exceeds/);
    const bytes = file(ok(), [1, 2]);
    rejects(() => decodeSafetensors(bytes, { maxHeaderBytes: 16 }), /header length \d+ exceeds the limit of 16 bytes/);
  });

  it('refuses a header length that runs past the end of the file', () => {
    decodeRejects(file('{}', [], 9999999n), /header length 9999999 runs past the end of the 10-byte file/);
  });

  it('refuses a header that is not UTF-8', () => {
    const header = new TextEncoder().encode(ok());
    header[3] = 0xff; // inside the name "t"
    decodeRejects(file(header, [1, 2]), /header is not valid UTF-8/);
  });

  it('refuses a header that does not start with {', () => {
    decodeRejects(file(` ${ok()}`, [1, 2]), /header does not start with '\{'/);
    decodeRejects(file('[]'), /does not start with '\{'/);
    decodeRejects(file(''), /does not start with '\{'/);
    decodeRejects(file(u8(0xef, 0xbb, 0xbf, ...new TextEncoder().encode('{}'))), /does not start with '\{'/);
  });

  it('refuses a header that is not valid JSON', () => {
    decodeRejects(file('{"t":'), /header is not valid JSON/);
    decodeRejects(file('{}\0\0'), /header is not valid JSON/); // padding must be spaces
    decodeRejects(file(`{"a":1,\n"b"::2${'x'.repeat(500)}}`), /^header is not valid JSON \(.{1,90}\)$/);
  });

  it('refuses __metadata__ that is not an object of strings', () => {
    decodeRejects(file('{"__metadata__":["a"]}'), /__metadata__ is a list, not an object/);
    decodeRejects(file('{"__metadata__":null}'), /__metadata__ is null, not an object/);
    decodeRejects(file('{"__metadata__":{"step":3}}'), /metadata "step" is a number, not a string/);
  });

  it('refuses a tensor entry that is not an object', () => {
    decodeRejects(file('{"t":"F32"}'), /tensor "t" is a string, not an object/);
    decodeRejects(file('{"t":[]}'), /tensor "t" is a list, not an object/);
  });

  it('refuses a tensor entry without exactly dtype, shape and data_offsets', () => {
    const fieldError = /tensor "t" must have exactly the fields dtype, shape, data_offsets, not /;
    decodeRejects(file('{"t":{"dtype":"U8","shape":[0]}}'), fieldError);
    decodeRejects(file('{"t":{}}'), /, not none$/);
    decodeRejects(
      file('{"t":{"dtype":"U8","shape":[0],"data_offsets":[0,0],"offset":0}}'),
      /, not "dtype", "shape", "data_offsets", "offset"$/,
    );
    // One key that merely spells the three names must not pass for them.
    decodeRejects(file('{"t":{"dtype,shape":0,"data_offsets":[0,0]}}'), fieldError);
  });

  it('refuses a dtype that is not a string or not known', () => {
    decodeRejects(file(`{"t":${entry(4 as never, [1], [0, 4])}}`, [0, 0, 0, 0]), /tensor "t": dtype is a number, not a string/);
    decodeRejects(file(`{"t":${entry({} as never, [1], [0, 4])}}`, [0, 0, 0, 0]), /tensor "t": dtype is an object, not a string/);
    decodeRejects(file(`{"t":${entry('F128', [1], [0, 16])}}`, new Array(16).fill(0)), /tensor "t": unknown dtype "F128"/);
    decodeRejects(file(`{"t":${entry('f32', [1], [0, 4])}}`, [0, 0, 0, 0]), /unknown dtype "f32"/);
  });

  it('refuses a shape that is not a list of non-negative safe integers', () => {
    const shapeError = /tensor "t": shape must be a list of non-negative integers, not /;
    decodeRejects(file(`{"t":${entry('U8', [-1], [0, 0])}}`), shapeError);
    decodeRejects(file(`{"t":${entry('U8', [1.5], [0, 0])}}`), shapeError);
    decodeRejects(file(`{"t":${entry('U8', ['2'], [0, 2])}}`, [0, 0]), shapeError);
    decodeRejects(file(`{"t":${entry('U8', 2, [0, 2])}}`, [0, 0]), shapeError);
    decodeRejects(file('{"t":{"dtype":"U8","shape":[9007199254740993],"data_offsets":[0,0]}}'), shapeError);
  });

  it('refuses data_offsets that are not two ordered non-negative safe integers', () => {
    const offsetError = /tensor "t": data_offsets must be two non-negative integers, not /;
    decodeRejects(file(`{"t":${entry('U8', [0], [0, 0, 0])}}`), offsetError);
    decodeRejects(file(`{"t":${entry('U8', [0], [0])}}`), offsetError);
    decodeRejects(file(`{"t":${entry('U8', [1], [-1, 0])}}`), offsetError);
    decodeRejects(file(`{"t":${entry('U8', [1], [0, 0.5])}}`), offsetError);
    decodeRejects(file(`{"t":${entry('U8', [1], { 0: 0, 1: 1 })}}`, [0]), offsetError);
    decodeRejects(file('{"t":{"dtype":"U8","shape":[1],"data_offsets":[0,18446744073709551617]}}', [0]), offsetError);
    decodeRejects(file(`{"t":${entry('U8', [0], [2, 1])}}`), /tensor "t": data_offsets \[2,1\] end before they begin/);
  });

  it('refuses a byte count that overflows', () => {
    const shape = [2 ** 20, 2 ** 20, 2 ** 20];
    decodeRejects(file(`{"t":${entry('F32', shape, [0, 0])}}`), /tensor "t": F32 \[1048576,1048576,1048576\] overflows the byte count/);
    // 2^54 bytes: past the safe integers, though far from the 2^64 a u64 would hold.
    decodeRejects(file(`{"t":${entry('U8', [2 ** 27, 2 ** 27], [0, 0])}}`), /tensor "t": U8 \[134217728,134217728\] overflows/);
  });

  it('refuses a byte count that differs from the offsets', () => {
    decodeRejects(
      file(`{"t":${entry('F32', [2], [0, 4])}}`, [0, 0, 0, 0]),
      /tensor "t": F32 \[2\] needs 8 bytes but data_offsets \[0,4\] span 4/,
    );
  });

  it('refuses gaps and overlaps between tensors', () => {
    decodeRejects(file(`{"t":${entry('U8', [1], [1, 2])}}`, [0, 0]), /tensor "t" starts at 1 but the previous tensor ends at 0: a gap of 1 bytes/);
    decodeRejects(
      file(`{"a":${entry('U8', [2], [0, 2])},"b":${entry('U8', [2], [1, 3])}}`, [0, 0, 0]),
      /tensor "b" starts at 1 but the previous tensor ends at 2: an overlap of 1 bytes/,
    );
  });

  it('refuses a data buffer longer or shorter than the tensors', () => {
    decodeRejects(file(ok(), [1, 2, 3]), /the tensors cover 2 bytes but the data buffer holds 3/);
    decodeRejects(file(ok(), [1]), /the tensors cover 2 bytes but the data buffer holds 1/);
  });

  it('refuses duplicate keys, which JSON.parse would silently merge', () => {
    decodeRejects(file(`{"t":${entry('U8', [0], [0, 0])},"t":${entry('U8', [0], [0, 0])}}`), /header has the key "t" twice in one object/);
    decodeRejects(file(`{"a":${entry('U8', [0], [0, 0])},"\\u0061":${entry('U8', [0], [0, 0])}}`), /the key "a" twice/);
    decodeRejects(file('{"__metadata__":{},"__metadata__":{}}'), /the key "__metadata__" twice/);
    decodeRejects(file('{"__metadata__":{"k":"1","k":"2"}}'), /the key "k" twice/);
    decodeRejects(file('{"t":{"dtype":"U8","dtype":"U8","shape":[0],"data_offsets":[0,0]}}'), /the key "dtype" twice/);
  });

  it('does not mistake values or keys in other objects for duplicates', () => {
    const header = `{"__metadata__":{"t":"t","shape":"[1]"},"t":${entry('U8', [1], [0, 1])},"u":${entry('U8', [0], [1, 1])}}`;
    expect(decodeSafetensors(file(header, [5])).tensors.map((t) => t.name)).toEqual(['t', 'u']);
  });

  it('refuses lone UTF-16 surrogates, which the reference reader cannot hold', () => {
    decodeRejects(file(`{"\\ud800":${entry('U8', [0], [0, 0])}}`), /tensor name "\\ud800" contains a lone UTF-16 surrogate/);
    decodeRejects(file('{"__metadata__":{"k":"\\udc00"}}'), /metadata "k" "\\udc00" contains a lone UTF-16 surrogate/);
  });

  it('describes deeply nested values without overflowing the stack', () => {
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    decodeRejects(file(`{"t":{"dtype":"U8","shape":${deep},"data_offsets":[0,0]}}`), /shape must be .*, not \[\[\.\.\.\]\]$/);
  });

  it('cuts long hostile names short in messages', () => {
    const name = 'x'.repeat(10_000);
    rejects(() => decodeSafetensors(file(`{"${name}":"?"}`)), /^tensor "x{80}\.\.\." is a string, not an object$/);
  });
});

describe('encoder rejections', () => {
  const t = (name: string): TensorEntry => ({ name, dtype: 'U8', shape: [1], data: u8(1) });

  it('refuses duplicate names and the reserved __metadata__', () => {
    rejects(() => encodeSafetensors([t('a'), t('b'), t('a')], {}), /tensor "a" appears twice/);
    rejects(() => encodeSafetensors([t('__metadata__')], {}), /a tensor cannot be named __metadata__/);
  });

  it('refuses data whose size does not match the shape and dtype', () => {
    rejects(
      () => encodeSafetensors([{ name: 'w', dtype: 'F32', shape: [2, 2], data: u8(0, 0, 0, 0) }], {}),
      /tensor "w": F32 \[2,2\] needs 16 bytes but data has 4/,
    );
    rejects(() => encodeSafetensors([{ name: 'w', dtype: 'U8', shape: [-1], data: u8() }], {}), /tensor "w": shape must be/);
    rejects(() => encodeSafetensors([{ name: 'w', dtype: 'X' as never, shape: [1], data: u8(0) }], {}), /tensor "w": unknown dtype "X"/);
  });

  it('refuses metadata that is not strings', () => {
    rejects(() => encodeSafetensors([], { step: 3 as unknown as string }), /metadata "step" is a number, not a string/);
    rejects(() => encodeSafetensors([], null as never), /metadata is null, not an object/);
  });

  it('refuses names with lone surrogates', () => {
    rejects(() => encodeSafetensors([t('\ud800')], {}), /tensor name .* contains a lone UTF-16 surrogate/);
  });
});

describe('float conversion', () => {
  const halves = (...bits: number[]): TensorEntry => ({
    name: 'h',
    dtype: 'F16',
    shape: [bits.length],
    data: new Uint8Array(new Uint16Array(bits).buffer),
  });

  it('converts F16 by hand-computed values', () => {
    const values = toFloat32(halves(0x3c00, 0xc000, 0x3555, 0x7bff, 0x0001, 0x0400, 0x7c00, 0xfc00, 0x8000));
    expect([...values]).toEqual([
      1, // 0 01111 0000000000
      -2, // 1 10000 0000000000
      0.333251953125, // 0 01101 0101010101 = 2^-2 * (1 + 341/1024)
      65504, // the largest half
      2 ** -24, // the smallest subnormal
      2 ** -14, // the smallest normal
      Infinity,
      -Infinity,
      -0,
    ]);
    expect(Object.is(values[8], -0)).toBe(true);
    expect(toFloat32(halves(0x7e00))[0]).toBeNaN();
  });

  it('converts BF16 by hand-computed values', () => {
    const t: TensorEntry = { name: 'b', dtype: 'BF16', shape: [3], data: u8(0x80, 0x3f, 0x40, 0xc0, 0x49, 0x40) };
    expect([...toFloat32(t)]).toEqual([1, -3, 3.140625]); // 0x3F80, 0xC040, 0x4049
  });

  it('converts F64 with float32 rounding', () => {
    const data = new Uint8Array(new Float64Array([1 / 3, -1e300, 0.5]).buffer);
    expect([...toFloat32({ name: 'd', dtype: 'F64', shape: [3], data })]).toEqual([Math.fround(1 / 3), -Infinity, 0.5]);
  });

  it('copies F32 from an unaligned offset', () => {
    const bytes = new Uint8Array(9);
    bytes.set(new Uint8Array(new Float32Array([1.5, -7]).buffer), 1);
    const t: TensorEntry = { name: 'f', dtype: 'F32', shape: [2], data: bytes.subarray(1) };
    const values = toFloat32(t);
    expect([...values]).toEqual([1.5, -7]);
    values[0] = 0; // a copy: the file's bytes are untouched
    expect([...toFloat32(t)]).toEqual([1.5, -7]);
  });

  it('refuses other dtypes and mismatched sizes', () => {
    rejects(() => toFloat32({ name: 'i', dtype: 'I32', shape: [1], data: u8(1, 0, 0, 0) }), /tensor "i": cannot convert I32 to float32/);
    rejects(() => toFloat32({ name: 'f', dtype: 'F32', shape: [2], data: u8(0, 0, 0, 0) }), /needs 8 bytes but data has 4/);
  });

  it('builds F32 entries that copy their values', () => {
    const values = new Float32Array([0.25, -1, 3]);
    const t = fromFloat32('w', [3, 1], values);
    expect(t).toMatchObject({ name: 'w', dtype: 'F32', shape: [3, 1] });
    expect([...t.data.subarray(0, 4)]).toEqual([0, 0, 0x80, 0x3e]); // 0.25 = 0x3E800000
    values[0] = 9;
    expect([...toFloat32(t)]).toEqual([0.25, -1, 3]);
    rejects(() => fromFloat32('w', [2, 2], values), /tensor "w": F32 \[2,2\] needs 4 values but got 3/);
  });
});
