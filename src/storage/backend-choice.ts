/**
 * The measured backend choice, remembered per preset and adapter: timing the backends takes a few
 * seconds (more on a software GPU), so `auto` measures once and reuses the answer until the
 * student asks to measure again or the adapter changes.
 *
 * Its own small database (`lm-lab-backend`, version 1, one store) rather than a store in the lab's:
 * it holds nothing a run needs, so it can be dropped or rebuilt without touching the lab's schema
 * or its upgrade path.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';

export const CHOICE_DB_NAME = 'lm-lab-backend';
export const CHOICE_SCHEMA_VERSION = 1;

export interface BackendMeasurementRecord {
  backend: string;
  /** Tokens per second over the timed steps; null when the backend did not start or failed. */
  tokensPerSec: number | null;
  note?: string;
}

export interface BackendChoiceRecord {
  key: string; // `${preset}|${adapter}`
  backend: string;
  measurements: BackendMeasurementRecord[];
  measuredAt: number; // ms since the epoch
  /** WebGPU checked against WebAssembly on this adapter and preset (absent when WebGPU was not the faster). */
  agreement?: { agree: boolean; summary: string; preset: string };
}

interface ChoiceSchema extends DBSchema {
  choices: { key: string; value: BackendChoiceRecord };
}

export type ChoiceDB = IDBPDatabase<ChoiceSchema>;

/** The key a choice is remembered under: a preset and the WebGPU adapter (or its absence). */
export function choiceKey(preset: string, adapter?: { vendor: string; architecture: string; isFallbackAdapter: boolean }): string {
  return `${preset}|${adapter ? `${adapter.vendor}/${adapter.architecture}${adapter.isFallbackAdapter ? '/fallback' : ''}` : 'no-webgpu'}`;
}

/** Opens the choice database; null where there is no IndexedDB (Node's command line). */
export async function openChoiceStore(): Promise<ChoiceDB | null> {
  if (typeof indexedDB === 'undefined') return null;
  return openDB<ChoiceSchema>(CHOICE_DB_NAME, CHOICE_SCHEMA_VERSION, {
    upgrade(db, oldVersion) {
      // version 1: the store of choices, keyed by `${preset}|${adapter}`
      if (oldVersion < 1) db.createObjectStore('choices', { keyPath: 'key' });
    },
  });
}

export async function loadChoice(db: ChoiceDB, key: string): Promise<BackendChoiceRecord | undefined> {
  return db.get('choices', key);
}

export async function saveChoice(db: ChoiceDB, record: BackendChoiceRecord): Promise<void> {
  await db.put('choices', record);
}

/** Forgets every remembered choice, so the next `auto` start measures again. */
export async function forgetChoices(db: ChoiceDB): Promise<void> {
  await db.clear('choices');
}
