/**
 * A first visit, in Chromium with its software WebGPU adapter (--enable-unsafe-webgpu): Pretrain
 * can be pressed within 2 s of the page's load event, on WebAssembly, while another worker times
 * wasm and WebGPU; the lab stays on wasm (faster here), shows the figures, and remembers them.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { launch, removeProfile, snapshot, startPreview, waitForLab } from './harness.ts';

// The built site, as a class gets it: the dev server's hundreds of unbundled modules take the
// worker 1-2 s more to load than the build's one file.
let site: Awaited<ReturnType<typeof startPreview>>;
beforeAll(async () => {
  site = await startPreview();
}, 120_000);
afterAll(() => site?.close());

test('first visit: Pretrain within 2 s of load on wasm while WebGPU is timed alongside; stays on wasm, says why, remembers', async () => {
  const browser = await launch({ webgpu: true });
  const { page, errors } = browser;
  try {
    await page.goto(`${site.url}#corpus=tales&preset=tiny&steps=30&save=10&seed=3`);
    const pretrain = page.getByRole('button', { name: 'Pretrain' });
    await expect.poll(() => pretrain.isEnabled(), { timeout: 30_000, interval: 50 }).toBe(true);
    const sinceLoad = await page.evaluate(() => performance.now() - (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).loadEventEnd);
    console.log(`Pretrain pressable ${Math.round(sinceLoad)} ms after the load event`);
    expect(sinceLoad, 'ms from the load event to a pressable Pretrain').toBeLessThanOrEqual(2000);
    expect((await snapshot(page)).backend).toBe('wasm');
    // The page says what it is doing, and that training can start.
    await expect.poll(() => page.getByTestId('measuring').textContent(), { timeout: 30_000 })
      .toMatch(/Choosing the faster backend for tiny .*timing WebGPU \(software adapter\)….*Training can start now, on WebAssembly\./);

    await pretrain.click();
    const trained = await waitForLab(page, (s) => s.step >= 3, 120_000);
    expect(trained.backend).toBe('wasm');
    await page.getByRole('button', { name: 'Pause' }).click();
    await waitForLab(page, (s) => s.status === 'paused');

    // The timing ends: wasm is faster on this adapter, so the lab stays, and shows the figures.
    await expect.poll(() => page.getByTestId('measuring').count(), { timeout: 240_000 }).toBe(0);
    const measured = (await page.getByTestId('backend-measured').textContent())!.trim();
    expect(measured).toMatch(/^wasm [\d,]+ tok\/s · WebGPU \(software adapter\) [\d,]+ tok\/s → wasm$/);
    const [wasmRate, gpuRate] = [...measured.matchAll(/([\d,]+) tok\/s/g)].map((m) => Number(m[1].replaceAll(',', '')));
    expect(wasmRate).toBeGreaterThan(gpuRate); // the choice follows the figures shown
    expect((await snapshot(page)).backend).toBe('wasm');

    // A reload uses the remembered measurement: no timing again.
    await page.reload();
    await waitForLab(page, (s) => s.status !== 'starting', 60_000);
    await expect.poll(() => page.getByTestId('capability').textContent()).toMatch(/Measured on tiny \(remembered\)/);
    expect(await page.getByTestId('measuring').count()).toBe(0);
    expect(errors).toEqual([]);
  } finally {
    await browser.close();
    removeProfile(browser.profile);
  }
});
