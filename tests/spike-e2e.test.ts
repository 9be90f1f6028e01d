/**
 * End to end on the `tiny` preset (wasm, seed 1, the bundled tales): 250 steps of normal
 * pretraining, then the same run forked four ways from that checkpoint. Three forks get 8
 * microwavegang batches at steps 255–262 and answer them with `none`, `skip` or `rollback`; the
 * fourth is left alone. Validation losses are compared at steps 265–285, after the last M batch.
 *
 * Why 8 batches: with gradient clipping at 1.0 and AdamW, one batch of M barely moves a 0.1 M
 * parameter model (+0.005 on the validation loss, below the run-to-run noise of ~0.02); eight in a
 * row at the schedule's ~2.4e-3 learning rate cost +0.1 to +0.4 for the next 30 steps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CheckpointState, decodeCheckpoint, encodeCheckpoint } from '../src/core/io/checkpoint.ts';
import { parseInjection } from '../src/core/spikes/inject.ts';
import { LabSession } from '../src/core/train/session.ts';
import { type RecoveryPolicy, SpikeLab } from '../src/core/spikes/spikelab.ts';
import { loadCorpus } from '../cli/corpora.ts';
import { useBackend } from './helpers.ts';

const FORK_AT = 250;
const INJECT = 'microwavegang@255x8';
const UNTIL = 285;
const COMPARE_AT = [265, 270, 275, 280, 285]; // steps taken when the validation loss was measured

interface Fork {
  lab: SpikeLab;
  session: LabSession;
  /** Validation loss by steps taken (the last measurement, for a run that went back). */
  val: Map<number, number>;
}

