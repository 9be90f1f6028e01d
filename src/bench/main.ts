/**
 * bench.html: runs the training-step benchmark in a worker for each requested backend, shows a
 * table, and leaves the rows on `window.__bench` for `npm run bench -- --browser` to collect.
 * `?probe` only reports the WebGPU adapter this browser gives (how the bench finds the Chromium
 * flags that reach a GPU).
 */
import { wrap } from 'comlink';
import type { BackendName } from '../core/backend/backend.ts';
import { type AdapterProbe, describeAdapter, probeAdapter } from '../core/backend/adapter.ts';
import { type BenchRow, formatBenchHeader, formatBenchRow } from '../core/backend/benchmark.ts';

type BenchApi = { run(backend: BackendName, presets: string[], steps: number, opts: { kernels?: string; submit?: number }): Promise<BenchRow[]> };
const state: { done: boolean; rows: BenchRow[]; errors: string[]; probe?: AdapterProbe } = { done: false, rows: [], errors: [] };
(window as unknown as { __bench: typeof state }).__bench = state;

const params = new URLSearchParams(location.search);
const backends = (params.get('backends') ?? 'webgpu,wasm').split(',') as BackendName[];
const presets = (params.get('presets') ?? 'micro').split(',');
const steps = Number(params.get('steps') ?? 20);
const kernels = (params.get('kernels') ?? 'fused').split(',');
const submit = params.get('submit') ? Number(params.get('submit')) : undefined;
const out = document.getElementById('out')!;
const lines = [formatBenchHeader(steps)];

if (params.has('probe')) {
  const probe = await probeAdapter();
  state.probe = probe.ok ? { adapter: probe.adapter, label: describeAdapter(probe.adapter) } : { why: probe.why };
  out.textContent = 'label' in state.probe ? state.probe.label : state.probe.why;
} else {
  for (const [backend, variant] of backends.flatMap((b) => kernels.map((k) => [b, k] as const))) {
    // A fresh worker per backend: tfjs keeps one active backend per context.
    const worker = new Worker(new URL('../../workers/bench.worker.ts', import.meta.url), { type: 'module' });
    try {
      const rows = await wrap<BenchApi>(worker).run(backend, presets, steps, { kernels: variant, submit });
      state.rows.push(...rows);
      lines.push(...rows.map((r) => formatBenchRow('browser', r)));
    } catch (e) {
      state.errors.push(`${backend}: ${e instanceof Error ? e.message : String(e)}`);
      lines.push(`browser  ${backend.padEnd(8)} not measured: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      worker.terminate();
    }
    out.textContent = lines.join('\n');
  }
}
state.done = true;
