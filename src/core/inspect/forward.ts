/**
 * The GPT's forward pass over one sequence, written plainly from nanoGPT's model.py and kept with
 * what the inspection views read: every layer's attention probabilities and the residual stream
 * after the embeddings and after every block.
 *
 * Why a second forward pass: the model's own (model.ts) never materialises what these views need;
 * its fused kernels keep the attention probabilities inside one program (WebGPU) or a strided
 * product (wasm), and training must not pay to keep them. This one runs only on request, reads the
 * model's own parameters, uses only plain tfjs ops (the same on every backend), and is tested to
 * give the model's logits, so what it shows is what the model computes.
 *
 * Shapes: T time, C channels, V vocabulary, nh heads, hs = C / nh, L layers. One sequence, no
 * batch axis.
 */
import * as tf from '@tensorflow/tfjs';
import type { GPT } from '../model/model.ts';

/** What one reference pass returns; every tensor belongs to the caller (dispose them, or use tf.tidy). */
export interface InspectedForward {
  /** softmax(q kᵀ / √hs) with the causal mask, per layer: [L, nh, T, T], rows queries, columns keys. */
  attention: tf.Tensor4D;
  /** The residual stream: index 0 after the embeddings, index l after block l: [L + 1, T, C]. */
  residual: tf.Tensor3D;
  /** The model's next-token logits at each position: [T, V]. */
  logits: tf.Tensor2D;
}

/** The model's parameter by its nanoGPT name. */
export function param(model: GPT, name: string): tf.Tensor {
  const v = model.params.get(name);
  if (!v) throw new Error(`inspect: the model has no parameter ${name}`);
  return v;
}

/** PyTorch's LayerNorm over the last axis: (x − mean) / √(var + 1e-5) · w + b, biased variance. */
export function layerNormPlain<R extends tf.Rank>(x: tf.Tensor<R>, w: tf.Tensor, b: tf.Tensor): tf.Tensor<R> {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), w), b);
  });
}

/** x Wᵀ + b with W in PyTorch's [out, in] layout. x: [T, in] → [T, out]. */
function linearPlain(x: tf.Tensor2D, w: tf.Tensor, b?: tf.Tensor): tf.Tensor2D {
  const y = tf.matMul(x, w as tf.Tensor2D, false, true) as tf.Tensor2D;
  return b ? (tf.add(y, b) as tf.Tensor2D) : y;
}

/** Exact GELU, x · ½(1 + erf(x / √2)), as nn.GELU(). */
function geluPlain(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.mul(tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1), 0.5));
}

/** The final LayerNorm and the tied head: residual [..., C] → logits [..., V]. */
export function readOut(model: GPT, residual: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const h = layerNormPlain(residual, param(model, 'transformer.ln_f.weight'), param(model, 'transformer.ln_f.bias'));
    return linearPlain(h, param(model, 'transformer.wte.weight')); // [N, V], weight tying
  });
}

/** Token ids as the one sequence this pass reads: integers in the vocabulary, at most blockSize of them. */
export function checkIds(model: GPT, ids: ArrayLike<number>): Int32Array {
  const { blockSize, vocabSize } = model.config;
  if (ids.length === 0) throw new Error('inspect: the sequence is empty');
  if (ids.length > blockSize) throw new Error(`inspect: sequence of length ${ids.length} is longer than the block size ${blockSize}`);
  const out = Int32Array.from(ids);
  const bad = out.findIndex((id, i) => id !== ids[i] || id < 0 || id >= vocabSize);
  if (bad >= 0) throw new Error(`inspect: token ${ids[bad]} at position ${bad} is not in the vocabulary (0…${vocabSize - 1})`);
  return out;
}

/**
 * nanoGPT's GPT.forward on one sequence (ids: T ≤ blockSize token ids), keeping each layer's
 * attention probabilities and the residual stream:
 *   x₀ = wte[ids] + wpe[0:T]
 *   xₗ' = xₗ₋₁ + c_proj(softmax(q kᵀ / √hs + mask) v),  q | k | v = c_attn(ln_1(xₗ₋₁))   (per head)
 *   xₗ = xₗ' + c_proj(gelu(c_fc(ln_2(xₗ'))))
 *   logits = ln_f(x_L) wteᵀ
 * with q and k LayerNormed per head first when the model has qkLayerNorm. Future keys get −∞, so
 * their probabilities are exactly 0.
 */
export function inspectForward(model: GPT, ids: ArrayLike<number>): InspectedForward {
  const idx = checkIds(model, ids);
  const { nLayer: L, nHead: nh, nEmbd: C, qkLayerNorm } = model.config;
  const T = idx.length;
  const hs = C / nh;
  return tf.tidy(() => {
    const p = (name: string) => param(model, name);
    const future = tf.equal(tf.linalg.bandPart(tf.ones([T, T]), -1, 0), 0); // [T, T], true above the diagonal
    let x = tf.add(tf.gather(p('transformer.wte.weight'), tf.tensor1d(idx, 'int32')), tf.slice(p('transformer.wpe.weight'), [0, 0], [T, C])) as tf.Tensor2D; // [T, C]
    const residual: tf.Tensor2D[] = [x];
    const attention: tf.Tensor3D[] = [];
    for (let l = 0; l < L; l++) {
      const h = `transformer.h.${l}`;
      const qkv = linearPlain(layerNormPlain(x, p(`${h}.ln_1.weight`), p(`${h}.ln_1.bias`)), p(`${h}.attn.c_attn.weight`), p(`${h}.attn.c_attn.bias`)); // [T, 3C]
      let [q, k, v] = tf.split(qkv, 3, 1).map((t) => tf.transpose(t.reshape([T, nh, hs]), [1, 0, 2]) as tf.Tensor3D); // each [T, nh, hs] → [nh, T, hs]
      if (qkLayerNorm) {
        q = layerNormPlain(q, p(`${h}.attn.q_ln.weight`), p(`${h}.attn.q_ln.bias`));
        k = layerNormPlain(k, p(`${h}.attn.k_ln.weight`), p(`${h}.attn.k_ln.bias`));
      }
      const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hs)); // [nh, T, T]
      const probs = tf.softmax(tf.where(future, tf.fill(scores.shape, -Infinity), scores)) as tf.Tensor3D; // [nh, T, T]
      attention.push(probs);
      const y = tf.transpose(tf.matMul(probs, v), [1, 0, 2]).reshape([T, C]) as tf.Tensor2D; // [nh, T, hs] → [T, nh, hs] → [T, C]
      x = tf.add(x, linearPlain(y, p(`${h}.attn.c_proj.weight`), p(`${h}.attn.c_proj.bias`)));
      const hidden = geluPlain(linearPlain(layerNormPlain(x, p(`${h}.ln_2.weight`), p(`${h}.ln_2.bias`)), p(`${h}.mlp.c_fc.weight`), p(`${h}.mlp.c_fc.bias`))); // [T, 4C]
      x = tf.add(x, linearPlain(hidden as tf.Tensor2D, p(`${h}.mlp.c_proj.weight`), p(`${h}.mlp.c_proj.bias`)));
      residual.push(x);
    }
    return {
      attention: tf.stack(attention) as tf.Tensor4D, // [L, nh, T, T]
      residual: tf.stack(residual) as tf.Tensor3D, // [L + 1, T, C]
      logits: readOut(model, x), // [T, V]
    };
  });
}