describe('a microwavegang injection on tiny, and what each recovery makes of it (wasm, seed 1)', () => {
  const { corpus, tokenizer } = loadCorpus({ corpus: 'tales' });
  let checkpoint: Uint8Array;
  let forkState: CheckpointState;
  const forks = new Map<string, Fork>();

  async function fork(name: string, policy: RecoveryPolicy, injections: string[]): Promise<Fork> {
    const session = LabSession.fromCheckpoint(checkpoint, corpus, { evalInterval: 5 });
    const lab = new SpikeLab(session, { recovery: { policy }, injections: injections.map(parseInjection) });
    while (session.stepsTaken < UNTIL) await lab.step();
    const val = new Map<number, number>();
    for (const m of session.metrics) if (m.valLoss !== undefined) val.set(m.step + 1, m.valLoss);
    const f = { lab, session, val };
    forks.set(name, f);
    return f;
  }
  const damage = (name: string) => {
    const clean = forks.get('clean')!.val;
    const other = forks.get(name)!.val;
    return COMPARE_AT.map((s) => other.get(s)! - clean.get(s)!);
  };
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

  beforeAll(async () => {
    await useBackend('wasm');
    const session = LabSession.create({ preset: 'tiny', corpus, tokenizer, train: { steps: 600, seed: 1, evalInterval: 1000 } });
    const lab = new SpikeLab(session, { recovery: { policy: 'none' } });
    while (session.stepsTaken < FORK_AT) await lab.step();
    checkpoint = await session.toCheckpointBytes();
    forkState = decodeCheckpoint(checkpoint);
    session.dispose();
    await fork('clean', 'none', []);
  }, 600_000);
  afterAll(() => {
    for (const f of forks.values()) f.session.dispose();
  });

  it('the normal run has no spike in 250 steps, and the fork carries its full detector window', () => {
    expect(forkState.events.filter((e) => e.event === 'spike')).toEqual([]);
    const clean = forks.get('clean')!;
    expect(clean.session.events.filter((e) => e.event === 'spike')).toEqual([]);
    const fresh = new SpikeLab(LabSession.fromCheckpoint(checkpoint, corpus));
    expect(fresh.history.loss.size).toBe(128);
    fresh.session.dispose();
  });

  it('none: the spike is detected at the injection step, and the validation loss afterwards is clearly worse', async () => {
    const { session } = await fork('none', 'none', [INJECT]);
    const spikes = session.events.filter((e) => e.event === 'spike');
    expect(spikes[0]).toMatchObject({ step: 255, reason: 'loss', action: 'apply' });
    expect(spikes[0].lossZ as number).toBeGreaterThan(20);
    expect(session.events.filter((e) => e.event === 'inject').map((e) => e.step)).toEqual([255, 256, 257, 258, 259, 260, 261, 262]);
    const d = damage('none');
    console.log(`none − clean at steps ${COMPARE_AT.join(', ')}: ${d.map((x) => x.toFixed(4)).join(', ')}`);
    expect(mean(d)).toBeGreaterThan(0.05);
    for (const x of d) expect(x).toBeGreaterThan(0);
  });

  it('skip: every M batch is skipped and the validation loss stays within noise of the uninjected run', async () => {
    const { session } = await fork('skip', 'skip', [INJECT]);
    expect(session.events.filter((e) => e.event === 'skip').map((e) => e.step)).toEqual([255, 256, 257, 258, 259, 260, 261, 262]);
    expect(session.trainer.optimizer.t).toBe(UNTIL - 8);
    const d = damage('skip');
    console.log(`skip − clean at steps ${COMPARE_AT.join(', ')}: ${d.map((x) => x.toFixed(4)).join(', ')}`);
    // Skipping costs the run 8 updates, which at step ~265 is still worth a few hundredths of
    // loss; the injected batches themselves, applied, cost an order of magnitude more.
    expect(Math.abs(mean(d))).toBeLessThan(0.04);
    expect(Math.abs(mean(d))).toBeLessThan(mean(damage('none')) / 4);
    for (const x of d) expect(Math.abs(x)).toBeLessThan(0.05);
  });

  it('rollback: back to the step-250 checkpoint at the spike, resumed from it with the data moved on', async () => {
    const session = LabSession.fromCheckpoint(checkpoint, corpus, { evalInterval: 5 });
    const lab = new SpikeLab(session, { recovery: { policy: 'rollback', snapshotEvery: 25, skipBatches: 20 }, injections: [parseInjection(INJECT)] });
    while (session.stepsTaken < 255) await lab.step();
    const { events } = await lab.step(); // step 255: the first M batch
    expect(events.map((e) => e.event)).toEqual(['inject', 'spike', 'rollback']);
    expect(events[2]).toMatchObject({ step: 255, to: 250, skippedBatches: 20, droppedInjected: 7 });
    expect(session.stepsTaken).toBe(250);
    expect(session.trainer.optimizer.t).toBe(forkState.optimizer!.t);
    const weights = await session.model.values();
    for (const [name, v] of forkState.weights) expect(weights.get(name)).toEqual(v);
    expect(lab.history.loss.toArray()).toEqual((forkState.extra.spikeLab as { window: { loss: number[] } }).window.loss);

    while (session.stepsTaken < UNTIL) await lab.step();
    expect(session.events.filter((e) => e.event === 'spike')).toHaveLength(1);
    const val = new Map<number, number>();
    for (const m of session.metrics) if (m.valLoss !== undefined) val.set(m.step + 1, m.valLoss);
    forks.set('rollback', { lab, session, val });
    const d = damage('rollback');
    console.log(`rollback − clean at steps ${COMPARE_AT.join(', ')}: ${d.map((x) => x.toFixed(4)).join(', ')}`);
    expect(Math.abs(mean(d))).toBeLessThan(mean(damage('none')) / 4);
    // The checkpoint written afterwards still holds the whole story, spike and rollback included.
    const saved = decodeCheckpoint(encodeCheckpoint(await session.toCheckpoint()));
    expect(saved.events.map((e) => `${e.step}:${e.event}`)).toEqual(['255:inject', '255:spike', '255:rollback']);
  });
});
