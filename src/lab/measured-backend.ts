/**
 * The worker's `auto`: the backend measured fastest on the run's preset (core/backend/measure.ts),
 * remembered per preset and adapter in IndexedDB (storage/backend-choice.ts) so that only the
 * first start on a machine, or an explicit re-measure, pays for the timing.
 */
import { type BackendInfo, probeAdapter, selectBackend, tryWasm, tryWebGPU } from '../core/backend/backend.ts';
import { describeProgress, measureAndChoose, measuredBackendInfo, standardCandidates, trainingStepRate } from '../core/backend/measure.ts';
import { checkAgreement, traceSteps } from '../core/backend/agreement.ts';
import type { PresetName } from '../core/model/config.ts';
import { CharTokenizer, type CharTokenizerJSON } from '../core/model/tokenizer.ts';
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
  if (started.backend !== saved.backend) return null;
  const info = await measuredBackendInfo(started.backend, saved.measurements as BackendInfo['measurements'] & object, preset, true);
  return saved.agreement ? { ...info, agreement: saved.agreement } : info;
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

/** The bundled stories and vocabulary, for timing and checking backends on real batches. */
async function talesCorpus(env: LabEnv) {
  const tokenizer = CharTokenizer.fromJSON(bundledVocabulary as CharTokenizerJSON);
  const { train, val } = await env.loadBundledCorpus('tales');
  return { tokenizer, corpus: { name: 'tales', train: tokenizer.encode(train), val: tokenizer.encode(val) } };
}

/**
 * Does this WebGPU adapter compute what WebAssembly computes? A few training steps of `preset` from
 * the same weights and batches on each (core/backend/agreement.ts). Run where no session lives (the
 * measuring worker, or before a run is loaded): it switches the backend, and leaves wasm active.
 */
export async function webgpuAgreement(env: LabEnv, preset: PresetName): Promise<NonNullable<BackendInfo['agreement']>> {
  const { corpus, tokenizer } = await talesCorpus(env);
  const activate = async (backend: string) => {
    const started = backend === 'webgpu' ? (await tryWebGPU()).ok : await tryWasm();
    if (!started) throw new Error(`${backend} did not start`);
  };
  try {
    const a = await checkAgreement({ reference: 'wasm', candidate: 'webgpu' }, activate, () => traceSteps(preset, corpus, tokenizer));
    return { agree: a.agree, summary: a.summary, preset };
  } finally {
    await tryWasm();
  }
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
  const { corpus, tokenizer } = await talesCorpus(env);
  const chosen = await measureAndChoose(standardCandidates(), (rival) => trainingStepRate(preset, corpus, tokenizer, rival), (p) =>
    onProgress(describeProgress(p, probe.ok ? probe.adapter : undefined)));
  let { backend } = chosen;
  // The first time a GPU adapter would train (per adapter and preset, remembered with the choice),
  // its numbers must agree with WebAssembly's; if they do not, the lab trains on WebAssembly.
  let agreement: BackendInfo['agreement'];
  if (backend === 'webgpu') {
    onProgress('checking that WebGPU computes what WebAssembly computes…');
    agreement = await webgpuAgreement(env, preset).catch((e: unknown) => ({ agree: false, summary: `the check failed: ${e instanceof Error ? e.message : String(e)}`, preset }));
    if (agreement.agree) await tryWebGPU();
    else backend = 'wasm';
  }
  await db?.put('choices', { key, backend, measurements: chosen.measurements, measuredAt: Date.now(), ...(agreement ? { agreement } : {}) }).catch(() => undefined);
  db?.close();
  return { ...(await measuredBackendInfo(backend, chosen.measurements, preset, false)), ...(agreement ? { agreement } : {}) };
}
