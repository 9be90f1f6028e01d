/**
 * AdamW against PyTorch's torch.optim.AdamW formulas, worked out in plain JavaScript:
 *   m ← β1·m + (1−β1)·g,  v ← β2·v + (1−β2)·g²,  θ ← θ·(1 − lr·λ)  (decayed names only),
 *   θ ← θ − lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε)
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdamW, decays } from '../src/core/train/adamw.ts';
import type { Params } from '../src/core/model/model.ts';
import { useBackend } from './helpers.ts';

const W = 'transformer.h.0.attn.c_attn.weight'; // decayed
const B = 'transformer.h.0.attn.c_attn.bias'; // not decayed
const E = 'transformer.wte.weight'; // not decayed (embeddings, by choice)

function params(values: Record<string, { data: number[]; shape: number[] }>): Params {
  const out: Params = new Map();
  for (const [name, { data, shape }] of Object.entries(values)) out.set(name, tf.variable(tf.tensor(data, shape)));
  return out;
}

async function read(p: Params, name: string): Promise<number[]> {
  return Array.from(await p.get(name)!.data());
}

function expectClose(actual: number[], expected: number[], digits = 6): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => expect(a, `entry ${i}`).toBeCloseTo(expected[i], digits));
}

describe.each(['cpu', 'wasm'] as const)('AdamW on the %s backend', (backend) => {
  beforeAll(() => useBackend(backend));

  it('first step: θ(1 − lr·λ) − lr·g/(|g| + ε) on a decayed name, θ − lr·g/(|g| + ε) on the others', async () => {
    // At t = 1 the bias corrections cancel: m̂ = g and √v̂ = |g|.
    const p = params({ [W]: { data: [0.5, -0.25, 1, 0], shape: [2, 2] }, [B]: { data: [0.5, -2], shape: [2] } });
    const opt = new AdamW(p, { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 });
    opt.apply({ [W]: tf.tensor([[0.2, 0.2], [-0.4, 0]]), [B]: tf.tensor([0.2, 3]) }, 0.1);
    expect(opt.t).toBe(1);
    // 0.5·0.99 − 0.1·0.2/(0.2 + 1e-8), −0.25·0.99 − 0.1·0.2/0.2…, 1·0.99 + 0.1, 0 (zero gradient: only decay, of 0)
    expectClose(await read(p, W), [0.39500000500, -0.34749999500, 1.08999999750, 0]);
    // no decay: 0.5 − 0.1, −2 − 0.1
    expectClose(await read(p, B), [0.40000000500, -2.09999999967]);
    const moments = await opt.moments();
    expectClose(Array.from(moments.m.get(W)!), [0.02, 0.02, -0.04, 0]);
    expectClose(Array.from(moments.v.get(B)!), [0.0004, 0.09]);
    opt.dispose();
    p.forEach((v) => v.dispose());
  });

  it('three steps with varying gradients and a large ε follow the formulas, bias corrections included', async () => {
    const settings = { beta1: 0.8, beta2: 0.95, eps: 1e-2, weightDecay: 0.5 };
    const init: Record<string, number[]> = { [W]: [0.3, -0.7, 0.1, 2], [B]: [0.3, -0.7], [E]: [1, -1, 0.5, 0.25] };
    const shapes: Record<string, number[]> = { [W]: [2, 2], [B]: [2], [E]: [2, 2] };
    const p = params(Object.fromEntries(Object.entries(init).map(([n, d]) => [n, { data: d, shape: shapes[n] }])));
    const opt = new AdamW(p, settings);
    const gradsAt = (step: number, name: string) => init[name].map((_, i) => Math.sin(1 + 3 * step + i + name.length) * (i + 1) * 0.1);
    const lrs = [0.05, 0.02, 0.1];

    // The same three steps by hand, in float64.
    const theta = Object.fromEntries(Object.entries(init).map(([n, d]) => [n, [...d]]));
    const m = Object.fromEntries(Object.entries(init).map(([n, d]) => [n, d.map(() => 0)]));
    const v = Object.fromEntries(Object.entries(init).map(([n, d]) => [n, d.map(() => 0)]));
    for (let s = 0; s < 3; s++) {
      const t = s + 1;
      const lr = lrs[s];
      for (const name of Object.keys(init)) {
        const g = gradsAt(s, name);
        for (let i = 0; i < g.length; i++) {
          m[name][i] = settings.beta1 * m[name][i] + (1 - settings.beta1) * g[i];
          v[name][i] = settings.beta2 * v[name][i] + (1 - settings.beta2) * g[i] ** 2;
          if (name === W) theta[name][i] *= 1 - lr * settings.weightDecay;
          const mHat = m[name][i] / (1 - settings.beta1 ** t);
          const vHat = v[name][i] / (1 - settings.beta2 ** t);
          theta[name][i] -= (lr * mHat) / (Math.sqrt(vHat) + settings.eps);
        }
      }
      const grads = Object.fromEntries(Object.keys(init).map((n) => [n, tf.tensor(gradsAt(s, n), shapes[n])]));
      opt.apply(grads, lr);
      tf.dispose(Object.values(grads));
    }
    expect(opt.t).toBe(3);
    const moments = await opt.moments();
    for (const name of Object.keys(init)) {
      expectClose(await read(p, name), theta[name]);
      expectClose(Array.from(moments.m.get(name)!), m[name]);
      expectClose(Array.from(moments.v.get(name)!), v[name], 7);
    }
    opt.dispose();
    p.forEach((x) => x.dispose());
  });

  it('a missing gradient counts as zero: the weight still decays, the moments still decay', async () => {
    // Documented in adamw.ts; torch.optim.AdamW instead skips a parameter whose grad is None.
    const p = params({ [W]: { data: [1, 2, 3, 4], shape: [2, 2] }, [B]: { data: [1, 2], shape: [2] } });
    const opt = new AdamW(p, { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 });
    opt.apply({ [B]: tf.tensor([1, 1]) }, 0.1);
    expectClose(await read(p, W), [0.99, 1.98, 2.97, 3.96]); // θ·(1 − 0.1·0.1), no Adam step from m = 0
    expect(Array.from((await opt.moments()).m.get(W)!)).toEqual([0, 0, 0, 0]);
    opt.dispose();
    p.forEach((x) => x.dispose());
  });

  it('gradScale multiplies the gradients before the update (clipping)', async () => {
    const settings = { beta1: 0.9, beta2: 0.99, eps: 1e-3, weightDecay: 0.1 };
    const run = async (scaleInside: boolean) => {
      const p = params({ [W]: { data: [0.5, -0.5, 0.25, 1], shape: [2, 2] }, [B]: { data: [0.1, 0.2], shape: [2] } });
      const opt = new AdamW(p, settings);
      for (let k = 1; k <= 2; k++) {
        const g = { [W]: tf.tensor([[0.01 * k, -0.02], [0.03, 0.005]]), [B]: tf.tensor([0.002, -0.004 * k]) };
        const scaled = Object.fromEntries(Object.entries(g).map(([n, t]) => [n, tf.mul(t, 0.25)]));
        if (scaleInside) opt.apply(g, 0.05, 0.25);
        else opt.apply(scaled, 0.05);
        tf.dispose([...Object.values(g), ...Object.values(scaled)]);
      }
      const out = [...(await read(p, W)), ...(await read(p, B))];
      opt.dispose();
      p.forEach((x) => x.dispose());
      return out;
    };
    expectClose(await run(true), await run(false), 7);
  });

  it('loading moments resumes the same trajectory', async () => {
    const settings = { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 };
    const make = () => params({ [W]: { data: [0.5, -0.5, 0.25, 1], shape: [2, 2] } });
    const g = (k: number) => ({ [W]: tf.tensor([[0.1 * k, -0.2], [0.3, 0.05 * k]]) });
    const a = make();
    const optA = new AdamW(a, settings);
    for (let k = 1; k <= 3; k++) optA.apply(g(k), 0.01);

    const b = make();
    const optB = new AdamW(b, settings);
    for (let k = 1; k <= 2; k++) optB.apply(g(k), 0.01);
    const saved = { t: optB.t, ...(await optB.moments()) };
    const weights = (await b.get(W)!.data()) as Float32Array;
    const c = params({ [W]: { data: Array.from(weights), shape: [2, 2] } });
    const optC = new AdamW(c, settings);
    optC.load(saved.m, saved.v, saved.t);
    optC.apply(g(3), 0.01);
    expect(await read(c, W)).toEqual(await read(a, W));
    for (const o of [optA, optB, optC]) o.dispose();
    for (const p of [a, b, c]) p.forEach((x) => x.dispose());
  });
});

describe('which parameters decay', () => {
  it('Linear weights decay; biases, LayerNorms and embeddings do not', () => {
    for (const name of ['transformer.h.0.attn.c_attn.weight', 'transformer.h.3.attn.c_proj.weight', 'transformer.h.1.mlp.c_fc.weight', 'transformer.h.1.mlp.c_proj.weight']) {
      expect(decays(name), name).toBe(true);
    }
    for (const name of [
      'transformer.wte.weight',
      'transformer.wpe.weight',
      'transformer.h.0.attn.c_attn.bias',
      'transformer.h.0.mlp.c_proj.bias',
      'transformer.h.0.ln_1.weight',
      'transformer.h.0.attn.q_ln.weight',
      'transformer.ln_f.weight',
    ]) {
      expect(decays(name), name).toBe(false);
    }
  });
});
