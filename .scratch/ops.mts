import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { setFusedKernels } from '../src/core/kernels/array-kernel.ts';
import { gelu, layerNorm, transpose, maskedCrossEntropy } from '../src/core/model/ops.ts';
await tf.setBackend('wasm');
const N = Number(process.argv[2] ?? 4096), C = Number(process.argv[3] ?? 128);
const x = tf.randomNormal([N, 4 * C]) as tf.Tensor2D;
const xc = tf.randomNormal([N, C]) as tf.Tensor2D;
const w = tf.ones([C]) as tf.Tensor1D, b = tf.zeros([C]) as tf.Tensor1D;
const t3 = tf.randomNormal([128, 128, 32]) as tf.Tensor3D;
const logits = tf.randomNormal([N, 72]) as tf.Tensor2D;
const tg = tf.randInt ? null : null;
const targets = tf.tensor1d(Array.from({ length: N }, (_, i) => i % 72), 'int32'), mask = tf.ones([N]) as tf.Tensor1D;
const cases: [string, () => tf.Tensor | tf.Tensor[]][] = [
  ['gelu fwd', () => gelu(x)],
  ['gelu fwd+bwd', () => tf.grad((a: tf.Tensor) => tf.sum(gelu(a)))(x)],
  ['layernorm fwd+bwd', () => tf.grads((a: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(layerNorm(a as tf.Tensor2D, ww as tf.Tensor1D, bb as tf.Tensor1D)))([xc, w, b])],
  ['transpose [N,C]', () => transpose(xc)],
  ['transpose [N,4C]', () => transpose(x)],
  ['transpose 3d 021', () => transpose(t3, [0, 2, 1])],
  ['transpose 3d 210', () => transpose(t3, [2, 1, 0])],
  ['ce fwd+bwd', () => tf.grad((l: tf.Tensor) => maskedCrossEntropy(l as tf.Tensor2D, targets, mask))(logits)],
];
for (const [name, f] of cases) {
  const best: Record<string, number> = { ref: 1e9, fused: 1e9 };
  for (let r = 0; r < 15; r++) for (const v of ['ref', 'fused']) {
    setFusedKernels(v === 'fused');
    const t0 = performance.now(); const out = f(); const d = performance.now() - t0; tf.dispose(out);
    best[v] = Math.min(best[v], d);
  }
  console.log(name.padEnd(20), 'ref', best.ref.toFixed(2), 'fused', best.fused.toFixed(2));
}
