/**
 * Checkpoints: an exact round trip of everything a resumed run needs, and a refusal, with a
 * one-line message naming the culprit, of every file whose contents do not fit its own config.
 */
import { describe, expect, it } from 'vitest';
import type { CharTokenizerJSON } from '../src/core/model/tokenizer.ts';
import {
  type CheckpointState,
  CheckpointError,
  CHECKPOINT_SCHEMA,
  decodeCheckpoint,
  encodeCheckpoint,
  inspectCheckpoint,
  sha256Hex,
  weightsSha256,
} from '../src/core/io/checkpoint.ts';
import { defaultTrainConfig, modelConfig, type GPTConfig } from '../src/core/model/config.ts';
import { initialValues, parameterShapes } from '../src/core/model/model.ts';
import { decodeSafetensors, encodeSafetensors, fromFloat32, type TensorEntry, toFloat32 } from '../src/core/io/safetensors.ts';
import { LabSession } from '../src/core/train/session.ts';
import { bundledTokenizer, randomArray, tinyCorpus, useBackend } from './helpers.ts';

const tokenizer = bundledTokenizer();

/** A complete state with every field filled with something distinctive. */
function makeState(overrides: Partial<GPTConfig> = {}): CheckpointState {
  const model = modelConfig('micro', tokenizer.vocabSize, overrides);
  const weights = initialValues(model, 5);
  const moments = (seed: number, positive: boolean) =>
    new Map([...weights].map(([n, w], i) => [n, Float32Array.from(randomArray(w.length, seed + i), (x) => (positive ? x * x : x))]));
  return {
    model,
    train: defaultTrainConfig('micro', { steps: 123, seed: 42 }),
    tokenizer: tokenizer.toJSON(),
    stage: 'pretrain',
    step: 17,
    corpus: 'tales',
    dataState: { rngState: 0xdeadbeef },
    weights,
    optimizer: { t: 16, m: moments(100, false), v: moments(200, true) },
    metrics: [{ step: 0, loss: 4.25, gradNorm: 1.5 }, { step: 9, loss: 3.1, valLoss: 3.3 }],
    events: [{ step: 4, event: 'spike', loss: 9.5, note: 'ünïcödé "quoted"' }],
    lineage: [{ stage: 'pretrain', step: 0, sha256: 'ab'.repeat(32) }],
    extra: { detector: { window: [1, 2, 3] } },
  };
}

/** Decodes the container, lets `edit` change tensors and metadata, and re-encodes it. */
function edited(bytes: Uint8Array, edit: (tensors: TensorEntry[], metadata: Record<string, string>) => TensorEntry[] | void): Uint8Array {
  const file = decodeSafetensors(bytes);
  const tensors = file.tensors.map((t) => ({ ...t, data: Uint8Array.from(t.data) }));
  const metadata = { ...file.metadata };
  return encodeSafetensors(edit(tensors, metadata) ?? tensors, metadata);
}

