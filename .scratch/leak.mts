import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { setFusedKernels } from '../src/core/kernels/array-kernel.ts';
import { LabSession } from '../src/core/train/session.ts';
import { tinyCorpus } from '../tests/helpers.ts';
await tf.setBackend('wasm');
const { corpus, tokenizer } = tinyCorpus();
for (const fused of [false, true]) {
  setFusedKernels(fused);
  for (let r = 0; r < 3; r++) {
    const before = tf.memory().numTensors;
    const s = LabSession.create({ preset: 'micro', corpus, tokenizer, train: { steps: 100, evalInterval: 1000 } });
    const mid = tf.memory().numTensors;
    await s.step(); const a = tf.memory().numTensors; await s.step(); const b = tf.memory().numTensors;
    s.dispose();
    console.log('fused', fused, 'before', before, 'created', mid - before, 'step1', a - mid, 'step2', b - a, 'after dispose', tf.memory().numTensors - before);
  }
}
