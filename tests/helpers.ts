/**
 * Shared by the engine's tests: backend selection, a small corpus cut from the bundled tales, and
 * plain float64 JavaScript versions of the formulas the ops implement, to check them against.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import type { Corpus } from '../src/core/train/data.ts';
import { CharTokenizer, type CharTokenizerJSON } from '../src/core/model/tokenizer.ts';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Activates a tfjs backend (importing the wasm one on first use) and fails loudly if it cannot. */
export async function useBackend(name: 'cpu' | 'wasm'): Promise<void> {
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  tf.enableProdMode(); // only silences tfjs's warnings, such as its advice to install tfjs-node
  if (!(await tf.setBackend(name))) throw new Error(`the ${name} backend did not start`);
  await tf.ready();
}

export function bundledTokenizer(): CharTokenizer {
  return CharTokenizer.fromJSON(JSON.parse(readFileSync(join(ROOT, 'corpora', 'vocab.json'), 'utf8')) as CharTokenizerJSON);
}

/** A few thousand characters of the bundled stories, tokenized with the bundled vocabulary. */
export function tinyCorpus(chars = 4000): { corpus: Corpus; tokenizer: CharTokenizer } {
  const tokenizer = bundledTokenizer();
  const train = readFileSync(join(ROOT, 'corpora', 'tales', 'train.txt'), 'utf8').slice(0, chars);
  const val = readFileSync(join(ROOT, 'corpora', 'tales', 'val.txt'), 'utf8').slice(0, Math.max(200, chars / 10));
  return { corpus: { name: 'tales', train: tokenizer.encode(train), val: tokenizer.encode(val) }, tokenizer };
}

/** Deterministic values in [-scale, scale) from a small linear congruential generator. */
export function randomArray(n: number, seed: number, scale = 1): Float64Array {
  let s = seed >>> 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 * scale - scale;
  }
  return out;
}

/** Central difference of f at x[i], in float64. */
export function centralDifference(f: (x: Float64Array) => number, x: Float64Array, i: number, h = 1e-6): number {
  const xp = Float64Array.from(x);
  const xm = Float64Array.from(x);
  xp[i] += h;
  xm[i] -= h;
  return (f(xp) - f(xm)) / (2 * h);
}

/** Every partial derivative of f at x, by central differences in float64. */
export function numericGradient(f: (x: Float64Array) => number, x: Float64Array, h = 1e-6): Float64Array {
  return Float64Array.from(x, (_, i) => centralDifference(f, x, i, h));
}

/** Largest |a − b| relative to the largest |b| (a scale-aware comparison of two gradients). */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`relativeError: lengths ${a.length} and ${b.length} differ`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / Math.max(scale, 1e-12);
}

/** erf by its Maclaurin series: exact to ~1e-11 for |x| ≤ 4, far beyond float32. */
export function erf(x: number): number {
  if (Math.abs(x) > 4) return Math.sign(x);
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

export const geluRef = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));

/** y[N, out] = x[N, in] · W[out, in]ᵀ + b, row-major float64. */
export function linearRef(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number> | null, N: number, nIn: number, nOut: number): Float64Array {
  const y = new Float64Array(N * nOut);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < nOut; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < nIn; i++) s += x[n * nIn + i] * w[o * nIn + i];
      y[n * nOut + o] = s;
    }
  }
  return y;
}

/** PyTorch LayerNorm over rows of x[N, C]: biased variance, eps 1e-5. */
export function layerNormRef(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, N: number, C: number): Float64Array {
  const y = new Float64Array(N * C);
  for (let n = 0; n < N; n++) {
    let mean = 0;
    for (let c = 0; c < C; c++) mean += x[n * C + c];
    mean /= C;
    let variance = 0;
    for (let c = 0; c < C; c++) variance += (x[n * C + c] - mean) ** 2;
    variance /= C;
    const rstd = 1 / Math.sqrt(variance + 1e-5);
    for (let c = 0; c < C; c++) y[n * C + c] = (x[n * C + c] - mean) * rstd * w[c] + b[c];
  }
  return y;
}

/**
 * Causal attention per group, q/k/v: [T, G, hs] → [T, G, hs]:
 *   y[i, g] = Σ_{j ≤ i} softmax_j(q[i, g] · k[j, g] / √hs) · v[j, g]
 */
export function attentionRef(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, T: number, G: number, hs: number): Float64Array {
  const y = new Float64Array(T * G * hs);
  const at = (t: number, g: number, d: number) => (t * G + g) * hs + d;
  for (let g = 0; g < G; g++) {
    for (let i = 0; i < T; i++) {
      const s = new Float64Array(i + 1);
      for (let j = 0; j <= i; j++) {
        let dot = 0;
        for (let d = 0; d < hs; d++) dot += q[at(i, g, d)] * k[at(j, g, d)];
        s[j] = dot / Math.sqrt(hs);
      }
      const max = Math.max(...s);
      let z = 0;
      for (let j = 0; j <= i; j++) z += Math.exp(s[j] - max);
      for (let j = 0; j <= i; j++) {
        const p = Math.exp(s[j] - max) / z;
        for (let d = 0; d < hs; d++) y[at(i, g, d)] += p * v[at(j, g, d)];
      }
    }
  }
  return y;
}

/** Σᵢ maskᵢ·(logsumexp(logitsᵢ) − logitsᵢ[targetᵢ]) / Σᵢ maskᵢ, and 0 when the mask is all zeros. */
export function crossEntropyRef(logits: ArrayLike<number>, targets: ArrayLike<number>, mask: ArrayLike<number>, N: number, V: number): number {
  let total = 0;
  let count = 0;
  for (let n = 0; n < N; n++) {
    if (mask[n] === 0) continue;
    let max = -Infinity;
    for (let c = 0; c < V; c++) max = Math.max(max, logits[n * V + c]);
    let z = 0;
    for (let c = 0; c < V; c++) z += Math.exp(logits[n * V + c] - max);
    total += mask[n] * (Math.log(z) + max - logits[n * V + targets[n]]);
    count += mask[n];
  }
  return count === 0 ? 0 : total / count;
}

/** Σ r ⊙ y: a scalar whose gradient w.r.t. y is the fixed random r, so every output entry is tested. */
export function dot(y: ArrayLike<number>, r: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i] * r[i];
  return s;
}
