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

/** `onProgress` hears, while it measures, what it has timed and what it is timing ("wasm 7,100 tok/s · timing WebGPU…"). */
export async function measuredBackend(env: LabEnv, preset: PresetName, remeasure = false, onProgress: (text: string) => void = () => {}): Promise<BackendInfo> {
  const db = await openChoiceStore().catch(() => null); // no memory is slower, not wrong
  const probe = await probeAdapter();
  const key = choiceKey(preset, probe.ok ? probe.adapter : undefined);
  const saved = db && !remeasure ? await loadChoice(db, key) : undefined;
  if (saved) {
    const started = await selectBackend(saved.backend as BackendInfo['backend']);
    if (started.backend === saved.backend) return measuredBackendInfo(started.backend, saved.measurements as BackendInfo['measurements'] & object, preset, true);
  }
  const tokenizer = CharTokenizer.fromJSON(bundledVocabulary as TokenizerJSON);
  const { train, val } = await env.loadBundledCorpus('tales');
  const corpus = { name: 'tales', train: tokenizer.encode(train), val: tokenizer.encode(val) };
  const { backend, measurements } = await measureAndChoose(standardCandidates(), (rival) => trainingStepRate(preset, corpus, tokenizer, rival), (p) =>
    onProgress(describeProgress(p, probe.ok ? probe.adapter : undefined)));
  await db?.put('choices', { key, backend, measurements, measuredAt: Date.now() }).catch(() => undefined);
  db?.close();
  return measuredBackendInfo(backend, measurements, preset, false);
}
