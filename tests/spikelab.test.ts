/**
 * The spike lab's parts: the detector on a recorded normal `tiny` run (quiet) and on the same run
 * with a microwavegang batch (caught at that step), injections, the repeated n-gram filter on
 * batches, each recovery policy on the micro preset, the detector's window across a resume, and
 * the z-loss.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LabEvent } from '../src/core/io/checkpoint.ts';
import { sampleBatch } from '../src/core/train/data.ts';
import { filterBatch, formatInjection, injectedBatch, parseInjection, rowText } from '../src/core/spikes/inject.ts';
import { Random } from '../src/core/random.ts';
import { LabSession } from '../src/core/train/session.ts';
import { DEFAULT_RECOVERY, MemorySnapshots, type RecoveryConfig, SpikeLab } from '../src/core/spikes/spikelab.ts';
import { createSpikeHistory, DEFAULT_SPIKE_CONFIG, detectSpike, observe, type SpikeConfig, type SpikeResult } from '../src/core/spikes/spikes.ts';
import { batchLoss, toTimeMajor } from '../src/core/train/objective.ts';
import { ROOT, tinyCorpus, useBackend } from './helpers.ts';

interface Trace {
  loss: number[];
  gradNorm: number[];
  injected: { kind: string; step: number; loss: number[]; gradNorm: number[] };
}
const trace = JSON.parse(readFileSync(join(ROOT, 'tests', 'fixtures', 'tiny-trace.json'), 'utf8')) as Trace;

/** Runs the detector over a trace as the lab does; returns every detection with its step. */
function detections(loss: number[], gradNorm: number[], opts: { config?: SpikeConfig; logGradNorm?: boolean } = {}): (SpikeResult & { step: number })[] {
  const config = opts.config ?? DEFAULT_SPIKE_CONFIG;
  const history = createSpikeHistory(config);
  const found: (SpikeResult & { step: number })[] = [];
  loss.forEach((l, step) => {
    const g = opts.logGradNorm === false ? gradNorm[step] : Math.log(gradNorm[step]);
    const r = detectSpike(history, { loss: l, gradNorm: g }, config);
    if (r.spike) found.push({ ...r, step });
    observe(history, { loss: l, gradNorm: g }, r);
  });
  return found;
}

describe('the detector on a recorded tiny run', () => {
  it('the fixture is a real, normal run: 400 steps, loss falling from ~4.3 to ~2', () => {
    expect(trace.loss).toHaveLength(400);
    expect(trace.loss[0]).toBeGreaterThan(4);
    expect(Math.max(...trace.loss.slice(-20))).toBeLessThan(2.2);
  });

  it('finds no spike in the normal run (OLMo-core settings: 6σ, window 128, warm-up 64, on log grad norms)', () => {
    expect(DEFAULT_RECOVERY.logGradNorm).toBe(true);
    expect(DEFAULT_RECOVERY.detector).toEqual({ window: 128, warmup: 64, zThreshold: 6 });
    expect(detections(trace.loss, trace.gradNorm)).toEqual([]);
  });

  it('on raw grad norms the same run has an ordinary batch above 6σ: why the lab compares logs', () => {
    const history = createSpikeHistory();
    let maxRaw = 0;
    let maxLog = 0;
    const logHistory = createSpikeHistory();
    trace.loss.forEach((loss, i) => {
      const raw = { loss, gradNorm: trace.gradNorm[i] };
      const r = detectSpike(history, raw);
      observe(history, raw, r);
      maxRaw = Math.max(maxRaw, r.gradNormZ);
      const log = { loss, gradNorm: Math.log(trace.gradNorm[i]) };
      const l = detectSpike(logHistory, log);
      observe(logHistory, log, l);
      maxLog = Math.max(maxLog, l.gradNormZ);
    });
    expect(maxRaw).toBeGreaterThan(6);
    expect(maxLog).toBeLessThan(4.5);
    // OLMo-core's exact rule would have skipped an ordinary batch of this run:
    expect(detections(trace.loss, trace.gradNorm, { logGradNorm: false }).map((d) => [d.step, d.reason])).toEqual([[247, 'grad-norm']]);
  });

  it('catches the microwavegang batch at exactly the step it was injected, on its loss', () => {
    const { step } = trace.injected;
    const loss = [...trace.loss.slice(0, step), ...trace.injected.loss];
    const gradNorm = [...trace.gradNorm.slice(0, step), ...trace.injected.gradNorm];
    const found = detections(loss, gradNorm);
    expect(found.length).toBeGreaterThan(0);
    expect(found[0].step).toBe(step);
    expect(found[0].reason).toBe('loss');
    expect(found[0].lossZ).toBeGreaterThan(20);
    expect(found[0].gradNormZ).toBeGreaterThan(DEFAULT_SPIKE_CONFIG.zThreshold);
  });

  it('detects NaN and Infinity immediately, even before the warm-up', () => {
    for (const bad of [{ loss: NaN, gradNorm: 1 }, { loss: 2, gradNorm: Infinity }]) {
      const history = createSpikeHistory();
      for (let i = 0; i < 5; i++) observe(history, { loss: trace.loss[i], gradNorm: trace.gradNorm[i] }, detectSpike(history, { loss: trace.loss[i], gradNorm: trace.gradNorm[i] }));
      const r = detectSpike(history, bad);
      expect(r).toMatchObject({ spike: true, reason: 'nan' });
      expect(observe(history, bad, r)).toBe(false);
      expect(history.loss.size).toBe(5);
    }
  });
});

