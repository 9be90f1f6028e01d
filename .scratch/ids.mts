import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { LabSession } from '../src/core/train/session.ts';
import { tinyCorpus } from '../tests/helpers.ts';
await tf.setBackend('wasm');
const { corpus, tokenizer } = tinyCorpus();
const s = LabSession.create({ preset: 'micro', corpus, tokenizer, train: { steps: 100, evalInterval: 1000 } });
await s.step();
const p = await tf.profile(async () => { await s.step(); });
const counts = new Map<string, number>();
for (const k of p.kernels) { const key = `${k.name} ${JSON.stringify(k.inputShapes)}`; counts.set(key, (counts.get(key) ?? 0) + 1); }
console.log(p.kernels.length);
for (const [k, c] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(c, k);
