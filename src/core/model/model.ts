/**
 * nanoGPT's GPT, in tfjs ops and tf.variables, built bottom-up as in model.py:
 * LayerNorm → CausalSelfAttention → MLP → Block → GPT.
 *
 * Parameters carry nanoGPT's names and PyTorch's shapes (Linear weights are [out, in]), so a
 * checkpoint is a state dict that nanoGPT's GPT loads with strict=True. The LM head is tied to
 * the token embedding and exists once here; export writes `lm_head.weight` as a copy.
 *
 * Shapes: B batch, T time, C channels (nEmbd), V vocabulary, nh heads, hs = C / nh, N = T·B.
 *
 * Rows are time-major: row t·B + b holds position t of sequence b. Every layer but attention acts
 * row by row and does not care; attention does, and with time-major rows the fused qkv
 * projection [T·B, 3C] reshapes straight into heads [T, B·nh, hs] with no transpose (a 5-D
 * transpose costs more than the whole MLP on wasm). `forward` takes and returns batch-major
 * tensors; the training losses use the time-major path directly.
 */
import * as tf from '@tensorflow/tfjs';
import { type GPTConfig, validateModelConfig } from './config.ts';
import { Random } from '../random.ts';
import { causalAttention, embedding, gelu, layerNorm, linear, linearNoBias, qkvAttention } from './ops.ts';

export type Params = Map<string, tf.Variable>;

/** Parameter names and shapes, in nanoGPT's state-dict order. */
export function parameterShapes(c: GPTConfig): [string, number[]][] {
  const C = c.nEmbd;
  const hs = C / c.nHead;
  const shapes: [string, number[]][] = [
    ['transformer.wte.weight', [c.vocabSize, C]],
    ['transformer.wpe.weight', [c.blockSize, C]],
  ];
  for (let i = 0; i < c.nLayer; i++) {
    const h = `transformer.h.${i}`;
    shapes.push(
      [`${h}.ln_1.weight`, [C]],
      [`${h}.ln_1.bias`, [C]],
      [`${h}.attn.c_attn.weight`, [3 * C, C]],
      [`${h}.attn.c_attn.bias`, [3 * C]],
      [`${h}.attn.c_proj.weight`, [C, C]],
      [`${h}.attn.c_proj.bias`, [C]],
    );
    if (c.qkLayerNorm) {
      shapes.push([`${h}.attn.q_ln.weight`, [hs]], [`${h}.attn.q_ln.bias`, [hs]], [`${h}.attn.k_ln.weight`, [hs]], [`${h}.attn.k_ln.bias`, [hs]]);
    }
    shapes.push(
      [`${h}.ln_2.weight`, [C]],
      [`${h}.ln_2.bias`, [C]],
      [`${h}.mlp.c_fc.weight`, [4 * C, C]],
      [`${h}.mlp.c_fc.bias`, [4 * C]],
      [`${h}.mlp.c_proj.weight`, [C, 4 * C]],
      [`${h}.mlp.c_proj.bias`, [C]],
    );
  }
  shapes.push(['transformer.ln_f.weight', [C]], ['transformer.ln_f.bias', [C]]);
  return shapes;
}

/**
 * GPT-2 initialisation as nanoGPT's _init_weights: normal(0, 0.02) for Linear and Embedding
 * weights, zeros for biases, ones for LayerNorm weights, and the residual projections (c_proj)
 * scaled by 1/√(2·nLayer) so the residual stream's variance does not grow with depth.
 * Values come from our own seeded generator so every backend starts from the same weights.
 */
export function initialValues(c: GPTConfig, seed: number): Map<string, Float32Array> {
  const rng = new Random(seed);
  const values = new Map<string, Float32Array>();
  for (const [name, shape] of parameterShapes(c)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(size);
    const isLayerNormWeight = /(ln_\d|ln_f|q_ln|k_ln)\.weight$/.test(name);
    if (isLayerNormWeight) v.fill(1);
    else if (name.endsWith('.weight')) {
      const std = name.endsWith('c_proj.weight') ? 0.02 / Math.sqrt(2 * c.nLayer) : 0.02;
      for (let i = 0; i < size; i++) v[i] = rng.normal() * std;
    }
    values.set(name, v);
  }
  return values;
}

/**
 * The reward model's scalar head, [1, C] (Hugging Face's `*ForSequenceClassification` name). A GPT
 * built from values that hold it carries it as one more parameter; the language model never uses it.
 */
export const SCORE_HEAD = 'score.weight';

let nextModelId = 0;

/** The nanoGPT name of a parameter variable (its tfjs name carries a per-model prefix). */
export function parameterName(variable: tf.Variable): string {
  return variable.name.slice(variable.name.indexOf('/') + 1);
}

export class GPT {
  readonly config: GPTConfig;
  readonly params: Params;

  constructor(config: GPTConfig, values: Map<string, Float32Array>) {
    validateModelConfig(config);
    this.config = config;
    this.params = new Map();
    nextModelId += 1; // tfjs variable names must be unique across every model alive in the process
    for (const [name, shape] of parameterShapes(config)) {
      const v = values.get(name);
      if (!v) throw new Error(`model: missing parameter ${name}`);
      if (v.length !== shape.reduce((a, b) => a * b, 1)) throw new Error(`model: ${name} has ${v.length} values, expected shape [${shape}]`);
      const initial = tf.tensor(v, shape);
      this.params.set(name, tf.variable(initial, true, `gpt${nextModelId}/${name}`));
      initial.dispose(); // the variable holds its own reference to the data
    }
    const score = values.get(SCORE_HEAD);
    if (score) {
      if (score.length !== config.nEmbd) throw new Error(`model: ${SCORE_HEAD} has ${score.length} values, expected shape [1,${config.nEmbd}]`);
      this.params.set(SCORE_HEAD, tf.variable(tf.tensor2d(score, [1, config.nEmbd]), true, `gpt${nextModelId}/${SCORE_HEAD}`));
    }
  }

