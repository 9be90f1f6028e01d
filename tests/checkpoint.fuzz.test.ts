/**
 * Property tests of the checkpoint reader on hostile input: any mutation of a valid LM Lab
 * checkpoint (bytes, header text, metadata values, tensor names, shapes, dtypes, values) is either
 * refused with a one-line CheckpointError, never another error type and never a hang, or still
 * decodes, and then to a state that re-encodes to itself. Tensor data decoded never exceeds the
 * file's size. The same holds for `prepareImport`, which also takes the nanoGPT path when the
 * LM Lab metadata is gone.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CheckpointState, CheckpointError, decodeCheckpoint, encodeCheckpoint, inspectCheckpoint } from '../src/core/io/checkpoint.ts';
import { defaultTrainConfig, type GPTConfig } from '../src/core/model/config.ts';
import { initialValues } from '../src/core/model/model.ts';
import { decodeSafetensors, encodeSafetensors, type TensorEntry } from '../src/core/io/safetensors.ts';
import { prepareImport } from '../src/core/io/share.ts';
import { CharTokenizer } from '../src/core/model/tokenizer.ts';
import { randomArray } from './helpers.ts';

const tokenizer = CharTokenizer.fromText('abcd');
const model: GPTConfig = { blockSize: 4, nLayer: 1, nHead: 2, nEmbd: 4, vocabSize: tokenizer.vocabSize };

function validState(): CheckpointState {
  const weights = initialValues(model, 3);
  const moments = (seed: number) => new Map([...weights].map(([n, w], i) => [n, Float32Array.from(randomArray(w.length, seed + i), (x) => x * x)]));
  return {
    model,
    train: defaultTrainConfig('micro', { steps: 10 }),
    tokenizer: tokenizer.toJSON(),
    stage: 'sft',
    step: 3,
    corpus: 'tales',
    dataState: { rngState: 12345 },
    weights,
    optimizer: { t: 3, m: moments(1), v: moments(2) },
    metrics: [{ step: 0, loss: 2.5, gradNorm: 1 }, { step: 2, loss: 2.25, valLoss: 2.4 }],
    events: [{ step: 1, event: 'spike', loss: 9 }],
    lineage: [{ stage: 'pretrain', step: 100, sha256: 'cd'.repeat(32) }],
    extra: { detector: { window: [1, 2] } },
  };
}

const VALID = encodeCheckpoint(validState());
const FILE = decodeSafetensors(VALID);
const HEADER_END = 8 + Number(new DataView(VALID.buffer, VALID.byteOffset, 8).getBigUint64(0, true));

// --- mutations --------------------------------------------------------------------------------

/** Re-encodes tensors and metadata after an edit (a structurally valid container, odd contents). */
function rebuilt(edit: (tensors: TensorEntry[], meta: Record<string, string>) => TensorEntry[]): Uint8Array {
  const meta: Record<string, string> = Object.assign(Object.create(null), FILE.metadata);
  const tensors = FILE.tensors.map((t) => ({ ...t, shape: [...t.shape], data: Uint8Array.from(t.data) }));
  try {
    return encodeSafetensors(edit(tensors, meta), meta);
  } catch {
    return VALID; // the edit made something the writer itself refuses (e.g. a duplicate name)
  }
}

const awkwardName = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'toString', 'lm_head.weight', 'transformer.h.1.ln_1.weight', 'optimizer.exp_avg.x', '0', '\n', ''),
  fc.string({ maxLength: 8 }),
);
const jsonText = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.constantFrom('{', '[]', 'null', '{"__proto__":{"polluted":1}}', '[{"step":1,"__proto__":{}}]', '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]'),
  fc.string({ maxLength: 12 }),
);
const metaKey = fc.constantFrom('lmlab_schema', 'stage', 'step', 'corpus', 'model_config', 'train_config', 'tokenizer', 'data_state', 'optimizer_state', 'metrics', 'events', 'lineage', 'extra', 'format', '__proto__');
const modelField = fc.constantFrom('vocabSize', 'blockSize', 'nLayer', 'nHead', 'nEmbd', 'qkLayerNorm', '__proto__', 'bias');
const fieldValue = fc.oneof(fc.integer({ min: -2, max: 10 }), fc.constantFrom(1e8, 2 ** 53, 0.5, true, null, '4', [4], {}));

