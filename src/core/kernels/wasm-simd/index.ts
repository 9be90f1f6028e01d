/**
 * The project's WebAssembly SIMD module: every kernel of this folder, built by `npm run build:simd`
 * into one binary (../wasm/simd-module.ts), instantiated once per wasm heap by ../wasm/simd.ts.
 */
export { gemm, scratchBytes } from './gemm';
export { geluSlope } from './gelu';
export { layerNorm, layerNormGrad } from './layernorm';
