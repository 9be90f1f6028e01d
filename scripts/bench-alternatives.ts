/**
 * What the per-token alternatives cost a batched decode: RL's sampling shape (rows × new tokens on
 * a preset's fresh model, temperature 1, no top-k) timed with the alternatives off and with five,
 * alternating, on wasm. The alternatives are read off logits each step already has, so only the
 * JavaScript passes over the vocabulary are added; this measures them.
 *   npx tsx scripts/bench-alternatives.ts [preset] [rows] [tokens] [repeats]
 */
import { selectBackend } from '../src/core/backend/backend.ts';
import { modelConfig, type PresetName } from '../src/core/model/config.ts';
import { sampleBatch } from '../src/core/model/decode.ts';
import { GPT } from '../src/core/model/model.ts';
import { bundledTokenizer } from '../cli/corpora.ts';

const [preset = 'tiny', rows = '32', tokens = '48', repeats = '5'] = process.argv.slice(2);
await selectBackend('wasm');
const tok = bundledTokenizer();
const model = GPT.init(modelConfig(preset as PresetName, tok.vocabSize), 1);
const prompts = Array.from({ length: Number(rows) }, (_, i) => Int32Array.from(tok.encode(`Count to ${i % 10}.`)));
const time = async (alternatives: number) => {
  const t0 = performance.now();
  await sampleBatch(model, prompts, { maxNewTokens: Number(tokens), temperature: 1, topK: 0, seed: 1, alternatives });
  return performance.now() - t0;
};
await time(0);
await time(5); // warm-up
const off: number[] = [];
const on: number[] = [];
for (let r = 0; r < Number(repeats); r++) {
  off.push(await time(0));
  on.push(await time(5));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(JSON.stringify({ preset, rows: Number(rows), tokens: Number(tokens), vocab: tok.vocabSize, offMs: median(off), onMs: median(on), added: median(on) / median(off) - 1 }));
model.dispose();