const mutation: fc.Arbitrary<Uint8Array> = fc.oneof(
  // raw bytes: flips anywhere, most of them in the header where the structure is
  fc.array(fc.tuple(fc.nat({ max: HEADER_END - 1 }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 6 }).map((flips) => {
    const b = Uint8Array.from(VALID);
    for (const [at, x] of flips) b[at] ^= x;
    return b;
  }),
  fc.tuple(fc.nat({ max: VALID.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([at, x]) => {
    const b = Uint8Array.from(VALID);
    b[at] ^= x;
    return b;
  }),
  // truncation and trailing bytes
  fc.nat({ max: VALID.length - 1 }).map((n) => VALID.slice(0, n)),
  fc.uint8Array({ minLength: 1, maxLength: 16 }).map((extra) => Uint8Array.from([...VALID, ...extra])),
  // metadata values replaced, removed or added
  fc.tuple(metaKey, fc.option(jsonText, { nil: undefined })).map(([key, text]) =>
    rebuilt((tensors, meta) => {
      if (text === undefined) delete meta[key];
      else meta[key] = text;
      return tensors;
    }),
  ),
  // one model_config field changed (a config that no longer fits the tensors, or a hostile key)
  fc.tuple(modelField, fieldValue).map(([field, value]) =>
    rebuilt((tensors, meta) => {
      meta.model_config = meta.model_config.replace(/}$/, `,${JSON.stringify(field)}:${JSON.stringify(value)}}`).replace(new RegExp(`"${field}":[^,}]*,`), '');
      return tensors;
    }),
  ),
  // tensors dropped, renamed, reshaped, retyped or given a non-finite value
  fc.tuple(fc.nat(), fc.constantFrom('drop', 'rename', 'reshape', 'f16', 'nan', 'inf', 'zero'), awkwardName, fc.nat({ max: 20 })).map(([pick, kind, name, k]) =>
    rebuilt((tensors) => {
      const i = pick % tensors.length;
      const t = tensors[i];
      switch (kind) {
        case 'drop': return tensors.filter((_, j) => j !== i);
        case 'rename': tensors[i] = { ...t, name }; return tensors;
        case 'reshape': tensors[i] = { ...t, shape: t.shape.length > 1 ? [t.shape[1], t.shape[0]] : [1, t.shape[0]] }; return tensors;
        case 'f16': tensors[i] = { ...t, dtype: 'F16', shape: t.shape.length ? [...t.shape.slice(0, -1), t.shape[t.shape.length - 1] * 2] : [2] }; return tensors;
        case 'zero': t.data.fill(0); return tensors;
        default: {
          const at = 4 * (k % (t.data.length / 4));
          new DataView(t.data.buffer).setFloat32(at, kind === 'nan' ? NaN : -Infinity, true);
          return tensors;
        }
      }
    }),
  ),
);

// --- the property -----------------------------------------------------------------------------

function expectCheckpointError(e: unknown): void {
  if (!(e instanceof CheckpointError)) throw new Error(`expected a CheckpointError, got ${String(e)}`, { cause: e });
  expect(e.message.length).toBeGreaterThan(10);
  expect(e.message.length).toBeLessThan(600);
  expect(e.message).not.toMatch(/[\n\r]/);
}

function tensorBytes(state: CheckpointState): number {
  let n = 0;
  for (const map of [state.weights, state.optimizer?.m, state.optimizer?.v]) for (const v of map?.values() ?? []) n += v.byteLength;
  return n;
}

function sameBits(a: Map<string, Float32Array> | undefined, b: Map<string, Float32Array> | undefined): void {
  expect([...(b?.keys() ?? [])]).toEqual([...(a?.keys() ?? [])]);
  for (const [name, v] of a ?? []) expect(Buffer.from(b!.get(name)!.buffer).equals(Buffer.from(v.buffer)), name).toBe(true);
}

/** A decoded state re-encodes to bytes that decode to the same state and re-encode to the same bytes. */
function expectStable(state: CheckpointState, fileLength: number): void {
  expect(tensorBytes(state)).toBeLessThanOrEqual(fileLength);
  const once = encodeCheckpoint(state);
  const again = decodeCheckpoint(once);
  sameBits(state.weights, again.weights);
  sameBits(state.optimizer?.m, again.optimizer?.m);
  sameBits(state.optimizer?.v, again.optimizer?.v);
  expect(Buffer.compare(encodeCheckpoint(again), once)).toBe(0);
}

describe('mutated checkpoints', () => {
  it('the unmutated file is valid and stable (so the property below is not vacuous)', () => {
    expectStable(decodeCheckpoint(VALID), VALID.length);
  });

  it('are refused with a one-line CheckpointError, or decode to a state that re-encodes to itself', () => {
    let refused = 0;
    let accepted = 0;
    fc.assert(
      fc.property(mutation, (bytes) => {
        const before = Object.keys(Object.prototype).length;
        try {
          inspectCheckpoint(bytes);
        } catch (e) {
          expectCheckpointError(e);
        }
        let state: CheckpointState;
        try {
          state = decodeCheckpoint(bytes);
        } catch (e) {
          expectCheckpointError(e);
          refused++;
          return;
        }
        accepted++;
        expectStable(state, bytes.length);
        expect(Object.keys(Object.prototype).length).toBe(before);
      }),
      { numRuns: 1500 },
    );
    // Both outcomes happen: the generators reach past the container into the contents.
    expect(refused).toBeGreaterThan(100);
    expect(accepted).toBeGreaterThan(10);
  });

  it('through prepareImport (LM Lab or nanoGPT path) are refused with a CheckpointError or import stably', async () => {
    await fc.assert(
      fc.asyncProperty(mutation, async (bytes) => {
        try {
          const prepared = await prepareImport(bytes, { nHead: 2, tokenizer: tokenizer.toJSON() });
          expectStable(prepared.state, Math.max(bytes.length, prepared.bytes.length));
          expect(Buffer.compare(encodeCheckpoint(decodeCheckpoint(prepared.bytes)), prepared.bytes)).toBe(0);
        } catch (e) {
          expectCheckpointError(e);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('configs that would cost more than the file', () => {
  it('a model_config claiming a hundred million layers is refused before any per-layer work', () => {
    const bytes = rebuilt((tensors, meta) => {
      meta.model_config = JSON.stringify({ ...model, nLayer: 100_000_000 });
      return tensors;
    });
    expect(() => decodeCheckpoint(bytes)).toThrow(/100000000 layers need more tensors/);
  });

  it('metadata nested thousands of levels deep is refused, not parsed and re-encoded', () => {
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    for (const key of ['extra', 'metrics', 'events', 'lineage', 'model_config']) {
      const bytes = rebuilt((tensors, meta) => {
        meta[key] = deep;
        return tensors;
      });
      expect(() => decodeCheckpoint(bytes), key).toThrow(/nested more than 64 levels/);
    }
  });
});
