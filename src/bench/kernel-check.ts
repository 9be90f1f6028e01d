/**
 * The WebGPU kernels (core/kernels/webgpu/) against the cpu backend's tfjs-op references, run in a
 * browser page by tests/browser/kernels.test.ts: the same inputs through `op` on cpu with the
 * project's kernels off and on WebGPU with them on; the largest difference of the value and of
 * every gradient, relative to the largest reference entry. Then a short training run on both
 * backends from the same weights and batches, and the kernel counts of one WebGPU step.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import '../lab/wasm-paths.ts'; // where the page finds the wasm backend's binaries
import { tryWebGPU, tryWasm, wasmThreads } from '../core/backend/backend.ts';
import { setFusedKernels } from '../core/kernels/array-kernel.ts';
import { embedding, gelu, layerNorm, maskedCrossEntropy, qkvAttention } from '../core/model/ops.ts';
import { countDispatches } from '../core/backend/benchmark.ts';
import { AdamW } from '../core/train/adamw.ts';
import { LabSession } from '../core/train/session.ts';
import { CharTokenizer, type CharTokenizerJSON } from '../core/model/tokenizer.ts';
import bundledVocabulary from '../../corpora/vocab.json';

export interface KernelCheck {
  name: string;
  /** Largest |webgpu − cpu| / largest |cpu|, for the value then each gradient. */
  errors: number[];
  /** Whether the WebGPU run dispatched the project's kernel. */
  fusedRan: boolean;
}

function seeded(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return ((s / 2 ** 32) * 2 - 1) * scale;
  });
}

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return a.length === b.length ? diff / (scale || 1) : Infinity;
}

type Spec = { name: string; kernel: string; inputs: { shape: number[]; values: Float32Array | Int32Array; grad: boolean }[]; op: (...xs: tf.Tensor[]) => tf.Tensor };

async function runOn(backend: 'cpu' | 'webgpu', spec: Spec): Promise<{ outs: Float32Array[]; kernels: string[] }> {
  await tf.setBackend(backend);
  setFusedKernels(backend === 'webgpu');
  const tensors = spec.inputs.map((x) => tf.tensor(x.values, x.shape, x.values instanceof Int32Array ? 'int32' : 'float32'));
  const diff = spec.inputs.map((x, i) => [x, i] as const).filter(([x]) => x.grad).map(([, i]) => i);
  const profile = await tf.profile(() => {
    const y = tf.tidy(() => spec.op(...tensors));
    const r = tf.tensor(seeded(y.size, 7), y.shape);
    const grads = tf.grads((...xs: tf.Tensor[]) => {
      const all = tensors.slice();
      diff.forEach((i, k) => (all[i] = xs[k]));
      return tf.sum(tf.mul(spec.op(...all), r));
    })(diff.map((i) => tensors[i]));
    return [y, r, ...grads];
  });
  const [y, r, ...grads] = profile.result as tf.Tensor[];
  const outs = [(await y.data()) as Float32Array, ...(await Promise.all(grads.map((g) => g.data() as Promise<Float32Array>)))];
  tf.dispose([y, r, ...grads, ...tensors]);
  setFusedKernels(true);
  return { outs, kernels: profile.kernelNames };
}

const f = (shape: number[], seed: number, scale = 1, grad = true) => ({ shape, values: seeded(shape.reduce((a, b) => a * b, 1), seed, scale), grad });

export async function checkWebGPUKernels(): Promise<{ adapter: unknown; checks: KernelCheck[]; training: { cpu: number[]; webgpu: number[] }; kernelsPerStep: StepCounts }> {
  const started = await tryWebGPU();
  if (!started.ok) throw new Error(`no WebGPU here: ${started.why}`);
  tf.env().set('WEBGPU_CPU_FORWARD', false); // run every op on the GPU, as in training
  const N = 24;
  const V = 11;
  const specs: Spec[] = [
    { name: 'GELU', kernel: 'LMLabGelu', inputs: [f([N, 40], 1, 6)], op: (x) => gelu(x) },
    { name: 'LayerNorm', kernel: 'LMLabLayerNorm', inputs: [f([N, 32], 2, 3), f([32], 3), f([32], 4)], op: (x, w, b) => layerNorm(x as tf.Tensor2D, w as tf.Tensor1D, b as tf.Tensor1D) },
    {
      name: 'masked cross-entropy', kernel: 'LMLabCrossEntropy',
      inputs: [f([N, V], 5, 8), { shape: [N], values: Int32Array.from({ length: N }, (_, i) => (i * 7) % V), grad: false }, { shape: [N], values: Float32Array.from({ length: N }, (_, i) => (i % 3 ? 1 : 0)), grad: false }],
      op: (lg, t, m) => maskedCrossEntropy(lg as tf.Tensor2D, t as tf.Tensor1D, m as tf.Tensor1D),
    },
    {
      name: 'embedding', kernel: 'LMLabEmbedding',
      inputs: [{ shape: [N], values: Int32Array.from({ length: N }, (_, i) => (i * 5) % V), grad: false }, f([V, 16], 6)],
      op: (ids, t) => embedding(ids as tf.Tensor1D, t as tf.Tensor2D),
    },
    // T = 6 positions of B = 4 sequences, 2 heads of 4 channels: qkv [24, 3·8].
    { name: 'causal attention', kernel: 'LMLabAttention', inputs: [f([N, 24], 7, 2)], op: (qkv) => qkvAttention(qkv as tf.Tensor2D, 6, 2) },
  ];
  const checks: KernelCheck[] = [];
  for (const spec of specs) {
    const ref = await runOn('cpu', spec);
    const gpu = await runOn('webgpu', spec);
    checks.push({ name: spec.name, errors: ref.outs.map((r, i) => relErr(gpu.outs[i], r)), fusedRan: gpu.kernels.includes(spec.kernel) });
  }
  checks.push(await checkAdamW());
  const training = { cpu: await trainLosses('cpu'), webgpu: await trainLosses('webgpu') };
  return { adapter: started.adapter, checks, training, kernelsPerStep: { fused: await stepKernels(true), reference: await stepKernels(false) } };
}

