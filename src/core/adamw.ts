/**
 * AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization"), as PyTorch's torch.optim.AdamW:
 *   m ← β1·m + (1−β1)·g
 *   v ← β2·v + (1−β2)·g²
 *   θ ← θ − lr·λ·θ                                   (decay, on matmul weights only)
 *   θ ← θ − lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε)
 * Moments are kept by parameter name so a checkpoint can store them next to the weights and a
 * resumed run continues exactly. As in nanoGPT's configure_optimizers, only 2-D weights decay:
 * biases, LayerNorm weights and (here, by choice) embeddings do not.
 */
import * as tf from '@tensorflow/tfjs';
import type { Params } from './model.ts';

export interface AdamWSettings {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** Which parameters get weight decay: the Linear weights, not biases, norms or embeddings. */
export function decays(name: string): boolean {
  return name.endsWith('.weight') && /(c_attn|c_proj|c_fc)\.weight$/.test(name);
}

function zerosVariable(like: tf.Tensor): tf.Variable {
  const zeros = tf.zerosLike(like);
  const variable = tf.variable(zeros, false); // unnamed: tfjs names must be unique per process
  zeros.dispose();
  return variable;
}

export class AdamW {
  readonly m = new Map<string, tf.Variable>();
  readonly v = new Map<string, tf.Variable>();
  /** Number of updates applied so far (t in the bias corrections). */
  t = 0;

  constructor(readonly params: Params, public settings: AdamWSettings) {
    for (const [name, p] of params) {
      this.m.set(name, zerosVariable(p));
      this.v.set(name, zerosVariable(p));
    }
  }

  /** Applies one update with the given (already clipped) gradients. */
  apply(grads: Record<string, tf.Tensor>, lr: number): void {
    const { beta1, beta2, eps, weightDecay } = this.settings;
    this.t += 1;
    const bc1 = 1 - beta1 ** this.t;
    const bc2 = 1 - beta2 ** this.t;
    tf.tidy(() => {
      for (const [name, p] of this.params) {
        const g = grads[name];
        if (!g) continue;
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        const mNew = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
        const vNew = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
        const step = tf.div(tf.mul(mNew, lr / bc1), tf.add(tf.sqrt(tf.div(vNew, bc2)), eps));
        const decayed = decays(name) && weightDecay > 0 ? tf.mul(p, 1 - lr * weightDecay) : p;
        m.assign(mNew);
        v.assign(vNew);
        p.assign(tf.sub(decayed, step));
      }
    });
  }

  /** Replaces the moments (from a checkpoint). */
  load(m: Map<string, Float32Array>, v: Map<string, Float32Array>, t: number): void {
    for (const [name, variable] of this.m) {
      const mv = m.get(name);
      const vv = v.get(name);
      if (!mv || !vv) throw new Error(`optimizer state: missing moments for ${name}`);
      tf.tidy(() => {
        variable.assign(tf.tensor(mv, variable.shape));
        this.v.get(name)!.assign(tf.tensor(vv, variable.shape));
      });
    }
    this.t = t;
  }

  dispose(): void {
    for (const x of [...this.m.values(), ...this.v.values()]) x.dispose();
    this.m.clear();
    this.v.clear();
  }
}
