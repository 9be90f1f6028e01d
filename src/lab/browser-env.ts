/**
 * The worker's surroundings in a browser: the bundled corpus is fetched on first use (so the page
 * itself stays light), checkpoints live in the browser's IndexedDB, the wasm backend is told
 * where the bundler put its .wasm files, and helper workers share the wasm training steps.
 */
import './wasm-paths.ts';
import talesTrain from '../../corpora/tales/train.txt?url';
import talesVal from '../../corpora/tales/val.txt?url';
import dpoTrain from '../../corpora/chat/dpo_train.jsonl?url';
import dpoVal from '../../corpora/chat/dpo_val.jsonl?url';
import sftTrain from '../../corpora/chat/sft_train.jsonl?url';
import sftVal from '../../corpora/chat/sft_val.jsonl?url';
import crawlDocs from '../../corpora/crawl/docs.jsonl?url';
import { openLabStore } from '../storage/index.ts';
import type { LabEnv } from './runner.ts';
import type { ChatFile, StageEnv } from './chat-data.ts';
import type { DataEnv } from './data.ts';
import { gradientWorkerCount, startGradientWorkers } from './gradient-workers.ts';

async function fetchText(url: string): Promise<string> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`Could not load ${url}: HTTP ${response.status}`);
  return response.text();
}

const CHAT_FILES: Record<ChatFile, string> = { sft_train: sftTrain, sft_val: sftVal, dpo_train: dpoTrain, dpo_val: dpoVal };

export const browserEnv: LabEnv & StageEnv & DataEnv = {
  async loadBundledCorpus() {
    const [train, val] = await Promise.all([fetchText(talesTrain), fetchText(talesVal)]);
    return { train, val };
  },
  loadChatData: (file) => fetchText(CHAT_FILES[file]),
  loadCrawl: () => fetchText(crawlDocs),
  openStore: () => openLabStore(),
  logInterval: 250,
  gradientHelpers: { count: gradientWorkerCount, start: startGradientWorkers },
};
