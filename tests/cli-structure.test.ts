/**
 * The command line stays one small file a command: none grows past what reads in one sitting, and
 * the files import each other without a circle (a circle makes what runs first depend on which
 * file is imported first).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.ts';

const CLI = join(ROOT, 'cli');
const files = readdirSync(CLI).filter((f) => f.endsWith('.ts'));
const source = (f: string) => readFileSync(join(CLI, f), 'utf8');

/** The cli/ files `file` imports, type-only and dynamic imports included. */
function importsOf(file: string): string[] {
  const text = source(file);
  const imported = [...text.matchAll(/^(?:import|export)\b[^;]*?from '\.\/([\w.-]+\.ts)'/gm), ...text.matchAll(/import\(?\s*'\.\/([\w.-]+\.ts)'/g)];
  return imported.map((m) => m[1]);
}

/** The first circle found, as the files around it, or null. */
function findCircle(graph: ReadonlyMap<string, readonly string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): string[] | null => {
    if (state.get(node) === 'done') return null;
    if (state.get(node) === 'open') return [...path.slice(path.indexOf(node)), node];
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      const circle = visit(next);
      if (circle) return circle;
    }
    path.pop();
    state.set(node, 'done');
    return null;
  };
  for (const node of graph.keys()) {
    const circle = visit(node);
    if (circle) return circle;
  }
  return null;
}

describe('cli/', () => {
  it('has no file over 350 lines', () => {
    const long = files.map((f) => [f, source(f).split('\n').length] as const).filter(([, n]) => n > 350);
    expect(long).toEqual([]);
  });

  it('has no import circle', () => {
    const graph = new Map(files.map((f) => [f, importsOf(f)]));
    // The reading of imports finds them: static, type-only and dynamic.
    expect(graph.get('lab.ts')).toContain('commands.ts');
    expect(graph.get('gradient-thread.ts')).toContain('gradient-threads.ts');
    expect(graph.get('bench.ts')).toContain('chromium.ts');
    expect(findCircle(graph)).toBeNull();
  });

  it('the circle finder finds one', () => {
    expect(findCircle(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]]))).toEqual(['a', 'b', 'c', 'a']);
    expect(findCircle(new Map([['a', ['b', 'c']], ['b', ['c']], ['c', []]]))).toBeNull();
  });
});
