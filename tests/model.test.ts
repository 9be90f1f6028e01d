/**
 * The whole GPT against a plain float64 JavaScript GPT written from nanoGPT's model.py (one
 * sequence at a time, batch-major, no layout tricks): logits, the loss and its gradient with
 * respect to entries of every kind of parameter (central differences of the float64 loss).
 * Then causality, independence of the sequences in a batch, and the loss at initialisation.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { type GPTConfig, modelConfig } from '../src/core/model/config.ts';
import { sampleBatch } from '../src/core/train/data.ts';
import { GPT, initialValues, parameterName } from '../src/core/model/model.ts';
import { Random } from '../src/core/random.ts';
import { batchLoss, type TrainBatch } from '../src/core/train/objective.ts';
import { attentionRef, centralDifference, crossEntropyRef, geluRef, layerNormRef, linearRef, randomArray, relativeError, tinyCorpus, useBackend } from './helpers.ts';

type Weights = Map<string, ArrayLike<number>>;

/** nanoGPT's GPT.forward in float64: idx [B, T] row-major → logits [B, T, V] row-major. */
function referenceLogits(c: GPTConfig, w: Weights, idx: ArrayLike<number>, B: number, T: number): Float64Array {
  const { nEmbd: C, nHead: nh, vocabSize: V } = c;
  const hs = C / nh;
  const p = (name: string) => {
    const v = w.get(name);
    if (!v) throw new Error(`reference: no ${name}`);
    return v;
  };
  const out = new Float64Array(B * T * V);
  for (let b = 0; b < B; b++) {
    let x = new Float64Array(T * C); // [T, C]
    for (let t = 0; t < T; t++) {
      const id = idx[b * T + t];
      for (let ch = 0; ch < C; ch++) x[t * C + ch] = p('transformer.wte.weight')[id * C + ch] + p('transformer.wpe.weight')[t * C + ch];
    }
    for (let l = 0; l < c.nLayer; l++) {
      const h = `transformer.h.${l}`;
      const a = layerNormRef(x, p(`${h}.ln_1.weight`), p(`${h}.ln_1.bias`), T, C);
      const qkv = linearRef(a, p(`${h}.attn.c_attn.weight`), p(`${h}.attn.c_attn.bias`), T, C, 3 * C); // [T, 3C]
      let q: Float64Array = new Float64Array(T * C); // [T, nh, hs]
      let k: Float64Array = new Float64Array(T * C);
      const v = new Float64Array(T * C);
      for (let t = 0; t < T; t++) {
        q.set(qkv.subarray(t * 3 * C, t * 3 * C + C), t * C);
        k.set(qkv.subarray(t * 3 * C + C, t * 3 * C + 2 * C), t * C);
        v.set(qkv.subarray(t * 3 * C + 2 * C, t * 3 * C + 3 * C), t * C);
      }
      if (c.qkLayerNorm) {
        q = layerNormRef(q, p(`${h}.attn.q_ln.weight`), p(`${h}.attn.q_ln.bias`), T * nh, hs);
        k = layerNormRef(k, p(`${h}.attn.k_ln.weight`), p(`${h}.attn.k_ln.bias`), T * nh, hs);
      }
      const y = attentionRef(q, k, v, T, nh, hs); // [T, nh, hs] = [T, C]
      const attn = linearRef(y, p(`${h}.attn.c_proj.weight`), p(`${h}.attn.c_proj.bias`), T, C, C);
      x = x.map((xi, i) => xi + attn[i]);
      const m = layerNormRef(x, p(`${h}.ln_2.weight`), p(`${h}.ln_2.bias`), T, C);
      const hidden = linearRef(m, p(`${h}.mlp.c_fc.weight`), p(`${h}.mlp.c_fc.bias`), T, C, 4 * C).map(geluRef);
      const mlp = linearRef(hidden, p(`${h}.mlp.c_proj.weight`), p(`${h}.mlp.c_proj.bias`), T, 4 * C, C);
      x = x.map((xi, i) => xi + mlp[i]);
    }
    const f = layerNormRef(x, p('transformer.ln_f.weight'), p('transformer.ln_f.bias'), T, C);
    out.set(linearRef(f, p('transformer.wte.weight'), null, T, C, V), b * T * V); // tied head
  }
  return out;
}

/** Cross-entropy, plus zLoss · mean over counted rows of (log Σ_v exp logit_v)² (PaLM's z-loss). */
function referenceLoss(c: GPTConfig, w: Weights, batch: TrainBatch, zLoss = 0): number {
  const { batchSize: B, seqLen: T } = batch;
  const N = B * T;
  const V = c.vocabSize;
  const logits = referenceLogits(c, w, batch.x, B, T);
  const mask = batch.mask ?? new Float64Array(N).fill(1);
  let z = 0;
  let count = 0;
  for (let n = 0; n < N; n++) {
    const row = logits.subarray(n * V, n * V + V);
    const max = Math.max(...row);
    const logZ = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
    z += mask[n] * logZ * logZ;
    count += mask[n];
  }
  return crossEntropyRef(logits, batch.y, mask, N, V) + (count > 0 ? (zLoss * z) / count : 0);
}

