/**
 * The project's WebAssembly module (../wasm-simd/, built into simd-module.ts), instantiated once
 * per wasm heap (the training worker's, each gradient helper's) on that heap's own memory, so its
 * kernels read and write tfjs tensors where they lie, by byte address.
 */
import { SIMD_WASM, SIMD_WASM_SHARED } from './simd-module.ts';

/** The module's exports; addresses are byte offsets into the heap. */
export interface SimdKernels {
  gemm(...args: number[]): void;
  /** Bytes of scratch `gemm` needs for an N-column, K-deep product. */
  scratchBytes(N: number, K: number): number;
  layerNorm(N: number, C: number, x: number, w: number, b: number, y: number, mean: number, rstd: number): void;
  layerNormGrad(N: number, C: number, dy: number, x: number, w: number, mean: number, rstd: number, dx: number, dw: number, db: number): void;
  geluSlope(n: number, x: number, y: number, slope: number, table: number, range: number, perUnit: number): void;
}

/** What the kernels need of the tfjs wasm backend's module. */
export interface WasmModuleLike {
  /** The heap: exported by the single-threaded build, created by the threaded build and kept on the module. */
  asm: { memory?: WebAssembly.Memory };
  wasmMemory?: WebAssembly.Memory;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
}

const instances = new WeakMap<WebAssembly.Memory, SimdKernels>();

/** The heap of a tfjs wasm backend's module. */
export function heapOf(wasm: WasmModuleLike): WebAssembly.Memory {
  const memory = wasm.asm.memory ?? wasm.wasmMemory;
  if (!(memory instanceof WebAssembly.Memory)) throw new Error('the wasm backend\'s memory is not reachable');
  return memory;
}

/** The kernels bound to this heap: compiled once per memory. */
export function simdFor(memory: WebAssembly.Memory): SimdKernels {
  let kernels = instances.get(memory);
  if (!kernels) {
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    const bytes = Uint8Array.from(atob(shared ? SIMD_WASM_SHARED : SIMD_WASM), (ch) => ch.charCodeAt(0));
    kernels = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports as unknown as SimdKernels;
    instances.set(memory, kernels);
  }
  return kernels;
}

const tables = new WeakMap<WebAssembly.Memory, Map<string, number>>();

/**
 * The address of a constant table copied into the heap, once per memory and name (GELU's 512 KB):
 * it stays for the heap's life, as the module's code does.
 */
export function heapTable(wasm: WasmModuleLike, name: string, make: () => Float64Array): number {
  const memory = heapOf(wasm);
  let named = tables.get(memory);
  if (!named) tables.set(memory, (named = new Map()));
  let address = named.get(name);
  if (address === undefined) {
    const values = make();
    address = wasm._malloc(values.byteLength);
    new Float64Array(memory.buffer, address, values.length).set(values); // a fresh view: the allocation may have grown the heap
    named.set(name, address);
  }
  return address;
}
