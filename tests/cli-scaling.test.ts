/**
 * `lab scaling` as a user meets it: a tiny sweep prints a line per point and the summary, leaves a
 * checkpoint per point, skips them when run again, and `--points` fits the same folder (leaving
 * out, with its reason, a file that is not a point); bad budgets are refused with a message.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBudgets, SWEEP_DEFAULTS } from '../src/core/scaling/sweep-defaults.ts';
import { ROOT } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'lmlab-scaling-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function lab(...args: string[]): Promise<{ code: number; lines: Record<string, unknown>[]; stderr: string }> {
  return new Promise((resolve) => {
    execFile(join(ROOT, 'node_modules', '.bin', 'tsx'), ['cli/lab.ts', ...args], { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) => {
      const lines = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ code: error ? Number(error.code ?? 1) : 0, lines, stderr });
    });
  });
}

describe('lab scaling', () => {
  it('sweeps, resumes by skipping saved points, and fits a folder of points', { timeout: 60_000 }, async () => {
    const out = join(dir, 'sweep');
    const first = await lab('scaling', '--budgets', '5e8', '--sizes', '3', '--threads', '1', '--out', out, '--json');
    expect(first.code, first.stderr).toBe(0);
    const runs = first.lines.filter((l) => typeof l.valLoss === 'number');
    expect(runs).toHaveLength(3);
    for (const r of runs) {
      expect(r.budget).toBe(5e8);
      expect(r.tokens).toBe((r.steps as number) * 16 * 64);
      expect(r.nonEmbeddingParams as number).toBeLessThan(r.params as number);
    }
    expect(readdirSync(out).filter((f) => f.endsWith('.safetensors'))).toHaveLength(3);
    const summary = first.lines[first.lines.length - 1];
    expect(summary).toMatchObject({ summary: true, seed: 1 });
    expect((summary.fits as unknown[]).length).toBe(1);
    expect(summary).toHaveProperty('nonEmbedding.fits');

    const again = await lab('scaling', '--budgets', '5e8', '--sizes', '3', '--threads', '1', '--out', out, '--json');
    const skipped = again.lines.filter((l) => typeof l.valLoss === 'number');
    expect(skipped.every((l) => l.skipped === true)).toBe(true);
    expect(skipped.map((l) => l.valLoss)).toEqual(runs.map((l) => l.valLoss));

    writeFileSync(join(out, 'notes.safetensors'), 'not a checkpoint');
    const fitted = await lab('scaling', '--points', out, '--json');
    expect(fitted.code, fitted.stderr).toBe(0);
    expect(fitted.lines.find((l) => l.event === 'refused')).toMatchObject({ file: 'notes.safetensors' });
    expect(fitted.lines[fitted.lines.length - 1].fits).toEqual(summary.fits);
  });

  it('reads budgets as FLOP counts and names the one that is not', () => {
    expect(parseBudgets('2e10, 6e10,2e11')).toEqual([2e10, 6e10, 2e11]);
    expect(parseBudgets(undefined)).toEqual([...SWEEP_DEFAULTS.budgets]);
    expect(() => parseBudgets('2e10,lots')).toThrow(/"lots" is not a number/);
    expect(() => parseBudgets('2e10,,2e11')).toThrow(/budgets must be FLOP counts separated by commas/);
  });
});
