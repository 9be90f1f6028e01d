/**
 * The worker's `auto`: the backend measured fastest on the run's preset (core/backend/measure.ts),
 * remembered per preset and adapter in IndexedDB (storage/backend-choice.ts) so that only the
 * first start on a machine, or an explicit re-measure, pays for the timing.
 */
import { type BackendInfo, probeAdapter, selectBackend } from '../core/backend/backend.ts';
import { describeProgress, measureAndChoose, measuredBackendInfo, standardCandidates, trainingStepRate } from '../core/backend/measure.ts';
import type { PresetName } from '../core/model/config.ts';
import { CharTokenizer, type TokenizerJSON } from '../core/model/tokenizer.ts';
import { choiceKey, loadChoice, openChoiceStore } from '../storage/backend-choice.ts';
import type { LabEnv } from './runner.ts';
import bundledVocabulary from '../../corpora/vocab.json';

/** This worker's WebGPU adapter, asked for once (a software adapter takes a while to answer). */
let probed: ReturnType<typeof probeAdapter> | null = null;
const probeOnce = () => (probed ??= probeAdapter());

/** The choice remembered for `preset` on this adapter, activated; null when there is none (or it no longer starts). */
export async function rememberedBackend(preset: PresetName): Promise<BackendInfo | null> {
  const [db, probe] = await Promise.all([openChoiceStore().catch(() => null), probeOnce()]);
  if (!db) return null;
  const saved = await loadChoice(db, choiceKey(preset, probe.ok ? probe.adapter : undefined)).catch(() => undefined);
  db.close();
  if (!saved) return null;
  const started = await selectBackend(saved.backend as BackendInfo['backend']);
  return started.backend === saved.backend ? measuredBackendInfo(started.backend, saved.measurements as BackendInfo['measurements'] & object, preset, true) : null;
}

/**
 * A first visit's backend, at once: with a WebGPU adapter, wasm now (`measureAlongside`: the page
 * times both in another worker and switches only if WebGPU is faster); without one, the usual
 * order, which says why not WebGPU. Timing first would keep the student waiting 16-34 s on a
 * software adapter.
 */
export async function backendAtOnce(): Promise<BackendInfo> {
  const [probe, info] = await Promise.all([probeOnce(), selectBackend('wasm')]);
  if (info.backend !== 'wasm') return info;
  if (!probe.ok) return { ...info, reason: `not webgpu: ${probe.why}` };
  return { ...info, reason: 'WebAssembly at once, while WebGPU is timed alongside', adapter: probe.adapter, measureAlongside: true };
}

/** `onProgress` hears, while it measures, what it has timed and what it is timing ("wasm 7,100 tok/s · timing WebGPU…"). */
export async function measuredBackend(env: LabEnv, preset: PresetName, remeasure = false, onProgress: (text: string) => void = () => {}): Promise<BackendInfo> {
  if (!remeasure) {
    const remembered = await rememberedBackend(preset);
    if (remembered) return remembered;
  }
  const db = await openChoiceStore().catch(() => null); // no memory is slower, not wrong
  const probe = await probeOnce();
  const key = choiceKey(preset, probe.ok ? probe.adapter : undefined);
  const tokenizer = CharTokenizer.fromJSON(bundledVocabulary as TokenizerJSON);
  const { train, val } = await env.loadBundledCorpus('tales');
  const corpus = { name: 'tales', train: tokenizer.encode(train), val: tokenizer.encode(val) };
  const { backend, measurements } = await measureAndChoose(standardCandidates(), (rival) => trainingStepRate(preset, corpus, tokenizer, rival), (p) =>
    onProgress(describeProgress(p, probe.ok ? probe.adapter : undefined)));
  await db?.put('choices', { key, backend, measurements, measuredAt: Date.now() }).catch(() => undefined);
  db?.close();
  return measuredBackendInfo(backend, measurements, preset, false);
}
