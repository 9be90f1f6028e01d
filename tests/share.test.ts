/**
 * Sharing checkpoints: export → import → export is byte-identical, an imported model samples and
 * trains exactly as the exporter's did, plain nanoGPT state dicts import (config read off the
 * shapes), and every malformed file, built here byte by byte, is refused with one clear line
 * before anything is written.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint, inspectCheckpoint } from '../src/core/io/checkpoint.ts';
import { defaultTrainConfig, type GPTConfig } from '../src/core/model/config.ts';
import { initialValues, parameterShapes } from '../src/core/model/model.ts';
import { LabSession } from '../src/core/train/session.ts';
import { cardLines, childLineage, exportCheckpoint, fileKind, inspectStateDict, type ImportOptions, prepareImport, tokenizerFromVocab } from '../src/core/io/share.ts';
import { bundledTokenizer, ROOT, tinyCorpus, useBackend } from './helpers.ts';

const tokenizer = bundledTokenizer();
const V = tokenizer.vocabSize; // the bundled vocabulary's size, which the data decides

// --- files built by hand ------------------------------------------------------------------------

interface RawTensor {
  name: string;
  shape: number[];
  values?: Float32Array; // F32 data; zeros of the right size when absent
  dtype?: string;
  bytes?: Uint8Array; // raw data instead of values
}

/**
 * A .safetensors file written byte by byte: the 8-byte little-endian header length, the JSON
 * header (padded with spaces to a multiple of 8) and the data. `headerText` replaces the JSON.
 */
