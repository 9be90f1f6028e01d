/**
 * The worker's lab API driven in Node: the bundled corpora read from disk, a fake IndexedDB, the
 * cpu backend, and the updates the page would receive collected for the test to read.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createLabApi } from '../src/lab/api.ts';
import type { ChatFile } from '../src/lab/chat-data.ts';
import type { LabUpdate, MetricRow } from '../src/lab/types.ts';
import { type LabDB, openLabStore } from '../src/storage/index.ts';

export const CORPORA = resolve(import.meta.dirname, '../corpora');

export type LabApi = ReturnType<typeof createLabApi>;

/**
 * A lab over `factory`'s (a fake-indexeddb IDBFactory's) database `dbName`; opening it again on the
 * same factory is a reload. `wrapStore` sees (and may wrap) the database the lab opens; `loadCrawl`
 * gives the Data stage other documents than the bundled crawl; `loadTales` other tales (a slice, for speed).
 */
export async function openLab(factory: IDBFactory, dbName: string, wrapStore: (db: LabDB) => LabDB = (db) => db, loadCrawl = () => readFile(`${CORPORA}/crawl/docs.jsonl`, 'utf8'), loadTales = bundledTales) {
  const api = createLabApi({
    loadBundledCorpus: loadTales,
    loadChatData: (file: ChatFile) => readFile(`${CORPORA}/chat/${file}.jsonl`, 'utf8'),
    loadCrawl,
    openStore: async () => wrapStore(await openLabStore(dbName, factory)),
    logInterval: 5,
  });
  const updates: LabUpdate[] = [];
  api.subscribe((u) => updates.push(u));
  await api.init('cpu');
  const rows = (): MetricRow[] => {
    let out: MetricRow[] = [];
    for (const u of updates) if (u.rows) out = u.resetRows ? [...u.rows] : out.concat(u.rows);
    return out;
  };
  const run = () => [...updates].reverse().find((u) => u.run)?.run;
  const notices = () => updates.filter((u) => u.notice).map((u) => u.notice!.text);
  return { api, rows, run, notices, updates };
}

/** The bundled tales' two files. */
export async function bundledTales(): Promise<{ train: string; val: string }> {
  return { train: await readFile(`${CORPORA}/tales/train.txt`, 'utf8'), val: await readFile(`${CORPORA}/tales/val.txt`, 'utf8') };
}

/** Resolves once the lab is neither running nor loading (a stage or run has finished). */
export async function finished(api: LabApi, timeoutMs = 240_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (api.status() === 'running' || api.status() === 'loading') {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
