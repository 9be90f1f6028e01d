import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { GPT } from './src/core/model.ts';
import { defaultTrainConfig, modelConfig } from './src/core/config.ts';
import { Trainer } from './src/core/trainer.ts';
import { corpusFromText } from './src/core/data.ts';
await tf.setBackend(process.argv[2] ?? 'wasm'); await tf.ready();
let text = ''; const words = ['the', 'cat', 'sat', 'on', 'a', 'mat', 'dog', 'ran', 'far', 'away', 'and', 'then'];
for (let i = 0; i < 40000; i++) text += words[(i * 7 + (i >> 3)) % words.length] + (i % 9 === 0 ? '. ' : ' ');
const { corpus, tokenizer } = corpusFromText('t', text);
const cfg = modelConfig('tiny', tokenizer.vocabSize);
const model = GPT.init(cfg, 1);
const trainer = new Trainer(model, defaultTrainConfig('tiny', { steps: 1000 }), corpus);
for (let i = 0; i < 3; i++) await trainer.trainStep();
const n0 = tf.memory().numTensors;
const times: number[] = [];
let kernels = 0;
const prof = await tf.profile(async () => { await trainer.trainStep(); });
kernels = prof.kernels.length;
const byName = new Map<string, [number, number]>();
for (const k of prof.kernels) { const e = byName.get(k.name) ?? [0, 0]; e[0]++; e[1] += k.kernelTimeMs as number; byName.set(k.name, e); }
for (let i = 0; i < 15; i++) { const t = performance.now(); const r = await trainer.trainStep(); times.push(performance.now() - t); if (i % 5 == 0) console.log(r.loss.toFixed(3), r.gradNorm.toFixed(3)); }
times.sort((a, b) => a - b);
console.log('median ms', times[7].toFixed(1), 'tok/s', (16 * 64 / times[7] * 1000).toFixed(0), 'kernels', kernels, 'tensors', n0, tf.memory().numTensors);
console.log([...byName].sort((a, b) => b[1][1] - a[1][1]).slice(0, 20).map(([k, [c, t]]) => `${k}:${c}:${t.toFixed(1)}`).join('  '));
const agg = new Map<string, [number, number]>();
for (const k of prof.kernels) { if (!['Transpose','BatchMatMul','_FusedMatMul','Sum','Erf','Exp','Softmax'].includes(k.name)) continue; const key = k.name + ' ' + JSON.stringify(k.inputShapes) + ' ' + (k.extraInfo ?? ''); const e = agg.get(key) ?? [0, 0]; e[0]++; e[1] += k.kernelTimeMs as number; agg.set(key, e); }
for (const [k, [c, t]] of [...agg].sort((a, b) => b[1][1] - a[1][1]).slice(0, 30)) console.log(t.toFixed(2).padStart(7), c, k);
