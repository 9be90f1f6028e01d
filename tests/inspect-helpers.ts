/** Models and sequences shared by the inspection tests (tests/inspect-*.test.ts). */
import { modelConfig } from '../src/core/model/config.ts';
import { GPT, initialValues } from '../src/core/model/model.ts';
import { Random } from '../src/core/random.ts';

export const VOCAB = 40;

/** A micro model (block 16, 2 layers, 2 heads) with weights scaled up so it is far from uniform. */
export function peakedModel(seed: number, qkLayerNorm = false): GPT {
  const config = modelConfig('micro', VOCAB, { qkLayerNorm });
  const values = initialValues(config, seed);
  for (const [name, v] of values) if (/(wte|wpe|c_attn|c_fc)\.weight$/.test(name)) v.forEach((x, i) => (v[i] = x * 10));
  return new GPT(config, values);
}

export function randomIds(length: number, seed: number, vocab = VOCAB): number[] {
  const rng = new Random(seed);
  return Array.from({ length }, () => rng.int(vocab));
}