function rejects(bytes: Uint8Array, ...fragments: (string | RegExp)[]): string {
  let caught: unknown;
  try {
    decodeCheckpoint(bytes);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(CheckpointError);
  const message = (caught as Error).message;
  expect(message).not.toContain('\n');
  for (const f of fragments) expect(message).toMatch(f);
  return message;
}

describe('checkpoint round trip', () => {
  it('decode(encode(state)) gives back every field exactly', () => {
    const state = makeState();
    const back = decodeCheckpoint(encodeCheckpoint(state));
    const { weights, optimizer, ...rest } = state;
    const { weights: w2, optimizer: o2, ...rest2 } = back;
    expect(rest2).toEqual(rest);
    expect([...w2.keys()]).toEqual([...weights.keys()]);
    for (const [name, v] of weights) expect(w2.get(name), name).toEqual(v);
    expect(o2!.t).toBe(optimizer!.t);
    for (const [name, v] of optimizer!.m) expect(o2!.m.get(name), name).toEqual(v);
    for (const [name, v] of optimizer!.v) expect(o2!.v.get(name), name).toEqual(v);
  });

  it('keeps the student\'s name, one line and at most 60 characters, and the lineage\'s token counts', () => {
    const state = { ...makeState(), student: '  Ada\u0000 Lovelace\n(group 3)\u202e ', lineage: [{ stage: 'pretrain' as const, step: 10, sha256: 'a'.repeat(64), tokens: 10240 }] };
    const back = decodeCheckpoint(encodeCheckpoint(state));
    expect(back.student).toBe('Ada Lovelace (group 3)');
    expect(back.lineage[0].tokens).toBe(10240);
    expect(decodeCheckpoint(encodeCheckpoint({ ...state, student: 'x'.repeat(100) })).student).toHaveLength(60);
    expect(decodeCheckpoint(encodeCheckpoint(makeState())).student).toBeUndefined();
    expect(() => decodeCheckpoint(encodeCheckpoint({ ...state, lineage: [{ ...state.lineage[0], tokens: -1 }] }))).toThrow(/token count/);
  });

  it('encoding is deterministic: re-encoding a decoded file gives the same bytes', () => {
    const bytes = encodeCheckpoint(makeState());
    const again = encodeCheckpoint(decodeCheckpoint(bytes));
    expect(Buffer.compare(again, bytes)).toBe(0);
  });

  it('without the optimizer, the file holds the state dict alone and decodes with no moments', () => {
    const bytes = encodeCheckpoint(makeState(), { includeOptimizer: false });
    const names = decodeSafetensors(bytes).tensors.map((t) => t.name);
    expect(names.some((n) => n.startsWith('optimizer.'))).toBe(false);
    expect(decodeCheckpoint(bytes).optimizer).toBeUndefined();
    expect(inspectCheckpoint(bytes).hasOptimizer).toBe(false);
  });

  it('weightsSha256 names the model: the same with or without the optimizer and at any step, another for one changed weight or character', async () => {
    const state = makeState();
    const weightsOnly = decodeCheckpoint(encodeCheckpoint(state, { includeOptimizer: false }));
    const later = { ...state, step: 99, metrics: [], optimizer: undefined };
    expect(await sha256Hex(encodeCheckpoint(weightsOnly))).not.toBe(await sha256Hex(encodeCheckpoint(state)));
    const digest = await weightsSha256(state);
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(await weightsSha256(weightsOnly)).toBe(digest);
    expect(await weightsSha256(later)).toBe(digest);
    const nudged = new Map(state.weights);
    const w = Float32Array.from(nudged.get('transformer.h.1.mlp.c_proj.bias')!);
    w[3] = Math.fround(w[3] + Math.abs(w[3]) * 2 ** -22 + 1e-30); // about one ulp
    nudged.set('transformer.h.1.mlp.c_proj.bias', w);
    expect(await weightsSha256({ ...state, weights: nudged })).not.toBe(digest);
    const chars = [...(state.tokenizer as CharTokenizerJSON).chars];
    [chars[0], chars[1]] = [chars[1], chars[0]];
    expect(await weightsSha256({ ...state, tokenizer: { ...(state.tokenizer as CharTokenizerJSON), chars } })).not.toBe(digest);
  });

  it('with QK-LayerNorm the extra parameters round-trip and the architecture says so', () => {
    const state = makeState({ qkLayerNorm: true });
    const bytes = encodeCheckpoint(state);
    const back = decodeCheckpoint(bytes);
    expect(back.weights.get('transformer.h.1.attn.k_ln.bias')).toEqual(state.weights.get('transformer.h.1.attn.k_ln.bias'));
    expect(inspectCheckpoint(bytes).architecture).not.toBe('nanoGPT');
  });

  it('the file is a nanoGPT state dict: every parameter with its PyTorch shape, plus lm_head.weight equal to wte', () => {
    const state = makeState();
    const { tensors, metadata } = decodeSafetensors(encodeCheckpoint(state));
    const byName = new Map(tensors.map((t) => [t.name, t]));
    for (const [name, shape] of parameterShapes(state.model)) {
      expect(byName.get(name)?.shape, name).toEqual(shape);
      expect(byName.get(name)?.dtype, name).toBe('F32');
    }
    const head = byName.get('lm_head.weight');
    expect(head?.shape).toEqual([state.model.vocabSize, state.model.nEmbd]);
    expect(toFloat32(head!)).toEqual(state.weights.get('transformer.wte.weight'));
    expect(metadata.format).toBe('pt');
    expect(metadata.lmlab_schema).toBe(String(CHECKPOINT_SCHEMA));
  });

  it('a session checkpoint round-trips, and inspect reads its header', async () => {
    await useBackend('cpu');
    const { corpus, tokenizer: tok } = tinyCorpus();
    const session = LabSession.create({ preset: 'micro', corpus, tokenizer: tok, train: { steps: 5, evalBatches: 1 } });
    await session.step();
    await session.step();
    const state = await session.toCheckpoint();
    const bytes = await session.toCheckpointBytes();
    session.dispose();
    const back = decodeCheckpoint(bytes);
    expect(back.step).toBe(2);
    expect(back.optimizer!.t).toBe(2);
    expect(back.dataState).toEqual(state.dataState);
    expect(back.metrics).toEqual(state.metrics);
    for (const [name, v] of state.weights) expect(back.weights.get(name), name).toEqual(v);
    const summary = inspectCheckpoint(bytes);
    expect(summary).toMatchObject({ step: 2, stage: 'pretrain', corpus: 'tales', hasOptimizer: true, architecture: 'nanoGPT' });
    expect(summary.tensorCount).toBe(3 * parameterShapes(state.model).length + 1);
  });
});

describe('checkpoints that do not fit their config are refused', () => {
  const good = encodeCheckpoint(makeState());

  it('a shape that differs from the config names the tensor and both shapes', () => {
    // A file made for block size 16, whose config claims 8: wpe is [16, 32] but should be [8, 32].
    const bytes = edited(good, (_, meta) => {
      meta.model_config = JSON.stringify({ ...JSON.parse(meta.model_config), blockSize: 8 });
    });
    rejects(bytes, 'transformer.wpe.weight', '[16,32]', '[8,32]');
  });

  it('a tensor stored with the wrong shape (same config) names that tensor', () => {
    const bytes = edited(good, (tensors) =>
      tensors.map((t) => (t.name === 'transformer.h.1.mlp.c_fc.weight' ? { ...t, shape: [t.shape[1], t.shape[0]] } : t)),
    );
    rejects(bytes, 'transformer.h.1.mlp.c_fc.weight');
  });

  it('missing and unexpected tensors are listed by name', () => {
    const bytes = edited(good, (tensors) => [
      ...tensors.filter((t) => t.name !== 'transformer.h.0.ln_1.bias' && t.name !== 'transformer.ln_f.weight'),
      fromFloat32('transformer.h.0.attn.bias', [1], Float32Array.of(1)), // nanoGPT's old mask buffer
    ]);
    rejects(bytes, /missing .*transformer\.h\.0\.ln_1\.bias/, 'transformer.ln_f.weight', /unexpected .*transformer\.h\.0\.attn\.bias/);
  });

  it('a config with fewer layers than the file lists the extra layer as unexpected', () => {
    const bytes = edited(good, (_, meta) => {
      meta.model_config = JSON.stringify({ ...JSON.parse(meta.model_config), nLayer: 1 });
    });
    rejects(bytes, /unexpected .*transformer\.h\.1\./);
  });

  it('a non-finite weight is rejected, naming the tensor', () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const state = makeState();
      state.weights.get('transformer.h.0.attn.c_proj.weight')![7] = bad;
      rejects(encodeCheckpoint(state), 'transformer.h.0.attn.c_proj.weight', 'non-finite');
    }
  });

  it('a non-finite optimizer moment is rejected too', () => {
    const state = makeState();
    state.optimizer!.v.get('transformer.wpe.weight')![3] = NaN;
    rejects(encodeCheckpoint(state), 'optimizer.exp_avg_sq.transformer.wpe.weight');
  });

  it('an lm_head.weight different from wte is refused (the head is tied)', () => {
    const bytes = edited(good, (tensors) =>
      tensors.map((t) => {
        if (t.name !== 'lm_head.weight') return t;
        const values = toFloat32(t);
        values[0] += 1;
        return fromFloat32(t.name, t.shape, values);
      }),
    );
    rejects(bytes, 'lm_head.weight');
  });

  it('incomplete optimizer moments are refused', () => {
    const bytes = edited(good, (tensors) => tensors.filter((t) => t.name !== 'optimizer.exp_avg.transformer.h.1.ln_2.weight'));
    rejects(bytes, /optimizer/);
  });

  it('a tokenizer whose size differs from the config is refused', () => {
    const bytes = edited(good, (_, meta) => {
      const tok = JSON.parse(meta.tokenizer);
      meta.tokenizer = JSON.stringify({ ...tok, chars: tok.chars.slice(1) });
    });
    rejects(bytes, 'vocabSize');
  });

  it('a newer schema, a missing schema and a broken container are refused with CheckpointError', () => {
    rejects(edited(good, (_, meta) => void (meta.lmlab_schema = String(CHECKPOINT_SCHEMA + 1))), 'newer');
    rejects(edited(good, (_, meta) => void delete meta.lmlab_schema), 'lmlab_schema');
    rejects(good.subarray(0, good.length - 4), 'safetensors');
  });
});
