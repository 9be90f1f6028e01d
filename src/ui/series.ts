/**
 * Chart series: metric rows turned into {x, y} points, and the smoothing drawn over the loss.
 * Pure functions, so the charts only draw and the maths can be tested on its own.
 */
import type { MetricRow } from '../lab/types.ts';

export interface Point {
  x: number;
  y: number;
}

export type SeriesName = 'loss' | 'valLoss' | 'gradNorm' | 'lr' | 'tokensPerSec';
export type Series = Record<SeriesName, Point[]>;

export const SERIES_NAMES: readonly SeriesName[] = ['loss', 'valLoss', 'gradNorm', 'lr', 'tokensPerSec'];

export function emptySeries(): Series {
  return { loss: [], valLoss: [], gradNorm: [], lr: [], tokensPerSec: [] };
}

/**
 * One metric of the rows as chart points (rows without a finite value add none).
 *
 * x is the number of steps taken when the row was logged: a row's `step` is 0-based, and the charts
 * count as the step counter does ("step 30 / 30", a caption's "steps 1–30"), so the row of the first
 * step is drawn at 1. `offset` shifts the points along a chain's shared step axis (the stages before
 * this one took that many steps). With `x` the points are drawn against another metric instead
 * (RL's reward against √KL), in that metric's order.
 */
export function rowPoints(rows: readonly MetricRow[], key: string, along: { offset?: number; x?: string } = {}): Point[] {
  const out: Point[] = [];
  const offset = along.offset ?? 0;
  for (const row of rows) {
    const y = row[key];
    const x = along.x === undefined ? row.step + 1 + offset : row[along.x];
    if (typeof y === 'number' && Number.isFinite(y) && typeof x === 'number' && Number.isFinite(x)) out.push({ x, y });
  }
  // Chart.js is told the points are sorted by x (decimation needs it): steps arrive in order, another metric need not.
  return along.x === undefined ? out : out.sort((a, b) => a.x - b.x);
}

/** New series with the rows' values appended (rows without a finite value for a series add nothing to it). */
export function appendRows(series: Series, rows: readonly MetricRow[]): Series {
  const next = {} as Series;
  for (const name of SERIES_NAMES) {
    const added = rowPoints(rows, name);
    next[name] = added.length === 0 ? series[name] : series[name].concat(added);
  }
  return next;
}

/**
 * Exponential moving average with TensorBoard's debiasing: s_t = α·s_{t−1} + (1−α)·y_t, divided by
 * (1 − α^t) so the first points are not pulled towards zero. α = 0 draws the raw curve.
 */
export function smooth(points: readonly Point[], alpha: number): Point[] {
  if (alpha <= 0) return points.slice();
  const out: Point[] = new Array(points.length);
  let s = 0;
  let weight = 0;
  for (let i = 0; i < points.length; i++) {
    s = alpha * s + (1 - alpha) * points[i].y;
    weight = alpha * weight + (1 - alpha);
    out[i] = { x: points[i].x, y: s / weight };
  }
  return out;
}
