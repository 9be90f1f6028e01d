/**
 * What a student does, in Chromium, Firefox and WebKit (tests/browser/engines.ts): load the lab with
 * no page error; pretrain tiny with the helper workers sharing the steps; reload and resume; export
 * a checkpoint and import it; an SFT stage; a second tab that finds the trainer elsewhere and takes
 * it over. On WebAssembly in each engine (neither Firefox nor WebKit exposes WebGPU here).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { LabSnapshot } from './harness.ts';
import { ENGINES, type Engine, labSnapshot, openEngine, pageErrors, startEngineServer, type Tab, until, untilLab } from './engines.ts';

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

let server: Awaited<ReturnType<typeof startEngineServer>>;
beforeAll(async () => {
  server = await startEngineServer();
});
afterAll(() => server?.close());

/** Unchecks the checkbox whose label reads `name`, with a click on its label. */
async function uncheck(tab: Tab, name: string): Promise<void> {
  const checked = await tab.evaluate((n) => [...document.querySelectorAll('label')].find((l) => l.textContent?.trim().startsWith(n))?.querySelector('input')?.checked, name);
  if (checked === undefined) throw new Error(`no checkbox labelled ${name}`);
  if (checked) await tab.click('label', new RegExp(`^${name}`));
}

/** Types `value` into the input labelled `name` and commits it (a change event), as a user does. */
function fill(tab: Tab, name: string, value: string): Promise<void> {
  return tab.evaluate(([n, v]) => {
    const input = [...document.querySelectorAll('label')].find((l) => l.textContent?.trim().startsWith(n))?.querySelector('input');
    if (!input) throw new Error(`no input labelled ${n}`);
    input.value = v;
    input.dispatchEvent(new Event('input', { bubbles: true }));
    input.dispatchEvent(new Event('change', { bubbles: true }));
  }, [name, value]);
}

const visible = (tab: Tab, testId: string) =>
  tab.evaluate((id) => {
    const el = document.querySelector(`[data-testid="${id}"]`);
    return el !== null && el.getBoundingClientRect().height > 0;
  }, testId);
const text = (tab: Tab, testId: string) => tab.evaluate((id) => (document.querySelector(`[data-testid="${id}"]`) as HTMLElement | null)?.innerText ?? null, testId);

/** Makes the page keep what it would download (`<a download>` clicks) in `window.__downloads` instead. */
const captureDownloads = (tab: Tab) =>
  tab.evaluate(() => {
    const w = window as unknown as { __downloads: { name: string; href: string }[] };
    w.__downloads = [];
    HTMLAnchorElement.prototype.click = function (this: HTMLAnchorElement) {
      if (this.download) w.__downloads.push({ name: this.download, href: this.href });
    };
  });

/** The bytes of the first captured download, base64 (read before the page revokes its blob URL). */
const downloaded = (tab: Tab) =>
  tab.evaluate(async () => {
    const d = (window as unknown as { __downloads: { name: string; href: string }[] }).__downloads[0];
    if (!d) return null;
    const bytes = new Uint8Array(await (await fetch(d.href)).arrayBuffer());
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return { name: d.name, data: btoa(binary) };
  });

/** Drops a file on the page as a drag from the desktop does: dragenter, dragover, drop. */
const dropFile = (tab: Tab, file: { name: string; data: string }) =>
  tab.evaluate(({ name, data }) => {
    const dataTransfer = new DataTransfer();
    dataTransfer.items.add(new File([Uint8Array.from(atob(data), (c) => c.charCodeAt(0))], name, { type: 'application/octet-stream' }));
    for (const type of ['dragenter', 'dragover', 'drop']) document.body.dispatchEvent(new DragEvent(type, { dataTransfer, bubbles: true, cancelable: true }));
  }, file);

