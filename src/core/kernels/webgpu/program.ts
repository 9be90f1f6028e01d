/**
 * The few lines every WebGPU kernel of the project shares: a tfjs `WebGPUProgram` that runs
 * `threads` invocations of a WGSL body (64 to a workgroup), each with its flat `index`, and a
 * registration that maps a kernel of the wasm contract (kernels/wasm/*.ts: same name, inputs and
 * outputs) onto one or more such programs.
 *
 * In the WGSL bodies, inputs are the arrays named in `variableNames` (f32, or i32 for int32
 * tensors), the output is `result`, and per-dispatch numbers are `uniforms.<name>`. A body must
 * read every input it is given: the pipeline's automatic layout drops an unread binding, and the
 * dispatch then fails validation and writes nothing. Sizes that fix a
 * loop's shape are baked into the code and into `shaderKey`, so tfjs caches one pipeline per shape.
 */
import * as tf from '@tensorflow/tfjs';
import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu/dist/webgpu_program';

const WORKGROUP = 64;

export interface Uniform {
  name: string;
  type: 'float32' | 'int32';
  value: number;
}

export interface WebGPUBackendLike {
  runWebGPUProgram(program: WebGPUProgram, inputs: tf.TensorInfo[], dtype: 'float32', uniforms?: { type: string; data: number[] }[]): tf.TensorInfo;
}

/** A WGSL float literal (always with a decimal point or exponent). */
export const f32 = (x: number): string => {
  const s = String(Math.fround(x));
  return /[.e]/.test(s) ? s : `${s}.0`;
};

/**
 * Runs `body` for index ∈ [0, threads) and returns the output tensor of `outputShape`.
 * `key` must name everything baked into `body`.
 */
export function runProgram(
  backend: WebGPUBackendLike,
  opts: { key: string; outputShape: number[]; threads: number; inputs: [string, tf.TensorInfo][]; uniforms?: Uniform[]; body: string; helpers?: string },
): tf.TensorInfo {
  // `threads` is always a uniform: the shader must read its uniform buffer, or the pipeline's
  // automatic layout drops that binding and tfjs's bind group no longer matches it.
  const uniforms: Uniform[] = [{ name: 'threads', type: 'int32', value: opts.threads }, ...(opts.uniforms ?? [])];
  const program: WebGPUProgram = {
    outputShape: opts.outputShape,
    shaderKey: `lmlab_${opts.key}`,
    dispatchLayout: { x: [0] },
    dispatch: [Math.ceil(opts.threads / WORKGROUP), 1, 1],
    variableNames: opts.inputs.map(([n]) => n),
    workgroupSize: [WORKGROUP, 1, 1],
    uniforms: uniforms.map((u) => `${u.name} : ${u.type === 'float32' ? 'f32' : 'i32'},`).join(' '),
    getUserCode: () => `
      ${opts.helpers ?? ''}
      fn main(index : i32) {
        if (index >= uniforms.threads) { return; }
        ${opts.body}
      }`,
  };
  return backend.runWebGPUProgram(program, opts.inputs.map(([, t]) => t), 'float32', uniforms.map((u) => ({ type: u.type, data: [u.value] })));
}

export interface WebGPUKernel<Attrs = Record<string, unknown>> {
  name: string;
  inputs?: string[];
  run(backend: WebGPUBackendLike, inputs: tf.TensorInfo[], attrs: Attrs): tf.TensorInfo[];
}

export function registerWebGPUKernel<A>(k: WebGPUKernel<A>): void {
  if (tf.getKernel(k.name, 'webgpu')) return;
  tf.registerKernel({
    kernelName: k.name,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) =>
      k.run(backend as unknown as WebGPUBackendLike, (k.inputs ?? Object.keys(inputs)).map((n) => inputs[n] as tf.TensorInfo), attrs as A),
  });
}

/** exp-free erf of Abramowitz & Stegun 7.1.28 (|error| ≤ 3e-7): one polynomial, four squarings and a division, cheap on a GPU. */
export const ERF_WGSL = `
  fn erf_as(x : f32) -> f32 {
    let a = abs(x);
    var t = 1.0 + a * (0.0705230784 + a * (0.0422820123 + a * (0.0092705272 + a * (0.0001520143 + a * (0.0002765672 + a * 0.0000430638)))));
    t = t * t; t = t * t; t = t * t; t = t * t;
    let r = 1.0 - 1.0 / t;
    return select(r, -r, x < 0.0);
  }`;
