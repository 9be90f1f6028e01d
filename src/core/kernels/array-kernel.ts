/**
 * Kernels written as plain loops over typed arrays, registered with tfjs for the wasm backend
 * (their WebGPU versions, under the same names and contracts, are in webgpu/).
 *
 * Why: on wasm every tfjs kernel is a dispatch through the engine (tape, bookkeeping, a heap
 * allocation), and a chain such as GELU's seven elementwise ops makes seven passes over memory.
 * One loop over views into the wasm heap does the whole chain in one pass and one dispatch. The
 * matrix products have their own kernel in WebAssembly SIMD (wasm/matmul.ts); these take
 * everything around them.
 *
 * Each kernel lives in its own file under wasm/ with its formula and shapes, next to the tfjs-op
 * version in model/ops.ts, which stays the reference and the fallback on every other backend
 * (and everywhere, with `setFusedKernels(false)`). A kernel whose loops pay to compile (LayerNorm,
 * GELU) also has an `inHeap` version in the project's WebAssembly module (wasm-simd/), which
 * works on the same tensors by address; its JavaScript `run` stays as the readable statement of
 * what it computes, and tests hold the two together.
 */
import * as tf from '@tensorflow/tfjs';
import { heapOf, heapTable, simdFor, type SimdKernels, type WasmModuleLike } from './wasm/simd.ts';

export type Arrays = (Float32Array | Int32Array)[];

export interface ArrayKernel<Attrs = Record<string, unknown>> {
  /** The tfjs kernel name, unique to this project. */
  name: string;
  /** Names of the inputs, in the order `run` receives them; absent: every input, in the order given. */
  inputs?: string[];
  /** Output shapes (all float32) from the input shapes. */
  outputShapes(inputShapes: number[][], attrs: Attrs): number[][];
  /** Fills `outputs` (zeroed) from `inputs`. */
  run(inputs: Arrays, outputs: Float32Array[], inputShapes: number[][], attrs: Attrs): void;
  /**
   * The same as `run`, by the WebAssembly module on the tfjs heap: inputs and outputs (zeroed) are
   * byte addresses there. Returns false for a shape it does not take, and `run` does it instead.
   */
  inHeap?(heap: Heap, inputs: number[], outputs: number[], inputShapes: number[][], attrs: Attrs): boolean;
}

/** What an `inHeap` kernel gets: the module bound to the heap, and constant tables copied into it. */
export interface Heap {
  kernels: SimdKernels;
  /** The byte address of table `name`, made and copied into the heap on first use. */
  table(name: string, make: () => Float64Array): number;
}

interface WasmBackendLike {
  wasm: WasmModuleLike;
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array;
}

function heapFor(wasm: WasmModuleLike): Heap {
  return { kernels: simdFor(heapOf(wasm)), table: (name, make) => heapTable(wasm, name, make) };
}

/** Registers `k` for the wasm backend. Outputs are allocated first: an allocation can grow the heap and detach earlier views. */
export function registerArrayKernel<A>(k: ArrayKernel<A>): void {
  if (tf.getKernel(k.name, 'wasm')) return;
  tf.registerKernel({
    kernelName: k.name,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const wasm = backend as unknown as WasmBackendLike;
      const infos = (k.inputs ?? Object.keys(inputs)).map((n) => inputs[n] as tf.TensorInfo);
      const shapes = infos.map((t) => t.shape);
      const outs = k.outputShapes(shapes, attrs as A).map((s) => wasm.makeOutput(s, 'float32'));
      const outViews = outs.map((o) => wasm.typedArrayFromHeap(o) as Float32Array);
      for (const v of outViews) v.fill(0);
      const inViews = infos.map((t) => wasm.typedArrayFromHeap(t));
      const address = (v: Float32Array | Int32Array) => v.byteOffset;
      const done = k.inHeap?.(heapFor(wasm.wasm), inViews.map(address), outViews.map(address), shapes, attrs as A) ?? false;
      // Views taken again: a table copied in on first use may have grown the heap and detached them.
      if (!done) k.run(infos.map((t) => wasm.typedArrayFromHeap(t)), outs.map((o) => wasm.typedArrayFromHeap(o) as Float32Array), shapes, attrs as A);
      return outs;
    },
  });
}

let fusedEnabled = true;

/** Turns the project's own kernels off (everything runs the tfjs-op reference) or back on. */
export function setFusedKernels(on: boolean): void {
  fusedEnabled = on;
}

/** Whether the active backend runs kernel `name` of this project. */
export function fusedAvailable(name: string): boolean {
  return fusedEnabled && tf.getKernel(name, tf.getBackend()) !== undefined;
}

/** Runs a registered kernel: inputs in the kernel's order, one tensor per output. */
export function runFused(k: { name: string; inputs?: string[] }, inputs: tf.Tensor[], attrs: Record<string, unknown> = {}): tf.Tensor[] {
  const named: tf.NamedTensorMap = {};
  inputs.forEach((t, i) => (named[k.inputs?.[i] ?? `in${i}`] = t));
  const out = tf.engine().runKernel(k.name, named, attrs as never) as tf.Tensor | tf.Tensor[];
  return Array.isArray(out) ? out : [out];
}