describe('injections', () => {
  it('parses KIND@STEP[xN] and says what is wrong otherwise', () => {
    expect(parseInjection('microwavegang@300')).toEqual({ kind: 'microwavegang', step: 300, batches: 1, factor: 1 });
    expect(parseInjection('microwavegang@300x8')).toEqual({ kind: 'microwavegang', step: 300, batches: 8, factor: 1 });
    expect(parseInjection('random-bytes@12x2')).toEqual({ kind: 'random-bytes', step: 12, batches: 2, factor: 1 });
    expect(parseInjection('lr-spike@40x100')).toEqual({ kind: 'lr-spike', step: 40, batches: 1, factor: 100 });
    expect(parseInjection('lr-spike@40').factor).toBe(30);
    expect(formatInjection(parseInjection('microwavegang@300x8'))).toBe('microwavegang@300x8');
    expect(() => parseInjection('microwave@3')).toThrow(/unknown kind "microwave"/);
    expect(() => parseInjection('microwavegang')).toThrow(/KIND@STEP/);
    expect(() => parseInjection('microwavegang@3x0')).toThrow(/whole number/);
    expect(() => parseInjection('microwavegang@3x1.5')).toThrow(/whole number/);
  });

  const { corpus, tokenizer } = tinyCorpus();

  it('a microwavegang batch is nothing but M; random bytes are plain characters, the same for the same seed and step', () => {
    const m = injectedBatch('microwavegang', tokenizer, 4, 16, 1, 7);
    expect(rowText(m, 3, tokenizer)).toBe('M'.repeat(17));
    const a = injectedBatch('random-bytes', tokenizer, 4, 16, 1, 7);
    const b = injectedBatch('random-bytes', tokenizer, 4, 16, 1, 7);
    const c = injectedBatch('random-bytes', tokenizer, 4, 16, 1, 8);
    expect(a.x).toEqual(b.x);
    expect(a.x).not.toEqual(c.x);
    expect(Math.min(...a.x)).toBeGreaterThanOrEqual(tokenizer.specials.length);
    expect(new Set(a.x).size).toBeGreaterThan(20);
    expect(a.y.subarray(0, 15)).toEqual(a.x.subarray(1, 16)); // still a shifted window
  });

  it('the OLMo 2 filter replaces exactly the repetitive rows of a batch and reports them', () => {
    const batch = sampleBatch(corpus.train, 4, 32, new Random(3));
    expect(filterBatch(batch, tokenizer, corpus.train, new Random(1)).batch).toBe(batch); // nothing to remove
    const bad = { ...batch, x: batch.x.slice(), y: batch.y.slice() };
    const M = tokenizer.encode('M')[0];
    bad.x.fill(M, 32, 64); // row 1: 33 M's with its last target
    bad.y.fill(M, 32, 64);
    const ab = tokenizer.encode('ab');
    for (let t = 0; t < 32; t++) bad.x[96 + t] = ab[t % 2]; // row 3: "abab…", 16 copies of a 2-gram: kept
    for (let t = 0; t < 32; t++) bad.y[96 + t] = ab[(t + 1) % 2];
    const { removed, batch: clean } = filterBatch(bad, tokenizer, corpus.train, new Random(1));
    expect(removed.map((r) => [r.index, r.n, r.repeats])).toEqual([[1, 1, 33]]);
    expect(removed[0].excerpt.startsWith('MMMM')).toBe(true);
    expect(rowText(clean, 1, tokenizer)).not.toContain('MMMM');
    for (const b of [0, 2, 3]) expect(rowText(clean, b, tokenizer)).toBe(rowText(bad, b, tokenizer));
    expect(rowText(bad, 1, tokenizer)).toBe('M'.repeat(33)); // the input was not changed
  });
});

