/**
 * `auto` by measurement: the choice rules (core/backend/measure.ts) with scripted rates, so no
 * timing is asserted, and the remembered choice's store (storage/backend-choice.ts).
 */
import 'fake-indexeddb/auto';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { type Candidate, describeMeasurements, describeProgress, type MeasureProgress, measureAndChoose, trainingStepRate } from '../src/core/backend/measure.ts';
import { CHOICE_SCHEMA_VERSION, choiceKey, forgetChoices, loadChoice, openChoiceStore, saveChoice } from '../src/storage/backend-choice.ts';
import { tinyCorpus, useBackend } from './helpers.ts';

/** Candidates that "start" by switching between the two backends Node has, recording the order. */
function scripted(names: ('wasm' | 'webgpu' | 'cpu')[], failing: string[] = []) {
  const started: string[] = [];
  const candidates: Candidate[] = names.map((backend) => ({
    backend,
    start: async () => {
      started.push(backend);
      if (failing.includes(backend)) return { ok: false, why: `${backend} is not here` };
      await useBackend(backend === 'cpu' ? 'cpu' : 'wasm'); // stands in for webgpu
      return { ok: true };
    },
  }));
  return { candidates, started };
}

describe('measureAndChoose', () => {
  it('takes the faster backend and reports every figure, the rival rate passed along', async () => {
    const { candidates, started } = scripted(['wasm', 'webgpu', 'cpu']);
    const rivals: (number | null)[] = [];
    const rates = [7100, 140];
    const choice = await measureAndChoose(candidates, async (rival) => {
      rivals.push(rival);
      return rates[rivals.length - 1];
    });
    expect(choice.backend).toBe('wasm');
    expect(choice.measurements).toEqual([{ backend: 'wasm', tokensPerSec: 7100 }, { backend: 'webgpu', tokensPerSec: 140 }]);
    expect(rivals).toEqual([null, 7100]);
    // cpu is not measured once another backend trained; wasm is started again to train on it.
    expect(started).toEqual(['wasm', 'webgpu', 'wasm']);
    expect(describeMeasurements({ backend: 'wasm', measurements: choice.measurements, adapter: { vendor: 'google', architecture: 'swiftshader', isFallbackAdapter: true } }))
      .toBe('wasm 7,100 tok/s · WebGPU (software adapter) 140 tok/s → wasm');
  });

  it('says what it is timing, with the figures so far, before each backend is timed', async () => {
    const { candidates } = scripted(['wasm', 'webgpu', 'cpu'], ['cpu']);
    const heard: MeasureProgress[] = [];
    let call = 0;
    await measureAndChoose(candidates, async () => [7100, 140][call++], (p) => heard.push(p));
    expect(heard).toEqual([{ timing: 'wasm', measurements: [] }, { timing: 'webgpu', measurements: [{ backend: 'wasm', tokensPerSec: 7100 }] }]);
    const software = { vendor: 'google', architecture: 'swiftshader', isFallbackAdapter: true };
    expect(heard.map((p) => describeProgress(p, software))).toEqual(['timing wasm…', 'wasm 7,100 tok/s · timing WebGPU (software adapter)…']);
    expect(describeProgress({ timing: 'cpu', measurements: [{ backend: 'wasm', tokensPerSec: null, note: 'no' }] }, undefined)).toBe('wasm unavailable · timing cpu…');
  });

  it('takes WebGPU when it is faster', async () => {
    const { candidates } = scripted(['wasm', 'webgpu', 'cpu']);
    let call = 0;
    const choice = await measureAndChoose(candidates, async () => [7100, 50_000][call++]);
    expect(choice.backend).toBe('webgpu');
  });

  it('records why a backend did not start, and falls back to cpu only when nothing else trains', async () => {
    const { candidates, started } = scripted(['wasm', 'webgpu', 'cpu'], ['wasm', 'webgpu']);
    const choice = await measureAndChoose(candidates, async () => 900);
    expect(choice.backend).toBe('cpu');
    expect(started).toEqual(['wasm', 'webgpu', 'cpu']);
    expect(choice.measurements.map((m) => [m.backend, m.tokensPerSec])).toEqual([['wasm', null], ['webgpu', null], ['cpu', 900]]);
    expect(choice.measurements[0].note).toBe('wasm is not here');
  });

  it('a backend that fails while training is not chosen', async () => {
    const { candidates } = scripted(['wasm', 'webgpu']);
    let call = 0;
    const choice = await measureAndChoose(candidates, async () => {
      if (call++ === 1) throw new Error('device lost');
      return 5000;
    });
    expect(choice.backend).toBe('wasm');
    expect(choice.measurements[1]).toMatchObject({ backend: 'webgpu', tokensPerSec: null });
    expect(choice.measurements[1].note).toMatch(/device lost/);
  });

  it('fails with one line when no backend can train', async () => {
    const { candidates } = scripted(['wasm', 'cpu'], ['wasm', 'cpu']);
    await expect(measureAndChoose(candidates, async () => 1)).rejects.toThrow(/no backend could train \(wasm: wasm is not here; cpu: cpu is not here\)/);
  });

  it('trainingStepRate trains real steps of the preset and leaves no tensor behind', async () => {
    await useBackend('wasm');
    const { corpus, tokenizer } = tinyCorpus();
    const timing = { maxSteps: 2, budgetMs: 60_000, hopeless: 3 };
    await trainingStepRate('micro', corpus, tokenizer, null, timing); // fills the backend's caches (causal masks)
    const before = tf.memory().numTensors;
    const rate = await trainingStepRate('micro', corpus, tokenizer, null, timing);
    expect(rate).toBeGreaterThan(0);
    expect(Number.isFinite(rate)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('the remembered choice', () => {
  it('is stored per preset and adapter, read back, and forgotten on request', async () => {
    const db = (await openChoiceStore())!;
    expect(db.version).toBe(CHOICE_SCHEMA_VERSION);
    const soft = { vendor: 'google', architecture: 'swiftshader', isFallbackAdapter: true };
    const key = choiceKey('tiny', soft);
    expect(key).toBe('tiny|google/swiftshader/fallback');
    expect(choiceKey('tiny')).toBe('tiny|no-webgpu');
    expect(choiceKey('small', soft)).not.toBe(key);
    await saveChoice(db, { key, backend: 'wasm', measurements: [{ backend: 'wasm', tokensPerSec: 7100 }], measuredAt: 1 });
    expect((await loadChoice(db, key))?.backend).toBe('wasm');
    expect(await loadChoice(db, choiceKey('small', soft))).toBeUndefined();
    await forgetChoices(db);
    expect(await loadChoice(db, key)).toBeUndefined();
    db.close();
  });
});