describe.each(ENGINES)('%s', (name) => {
  let engine: Engine;
  let tab: Tab;
  const hash = '#corpus=tales&preset=tiny&steps=400&save=10&keep=100&seed=7&view=pretrain';
  const timings: string[] = [];
  let t0 = 0;
  const lap = (what: string) => {
    timings.push(`${what} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    t0 = Date.now();
  };

  beforeAll(async () => {
    t0 = Date.now();
    engine = await openEngine(name);
    tab = engine.tab;
    lap('open');
  });
  afterAll(async () => {
    await engine?.close();
    console.log(`${name}: ${timings.join(', ')}`);
  });

  let pretrained: LabSnapshot;
  let resumed: LabSnapshot;

  test('loads with no page error, cross-origin isolated, on WebAssembly', async () => {
    await tab.goto(server.url + hash);
    const ready = await untilLab(tab, (s) => s.status === 'idle');
    expect(ready.backend).toBe('wasm');
    expect(await tab.evaluate(() => crossOriginIsolated)).toBe(true);
    // What the engine lacks, the Backend panel says: WebKit gives its workers no SharedArrayBuffer;
    // Firefox's threaded wasm may not start (src/lab/worker-watch.ts).
    const threads = await tab.evaluate(() => document.querySelector('[data-testid="capability"]')?.textContent ?? ''); // inside the closed Backend details
    if (name === 'webkit') expect(threads).toContain('single thread (this browser gives its workers no SharedArrayBuffer)');
    else expect(threads).toMatch(/with threads|single thread \((the threaded build did not start in this browser|one thread on \d+ cores; the helper workers share the steps)\)/);
    expect(await pageErrors(tab)).toEqual([]);
    lap('load');
  });

  test('pretrains tiny with the helper workers sharing the steps', async () => {
    await uncheck(tab, 'Refresh while training');
    await uncheck(tab, 'Live samples');
    const workers = Math.min(4, await tab.evaluate(() => navigator.hardwareConcurrency));
    expect(workers).toBeGreaterThan(1);
    await tab.click('button', 'Pretrain');
    // The first steps may run alone while the helpers start; then every step is shared.
    await untilLab(tab, (s) => (s.workers === workers && s.step >= 15) || /helper/.test(s.notice ?? '') || s.status === 'error' || s.status === 'done', 150_000);
    await tab.click('button', 'Pause');
    pretrained = await untilLab(tab, (s) => s.status === 'paused' || s.status === 'error');
    // Not "Training on one worker: the helper workers did not start (…)"; Firefox may have said
    // that wasm runs without threads (src/lab/worker-watch.ts).
    expect(pretrained.notice ?? '').toMatch(/^$|^WebAssembly with threads did not start/);
    expect(pretrained.workers).toBe(workers);
    expect(pretrained.loss.every(Number.isFinite)).toBe(true);
    expect(mean(pretrained.loss.slice(-5))).toBeLessThan(mean(pretrained.loss.slice(0, 5)));
    expect(await pageErrors(tab)).toEqual([]);
    lap(`pretrain ${pretrained.step} steps on ${workers} workers`);
  });

  test('reloads to the newest autosave and resumes', async () => {
    const saved = Math.max(...pretrained.checkpoints.map((c) => c.step));
    await tab.reload();
    const restored = await untilLab(tab, (s) => s.status === 'paused' && s.runId === pretrained.runId);
    expect(restored.step).toBe(saved);
    expect(restored.loss).toEqual(pretrained.loss.slice(0, saved));
    await uncheck(tab, 'Live samples');
    await tab.click('button', 'Resume');
    await untilLab(tab, (s) => s.step >= saved + 3, 90_000);
    await tab.click('button', 'Pause');
    resumed = await untilLab(tab, (s) => s.status === 'paused');
    expect(resumed.loss.slice(0, saved)).toEqual(pretrained.loss.slice(0, saved));
    expect(await pageErrors(tab)).toEqual([]);
    lap('reload and resume');
  });

  test('exports a checkpoint, imports it into a new run and trains on from the same step', async () => {
    await tab.click('[role=tab]', /Share/);
    await captureDownloads(tab);
    await tab.click('button[aria-label="Export checkpoint at step 10"]');
    const file = await until(() => downloaded(tab), (f) => f !== null, 30_000, 'the exported file');
    expect(file!.name).toMatch(/step10\.safetensors$/);

    await dropFile(tab, file!);
    await until(() => text(tab, 'import-lines'), (t) => t?.includes('stage: pretrain, step 10') ?? false, 30_000, 'the import card');
    await tab.click('button', 'Load into a new run');
    const loaded = await untilLab(tab, (s) => s.status === 'paused' && s.step === 10 && s.runId !== resumed.runId);
    expect(loaded.loss).toEqual(resumed.loss.slice(0, 10));
    await tab.click('[role=tab]', /Pretrain/);
    await tab.click('button', 'Step');
    const stepped = await untilLab(tab, (s) => s.step === 11 && s.status === 'paused');
    // The same batch with the same weights and moments (summed in another order when shared).
    expect(stepped.loss[10]).toBeCloseTo(resumed.loss[10], 3);
    expect(await pageErrors(tab)).toEqual([]);
    lap('export and import');
  });

  test('fine-tunes the imported model with SFT', async () => {
    await tab.click('[role=tab]', /SFT/);
    await fill(tab, 'SFT steps', '3');
    await tab.click('button:not([role=tab])', 'SFT');
    const done = await untilLab(tab, (s) => s.stage === 'sft' && s.status === 'done', 180_000);
    expect(done.step).toBe(3);
    await until(() => tab.evaluate(() => Number(document.querySelector('[data-testid="chart-sft-loss"]')?.getAttribute('data-points'))), (n) => n >= 3, 30_000, 'the SFT loss chart');
    expect(await pageErrors(tab)).toEqual([]);
    lap('SFT');
  });

  test('a second tab finds the trainer in the first and takes it over', async () => {
    const first = await labSnapshot(tab);
    const second = await engine.newTab();
    await second.goto(server.url + '#view=pretrain');
    await until(() => visible(second, 'elsewhere'), (v) => v, 30_000, 'the second tab to say training runs elsewhere');
    expect(await labSnapshot(second)).toMatchObject({ elsewhere: true, status: 'starting', runId: null });
    expect(await text(second, 'elsewhere')).toMatch(/Training runs in another tab/);
    expect((await labSnapshot(tab)).elsewhere).toBe(false);

    await second.click('button', 'Take over here');
    const taken = await untilLab(second, (s) => !s.elsewhere && s.runId !== null && s.status !== 'starting' && s.status !== 'loading');
    expect(taken.runId).toBe(first.runId);
    expect(taken.step).toBe(first.step);
    await untilLab(tab, (s) => s.elsewhere);
    expect(await pageErrors(second)).toEqual([]);
    expect(await pageErrors(tab)).toEqual([]);
    lap('two tabs');
  });
});
