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

/** New series with the rows' values appended (rows without a finite value for a series add nothing to it). */
export function appendRows(series: Series, rows: readonly MetricRow[]): Series {
  const next = {} as Series;
  for (const name of SERIES_NAMES) {
    const added: Point[] = [];
    for (const row of rows) {
      const y = row[name];
      // A row's step is 0-based; the charts plot it after the step, as the step counter counts.
      if (typeof y === 'number' && Number.isFinite(y)) added.push({ x: row.step + 1, y });
    }
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
