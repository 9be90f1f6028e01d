/**
 * The Scaling lab's worker side (src/lab/scaling.ts) over fake IndexedDB: a sweep stopped after its
 * first point keeps that point, running it again trains only the rest, and a dropped file that is
 * not a point is refused with its reason while the stored points stay.
 */
import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ScalingLab, type ScalingProgress } from '../src/lab/scaling.ts';
import { Corpora } from '../src/lab/runs.ts';
import { ROOT, useBackend } from './helpers.ts';

const tales = () => Promise.resolve({ train: readFileSync(join(ROOT, 'corpora/tales/train.txt'), 'utf8').slice(0, 50_000), val: readFileSync(join(ROOT, 'corpora/tales/val.txt'), 'utf8').slice(0, 5_000) });

describe('the sweep queue', () => {
  beforeAll(() => useBackend('wasm'));

  it('stops between points, keeps what finished, and resumes with the rest', async () => {
    const lab = new ScalingLab(new Corpora(tales));
    const request = { budgets: [3e8], sizes: 3, seed: 4 };
    expect(lab.plan(request).map((p) => p.params)).toHaveLength(3);
    const first: ScalingProgress[] = [];
    const stopped = await lab.run(request, (p) => {
      first.push(p);
      if (p.done) lab.stop();
    });
    expect(stopped).toEqual({ stopped: true });
    expect((await lab.points()).map((p) => p.key)).toEqual([first.find((p) => p.done)!.done!.key]);

    const second: ScalingProgress[] = [];
    expect(await lab.run(request, (p) => second.push(p))).toEqual({ stopped: false });
    const done = second.filter((p) => p.done);
    expect(done.map((p) => p.finished)).toEqual([2, 3]); // the stored point counted, not trained again
    expect(done[done.length - 1].fraction).toBeCloseTo(1, 12);
    const points = await lab.points();
    expect(points).toHaveLength(3);
    expect(new Set(points.map((p) => p.params)).size).toBe(3);
    expect(points.every((p) => p.source === 'trained' && p.seed === 4 && p.budget === 3e8)).toBe(true);

    expect(await lab.addFile('notes.safetensors', new TextEncoder().encode('my homework'))).toMatch(/^notes\.safetensors: /);
    expect(await lab.points()).toHaveLength(3);
    expect(() => lab.plan({ ...request, sizes: 2 })).toThrow(/number of sizes/);
  });
});
