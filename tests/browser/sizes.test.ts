/**
 * Every screen size a class has, in Chromium: tablets (1024 × 768, 768 × 1024), laptops and
 * projectors (1280 × 720 to 1920 × 1080), phones (360 × 740, 390 × 844). No view scrolls sideways;
 * every tab of the pipeline bar is on screen; at tablet and laptop sizes the pretraining view's
 * loss chart and live text are on the first screen. LM_LAB_SCREENSHOTS=1 also writes
 * docs/screenshots/sizes-WxH.png.
 */
import { expect, test } from 'vitest';
import { launch, removeProfile, SHOTS, useDevServer, waitForLab } from './harness.ts';

const SIZES: { width: number; height: number; phone?: true }[] = [
  { width: 1024, height: 768 },
  { width: 768, height: 1024 },
  { width: 1280, height: 720 },
  { width: 1366, height: 768 },
  { width: 1440, height: 900 },
  { width: 1920, height: 1080 },
  { width: 360, height: 740, phone: true },
  { width: 390, height: 844, phone: true },
];

const server = useDevServer();

/** What the page shows at this size: its overflow, the tabs' boxes against the screen and the bar, the key boxes' tops. */
const layout = () => {
  const box = (el: Element | null) => {
    if (!el) return null;
    const r = el.getBoundingClientRect();
    return { left: r.left, right: r.right, top: r.top, bottom: r.bottom };
  };
  const bar = box(document.querySelector('[role=tablist]'))!;
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth,
    innerHeight,
    bar,
    tabs: [...document.querySelectorAll('[role=tab]')].map((t) => ({ id: t.id, ...box(t)! })),
    chart: box(document.querySelector('[data-testid="chart-loss"]')),
    live: box(document.querySelector('[data-testid="live-samples"]')),
  };
};

test('no view scrolls sideways, every pipeline tab is on screen, the chart and live text on a tablet or laptop first screen', async () => {
  const browser = await launch({ webgpu: false });
  const { page, errors } = browser;
  try {
    await page.goto(`${server.url}#corpus=tales&preset=micro&steps=20&save=10&seed=1&view=pretrain`);
    await waitForLab(page, (s) => s.status === 'idle');
    await page.getByRole('button', { name: 'Pretrain' }).click();
    await waitForLab(page, (s) => s.status === 'done' && s.live.length > 0, 60_000);
    const views = await page.evaluate(() => [...document.querySelectorAll('[role=tab]')].map((t) => t.id));
    expect(views.length).toBeGreaterThanOrEqual(7);

    for (const { width, height, phone } of SIZES) {
      const size = `${width} × ${height}`;
      await page.setViewportSize({ width, height });
      for (const id of views) {
        await page.click(`#${id}`);
        await page.evaluate(() => scrollTo(0, 0));
        const l = await page.evaluate(layout);
        expect(l.scrollWidth, `${size}, ${id}: the page scrolls sideways`).toBeLessThanOrEqual(l.innerWidth);
      }
      await page.click('#tab-pretrain');
      await page.evaluate(() => scrollTo(0, 0));
      await page.waitForTimeout(300); // the charts' resize
      const l = await page.evaluate(layout);
      for (const t of l.tabs) {
        // Whole, on the screen and inside the bar's visible box (not hidden past a scroller's edge).
        expect(t.left >= 0 && t.right <= l.innerWidth, `${size}: ${t.id} off screen (${t.left}–${t.right})`).toBe(true);
        expect(t.left >= l.bar.left - 0.5 && t.right <= l.bar.right + 0.5, `${size}: ${t.id} cut by the bar (${t.left}–${t.right} in ${l.bar.left}–${l.bar.right})`).toBe(true);
      }
      if (!phone) {
        // The chart whole, and the live text begun, on the first screen.
        expect(l.chart!.bottom, `${size}: the loss chart ends below the first screen`).toBeLessThanOrEqual(l.innerHeight);
        expect(l.live!.top + 60, `${size}: the live text is below the first screen`).toBeLessThanOrEqual(l.innerHeight);
      }
      if (SHOTS) await page.screenshot({ path: `${SHOTS}/sizes-${width}x${height}.png` });
    }
    expect(errors).toEqual([]);
  } finally {
    await browser.close();
    removeProfile(browser.profile);
  }
});
