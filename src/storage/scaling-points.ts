/**
 * The scaling lab's finished points, each a whole checkpoint file with its sweep result, so a
 * sweep survives a reload and resumes at the first point not stored. Its own small database
 * (`lm-lab-scaling`, version 1, one store), as the backend choice has: a sweep's runs are not the
 * lab's pipeline runs, and the store can be cleared without touching the lab's schema.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { SweepResult } from '../core/scaling/points.ts';

export const SCALING_DB_NAME = 'lm-lab-scaling';
export const SCALING_SCHEMA_VERSION = 1;

export interface StoredPoint {
  /** The checkpoint's file name (core/scaling/sweep.ts's pointFileName): budget, shape and seed. */
  key: string;
  result: SweepResult;
  /** Where it came from: trained in this tab, or a dropped file (a classmate's). */
  source: 'trained' | 'file';
  bytes: Uint8Array;
}

interface ScalingSchema extends DBSchema {
  points: { key: string; value: StoredPoint };
}

export type ScalingDB = IDBPDatabase<ScalingSchema>;

export function openScalingStore(): Promise<ScalingDB> {
  return openDB<ScalingSchema>(SCALING_DB_NAME, SCALING_SCHEMA_VERSION, {
    upgrade(db, oldVersion) {
      // version 1: the points, keyed by their file name
      if (oldVersion < 1) db.createObjectStore('points', { keyPath: 'key' });
    },
  });
}

export const savePoint = async (db: ScalingDB, point: StoredPoint): Promise<void> => void (await db.put('points', point));
export const allPoints = (db: ScalingDB): Promise<StoredPoint[]> => db.getAll('points');
export const pointKeys = (db: ScalingDB): Promise<string[]> => db.getAllKeys('points');
export const clearPoints = (db: ScalingDB): Promise<void> => db.clear('points');