  /** True for a reward model: the trunk plus the scalar head `score.weight`. */
  get hasScoreHead(): boolean {
    return this.params.has(SCORE_HEAD);
  }

  static init(config: GPTConfig, seed: number): GPT {
    return new GPT(config, initialValues(config, seed));
  }

  private p(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`model: no parameter ${name}`);
    return v;
  }

  /** idx: int32 [B, T] → logits [B, T, V]. */
  forward(idx: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => {
      const [B, T] = idx.shape;
      const logits = this.forwardTimeMajor(tf.transpose(idx) as tf.Tensor2D); // [T·B, V]
      return tf.transpose(logits.reshape([T, B, this.config.vocabSize]), [1, 0, 2]) as tf.Tensor3D;
    });
  }

  /** idsTB: int32 [T, B], time-major → logits [T·B, V], row t·B + b. */
  forwardTimeMajor(idsTB: tf.Tensor2D): tf.Tensor2D {
    return linearNoBias(this.hiddenTimeMajor(idsTB), this.p('transformer.wte.weight') as tf.Tensor2D); // [N, V], weight tying
  }

  /** idsTB: int32 [T, B], time-major → the final LayerNorm's output [T·B, C], what the heads read. */
  hiddenTimeMajor(idsTB: tf.Tensor2D): tf.Tensor2D {
    const [T, B] = idsTB.shape;
    const c = this.config;
    if (T > c.blockSize) throw new Error(`model: sequence of length ${T} is longer than the block size ${c.blockSize}`);
    const tok = embedding(idsTB.reshape([T * B]) as tf.Tensor1D, this.p('transformer.wte.weight') as tf.Tensor2D); // [N, C]
    const pos = tf.slice(this.p('transformer.wpe.weight'), [0, 0], [T, c.nEmbd]).reshape([T, 1, c.nEmbd]); // [T, 1, C]
    let x = tf.add(tok.reshape([T, B, c.nEmbd]), pos).reshape([T * B, c.nEmbd]) as tf.Tensor2D; // [N, C]
    for (let i = 0; i < c.nLayer; i++) x = this.block(x, i, T, B);
    return layerNorm(x, this.p('transformer.ln_f.weight') as tf.Tensor1D, this.p('transformer.ln_f.bias') as tf.Tensor1D); // [N, C]
  }

  private block(x: tf.Tensor2D, i: number, T: number, B: number): tf.Tensor2D {
    const h = `transformer.h.${i}`;
    const ln = (name: string, input: tf.Tensor2D) =>
      layerNorm(input, this.p(`${h}.${name}.weight`) as tf.Tensor1D, this.p(`${h}.${name}.bias`) as tf.Tensor1D);
    x = tf.add(x, this.attention(ln('ln_1', x), h, T, B));
    x = tf.add(x, this.mlp(ln('ln_2', x), h));
    return x;
  }

  private attention(x: tf.Tensor2D, h: string, T: number, B: number): tf.Tensor2D {
    const { nHead: nh, nEmbd: C } = this.config;
    const hs = C / nh;
    const qkv = linear(x, this.p(`${h}.attn.c_attn.weight`) as tf.Tensor2D, this.p(`${h}.attn.c_attn.bias`) as tf.Tensor1D); // [N, 3C]
    let y: tf.Tensor2D;
    if (this.config.qkLayerNorm) {
      const [q, k, v] = tf.split(qkv, 3, 1).map((t) => t.reshape([T, B * nh, hs]) as tf.Tensor3D); // each [T, B·nh, hs]
      const norm = (t: tf.Tensor3D, name: string) =>
        layerNorm(t.reshape([T * B * nh, hs]) as tf.Tensor2D, this.p(`${h}.attn.${name}.weight`) as tf.Tensor1D, this.p(`${h}.attn.${name}.bias`) as tf.Tensor1D).reshape([T, B * nh, hs]) as tf.Tensor3D;
      y = causalAttention(norm(q, 'q_ln'), norm(k, 'k_ln'), v).reshape([T * B, C]) as tf.Tensor2D; // heads side by side again: [N, C]
    } else {
      y = qkvAttention(qkv, T, nh);
    }
    return linear(y, this.p(`${h}.attn.c_proj.weight`) as tf.Tensor2D, this.p(`${h}.attn.c_proj.bias`) as tf.Tensor1D);
  }

  private mlp(x: tf.Tensor2D, h: string): tf.Tensor2D {
    const hidden = gelu(linear(x, this.p(`${h}.mlp.c_fc.weight`) as tf.Tensor2D, this.p(`${h}.mlp.c_fc.bias`) as tf.Tensor1D)); // [N, 4C]
    return linear(hidden, this.p(`${h}.mlp.c_proj.weight`) as tf.Tensor2D, this.p(`${h}.mlp.c_proj.bias`) as tf.Tensor1D);
  }

  /** Copies of every parameter's values, by name. */
  async values(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const [name, v] of this.params) out.set(name, (await v.data()) as Float32Array);
    return out;
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
  }
}
