/** Metric rows as chart points: one convention for x across every view's charts. */
import { describe, expect, test } from 'vitest';
import type { MetricRow } from '../src/lab/types.ts';
import { appendRows, emptySeries, rowPoints } from '../src/ui/series.ts';

describe('rowPoints', () => {
  const rows: MetricRow[] = [
    { step: 0, loss: 4, sqrtKl: 0.3 },
    { step: 1, loss: 3.5, valLoss: 3.9, sqrtKl: 0.1 },
    { step: 2, loss: Number.NaN, valLoss: Number.POSITIVE_INFINITY, sqrtKl: 0.2 },
    { step: 3, loss: 3, sqrtKl: 0.5 },
  ];

  test('x counts the steps taken: the row of the first (0-based) step is drawn at 1', () => {
    expect(rowPoints(rows, 'loss')).toEqual([{ x: 1, y: 4 }, { x: 2, y: 3.5 }, { x: 4, y: 3 }]);
    expect(rowPoints(rows, 'valLoss')).toEqual([{ x: 2, y: 3.9 }]);
    expect(rowPoints(rows, 'absent')).toEqual([]);
  });

  test('an offset places a stage after the steps of the stages before it', () => {
    expect(rowPoints(rows, 'loss', { offset: 10 }).map((p) => p.x)).toEqual([11, 12, 14]);
  });

  test('against another metric, the points follow that metric, sorted, and skip rows missing either value', () => {
    expect(rowPoints(rows, 'loss', { x: 'sqrtKl' })).toEqual([{ x: 0.1, y: 3.5 }, { x: 0.3, y: 4 }, { x: 0.5, y: 3 }]);
  });

  test('the pretraining series use the same points', () => {
    const s = appendRows(emptySeries(), rows);
    expect(s.loss).toEqual(rowPoints(rows, 'loss'));
    expect(s.valLoss).toEqual(rowPoints(rows, 'valLoss'));
  });
});
