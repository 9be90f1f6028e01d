/**
 * Regenerate every bundled data file from fixed seeds:
 *
 *   npx tsx corpora/generate.ts
 *
 * The output depends only on the seeds below and the generator code, so running it twice gives
 * byte-identical files, and a change to a generator shows up as a diff of the data.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateDpo, generateSft, toJsonl } from './chat.ts';
import { crawlJsonl, generateCrawl } from './crawl.ts';
import { generateTales, talesText } from './tales.ts';
import { CharTokenizer } from '../src/core/model/tokenizer.ts';

// Each file has its own seed, so the splits are separate random streams.
const SEEDS = { talesTrain: 1, talesVal: 2, sftTrain: 11, sftVal: 12, dpoTrain: 21, dpoVal: 22, crawl: 31 };

const TALES_TRAIN_CHARS = 1_900_000;
const TALES_VAL_CHARS = 150_000;
const CRAWL_CHARS = 1_800_000;

/** Every generated file, by its path relative to corpora/. */
export function buildCorpora(): Record<string, string> {
  const train = generateTales(SEEDS.talesTrain, TALES_TRAIN_CHARS);
  const val = generateTales(SEEDS.talesVal, TALES_VAL_CHARS, new Set(train));
  const sft = { train: generateSft('train', 3000, SEEDS.sftTrain), val: generateSft('val', 200, SEEDS.sftVal) };
  const dpo = { train: generateDpo('train', 2000, SEEDS.dpoTrain), val: generateDpo('val', 200, SEEDS.dpoVal) };
  const files: Record<string, string> = {
    'tales/train.txt': talesText(train),
    'tales/val.txt': talesText(val),
    'chat/sft_train.jsonl': toJsonl(sft.train),
    'chat/sft_val.jsonl': toJsonl(sft.val),
    'chat/dpo_train.jsonl': toJsonl(dpo.train),
    'chat/dpo_val.jsonl': toJsonl(dpo.val),
    'crawl/docs.jsonl': crawlJsonl(generateCrawl(SEEDS.crawl, CRAWL_CHARS)),
  };
  // One vocabulary for the bundled data: the stories' characters plus those only the chat data
  // uses (digits for arithmetic), so a model pretrained on the tales can be fine-tuned on the chat.
  const chatText = [...sft.train, ...sft.val].flatMap((e) => e.messages.map((m) => m.content))
    .concat([...dpo.train, ...dpo.val].flatMap((e) => [...e.prompt.map((m) => m.content), e.chosen, e.rejected]));
  const tokenizer = CharTokenizer.fromText(files['tales/train.txt'] + files['tales/val.txt'] + chatText.join(''));
  files['vocab.json'] = JSON.stringify(tokenizer.toJSON()) + '\n';
  return files;
}

function main(): void {
  const root = dirname(fileURLToPath(import.meta.url));
  for (const [path, text] of Object.entries(buildCorpora())) {
    const file = join(root, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    console.log(`${path.padEnd(22)} ${(text.length / 1024).toFixed(0).padStart(5)} KB  ${text.split('\n').length - 1} lines`);
  }
}

// Run only when executed directly, so tests can import buildCorpora.
if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) main();
