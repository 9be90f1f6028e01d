/**
 * Kernel workarounds applied in the worker after the backend is chosen.
 *
 * WebGPU's AddN binds every input as a storage buffer, and devices may allow as few as 8 storage
 * buffers per shader stage (SwiftShader does). The global gradient norm adds one term per
 * parameter (28 for the micro model), so the pipeline is invalid and every later command fails.
 * Here AddN adds at most `maxInputs` tensors per dispatch and sums the partial sums the same way.
 */
import * as tf from '@tensorflow/tfjs';

type KernelFunc = tf.KernelConfig['kernelFunc'];
type KernelArgs = Parameters<KernelFunc>[0];

export function limitAddNInputs(backendName: string, maxInputs: number): boolean {
  const original = tf.getKernel('AddN', backendName);
  if (!original || (original as { limited?: boolean }).limited) return false;
  const addN = (inputs: tf.TensorInfo[], args: KernelArgs) =>
    original.kernelFunc({ ...args, inputs: inputs as unknown as tf.NamedTensorInfoMap }) as tf.TensorInfo;

  const kernelFunc: KernelFunc = (args) => {
    let parts = Object.values(args.inputs) as tf.TensorInfo[];
    if (parts.length <= maxInputs) return addN(parts, args);
    const partials: tf.TensorInfo[] = [];
    while (parts.length > maxInputs) {
      const next: tf.TensorInfo[] = [];
      for (let i = 0; i < parts.length; i += maxInputs) {
        const chunk = parts.slice(i, i + maxInputs);
        const sum = chunk.length === 1 ? chunk[0] : addN(chunk, args);
        if (chunk.length > 1) partials.push(sum);
        next.push(sum);
      }
      parts = next;
    }
    const result = addN(parts, args);
    for (const t of partials) (args.backend as tf.KernelBackend).disposeData(t.dataId);
    return result;
  };
  tf.unregisterKernel('AddN', backendName);
  tf.registerKernel({ kernelName: 'AddN', backendName, kernelFunc, limited: true } as tf.KernelConfig);
  return true;
}

/** Applies the workarounds the active backend needs. */
export function applyKernelFixes(backendName: string): void {
  if (backendName === 'webgpu') limitAddNInputs('webgpu', 7);
}
