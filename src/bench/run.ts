/** Worker side of the browser benchmark: the same measurement as `npm run bench`, on the page's backends. */
import { selectBackend, type BackendName } from '../core/backend/backend.ts';
import { benchmarkPreset, type BenchRow } from '../core/backend/benchmark.ts';
import { isPresetName } from '../core/model/config.ts';
import { CharTokenizer, type TokenizerJSON } from '../core/model/tokenizer.ts';
import { browserEnv } from '../lab/browser-env.ts';
import bundledVocabulary from '../../corpora/vocab.json';

export async function runBrowserBench(backend: BackendName, presets: string[], steps: number): Promise<BenchRow[]> {
  const info = await selectBackend(backend);
  if (info.backend !== backend) throw new Error(`${backend} is not available in this browser (${info.reason})`);
  const tokenizer = CharTokenizer.fromJSON(bundledVocabulary as TokenizerJSON);
  const { train, val } = await browserEnv.loadBundledCorpus('tales');
  const corpus = { name: 'tales', train: tokenizer.encode(train), val: tokenizer.encode(val) };
  const rows: BenchRow[] = [];
  for (const preset of presets) {
    if (!isPresetName(preset)) throw new Error(`unknown preset "${preset}"`);
    rows.push(await benchmarkPreset(preset, corpus, tokenizer, steps));
  }
  return rows;
}
