/**
 * The views' "Where did it learn that?" (src/ui/traces.svelte.ts), compiled by Svelte as the page's
 * build does: nothing is traced until a panel asks; each distinct text is asked of the worker once
 * per loaded run; another run starts an empty book; a failure is kept as a message.
 */
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import type { Trace } from '../src/lab/inspect.ts';
import type { TraceBook } from '../src/ui/traces.svelte.ts';

let vite: ViteDevServer;
let Book: typeof TraceBook;

beforeAll(async () => {
  vite = await createServer({ configFile: 'vite.config.ts', logLevel: 'error', server: { middlewareMode: true, hmr: false }, optimizeDeps: { noDiscovery: true, entries: [] } });
  Book = ((await vite.ssrLoadModule('/src/ui/traces.svelte.ts')) as { TraceBook: typeof TraceBook }).TraceBook;
});
afterAll(async () => {
  await vite?.close();
});

/** A worker whose trace finds one span, the text's first two characters, and counts what it is asked. */
function fakeWorker(fail = false) {
  const api = {
    trace: vi.fn(async (text: string): Promise<Trace> => {
      if (fail) throw new Error('There is no model loaded: pretrain one first.\n  at worker');
      return { spans: [{ start: 0, end: 2, text: text.slice(0, 2) }], copiedShare: 2 / text.length, minChars: 20, sources: [] } as unknown as Trace;
    }),
  };
  let run: string | undefined = 'run-a';
  const book = new Book((f) => f(api as never), () => run);
  return { api, book, load: (id: string) => (run = id) };
}

describe('TraceBook', () => {
  test('traces only on request, each distinct text once per run', async () => {
    const { api, book } = fakeWorker();
    expect(book.of('abcd')).toBeUndefined();
    expect(book.has(['abcd'])).toBe(false);
    expect(api.trace).not.toHaveBeenCalled();

    await book.ask(['abcd', 'wxyz', 'abcd', '']); // the empty text is nothing to trace
    expect(api.trace.mock.calls.map((c) => c[0])).toEqual(['abcd', 'wxyz']);
    expect(book.of('abcd')?.copiedShare).toBe(0.5);
    expect(book.has(['abcd', 'wxyz', ''])).toBe(true);
    expect(book.working).toBe(false);

    await book.ask(['wxyz', 'new']); // only the new one goes to the worker
    expect(api.trace.mock.calls.map((c) => c[0])).toEqual(['abcd', 'wxyz', 'new']);
  });

  test('another run reads other training data: its book starts empty', async () => {
    const { api, book, load } = fakeWorker();
    await book.ask(['abcd']);
    load('run-b');
    expect(book.of('abcd')).toBeUndefined();
    await book.ask(['abcd']);
    expect(api.trace).toHaveBeenCalledTimes(2);
    expect(book.of('abcd')).toBeDefined();
  });

  test('a failure is a one-line message, and nothing is marked traced', async () => {
    const { book } = fakeWorker(true);
    await book.ask(['abcd']);
    expect(book.error).toBe('There is no model loaded: pretrain one first.');
    expect(book.has(['abcd'])).toBe(false);
    expect(book.working).toBe(false);
  });
});
