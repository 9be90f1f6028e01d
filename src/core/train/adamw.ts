/**
 * AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization"), as PyTorch's torch.optim.AdamW:
 *   m ← β1·m + (1−β1)·g
 *   v ← β2·v + (1−β2)·g²
 *   θ ← θ − lr·λ·θ                                   (decay, on matmul weights only)
 *   θ ← θ − lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε)
 * As in nanoGPT's configure_optimizers, only 2-D weights decay: biases, LayerNorm weights and
 * (here, by choice) embeddings do not.
 *
 * The moments live in two flat vectors, one entry per parameter value, in a fixed name order:
 * the update is then ten kernels for the whole model instead of ten per parameter tensor, and on
 * wasm each kernel dispatch costs about as much as a small matmul. Checkpoints still store the
 * moments by parameter name (`moments()`, `load()`).
 */
import * as tf from '@tensorflow/tfjs';
import type { Params } from '../model/model.ts';
import { fusedAvailable, runFused } from '../kernels/array-kernel.ts';
import { adamwKernel } from '../kernels/wasm/adamw.ts';
import '../kernels/register.ts';

export interface AdamWSettings {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** Which parameters get weight decay: the Linear weights, not biases, norms or embeddings. */
export function decays(name: string): boolean {
  return /(c_attn|c_proj|c_fc)\.weight$/.test(name);
}

export class AdamW {
  /** Parameter names in the order of the flat vectors. */
  readonly names: string[];
  private readonly sizes: number[];
  private readonly m: tf.Variable<tf.Rank.R1>;
  private readonly v: tf.Variable<tf.Rank.R1>;
  /** Number of updates applied so far (t in the bias corrections). */
  t = 0;

  constructor(readonly params: Params, public settings: AdamWSettings) {
    this.names = [...params.keys()];
    this.sizes = this.names.map((n) => params.get(n)!.size);
    const total = this.sizes.reduce((a, b) => a + b, 0);
    // The variables keep their own reference to the data: the zeros they start from are disposed.
    this.m = tf.tidy(() => tf.variable(tf.zeros([total]), false)) as tf.Variable<tf.Rank.R1>;
    this.v = tf.tidy(() => tf.variable(tf.zeros([total]), false)) as tf.Variable<tf.Rank.R1>;
  }

  /** All gradients as one vector in the optimizer's order (a missing gradient counts as zero). */
  flatten(grads: Record<string, tf.Tensor>): tf.Tensor1D {
    return tf.tidy(() => tf.concat(this.names.map((n, i) => (grads[n] ? tf.reshape(grads[n], [-1]) : tf.zeros([this.sizes[i]])))) as tf.Tensor1D);
  }

  /**
   * Applies one update. `grads` is a flat vector from `flatten` or gradients by name;
   * `gradScale` multiplies them first (gradient clipping).
   */
  apply(grads: tf.Tensor1D | Record<string, tf.Tensor>, lr: number, gradScale = 1): void {
    const { beta1, beta2, eps, weightDecay } = this.settings;
    this.t += 1;
    const bc1 = 1 - beta1 ** this.t;
    const bc2 = 1 - beta2 ** this.t;
    tf.tidy(() => {
      const flat = grads instanceof tf.Tensor ? grads : this.flatten(grads);
      if (fusedAvailable(adamwKernel.name)) {
        // One kernel for the whole update (kernels/wasm/adamw.ts); the ops below are its reference.
        const params = this.names.map((n) => this.params.get(n)!);
        const [m, v, ...updated] = runFused(adamwKernel, [flat, this.m, this.v, ...params], {
          lr, beta1, beta2, eps, bc1, bc2, gradScale, weightDecay, decay: this.names.map((n) => decays(n) && weightDecay > 0),
        });
        this.m.assign(m as tf.Tensor1D);
        this.v.assign(v as tf.Tensor1D);
        params.forEach((p, i) => p.assign(updated[i]));
        return;
      }
      const g = gradScale === 1 ? flat : tf.mul(flat, gradScale);
      const mNew = tf.add(tf.mul(this.m, beta1), tf.mul(g, 1 - beta1));
      const vNew = tf.add(tf.mul(this.v, beta2), tf.mul(tf.square(g), 1 - beta2));
      const step = tf.div(tf.mul(mNew, lr / bc1), tf.add(tf.sqrt(tf.div(vNew, bc2)), eps));
      this.m.assign(mNew as tf.Tensor1D);
      this.v.assign(vNew as tf.Tensor1D);
      const pieces = tf.split(step, this.sizes);
      this.names.forEach((name, i) => {
        const p = this.params.get(name)!;
        const decayed = decays(name) && weightDecay > 0 ? tf.mul(p, 1 - lr * weightDecay) : p;
        p.assign(tf.sub(decayed, tf.reshape(pieces[i], p.shape)));
      });
    });
  }

  /** The moments by parameter name, for a checkpoint. */
  async moments(): Promise<{ m: Map<string, Float32Array>; v: Map<string, Float32Array> }> {
    const [m, v] = [(await this.m.data()) as Float32Array, (await this.v.data()) as Float32Array];
    const byName = (flat: Float32Array) => {
      const out = new Map<string, Float32Array>();
      let offset = 0;
      this.names.forEach((name, i) => {
        out.set(name, flat.slice(offset, offset + this.sizes[i]));
        offset += this.sizes[i];
      });
      return out;
    };
    return { m: byName(m), v: byName(v) };
  }

  /** Replaces the moments (from a checkpoint). */
  load(m: Map<string, Float32Array>, v: Map<string, Float32Array>, t: number): void {
    const flat = (values: Map<string, Float32Array>) => {
      const out = new Float32Array(this.sizes.reduce((a, b) => a + b, 0));
      let offset = 0;
      this.names.forEach((name, i) => {
        const x = values.get(name);
        if (!x || x.length !== this.sizes[i]) throw new Error(`optimizer state: missing or mis-sized moments for ${name}`);
        out.set(x, offset);
        offset += this.sizes[i];
      });
      return out;
    };
    const [mFlat, vFlat] = [flat(m), flat(v)];
    tf.tidy(() => {
      this.m.assign(tf.tensor1d(mFlat));
      this.v.assign(tf.tensor1d(vFlat));
    });
    this.t = t;
  }

  dispose(): void {
    this.m.dispose();
    this.v.dispose();
  }
}
