/**
 * The RL view's datasets. One step's 64 or 128 samples (8 or 16 prompts) are a noisy measure: each
 * step's value is drawn faint and its moving average bold over it, as the loss is, so a rise of a
 * few points shows through the noise.
 */
import { LINE, type LineDataset } from '../../charts.ts';
import type { MetricRow } from '../../../lab/types.ts';
import { rowPoints, smooth } from '../../series.ts';

export const COLORS = ['#dc2626', '#2563eb', '#16a34a', '#9333ea'];
export const SMOOTHING = 0.9;

/** A metric along the steps, or along another metric (`x`): a line, with points where x is not the step. */
export function line(label: string, rows: readonly MetricRow[], key: string, color: string, opts: { dashed?: boolean; x?: string } = {}): LineDataset {
  return {
    label,
    data: rowPoints(rows, key, { x: opts.x }),
    borderColor: color,
    backgroundColor: color,
    ...LINE,
    borderWidth: 2,
    pointRadius: opts.x === undefined ? 0 : 2,
    borderDash: opts.dashed ? [6, 4] : undefined,
  };
}

/** A per-step metric: each step faint (out of the legend), the smoothed line bold under the metric's name. */
export function perStep(label: string, rows: readonly MetricRow[], key: string, color: string): LineDataset[] {
  const each = line(`${label}, each step`, rows, key, `${color}59`);
  return [{ ...each, borderWidth: 1, inLegend: false }, { ...line(label, rows, key, color), data: smooth(each.data, SMOOTHING) }];
}

/** The steps that have all three of the comparison's metrics, each smoothed over the steps. */
export function smoothedRows(rows: readonly MetricRow[]): MetricRow[] {
  const keys = ['rewardModelScore', 'verifiedAccuracy', 'sqrtKl'] as const;
  const steps = rows.filter((r) => keys.every((k) => Number.isFinite(r[k]))).sort((a, b) => a.step - b.step);
  const along = (k: string) => smooth(rowPoints(steps, k), SMOOTHING).map((p) => p.y);
  const [score, verified, sqrtKl] = keys.map(along);
  return steps.map((r, i) => ({ ...r, rewardModelScore: score[i], verifiedAccuracy: verified[i], sqrtKl: sqrtKl[i] }));
}
