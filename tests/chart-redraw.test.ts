/**
 * Chart redraws are queued one chart per task (src/ui/charts.ts): a chart queued twice before its
 * turn redraws once, a cancelled (destroyed) chart is never redrawn, and each chart gets a task of
 * its own, so the main thread is free between them.
 */
import { describe, expect, it, vi } from 'vitest';
import { cancelRedraw, queueRedraw } from '../src/ui/charts.ts';

/**
 * A stand-in chart. Its redraw also queues a microtask, which runs when the redraw's task ends:
 * two charts drawn in one task log "a b a-end", in two tasks "a a-end b".
 */
function fakeChart(log: string[], name: string) {
  return { update: () => { log.push(name); queueMicrotask(() => log.push(`${name}-end`)); } };
}
const settle = () => new Promise((r) => setTimeout(r, 20));

describe('chart redraw queue', () => {
  it('redraws each queued chart once, in its own task, and skips a cancelled one', async () => {
    const log: string[] = [];
    const [a, b, c] = ['a', 'b', 'c'].map((n) => fakeChart(log, n));
    queueRedraw(a);
    queueRedraw(b);
    queueRedraw(a); // already queued: still one redraw
    queueRedraw(c);
    cancelRedraw(c);
    expect(log).toEqual([]); // nothing draws in the task that queued
    await settle();
    expect(log).toEqual(['a', 'a-end', 'b', 'b-end']);
    queueRedraw(b); // the queue starts again after it has drained
    await settle();
    expect(log).toEqual(['a', 'a-end', 'b', 'b-end', 'b', 'b-end']);
  });

  it('keeps redrawing the other charts when one throws', async () => {
    const log: string[] = [];
    const broken = { update: () => { throw new Error('no canvas'); } };
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    queueRedraw(broken);
    queueRedraw(fakeChart(log, 'a'));
    await settle();
    queueRedraw(fakeChart(log, 'b')); // and the queue still starts again afterwards
    await settle();
    expect(log).toEqual(['a', 'a-end', 'b', 'b-end']);
    expect(errors).toHaveBeenCalledTimes(1);
    errors.mockRestore();
  });
});