/**
 * Weights away from the initialisation's near-symmetric point (LayerNorm gains ≠ 1, biases ≠ 0,
 * larger matrices) so that every path through the network carries a gradient worth checking.
 */
function perturbedValues(c: GPTConfig, seed: number): Map<string, Float32Array> {
  const values = initialValues(c, seed);
  let s = seed;
  for (const [name, v] of values) {
    const r = randomArray(v.length, ++s, 1);
    if (/(ln_\d|ln_f|q_ln|k_ln)\.weight$/.test(name)) v.forEach((_, i) => (v[i] = 1 + 0.2 * r[i]));
    else if (name.endsWith('.bias')) v.forEach((_, i) => (v[i] = 0.1 * r[i]));
    else v.forEach((x, i) => (v[i] = 4 * x));
  }
  return values;
}

const { corpus, tokenizer } = tinyCorpus();
const V = tokenizer.vocabSize;

async function gradients(model: GPT, batch: TrainBatch, zLoss = 0): Promise<{ loss: number; grads: Map<string, Float32Array> }> {
  const { value, grads } = tf.variableGrads(() => batchLoss(model, batch, zLoss), [...model.params.values()]);
  const out = new Map<string, Float32Array>();
  for (const [variableName, g] of Object.entries(grads)) out.set(parameterName({ name: variableName } as tf.Variable), (await g.data()) as Float32Array);
  const loss = (await value.data())[0];
  tf.dispose([value, ...Object.values(grads)]);
  return { loss, grads: out };
}

/** The gradient entries to check in one tensor: its three largest and five spread-out others. */
function entriesToCheck(g: Float32Array): number[] {
  const byMagnitude = [...g.keys()].sort((a, b) => Math.abs(g[b]) - Math.abs(g[a]));
  const picked = new Set(byMagnitude.slice(0, 3));
  for (let i = 0; i < 5; i++) picked.add(Math.floor(((i + 0.5) / 5) * g.length));
  return [...picked];
}

describe('GPT against a float64 nanoGPT written in plain JavaScript (cpu)', () => {
  beforeAll(() => useBackend('cpu'));

  for (const qkLayerNorm of [false, true]) {
    it(`logits and loss match${qkLayerNorm ? ' (with QK-LayerNorm)' : ''}`, async () => {
      const c = modelConfig('micro', V, { qkLayerNorm });
      const values = perturbedValues(c, 3);
      const model = new GPT(c, values);
      const batch = sampleBatch(corpus.train, 3, 11, new Random(5)); // T shorter than the block size
      const logits = model.forward(tf.tensor2d(batch.x, [3, 11], 'int32'));
      expect(logits.shape).toEqual([3, 11, V]);
      const expected = referenceLogits(c, values, batch.x, 3, 11);
      expect(relativeError(await logits.data(), expected)).toBeLessThan(1e-5);
      const loss = batchLoss(model, batch);
      expect((await loss.data())[0]).toBeCloseTo(referenceLoss(c, values, batch), 5);
      tf.dispose([logits, loss]);
      model.dispose();
    });
  }

  it('batchLoss gradients match central differences for entries of every kind of parameter', async () => {
    const c = modelConfig('micro', V);
    const values = perturbedValues(c, 7);
    const model = new GPT(c, values);
    const batch: TrainBatch = { ...sampleBatch(corpus.train, 4, c.blockSize, new Random(9)) };
    // A partial mask, as SFT uses: masked positions must not contribute.
    batch.mask = Float32Array.from({ length: batch.x.length }, (_, i) => (i % 5 === 2 ? 0 : 1));
    const { loss, grads } = await gradients(model, batch);
    const ref = new Map<string, Float64Array>([...values].map(([n, v]) => [n, Float64Array.from(v)]));
    expect(loss).toBeCloseTo(referenceLoss(c, ref, batch), 5);

    const checked = [
      'transformer.wte.weight',
      'transformer.wpe.weight',
      'transformer.h.0.ln_1.weight',
      'transformer.h.0.ln_1.bias',
      'transformer.h.0.attn.c_attn.weight',
      'transformer.h.1.attn.c_attn.bias',
      'transformer.h.1.attn.c_proj.weight',
      'transformer.h.0.ln_2.weight',
      'transformer.h.0.mlp.c_fc.weight',
      'transformer.h.1.mlp.c_fc.bias',
      'transformer.h.1.mlp.c_proj.weight',
      'transformer.ln_f.weight',
      'transformer.ln_f.bias',
    ];
    for (const name of checked) {
      const g = grads.get(name)!;
      const entries = entriesToCheck(g);
      const numeric = entries.map((i) =>
        centralDifference((x) => referenceLoss(c, new Map(ref).set(name, x), batch), ref.get(name)!, i),
      );
      const analytic = entries.map((i) => g[i]);
      expect(relativeError(analytic, numeric), name).toBeLessThan(2e-3);
    }
    model.dispose();
  });

  it('with the z-loss on, loss and gradients still match the reference', async () => {
    const c = modelConfig('micro', V);
    const values = perturbedValues(c, 8);
    const model = new GPT(c, values);
    const batch: TrainBatch = { ...sampleBatch(corpus.train, 2, c.blockSize, new Random(4)) };
    batch.mask = Float32Array.from({ length: batch.x.length }, (_, i) => (i % 3 === 0 ? 0 : 1));
    const zLoss = 0.05;
    const { loss, grads } = await gradients(model, batch, zLoss);
    const ref = new Map<string, Float64Array>([...values].map(([n, v]) => [n, Float64Array.from(v)]));
    const withZ = referenceLoss(c, ref, batch, zLoss);
    expect(withZ - referenceLoss(c, ref, batch)).toBeGreaterThan(0.01); // the term is not negligible here
    expect(loss).toBeCloseTo(withZ, 5);
    for (const name of ['transformer.wte.weight', 'transformer.h.1.mlp.c_proj.weight', 'transformer.ln_f.bias']) {
      const g = grads.get(name)!;
      const entries = entriesToCheck(g);
      const numeric = entries.map((i) => centralDifference((x) => referenceLoss(c, new Map(ref).set(name, x), batch, zLoss), ref.get(name)!, i));
      expect(relativeError(entries.map((i) => g[i]), numeric), name).toBeLessThan(2e-3);
    }
    model.dispose();
  });

  it('a fully masked batch has loss 0 and zero gradients', async () => {
    const c = modelConfig('micro', V);
    const model = GPT.init(c, 1);
    const batch: TrainBatch = { ...sampleBatch(corpus.train, 2, c.blockSize, new Random(1)), mask: new Float32Array(2 * c.blockSize) };
    const { loss, grads } = await gradients(model, batch);
    expect(loss).toBe(0);
    for (const [name, g] of grads) expect(g.every((x) => x === 0), name).toBe(true);
    model.dispose();
  });
});

