/**
 * Registers the project's own kernels with tfjs (once, on import). ops.ts and the optimizer use
 * one only where `fusedAvailable` says the active backend has it, and the tfjs-op reference otherwise.
 */
import { registerArrayKernel } from './array-kernel.ts';
import { adamwKernel } from './wasm/adamw.ts';
import { crossEntropyGradKernel, crossEntropyKernel } from './wasm/crossentropy.ts';
import { embeddingGradKernel, embeddingKernel } from './wasm/embedding.ts';
import { geluSlopeKernel } from './wasm/gelu.ts';
import { layerNormGradKernel, layerNormKernel } from './wasm/layernorm.ts';
import { registerMatMulKernel } from './wasm/matmul.ts';

for (const k of [adamwKernel, crossEntropyKernel, crossEntropyGradKernel, embeddingKernel, embeddingGradKernel, geluSlopeKernel, layerNormKernel, layerNormGradKernel]) {
  registerArrayKernel(k as never);
}
registerMatMulKernel();
