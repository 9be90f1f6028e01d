/**
 * The lab in real Chromium: WebGPU (SwiftShader) with --enable-unsafe-webgpu, wasm without it.
 * Set LM_LAB_SCREENSHOTS=1 to also write docs/screenshots/*.png of each state.
 */
import type { Page } from 'playwright-core';
import { describe, expect, test } from 'vitest';
import { launch, removeProfile, SHOTS, snapshot, startPreview, useDevServer, waitForLab } from './harness.ts';

async function shot(page: Page, name: string): Promise<void> {
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

/** Records main-thread long tasks from the first script on. */
const LONG_TASKS = `
  window.__longTasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longTasks.push(Math.round(e.duration) + ' ms at ' + Math.round(e.startTime) + ' ms');
  }).observe({ type: 'longtask' });
`;

/** The long tasks since the last call, as "D ms at T ms" (T from the page's start, to tell when they happened). */
const longTasks = (page: Page) => page.evaluate(() => (window as unknown as { __longTasks: string[] }).__longTasks.splice(0));
const durations = (tasks: string[]) => tasks.map((t) => parseFloat(t));

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

const server = useDevServer();

describe('with WebGPU', () => {
  test('pretrains micro on webgpu, smoothly, and resumes after a reload', async () => {
    const browser = await launch({ webgpu: true });
    const { page, errors } = browser;
    try {
      await page.addInitScript(LONG_TASKS);
      // Chosen, not auto: auto measures, and on this software adapter wasm wins (the test below).
      await page.addInitScript(() => localStorage.setItem('lm-lab.backend', 'webgpu'));
      await page.goto(`${server.url}#corpus=tales&preset=micro&steps=40&save=10&seed=1`);

      // Loads with no console errors and the capability panel reports webgpu.
      const ready = await waitForLab(page, (s) => s.status === 'idle');
      expect(ready.backend).toBe('webgpu');
      await expect.poll(() => page.getByTestId('capability').getAttribute('data-backend')).toBe('webgpu');
      await page.getByTestId('backend-toggle').click(); // the header's Backend button opens the details
      const panel = await page.getByTestId('capability').innerText();
      expect(panel).toContain('WebGPU');
      expect(panel).toMatch(/swiftshader/i);
      // The agreement check: the same micro steps on this software adapter and on WebAssembly agree.
      await page.getByTestId('backend-check').click();
      await expect.poll(() => page.getByTestId('backend-agreement').textContent().catch(() => ''), { timeout: 120_000 }).toMatch(/webgpu against wasm over 4 steps: .*they agree/);
      await shot(page, 'empty');
      await page.getByTestId('backend-toggle').click();

      // Pretraining puts points on the loss and gradient-norm charts, and the loss falls.
      // (Live samples are off: on software WebGPU each one costs as much as several steps.)
      await page.getByRole('checkbox', { name: 'Refresh while training' }).uncheck();
      await page.getByRole('checkbox', { name: 'Live samples' }).uncheck();
      await longTasks(page);
      const clicked = await page.evaluate(() => Math.round(performance.now()));
      await page.getByRole('button', { name: 'Pretrain' }).click();
      const trained = await waitForLab(page, (s) => s.step >= 24, 150_000);
      const tasks = await longTasks(page);
      expect(Math.max(0, ...durations(tasks)), `long tasks during training (Pretrain clicked at ${clicked} ms): ${tasks.join(', ')}`).toBeLessThanOrEqual(200);
      expect(trained.points.loss).toBeGreaterThanOrEqual(20);
      expect(trained.points.gradNorm).toBe(trained.points.loss);
      expect(Number(await page.getByTestId('chart-loss').getAttribute('data-points'))).toBeGreaterThan(20);
      expect(Number(await page.getByTestId('chart-gradnorm').getAttribute('data-points'))).toBeGreaterThan(20);
      expect(mean(trained.loss.slice(-5))).toBeLessThan(mean(trained.loss.slice(0, 5)) - 0.2);
      await shot(page, 'training');

      // Pause holds the step counter.
      await page.getByRole('button', { name: 'Pause' }).click();
      const paused = await waitForLab(page, (s) => s.status === 'paused');
      await page.waitForTimeout(1500);
      expect((await snapshot(page)).step).toBe(paused.step);
      await shot(page, 'paused');
      expect(paused.checkpoints.map((c) => c.step)).toContain(20);

      // A reload restores the newest autosave: step counter, charts, then training continues.
      const saved = Math.max(...paused.checkpoints.map((c) => c.step));
      await page.reload();
      const restored = await waitForLab(page, (s) => s.status === 'paused' && s.runId === paused.runId);
      expect(restored.step).toBe(saved);
      expect(restored.points.loss).toBe(saved);
      expect(restored.loss).toEqual(paused.loss.slice(0, saved));
      await expect.poll(() => page.getByTestId('step').innerText()).toContain(`step ${saved} / 40`);
      await expect.poll(() => page.getByTestId('restored').isVisible()).toBe(true);
      await shot(page, 'restored');

      await page.getByRole('button', { name: 'Resume' }).click();
      const resumed = await waitForLab(page, (s) => s.step >= saved + 3, 90_000);
      expect(resumed.points.loss).toBe(resumed.step);
      expect(resumed.loss.slice(0, saved)).toEqual(paused.loss.slice(0, saved));
      await shot(page, 'resumed');
      await page.getByRole('button', { name: 'Pause' }).click();
      await waitForLab(page, (s) => s.status === 'paused');

      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      removeProfile(browser.profile);
    }
  });
});

// `auto` on a first visit (wasm at once, WebGPU timed alongside): tests/browser/first-minute.test.ts.

describe('without WebGPU', () => {
  test('falls back to wasm, says why, and trains', async () => {
    const browser = await launch({ webgpu: false });
    const { page, errors } = browser;
    try {
      await page.goto(`${server.url}#corpus=tales&preset=micro&steps=20&save=10&seed=2`);
      const ready = await waitForLab(page, (s) => s.status === 'idle');
      expect(ready.backend).toBe('wasm');
      await page.getByTestId('backend-toggle').click();
      const reason = await page.getByTestId('backend-reason').innerText();
      expect(reason).toMatch(/webgpu/i);
      // Threads where tfjs would run more than one (4+ cores); else one thread a worker, and why.
      const cores = await page.evaluate(() => navigator.hardwareConcurrency);
      expect(await page.getByTestId('capability').innerText()).toMatch(cores >= 4 ? /with threads/ : /single thread \(one thread on \d+ cores; the helper workers share the steps\)/);

      await page.getByRole('button', { name: 'Pretrain' }).click();
      const done = await waitForLab(page, (s) => s.status === 'done', 120_000);
      expect(done.step).toBe(20);
      expect(done.workers).toBe(1); // micro's 64-token batches are too small to share
      expect(done.points.loss).toBe(20);
      expect(mean(done.loss.slice(-5))).toBeLessThan(mean(done.loss.slice(0, 5)));
      await shot(page, 'fallback');
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      removeProfile(browser.profile);
    }
  });
});

describe('data parallelism on wasm', () => {
  test('helper workers, one a core, share the tiny steps and the run trains on', async () => {
    const browser = await launch({ webgpu: false });
    const { page, errors } = browser;
    try {
      await page.goto(`${server.url}#corpus=tales&preset=tiny&steps=400&save=100&seed=4`);
      await waitForLab(page, (s) => s.status === 'idle');
      const workers = Math.min(4, await page.evaluate(() => navigator.hardwareConcurrency));
      expect(workers).toBeGreaterThan(1); // the test machines have two cores
      await page.getByTestId('backend-toggle').click();
      expect(await page.getByTestId('backend-workers').innerText()).toBe(`${workers} workers share each pretraining, SFT and RL step (data parallel; micro's batches are too small to share)`);
      await page.getByTestId('backend-toggle').click();

      await page.getByRole('button', { name: 'Pretrain' }).click();
      // The first steps may run alone while the helpers start; then every step is shared.
      const shared = await waitForLab(page, (s) => s.workers === workers && s.step >= 30, 180_000);
      await page.getByRole('button', { name: 'Pause' }).click();
      const paused = await waitForLab(page, (s) => s.status === 'paused');
      expect(paused.workers).toBe(workers);
      expect(paused.loss.every(Number.isFinite)).toBe(true);
      expect(mean(paused.loss.slice(-5))).toBeLessThan(mean(paused.loss.slice(0, 5)));
      expect(shared.notice ?? '').not.toMatch(/one worker/);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      removeProfile(browser.profile);
    }
  });
});

describe('the production build', () => {
  test('serves a cross-origin isolated lab that trains', async () => {
    const site = await startPreview();
    const browser = await launch({ webgpu: false });
    const { page, errors } = browser;
    try {
      await page.goto(`${site.url}#preset=micro&steps=6&save=3`);
      await waitForLab(page, (s) => s.status === 'idle');
      expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
      await page.getByRole('button', { name: 'Step' }).click();
      const stepped = await waitForLab(page, (s) => s.step === 1 && s.status === 'paused');
      expect(stepped.points.loss).toBe(1);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      removeProfile(browser.profile);
      await site.close();
    }
  });
});
