/**
 * The tree's shape stays what one home per concept needs: no file of the command line or the
 * worker's lab grows past what reads in one sitting, and no file of src/, cli/ or workers/ imports
 * itself back through others (a circle makes what runs first depend on which file is imported first).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.ts';

/** Every .ts and .svelte file under `dir`, relative to the root. */
function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return sources(path);
    return /\.(ts|svelte)$/.test(name) ? [path] : [];
  });
}

const source = (f: string) => readFileSync(join(ROOT, f), 'utf8');

/** The project files `file` imports (relative paths), type-only, re-exports and dynamic imports included. */
function importsOf(file: string): string[] {
  const text = source(file);
  const written = [...text.matchAll(/(?:^|\s)(?:import|export)\b[^;'"]*?from\s+'(\.{1,2}\/[^']+)'/gm), ...text.matchAll(/import\(\s*'(\.{1,2}\/[^']+)'/g), ...text.matchAll(/^\s*import\s+'(\.{1,2}\/[^']+)'/gm)];
  return written.map((m) => relative(ROOT, resolve(ROOT, dirname(file), m[1]))).filter((f) => /\.(ts|svelte)$/.test(f));
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

describe('the tree', () => {
  it('has no file in cli/ or src/lab/ over about 350 lines', () => {
    const long = [...sources('cli'), ...sources('src/lab')].map((f) => [f, source(f).split('\n').length] as const).filter(([, n]) => n > 360);
    expect(long).toEqual([]);
  });

  it('has no import circle in src/, cli/ or workers/', () => {
    const files = [...sources('src'), ...sources('cli'), ...sources('workers')];
    const graph = new Map(files.map((f) => [f, importsOf(f)]));
    // The reading of imports finds them: static, type-only, across folders, and dynamic.
    expect(graph.get('cli/lab.ts')).toContain('cli/commands.ts');
    expect(graph.get('src/core/rl/policy.ts')).toContain('src/core/lesson/recipes.ts');
    expect(graph.get('src/ui/App.svelte')).toContain('src/ui/views/class/ClassView.svelte');
    expect(graph.get('src/core/backend/backend.ts')).toContain('src/core/kernels/webgpu/register.ts');
    expect(findCircle(graph)).toBeNull();
  });

  it('the circle finder finds one', () => {
    expect(findCircle(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]]))).toEqual(['a', 'b', 'c', 'a']);
    expect(findCircle(new Map([['a', ['b', 'c']], ['b', ['c']], ['c', []]]))).toBeNull();
  });
});
