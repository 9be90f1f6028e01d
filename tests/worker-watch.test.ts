import { describe, expect, test, vi } from 'vitest';
import { STUCK, watchStuck } from '../src/lab/worker-watch.ts';

describe('watchStuck', () => {
  test('says stuck once no call has been answered for the limit, and not before', async () => {
    vi.useFakeTimers();
    try {
      let answering = true;
      const watch = watchStuck(() => (answering ? Promise.resolve(true) : new Promise(() => {})), 3000);
      let result: unknown = null;
      void watch.stuck.then((r) => { result = r; });
      await vi.advanceTimersByTimeAsync(10_000);
      expect(result).toBeNull(); // answers every second
      answering = false;
      await vi.advanceTimersByTimeAsync(3000);
      expect(result).toBeNull(); // the last answer was under 3 s ago at the last check
      await vi.advanceTimersByTimeAsync(2000);
      expect(result).toBe(STUCK);
    } finally {
      vi.useRealTimers();
    }
  });
  test('stop ends the watch', async () => {
    vi.useFakeTimers();
    try {
      const alive = vi.fn(() => Promise.resolve(true));
      const watch = watchStuck(alive, 3000);
      await vi.advanceTimersByTimeAsync(2500);
      watch.stop();
      const calls = alive.mock.calls.length;
      await vi.advanceTimersByTimeAsync(10_000);
      expect(alive.mock.calls.length).toBe(calls);
    } finally {
      vi.useRealTimers();
    }
  });
});