/** What one training step of micro runs, fused and reference: tf.profile's kernels, and compute dispatches. */
export interface StepCounts {
  fused: { kernels: number; dispatches: number };
  reference: { kernels: number; dispatches: number };
}

/** Four AdamW steps with clipping and decay on both backends: parameters and moments. */
async function checkAdamW(): Promise<KernelCheck> {
  const result: Record<string, Float32Array[]> = {};
  let fusedRan = false;
  for (const backend of ['cpu', 'webgpu'] as const) {
    await tf.setBackend(backend);
    setFusedKernels(backend === 'webgpu');
    const params = new Map([
      ['h.0.mlp.c_fc.weight', tf.variable(tf.tensor(seeded(24, 20), [6, 4]))],
      ['h.0.mlp.c_fc.bias', tf.variable(tf.tensor(seeded(6, 21)))],
    ]);
    const opt = new AdamW(params, { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 });
    for (let step = 0; step < 4; step++) {
      const grads = { 'h.0.mlp.c_fc.weight': tf.tensor(seeded(24, 30 + step, 3), [6, 4]), 'h.0.mlp.c_fc.bias': tf.tensor(seeded(6, 40 + step, 3)) };
      const profile = await tf.profile(() => opt.apply(grads, 1e-2, step % 2 ? 0.5 : 1));
      if (backend === 'webgpu') fusedRan ||= profile.kernelNames.includes('LMLabAdamW');
      tf.dispose(Object.values(grads));
    }
    const { m, v } = await opt.moments();
    result[backend] = [...(await Promise.all([...params.values()].map((p) => p.data() as Promise<Float32Array>))), ...m.values(), ...v.values()];
    opt.dispose();
    params.forEach((p) => p.dispose());
    setFusedKernels(true);
  }
  return { name: 'AdamW with clipping', errors: result.cpu.map((r, i) => relErr(result.webgpu[i], r)), fusedRan };
}

function microSession(): LabSession {
  const tokenizer = CharTokenizer.fromJSON(bundledVocabulary as CharTokenizerJSON);
  const text = 'Once upon a time there was a little fox who lived by the river. Every day the fox ran to the water. '.repeat(20);
  const corpus = { name: 'check', train: tokenizer.encode(text), val: tokenizer.encode(text.slice(0, 400)) };
  return LabSession.create({ preset: 'micro', corpus, tokenizer, train: { steps: 20, evalInterval: 1_000_000, seed: 4 } });
}

/**
 * The same 20 steps on the wasm backend with the project's kernels (its SIMD matmul among them),
 * and whether its heap is shared (threads: a cross-origin isolated page), which selects the
 * shared-memory build of the SIMD module. Compared with the cpu losses of `checkWebGPUKernels`.
 */
export async function wasmTrainingLosses(): Promise<{ threads: boolean; losses: number[] }> {
  if (!(await tryWasm())) throw new Error('the wasm backend did not start');
  return { threads: wasmThreads(), losses: await trainLosses('wasm') };
}

/** 20 training steps of micro: the reference ops on cpu, the project's kernels on WebGPU (or wasm). */
async function trainLosses(backend: 'cpu' | 'webgpu' | 'wasm'): Promise<number[]> {
  await tf.setBackend(backend);
  setFusedKernels(backend !== 'cpu');
  const session = microSession();
  const losses: number[] = [];
  try {
    for (let i = 0; i < 20; i++) losses.push((await session.step()).result.loss);
  } finally {
    session.dispose();
    setFusedKernels(true);
  }
  return losses;
}

/** Kernels and dispatches of one WebGPU training step of micro, as `npm run bench` counts them. */
async function stepKernels(fused: boolean): Promise<{ kernels: number; dispatches: number }> {
  await tf.setBackend('webgpu');
  setFusedKernels(fused);
  const session = microSession();
  try {
    await session.step();
    const profile = await tf.profile(async () => {
      await session.step();
    });
    const dispatches = (await countDispatches(() => session.step())) ?? NaN;
    return { kernels: profile.kernels.length, dispatches };
  } finally {
    session.dispose();
    setFusedKernels(true);
  }
}