function rawFile(tensors: RawTensor[], metadata: Record<string, string> | null, headerText?: string): Uint8Array {
  const parts: string[] = [];
  if (metadata) parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const t of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    const data = t.bytes ?? new Uint8Array((t.values ?? new Float32Array(count)).buffer.slice(0));
    parts.push(`${JSON.stringify(t.name)}:{"dtype":"${t.dtype ?? 'F32'}","shape":${JSON.stringify(t.shape)},"data_offsets":[${offset},${offset + data.length}]}`);
    blobs.push(data);
    offset += data.length;
  }
  let text = headerText ?? `{${parts.join(',')}}`;
  text += ' '.repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
  const header = Buffer.from(text, 'utf8');
  const out = new Uint8Array(8 + header.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  let at = 8 + header.length;
  for (const b of blobs) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

const micro: GPTConfig = { blockSize: 16, nLayer: 2, nHead: 2, nEmbd: 32, vocabSize: V };

/** nanoGPT's state dict for `config` as raw tensors (lm_head.weight a copy of wte, as PyTorch saves it). */
function stateDict(config: GPTConfig = micro, seed = 5): RawTensor[] {
  const values = initialValues(config, seed);
  const tensors: RawTensor[] = parameterShapes(config).map(([name, shape]) => ({ name, shape, values: values.get(name)! }));
  tensors.push({ name: 'lm_head.weight', shape: [config.vocabSize, config.nEmbd], values: values.get('transformer.wte.weight')! });
  return tensors;
}

/** The metadata LM Lab writes, as strings, for a checkpoint of `config` (no optimizer). */
function labMetadata(config: GPTConfig = micro): Record<string, string> {
  return {
    format: 'pt',
    lmlab_schema: '1',
    architecture: 'nanoGPT',
    stage: 'pretrain',
    step: '4',
    corpus: 'tales',
    model_config: JSON.stringify(config),
    train_config: JSON.stringify(defaultTrainConfig('micro')),
    tokenizer: JSON.stringify(tokenizer.toJSON()),
    data_state: '{"rngState":7}',
    optimizer_state: 'null',
    metrics: '[{"step":0,"loss":4.2},{"step":3,"loss":3.9,"valLoss":null}]',
    events: '[]',
    lineage: '[]',
    extra: '{}',
  };
}

async function refused(bytes: Uint8Array, fragment: string | RegExp, opts: ImportOptions = { nHead: 2, tokenizer: tokenizer.toJSON() }): Promise<string> {
  const error = await prepareImport(bytes, opts).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(CheckpointError);
  const message = (error as Error).message;
  expect(message).not.toMatch(/[\n\r]/);
  expect(message).toMatch(fragment);
  return message;
}

// --- export and import of LM Lab checkpoints ------------------------------------------------------

describe('export and import of LM Lab checkpoints', () => {
  let session: LabSession;
  let trained: Uint8Array;
  const { corpus, tokenizer: tok } = tinyCorpus();

  beforeAll(async () => {
    await useBackend('cpu');
    session = LabSession.create({ preset: 'micro', corpus, tokenizer: tok, train: { steps: 20, evalBatches: 1, evalInterval: 2 } });
    for (let i = 0; i < 3; i++) await session.step();
    trained = await session.toCheckpointBytes();
  });
  afterAll(() => session.dispose());

  it('the hand-built file and an LM Lab file are told apart by their header', () => {
    expect(fileKind(trained)).toBe('lmlab');
    expect(fileKind(rawFile(stateDict(), { format: 'pt' }))).toBe('nanogpt');
  });

  for (const includeOptimizer of [true, false]) {
    it(`export → import → export is byte-identical (${includeOptimizer ? 'with' : 'without'} the optimizer moments)`, async () => {
      const exported = exportCheckpoint(trained, { includeOptimizer });
      const imported = await prepareImport(exported);
      expect(imported.card.kind).toBe('lmlab');
      expect(imported.card.summary.hasOptimizer).toBe(includeOptimizer);
      expect(Buffer.compare(imported.bytes, exported)).toBe(0);
      expect(Buffer.compare(exportCheckpoint(imported.bytes, { includeOptimizer }), exported)).toBe(0);
    });
  }

  it('leaving out the moments gives a file a third of the size that holds only the state dict', () => {
    const small = exportCheckpoint(trained, { includeOptimizer: false });
    expect(small.length).toBeLessThan(trained.length / 2.5);
    expect(decodeCheckpoint(small).optimizer).toBeUndefined();
    expect(inspectCheckpoint(small).tensorCount).toBe(parameterShapes(session.model.config).length + 1);
  });

  it('a model imported from a file samples exactly as the exporter\'s model, with the same seed', async () => {
    const { bytes } = await prepareImport(exportCheckpoint(trained, { includeOptimizer: false }));
    const receiver = LabSession.fromCheckpoint(bytes, corpus);
    for (const seed of [1, 7]) {
      const req = { maxTokens: 40, temperature: 1, seed };
      expect(await receiver.sample('Once upon', req)).toBe(await session.sample('Once upon', req));
    }
    receiver.dispose();
  });

  it('with the moments, an imported run continues training exactly as the exporter\'s run does', async () => {
    const { bytes } = await prepareImport(exportCheckpoint(trained));
    const sender = LabSession.fromCheckpoint(trained, corpus);
    const receiver = LabSession.fromCheckpoint(bytes, corpus);
    for (let i = 0; i < 2; i++) {
      const [a, b] = [await sender.step(), await receiver.step()];
      expect(b.result.step).toBe(a.result.step);
      expect(b.result.loss).toBe(a.result.loss);
      expect(b.result.gradNorm).toBe(a.result.gradNorm);
    }
    sender.dispose();
    receiver.dispose();
  });

  it('the card shows config, stage, step, size, hash and metrics as plain text', async () => {
    const { card } = await prepareImport(trained);
    expect(card.sha256).toBe(createHash('sha256').update(trained).digest('hex'));
    expect(card.sizeBytes).toBe(trained.length);
    expect(card.summary).toMatchObject({ stage: 'pretrain', step: 3, corpus: 'tales', hasOptimizer: true });
    const text = cardLines(card).join('\n');
    expect(text).toContain('LM Lab checkpoint');
    expect(text).toContain('2 layers, 2 heads, C=32');
    expect(text).toContain('metrics: 3 rows logged');
  });

  it('lineage names the parent file by its SHA-256, after the parent\'s own lineage', async () => {
    const parent = encodeCheckpoint({ ...decodeCheckpoint(trained), lineage: [{ stage: 'pretrain', step: 1, sha256: 'ab'.repeat(32) }] });
    const lineage = await childLineage(parent);
    expect(lineage).toEqual([
      { stage: 'pretrain', step: 1, sha256: 'ab'.repeat(32) },
      { stage: 'pretrain', step: 3, sha256: createHash('sha256').update(parent).digest('hex') },
    ]);
  });
});

// --- plain nanoGPT state dicts --------------------------------------------------------------------

describe('import of a plain nanoGPT state dict', () => {
  const opts = { nHead: 2, tokenizer: tokenizer.toJSON(), corpus: 'tales', sourceName: 'ckpt.safetensors' };

  it('reads the config off the shapes, keeps every value and records where it came from', async () => {
    const file = rawFile(stateDict(), { format: 'pt' });
    expect(inspectStateDict(file)).toMatchObject({ vocabSize: V, blockSize: 16, nLayer: 2, nEmbd: 32, bias: true, headChoices: [1, 2, 4, 8, 16, 32] });
    const { card, state, bytes } = await prepareImport(file, opts);
    expect(card.kind).toBe('nanogpt');
    expect(state.model).toEqual(micro);
    expect(state.optimizer).toBeUndefined();
    const values = initialValues(micro, 5);
    for (const [name, v] of values) expect(state.weights.get(name), name).toEqual(v);
    expect(state.lineage).toEqual([{ stage: 'pretrain', step: 0, sha256: createHash('sha256').update(file).digest('hex'), origin: 'nanoGPT state dict ckpt.safetensors' }]);
    expect(decodeCheckpoint(bytes).weights).toEqual(state.weights);
  });

  it('nanoGPT bias=False: no bias tensors at all imports with zero biases, and says so', async () => {
    const file = rawFile(stateDict().filter((t) => !t.name.endsWith('.bias')), { format: 'pt' });
    const { state, card } = await prepareImport(file, opts);
    expect(state.weights.get('transformer.h.1.mlp.c_fc.bias')).toEqual(new Float32Array(128));
    expect(card.notes.join(' ')).toMatch(/no biases/);
  });

  it('accepts torch.compile\'s _orig_mod. prefix, a state dict with only lm_head.weight, causal-mask buffers and F16', async () => {
    const prefixed = stateDict().map((t) => ({ ...t, name: `_orig_mod.${t.name}` }));
    expect((await prepareImport(rawFile(prefixed, null), opts)).state.model).toEqual(micro);

    const headOnly = stateDict().filter((t) => t.name !== 'transformer.wte.weight');
    const { state } = await prepareImport(rawFile(headOnly, null), opts);
    expect(state.weights.get('transformer.wte.weight')).toEqual(initialValues(micro, 5).get('transformer.wte.weight'));

    const mask = new Float32Array(16 * 16).map((_, i) => (i % 16 <= Math.floor(i / 16) ? 1 : 0));
    const withMask = [...stateDict(), { name: 'transformer.h.0.attn.bias', shape: [1, 1, 16, 16], values: mask }, { name: 'transformer.h.1.attn.bias', shape: [1, 1, 16, 16], values: mask }];
    await prepareImport(rawFile(withMask, null), opts);

    const half = stateDict().map((t) => (t.name === 'transformer.ln_f.weight' ? { ...t, dtype: 'F16', bytes: new Uint8Array(new Uint16Array(32).fill(0x3c00).buffer) } : t)); // 1.0 in binary16
    const converted = await prepareImport(rawFile(half, null), opts);
    expect(converted.state.weights.get('transformer.ln_f.weight')).toEqual(new Float32Array(32).fill(1));
    expect(converted.card.notes.join(' ')).toMatch(/converted to float32/);
  });

  it('refuses what it cannot import, each with one line naming the problem', async () => {
    const good = stateDict();
    await refused(rawFile(good, null), /number of heads.*one of 1, 2, 4, 8, 16, 32/, { tokenizer: tokenizer.toJSON() } as never);
    await refused(rawFile(good, null), /nEmbd \(32\) must be a multiple of nHead \(3\)/, { nHead: 3, tokenizer: tokenizer.toJSON() });
    await refused(rawFile(good, null), new RegExp(`vocabulary has 10 tokens but transformer\\.wte\\.weight has ${V} rows`), { nHead: 2, tokenizer: tokenizerFromVocab([...'abcdefghij']) });
    await refused(rawFile(good.filter((t) => !t.name.startsWith('transformer.h.0.')), null), 'has layer 1 but no tensors for layer 0', opts);
    await refused(rawFile(good.filter((t) => t.name !== 'transformer.h.1.attn.c_proj.weight'), null), /missing transformer\.h\.1\.attn\.c_proj\.weight/, opts);
    await refused(rawFile(good.filter((t) => t.name !== 'transformer.h.0.ln_2.bias'), null), /missing transformer\.h\.0\.ln_2\.bias/, opts);
    await refused(rawFile([...good, { name: 'transformer.h.0.attn.q_proj.weight', shape: [32, 32] }], null), /unexpected transformer\.h\.0\.attn\.q_proj\.weight/, opts);
    await refused(rawFile(good.map((t) => (t.name === 'transformer.h.0.mlp.c_fc.weight' ? { ...t, shape: [32, 128] } : t)), null), /transformer\.h\.0\.mlp\.c_fc\.weight has shape \[32,128\] but .* needs \[128,32\]/, opts);
    const untied = good.map((t) => (t.name === 'lm_head.weight' ? { ...t, values: t.values!.map((x) => x + 1) } : t));
    await refused(rawFile(untied, null), /lm_head\.weight differs/, opts);
    const nan = good.map((t) => (t.name === 'transformer.wpe.weight' ? { ...t, values: t.values!.map((x, i) => (i === 5 ? NaN : x)) } : t));
    await refused(rawFile(nan, null), /transformer\.wpe\.weight holds a non-finite value \(NaN\) at index 5/, opts);
    const notMask = [...good, { name: 'transformer.h.0.attn.bias', shape: [1, 1, 16, 16], values: new Float32Array(256).fill(1) }];
    await refused(rawFile(notMask, null), /transformer\.h\.0\.attn\.bias is not nanoGPT's causal mask/, opts);
    await refused(rawFile([...good, ...good.slice(0, 1).map((t) => ({ ...t, name: `_orig_mod.${t.name}` }))], null), /twice/, opts);
    await refused(rawFile(good.filter((t) => !t.name.startsWith('transformer.w') && t.name !== 'lm_head.weight'), null), /not a nanoGPT state dict/, opts);
    const ints = good.map((t) => (t.name === 'transformer.ln_f.bias' ? { ...t, dtype: 'I32' } : t));
    await refused(rawFile(ints, null), /cannot convert I32 to float32/, opts);
  });

  it('names like __proto__ are harmless: listed as unexpected, and no prototype changes', async () => {
    const before = Object.getOwnPropertyNames(Object.prototype).length;
    const message = await refused(rawFile([...stateDict(), { name: '__proto__', shape: [1] }, { name: 'constructor', shape: [1] }], null), /unexpected __proto__, constructor/, opts);
    expect(message).toContain('__proto__');
    expect(Object.getOwnPropertyNames(Object.prototype).length).toBe(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

// --- malformed LM Lab files, byte by byte ---------------------------------------------------------

describe('malformed LM Lab checkpoints are refused with one line naming the problem', () => {
  const tensors = stateDict();
  const withMeta = (edit: Record<string, string | undefined>) => {
    const meta = labMetadata();
    for (const [k, v] of Object.entries(edit)) {
      if (v === undefined) delete meta[k];
      else meta[k] = v;
    }
    return rawFile(tensors, meta);
  };

  it('the hand-built baseline itself is valid (so each case below fails for its own reason)', async () => {
    const { state } = await prepareImport(rawFile(tensors, labMetadata()));
    expect(state.step).toBe(4);
    expect(state.metrics[1].valLoss).toBeNull();
  });

  it('container: too short, header past the end, not JSON, duplicate names, gaps and trailing bytes', async () => {
    const good = rawFile(tensors, labMetadata());
    await refused(good.subarray(0, 5), /not a valid \.safetensors file: file is 5 bytes/);
    const long = Uint8Array.from(good);
    new DataView(long.buffer).setBigUint64(0, BigInt(good.length), true);
    await refused(long, /header length \d+ runs past the end/);
    await refused(rawFile([], null, '{"a":'), /header is not valid JSON/);
    await refused(rawFile([], null, '{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}'), /key "a" twice/);
    await refused(rawFile([], null, '{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'), /gap of 4 bytes/);
    await refused(Uint8Array.from([...good, 0, 0, 0, 0]), /the data buffer holds/);
    await refused(rawFile([], null, '{"a":{"dtype":"Q8","shape":[1],"data_offsets":[0,1]}}'), /unknown dtype "Q8"/);
    await refused(rawFile([], null, '{"a":{"dtype":"F32","shape":[9007199254740991,4],"data_offsets":[0,4]}}'), /overflows/);
  });

  it('missing, unexpected and mis-shaped tensors; non-finite values', async () => {
    await refused(rawFile(tensors.filter((t) => t.name !== 'transformer.h.0.attn.c_attn.bias'), labMetadata()), /missing transformer\.h\.0\.attn\.c_attn\.bias/);
    await refused(rawFile([...tensors, { name: 'transformer.h.2.ln_1.weight', shape: [32] }], labMetadata()), /unexpected transformer\.h\.2\.ln_1\.weight/);
    await refused(rawFile(tensors.map((t) => (t.name === 'transformer.wte.weight' ? { ...t, shape: [32, V] } : t)), labMetadata()), new RegExp(`transformer\\.wte\\.weight has shape \\[32,${V}\\] but the config .* needs \\[${V},32\\]`));
    const inf = tensors.map((t) => (t.name === 'transformer.h.1.ln_1.weight' ? { ...t, values: t.values!.map((x, i) => (i === 0 ? Infinity : x)) } : t));
    await refused(rawFile(inf, labMetadata()), /transformer\.h\.1\.ln_1\.weight holds a non-finite value \(Infinity\)/);
    await refused(rawFile([...tensors, { name: '__proto__', shape: [1] }], labMetadata()), /unexpected __proto__/);
  });

  it('metadata: bad JSON, unknown or newer schema, tokenizer/vocab mismatch, malformed fields', async () => {
    await refused(withMeta({ model_config: '{"vocabSize":72,' }), /metadata "model_config" is not valid JSON/);
    await refused(withMeta({ metrics: '[{"step":1' }), /metadata "metrics" is not valid JSON/);
    await refused(withMeta({ lmlab_schema: '2' }), /schema 2 is newer than this LM Lab understands/);
    await refused(withMeta({ lmlab_schema: 'one' }), /lmlab_schema "one" is not a version number/);
    expect(() => decodeCheckpoint(withMeta({ lmlab_schema: undefined }))).toThrow(/no LM Lab metadata/); // (import then reads it as a plain state dict)
    await refused(withMeta({ tokenizer: JSON.stringify({ ...tokenizer.toJSON(), chars: tokenizer.chars.slice(1) }) }), new RegExp(`the tokenizer has ${V - 1} tokens but model_config\\.vocabSize is ${V}`));
    await refused(withMeta({ tokenizer: '{"kind":"words"}' }), /tokenizer: expected \{"kind":"char",…\} or \{"kind":"bpe",…\}, got kind "words"/);
    await refused(withMeta({ tokenizer: '{"kind":"bpe"}' }), /bpe: expected \{"kind":"bpe","specials"/);
    await refused(withMeta({ model_config: JSON.stringify({ ...micro, bias: false }) }), /model_config has fields this LM Lab does not know \("bias"\)/);
    await refused(withMeta({ model_config: JSON.stringify({ ...micro, nHead: 0 }) }), /nHead must be a positive integer/);
    await refused(withMeta({ train_config: JSON.stringify({ ...defaultTrainConfig('micro'), learningRate: 'fast' }) }), /train_config\.learningRate must be a finite number/);
    await refused(withMeta({ data_state: '{"rngState":-1}' }), /data_state must be/);
    await refused(withMeta({ stage: 'rlhf' }), /unknown stage "rlhf"/);
    await refused(withMeta({ step: '1e3' }), /step "1e3" is not a whole number/);
    await refused(withMeta({ metrics: '[null]' }), /metrics\[0\] is not an object/);
    await refused(withMeta({ metrics: '[{"step":1,"loss":"low"}]' }), /metrics\[0\] has a non-numeric value for "loss"/);
    await refused(withMeta({ events: '[{"step":1}]' }), /events\[0\] has no "event" name/);
    await refused(withMeta({ lineage: '[{"stage":"pretrain","step":1,"sha256":"<b>x</b>"}]' }), /lineage\[0\] has no valid sha256/);
    await refused(withMeta({ extra: '[1]' }), /metadata "extra" is not an object/);
    await refused(withMeta({ optimizer_state: '{"t":-3}' }), /optimizer_state must be null/);
  });

  it('"__proto__" inside metadata JSON is refused and pollutes nothing', async () => {
    const before = Object.getOwnPropertyNames(Object.prototype).length;
    await refused(withMeta({ model_config: `{"__proto__":{"nLayer":1},${JSON.stringify(micro).slice(1)}` }), /model_config.*"__proto__"/);
    await refused(withMeta({ extra: '{"__proto__":{"polluted":true}}' }), /metadata "extra" has a "__proto__" key/);
    await refused(withMeta({ metrics: '[{"step":1,"__proto__":{"polluted":true}}]' }), /metadata "metrics" has a "__proto__" key/);
    expect(Object.getOwnPropertyNames(Object.prototype).length).toBe(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

// --- the command line -----------------------------------------------------------------------------

describe('npm run lab -- export / import', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lmlab-share-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const lab = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(join(ROOT, 'node_modules', '.bin', 'tsx'), ['cli/lab.ts', ...args], { cwd: ROOT, timeout: 90_000 }, (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
      });
    });
  const oneLine = (run: { code: number; stderr: string }, fragment: RegExp) => {
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(fragment);
  };

  it('export --no-optimizer, import --out, export again: the same bytes; corrupt and foreign files write nothing', async () => {
    const source = join(dir, 'source.safetensors');
    writeFileSync(source, rawFile(tensors(), labMetadata()));
    const shared = join(dir, 'shared.safetensors');
    const imported = join(dir, 'imported.safetensors');
    const again = join(dir, 'again.safetensors');
    const corrupt = join(dir, 'corrupt.safetensors');
    const foreign = join(dir, 'nanogpt.safetensors');
    writeFileSync(corrupt, readFileSync(source).subarray(0, 300));
    writeFileSync(foreign, rawFile(stateDict(), { format: 'pt' }));

    const ex = await lab('export', '--ckpt', source, '--out', shared, '--no-optimizer');
    expect(ex.code, ex.stderr).toBe(0);
    expect(ex.stdout).toMatch(/optimizer moments left out/);
    const [im, bad, noHeads, foreignOk] = await Promise.all([
      lab('import', '--file', shared, '--out', imported),
      lab('import', '--file', corrupt, '--out', join(dir, 'never.safetensors')),
      lab('import', '--file', foreign, '--out', join(dir, 'never2.safetensors')),
      lab('import', '--file', foreign, '--n-head', '2', '--json'),
    ]);
    expect(im.code, im.stderr).toBe(0);
    expect(im.stdout).toMatch(/^LM Lab checkpoint/);
    oneLine(bad, /^error: not a valid \.safetensors file/);
    oneLine(noHeads, /^error: a nanoGPT state dict does not record the number of heads; pass --n-head H \(one of 1, 2, 4, 8, 16, 32 for C=32\)/);
    expect(existsSync(join(dir, 'never.safetensors'))).toBe(false);
    expect(existsSync(join(dir, 'never2.safetensors'))).toBe(false);
    expect(JSON.parse(foreignOk.stdout)).toMatchObject({ kind: 'nanogpt', model: micro, out: null });

    const [ex2, overwrite, inspectBad] = await Promise.all([
      lab('export', '--ckpt', imported, '--out', again, '--no-optimizer'),
      lab('import', '--file', shared, '--out', imported),
      lab('inspect', '--ckpt', corrupt),
    ]);
    expect(ex2.code, ex2.stderr).toBe(0);
    expect(Buffer.compare(readFileSync(again), readFileSync(shared))).toBe(0);
    expect(Buffer.compare(readFileSync(imported), readFileSync(shared))).toBe(0);
    oneLine(overwrite, /already exists; import never overwrites/);
    oneLine(inspectBad, /^error: checkpoint|^error: not a valid/);
  });

  function tensors(): RawTensor[] {
    return stateDict();
  }
});