describe('recovery policies on the micro preset (wasm)', () => {
  beforeAll(() => useBackend('wasm'));
  const { corpus, tokenizer } = tinyCorpus();
  // A short window so the detector is warm after a few steps of a 40-step run.
  const detector: SpikeConfig = { window: 16, warmup: 8, zThreshold: 6 };

  function micro(): LabSession {
    return LabSession.create({ preset: 'micro', corpus, tokenizer, train: { steps: 40, evalInterval: 10, evalBatches: 2, learningRate: 1e-3, warmupSteps: 5 } });
  }
  function labFor(session: LabSession, recovery: Partial<RecoveryConfig>, injections: string[]): SpikeLab {
    return new SpikeLab(session, { recovery: { detector, ...recovery }, injections: injections.map(parseInjection) });
  }
  const at = (events: LabEvent[], step: number) => events.filter((e) => e.step === step).map((e) => e.event);

  it('none: the injected batches are detected and applied', async () => {
    const session = micro();
    const lab = labFor(session, { policy: 'none' }, ['microwavegang@20x2']);
    const seen: LabEvent[] = [];
    lab.onEvent = (e) => seen.push(e);
    while (session.stepsTaken < 24) await lab.step();
    expect(seen).toEqual(session.events);
    expect(session.events.filter((e) => e.step < 20)).toEqual([]);
    expect(at(session.events, 20)).toEqual(['inject', 'spike']);
    expect(at(session.events, 21)).toEqual(['inject', 'spike']);
    const spike = session.events.find((e) => e.event === 'spike')!;
    expect(spike).toMatchObject({ step: 20, action: 'apply' });
    expect(Math.max(spike.lossZ as number, spike.gradNormZ as number)).toBeGreaterThan(6);
    const inject = session.events[0];
    expect(inject).toMatchObject({ kind: 'microwavegang', batch: 1, of: 2, text: 'M'.repeat(17) });
    expect(inject.tokenLosses as number[]).toHaveLength(16);
    expect(session.trainer.optimizer.t).toBe(24); // every update applied
    session.dispose();
  });

  it('skip: the spikes are not applied, and the optimizer never sees them', async () => {
    const session = micro();
    const lab = labFor(session, { policy: 'skip' }, ['microwavegang@20x2', 'microwavegang@26']);
    const applied: boolean[] = [];
    while (session.stepsTaken < 24) applied.push((await lab.step()).result.applied);
    expect(applied.map((a, i) => (a ? -1 : i)).filter((i) => i >= 0)).toEqual([20, 21]);
    expect(at(session.events, 20)).toEqual(['inject', 'spike', 'skip']);
    expect(session.trainer.optimizer.t).toBe(22);
    lab.setPolicy('none'); // the teacher changes their mind: the next spike is applied
    while (session.stepsTaken < 27) await lab.step();
    expect(session.events.find((e) => e.event === 'spike' && e.step === 26)).toMatchObject({ action: 'apply' });
    expect(session.trainer.optimizer.t).toBe(25);
    session.dispose();
  });

  it('lower-lr: the spike step and the next lrCutSteps run at lrCut × the schedule, then the rate comes back', async () => {
    const session = micro();
    const lab = labFor(session, { policy: 'lower-lr', lrCut: 0.1, lrCutSteps: 5 }, ['microwavegang@20']);
    const lrs: number[] = [];
    while (session.stepsTaken < 27) lrs.push((await lab.step()).result.lr);
    const scheduled = (s: number) => session.trainer.learningRate(s) / session.trainer.lrScale;
    expect(lrs[19]).toBeCloseTo(scheduled(19), 12);
    for (let s = 20; s < 25; s++) expect(lrs[s]).toBeCloseTo(0.1 * scheduled(s), 12);
    expect(lrs[25]).toBeCloseTo(scheduled(25), 12);
    expect(session.events.find((e) => e.event === 'lower-lr')).toMatchObject({ step: 20, scale: 0.1, until: 25 });
    expect(session.events.find((e) => e.event === 'lr-restored')).toMatchObject({ step: 25 });
    session.dispose();
  });

  it('filter: the microwavegang rows are removed before the model sees them, and no spike follows', async () => {
    const session = micro();
    // micro's windows are 17 characters, too short for OLMo 2's 32 repeats; tiny's are 65.
    const lab = labFor(session, { policy: 'filter', filter: { minRepeats: 12, maxN: 13 } }, ['microwavegang@20']);
    while (session.stepsTaken < 22) await lab.step();
    expect(at(session.events, 20)).toEqual(['inject', 'filter']);
    expect(session.events.find((e) => e.event === 'filter')).toMatchObject({ removed: 4, of: 4, longest: 17, excerpts: ['M'.repeat(17)] });
    expect(session.events.some((e) => e.event === 'spike')).toBe(false);
    session.dispose();
  });

  it('rollback: back to the newest checkpoint before the spike, data moved on, injected batches dropped; no tensors leak', async () => {
    const session = micro();
    const snapshots = new MemorySnapshots(3);
    const lab = new SpikeLab(session, { recovery: { detector, policy: 'rollback', snapshotEvery: 5, skipBatches: 7 }, injections: [parseInjection('microwavegang@22x3')], snapshots });
    while (session.stepsTaken < 22) await lab.step();
    expect(snapshots.steps).toEqual([10, 15, 20]);
    const at20 = snapshots.newestBefore(22)!;
    const tensors = tf.memory().numTensors;

    // What the data sampler will do: draw step 22's batch, then skip 7 batches.
    const rng = new Random(0);
    rng.state = session.trainer.rng.state;
    for (let i = 0; i < 8; i++) sampleBatch(corpus.train, 4, 16, rng);

    const { events, result } = await lab.step();
    expect(result.applied).toBe(false);
    expect(events.map((e) => e.event)).toEqual(['inject', 'spike', 'rollback']);
    expect(events[2]).toMatchObject({ step: 22, to: 20, skippedBatches: 7, droppedInjected: 2 });
    expect(session.stepsTaken).toBe(20);
    expect(session.trainer.rng.state).toBe(rng.state);
    expect(session.trainer.optimizer.t).toBe(at20.optimizer!.t);
    const weights = await session.model.values();
    for (const [name, v] of at20.weights) expect(weights.get(name)).toEqual(v);
    expect(session.metrics.map((m) => m.step)).toEqual([...Array(20).keys()]);
    expect(tf.memory().numTensors).toBe(tensors);

    // It resumes from there: steps 20, 21, 22… again, with no more M.
    while (session.stepsTaken < 30) await lab.step();
    expect(session.metrics.map((m) => m.step).slice(18)).toEqual([18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
    expect(session.events.filter((e) => e.event === 'inject')).toHaveLength(1);
    expect(session.events.filter((e) => e.event === 'spike')).toHaveLength(1);
    session.dispose();
  });

  it('a resumed run keeps the detector window, the scheduled injections and an LR cut', async () => {
    const session = micro();
    const lab = labFor(session, { policy: 'lower-lr', lrCut: 0.5, lrCutSteps: 10 }, ['microwavegang@20', 'microwavegang@30']);
    while (session.stepsTaken < 25) await lab.step();
    const bytes = await session.toCheckpointBytes();
    const resumed = LabSession.fromCheckpoint(bytes, corpus);
    const again = new SpikeLab(resumed);
    expect(again.config.policy).toBe('lower-lr');
    expect(again.history.loss.toArray()).toEqual(lab.history.loss.toArray());
    expect(again.history.gradNorm.toArray()).toEqual(lab.history.gradNorm.toArray());
    expect(again.history.loss.size).toBe(16);
    expect(again.scheduledInjections.map(formatInjection)).toEqual(['microwavegang@30']);
    expect(resumed.trainer.lrScale).toBe(0.5);
    // Both continue identically, including the injection at 30 and the end of the cut.
    const a: number[] = [];
    const b: number[] = [];
    while (session.stepsTaken < 33) a.push((await lab.step()).result.loss);
    while (resumed.stepsTaken < 33) b.push((await again.step()).result.loss);
    expect(b).toEqual(a);
    expect(resumed.events.map((e) => `${e.step}:${e.event}`)).toEqual(session.events.map((e) => `${e.step}:${e.event}`));
    expect(resumed.events.some((e) => e.step === 30 && e.event === 'spike')).toBe(true);
    session.dispose();
    resumed.dispose();
  });

  it('an lr-spike multiplies the rate of exactly one step', async () => {
    const session = micro();
    const lab = labFor(session, { policy: 'none' }, ['lr-spike@12x50']);
    const lrs: number[] = [];
    while (session.stepsTaken < 14) lrs.push((await lab.step()).result.lr);
    expect(lrs[12]).toBeCloseTo(50 * session.trainer.learningRate(12), 12);
    expect(lrs[13]).toBeCloseTo(session.trainer.learningRate(13), 12);
    expect(session.events.find((e) => e.event === 'inject')).toEqual({ step: 12, event: 'inject', kind: 'lr-spike', factor: 50 });
    session.dispose();
  });
});

describe('z-loss (wasm)', () => {
  beforeAll(() => useBackend('wasm'));
  const { corpus, tokenizer } = tinyCorpus();

  it('adds zLoss · mean(log²Z) to the cross-entropy, with Z worked out from the logits', async () => {
    const session = LabSession.create({ preset: 'micro', corpus, tokenizer });
    const batch = sampleBatch(corpus.train, 4, 16, new Random(5));
    const ce = (await batchLoss(session.model, batch).data())[0];
    const withZ = (await batchLoss(session.model, batch, 1e-2).data())[0];
    const logits = session.model.forwardTimeMajor(tf.tensor2d(toTimeMajor(batch.x, 4, 16), [16, 4], 'int32'));
    const rows = (await logits.array()) as number[][];
    logits.dispose();
    let sum = 0;
    for (const row of rows) {
      const max = Math.max(...row);
      const logZ = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
      sum += logZ * logZ;
    }
    expect(withZ - ce).toBeCloseTo(1e-2 * (sum / rows.length), 4);
    expect(withZ - ce).toBeGreaterThan(1e-3); // log Z ≈ log V at initialisation, far from 0
    session.dispose();
  });

  it('training with a large z-loss pulls log Z towards 0', async () => {
    const meanLog2Z = async (zLoss: number) => {
      const session = LabSession.create({ preset: 'micro', corpus, tokenizer, train: { steps: 60, zLoss } });
      while (!session.done) await session.trainer.trainStep();
      const batch = sampleBatch(corpus.val, 4, 16, new Random(9));
      const z = (await batchLoss(session.model, batch, 1).data())[0] - (await batchLoss(session.model, batch).data())[0];
      session.dispose();
      return z;
    };
    const plain = await meanLog2Z(0);
    const pulled = await meanLog2Z(1);
    expect(plain).toBeGreaterThan(10); // log Z starts near log V ≈ 4.2 and stays there without the term
    expect(pulled).toBeLessThan(plain * 0.25);
  });
});
