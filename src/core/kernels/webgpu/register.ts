/**
 * Registers the project's WebGPU kernels with tfjs; imported once the WebGPU backend has loaded
 * (core/backend/backend.ts), so that pages without WebGPU never load its code.
 */
import { registerWebGPUKernel } from './program.ts';
import { adamwWebGPU } from './adamw.ts';
import { attentionGradWebGPU, attentionWebGPU } from './attention.ts';
import { crossEntropyGradWebGPU, crossEntropyWebGPU } from './crossentropy.ts';
import { embeddingGradWebGPU, embeddingWebGPU } from './embedding.ts';
import { geluGradWebGPU, geluWebGPU } from './gelu.ts';
import { layerNormGradWebGPU, layerNormWebGPU } from './layernorm.ts';

for (const k of [adamwWebGPU, attentionWebGPU, attentionGradWebGPU, crossEntropyWebGPU, crossEntropyGradWebGPU, embeddingWebGPU, embeddingGradWebGPU, geluWebGPU, geluGradWebGPU, layerNormWebGPU, layerNormGradWebGPU]) {
  registerWebGPUKernel(k as never);
}
