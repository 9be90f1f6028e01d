/**
 * A long lesson in one tab, as a class period goes: pretrain → SFT → DPO → reward model → RL → a new
 * pretraining run and a spike-lab fork of it, without a reload. After each stage
 * the training worker's tfjs tensors and the page's JS heap (after a garbage collection) are read.
 *
 * The bounds: a stage holds its model, its AdamW moments and what the stage itself keeps (the reward
 * model's head; RL's frozen reference model), so no stage may hold more than 1.5× the bytes of the
 * pretraining run (weights + two moments = 3 copies; RL's reference makes 4, so 1.33×); and when a
 * model of the base's shape trains again at the end, the worker holds exactly the tensors it held
 * after pretraining: every earlier stage released everything. The page keeps each run's metric rows and its charts, a
 * few hundred kilobytes here, so its heap may grow by at most 30 MB over the whole lesson: a leaked
 * chart or update buffer per step would pass that.
 *
 * A tab hidden for a minute keeps training in its worker, and its charts catch up when it is shown.
 */
import type { CDPSession, Page } from 'playwright-core';
import { describe, expect, test } from 'vitest';
import { exportAt, fill, load, pretrainAndSft, stageDone, view } from './flows.ts';
import { launch, removeProfile, useDevServer, waitForLab } from './harness.ts';

const server = useDevServer();
const HIDDEN_MS = 60_000;

interface Reading { stage: string; tensors: number; bytes: number; heapMB: number }

/**
 * Hides the tab as a browser hides a background tab from its page: the document says hidden and no
 * animation frame runs (the charts draw in frames) until it is shown. Headless Chromium keeps every
 * page visible, a second page included, so the test does what the browser would.
 */
async function hide(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as Record<string, unknown> & Window;
    const held: FrameRequestCallback[] = [];
    const raf = w.requestAnimationFrame.bind(w);
    w.requestAnimationFrame = (cb: FrameRequestCallback) => (held.push(cb), 0);
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
    document.dispatchEvent(new Event('visibilitychange'));
    w.__show = () => {
      delete (document as unknown as Record<string, unknown>).visibilityState;
      delete (document as unknown as Record<string, unknown>).hidden;
      w.requestAnimationFrame = raf;
      document.dispatchEvent(new Event('visibilitychange'));
      for (const cb of held.splice(0)) raf(cb);
    };
  });
}

const show = (page: Page) => page.evaluate(() => (window as unknown as { __show(): void }).__show());

async function read(page: Page, cdp: CDPSession, stage: string): Promise<Reading> {
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  const memory = await page.evaluate(() => (window as unknown as { __lab: { workerMemory(): Promise<{ numTensors: number; numBytes: number }> } }).__lab.workerMemory());
  return { stage, tensors: memory.numTensors, bytes: memory.numBytes, heapMB: usedSize / 2 ** 20 };
}

describe('a long lesson in one tab', () => {
  test('every stage in turn holds no more than its model and releases it; a hidden tab trains on', { timeout: 600_000 }, async () => {
    const browser = await launch({ webgpu: false });
    const { page, errors } = browser;
    const cdp = await page.context().newCDPSession(page);
    const readings: Reading[] = [];
    try {
      await page.goto(`${server.url}#corpus=tales&preset=micro&steps=10&save=10&seed=4`);
      await waitForLab(page, (s) => s.status === 'idle');
      await pretrainAndSft(page, 10, 6);
      // pretrainAndSft leaves SFT loaded; the base's reading comes from loading its file at the end.
      readings.push(await read(page, cdp, 'sft'));
      const sftFile = await exportAt(page, 6);

      await view(page, /DPO/);
      await page.getByLabel('DPO steps').fill('4');
      await page.getByLabel('DPO steps').dispatchEvent('change');
      await page.getByRole('button', { name: 'DPO', exact: true }).click();
      await stageDone(page, 'dpo', 4);
      readings.push(await read(page, cdp, 'dpo'));

      await load(page, sftFile); // the reward model and RL start from the SFT model
      await view(page, /Reward model/);
      await fill(page, 'rm-steps', '4');
      await page.getByTestId('rm-start').click();
      await stageDone(page, 'rm', 4);
      readings.push(await read(page, cdp, 'rm'));

      await load(page, sftFile);
      await view(page, /RL/);
      await fill(page, 'rl-steps', '3');
      await page.getByTestId('rl-start').click();
      await stageDone(page, 'rl', 3);
      readings.push(await read(page, cdp, 'rl'));

      // A new pretraining run of the base's shape, long enough to train on while the tab is hidden
      // behind another; then a spike-lab fork of it.
      await view(page, /Pretrain/);
      await page.getByLabel('Steps', { exact: true }).fill('100000');
      await page.getByLabel('Steps', { exact: true }).dispatchEvent('change');
      await page.getByRole('button', { name: 'Pretrain' }).click();
      await waitForLab(page, (s) => s.stage === 'pretrain' && s.status === 'running' && s.step >= 20, 60_000);
      await hide(page);
      expect(await page.evaluate(() => document.visibilityState)).toBe('hidden');
      const before = (await waitForLab(page, () => true)).step;
      await page.waitForTimeout(HIDDEN_MS);
      await show(page);
      // It trained while hidden, and the loss chart has caught up with every step.
      const shown = await waitForLab(page, (s) => s.step > before + 20 && s.points.loss >= s.step - 5, 30_000);
      expect(shown.step).toBeGreaterThan(before);
      await page.getByRole('button', { name: 'Stop' }).click();
      await waitForLab(page, (s) => s.status !== 'running', 60_000);
      const base = await read(page, cdp, 'pretrain');
      readings.push(base);

      await view(page, /Spike lab/);
      await page.getByRole('button', { name: 'Fork with this policy' }).click();
      await waitForLab(page, (s) => s.status === 'paused' && /Forked a new run/.test(s.notice ?? ''), 60_000);
      await page.getByRole('button', { name: 'Resume' }).click(); // the fork trains on
      await waitForLab(page, (s) => s.status === 'running', 60_000);
      await page.getByRole('button', { name: 'Stop' }).click();
      await waitForLab(page, (s) => s.status !== 'running', 60_000);
      const fork = await read(page, cdp, 'fork');
      readings.push(fork);

      const summary = readings.map((r) => `${r.stage} ${r.tensors} tensors of ${r.bytes} bytes, heap ${r.heapMB.toFixed(1)} MB`).join(', ');
      for (const r of readings) expect(r.bytes, summary).toBeLessThanOrEqual(1.5 * base.bytes);
      expect(fork.tensors, summary).toBe(base.tensors);
      expect(Math.max(...readings.map((r) => r.heapMB)) - readings[0].heapMB, summary).toBeLessThanOrEqual(30);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      removeProfile(browser.profile);
    }
  });
});