describe('causality and batch independence (cpu)', () => {
  beforeAll(() => useBackend('cpu'));

  it('changing token t+1 never changes the logits at positions ≤ t, nor another sequence', async () => {
    const c = modelConfig('micro', V);
    const model = new GPT(c, perturbedValues(c, 11));
    const [B, T] = [3, c.blockSize];
    const base = sampleBatch(corpus.train, B, T, new Random(2)).x;
    const logitsOf = async (ids: Int32Array) => {
      const l = model.forward(tf.tensor2d(ids, [B, T], 'int32'));
      const data = (await l.data()) as Float32Array;
      l.dispose();
      return data;
    };
    const before = await logitsOf(base);
    const b = 1; // the sequence edited
    for (let t = -1; t < T - 1; t++) {
      const edited = Int32Array.from(base);
      edited[b * T + t + 1] = (edited[b * T + t + 1] + 1 + (t + 2) % (V - 1)) % V;
      const after = await logitsOf(edited);
      for (let bb = 0; bb < B; bb++) {
        const lastUnchanged = bb === b ? t : T - 1;
        const end = (bb * T + lastUnchanged + 1) * V;
        expect(Array.from(after.subarray(bb * T * V, end)), `sequence ${bb}, positions ≤ ${lastUnchanged}`).toEqual(Array.from(before.subarray(bb * T * V, end)));
      }
      // …and the edit does reach position t+1 (so the comparison above is not vacuous).
      const at = (b * T + t + 1) * V;
      expect(relativeError(after.subarray(at, at + V), before.subarray(at, at + V))).toBeGreaterThan(1e-3);
    }
    model.dispose();
  });
});

describe('initialisation', () => {
  beforeAll(() => useBackend('cpu'));

  it('the initial loss of a micro model is within 0.1 of ln(vocab size)', async () => {
    const c = modelConfig('micro', V);
    for (const seed of [1, 2]) {
      const model = GPT.init(c, seed);
      const loss = batchLoss(model, sampleBatch(corpus.train, 8, c.blockSize, new Random(seed)));
      const value = (await loss.data())[0];
      expect(Math.abs(value - Math.log(V))).toBeLessThan(0.1);
      loss.dispose();
      model.dispose();
    }
  });

  it('weights follow the GPT-2 initialisation: N(0, 0.02), c_proj scaled by 1/√(2·nLayer), LayerNorm ones, biases zeros', () => {
    const c = modelConfig('tiny', V);
    const values = initialValues(c, 4);
    const std = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
    expect(std(values.get('transformer.wte.weight')!)).toBeCloseTo(0.02, 3);
    expect(std(values.get('transformer.h.0.mlp.c_fc.weight')!)).toBeCloseTo(0.02, 3);
    expect(std(values.get('transformer.h.0.mlp.c_proj.weight')!)).toBeCloseTo(0.02 / Math.sqrt(2 * c.nLayer), 3);
    expect(std(values.get('transformer.h.1.attn.c_proj.weight')!)).toBeCloseTo(0.02 / Math.sqrt(2 * c.nLayer), 3);
    expect(values.get('transformer.ln_f.weight')!.every((x) => x === 1)).toBe(true);
    expect(values.get('transformer.h.0.attn.c_attn.bias')!.every((x) => x === 0)).toBe(true);
  });
});
