/**
 * The Scaling lab on the worker's side: a sweep as a queue of ordinary pretraining runs
 * (core/scaling/sweep.ts), each finished point stored as a checkpoint file in IndexedDB
 * (storage/scaling-points.ts). Starting a sweep again skips the points already stored, so a reload
 * loses at most the point that was training. Progress goes to the page through one callback.
 */
import { decodeCheckpoint } from '../core/io/checkpoint.ts';
import { pointFromCheckpoint, type SweepResult } from '../core/scaling/points.ts';
import { planSweep, type PlannedPoint, pointFileName, pointSession, SWEEP_DEFAULTS, trainPoint } from '../core/scaling/sweep.ts';
import { allPoints, clearPoints, openScalingStore, pointKeys, savePoint, type ScalingDB, type StoredPoint } from '../storage/scaling-points.ts';
import bundledVocabulary from '../../corpora/vocab.json';
import { CharTokenizer, type CharTokenizerJSON } from '../core/model/tokenizer.ts';
import * as tf from '@tensorflow/tfjs';
import type { HelperPool } from './helper-pool.ts';
import type { Corpora, StoredSettings } from './runs.ts';

/** Every sweep trains on the bundled stories with their vocabulary, as `lab scaling` does. */
const BUNDLED = CharTokenizer.fromJSON(bundledVocabulary as CharTokenizerJSON);
const TALES = { corpus: 'tales' } as StoredSettings;

/** What the page chooses: one to three budgets, the sizes per budget, the seed. */
export interface ScalingRequest {
  budgets: number[];
  sizes: number;
  seed: number;
}

export interface ScalingProgress {
  /** Points finished (stored before or now) of the sweep's points. */
  finished: number;
  points: number;
  /** Share of the sweep's FLOPs done, 0–1, counting the point in training by its steps. */
  fraction: number;
  /** Seconds left at the pace so far (null until something has trained). */
  secondsLeft: number | null;
  /** The point in training: its budget and parameters. */
  current: { budget: number; params: number } | null;
  /** A point that has just finished. */
  done?: SweepResult & { key: string };
  /** What the student should know about how it trains (the helper workers did not start…). */
  note?: string;
}

/** A point as the page lists it: its result and whether it was trained here or dropped in. */
export type PointRow = SweepResult & { key: string; source: StoredPoint['source'] };

export class ScalingLab {
  readonly #corpora: Corpora;
  readonly #helpers: HelperPool | undefined;
  #db: Promise<ScalingDB> | null = null;
  #stopping = false;
  #running = false;
  #note: string | undefined;

  /** `makeHelpers` builds the pool of helper workers that share each step (none in Node's tests), told where to send its notes. */
  constructor(corpora: Corpora, makeHelpers?: (warn: (text: string) => void) => HelperPool) {
    this.#corpora = corpora;
    this.#helpers = makeHelpers?.((text) => void (this.#note = text));
  }

  get #store(): Promise<ScalingDB> {
    return (this.#db ??= openScalingStore());
  }

  /** The sweep's points in order, for the page to show before it runs (throws a message for bad settings). */
  plan(request: ScalingRequest): PlannedPoint[] {
    return planSweep({ ...SWEEP_DEFAULTS, budgets: request.budgets, sizes: request.sizes }, BUNDLED.vocabSize);
  }

  async points(): Promise<PointRow[]> {
    return (await allPoints(await this.#store)).map((p) => ({ ...p.result, key: p.key, source: p.source }));
  }

  async clear(): Promise<void> {
    await clearPoints(await this.#store);
  }

  /** A checkpoint file dropped on the page (a classmate's point): stored if it is one, else the reason. */
  async addFile(name: string, bytes: Uint8Array): Promise<PointRow | string> {
    let found: SweepResult | string;
    try {
      found = pointFromCheckpoint(decodeCheckpoint(bytes));
    } catch (e) {
      found = e instanceof Error ? e.message : String(e);
    }
    if (typeof found === 'string') return `${name}: ${found}`;
    const key = `file:${name}`;
    await savePoint(await this.#store, { key, result: found, source: 'file', bytes });
    return { ...found, key, source: 'file' };
  }

  /** Stops after the current step; that point is not stored (it starts again next time). */
  stop(): void {
    if (this.#running) this.#stopping = true;
  }

  /** Trains the points not yet stored, in order; resolves when the sweep is done or stopped. */
  async run(request: ScalingRequest, onProgress: (p: ScalingProgress) => unknown): Promise<{ stopped: boolean }> {
    if (this.#running) throw new Error('a sweep is already running');
    const { corpus, tokenizer } = await this.#corpora.of(TALES, BUNDLED);
    const settings = { ...SWEEP_DEFAULTS, budgets: request.budgets, sizes: request.sizes };
    // One shape's budgets back to back: its helper workers serve them all (HelperPool restarts them when the shape changes).
    const plan = planSweep(settings, tokenizer.vocabSize).sort((a, b) => a.params - b.params || a.budget - b.budget);
    const db = await this.#store;
    const stored = new Set(await pointKeys(db));
    const flopsOf = (p: PlannedPoint) => p.budget;
    const total = plan.reduce((a, p) => a + flopsOf(p), 0);
    let done = plan.filter((p) => stored.has(pointFileName(p, request.seed))).reduce((a, p) => a + flopsOf(p), 0);
    let finished = plan.filter((p) => stored.has(pointFileName(p, request.seed))).length;
    let trainedFlops = 0;
    const started = Date.now();
    const report = (extra: Partial<ScalingProgress>, current: PlannedPoint | null, partial = 0) => {
      const elapsed = (Date.now() - started) / 1000;
      const trained = trainedFlops + partial;
      onProgress({ finished, points: plan.length, fraction: (done + partial) / total, secondsLeft: trained > 0 ? (elapsed * (total - done - partial)) / trained : null, current: current && { budget: current.budget, params: current.params }, ...(this.#note ? { note: this.#note } : {}), ...extra });
    };
    this.#running = true;
    this.#stopping = false;
    try {
      for (const point of plan) {
        const key = pointFileName(point, request.seed);
        if (stored.has(key)) continue;
        const session = pointSession(point, settings, request.seed, corpus, tokenizer);
        let current = true;
        this.#helpers?.share(session, tf.getBackend(), () => current);
        try {
          let last = 0;
          const result = await trainPoint(session, point, {
            onStep: (step) => {
              if (this.#stopping) throw new StopSweep();
              if (Date.now() - last > 250) {
                last = Date.now();
                report({}, point, (point.budget * step) / point.steps);
              }
            },
          });
          await savePoint(db, { key, result, source: 'trained', bytes: await session.toCheckpointBytes({ includeOptimizer: false }) });
          done += flopsOf(point);
          trainedFlops += flopsOf(point);
          finished += 1;
          report({ done: { ...result, key } }, null);
        } finally {
          current = false;
          session.trainer.helpers = [];
          session.dispose();
        }
      }
      return { stopped: false };
    } catch (e) {
      if (e instanceof StopSweep) return { stopped: true };
      throw e;
    } finally {
      this.#running = false;
      this.#stopping = false;
    }
  }
}

class StopSweep extends Error {}
