/**
 * The page as a student meets it, in Chromium on wasm: one view per stage behind the pipeline bar,
 * sized for the screens students have (no sideways scrolling; the view's key chart and its live
 * text in sight without scrolling on a laptop; one column on a phone), live samples while
 * pretraining, and one trainer per browser profile when the lab is open in two tabs.
 * Set LM_LAB_SCREENSHOTS=1 to also write docs/screenshots/view-*.png.
 */
import type { Page } from 'playwright-core';
import { describe, expect, test } from 'vitest';
import { launch, removeProfile, SHOTS, snapshot, useBrowser, useDevServer, waitForLab } from './harness.ts';

const server = useDevServer();
const chromium = useBrowser();

const LAPTOPS = [
  [1024, 768],
  [1280, 720],
  [1366, 768],
  [1920, 1080],
] as const;
const PHONE = [390, 844] as const;

/** The page's width beyond the window, and where an element lies in the window (null: not shown). */
async function layout(page: Page, testId: string) {
  return page.evaluate((id) => {
    const el = document.querySelector(`[data-testid="${id}"]`);
    const r = el?.getBoundingClientRect();
    return {
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth,
      innerHeight,
      scrollY,
      box: r && r.width > 0 ? { top: r.top, bottom: r.bottom, left: r.left, right: r.right } : null,
    };
  }, testId);
}

/** Asserts no sideways scrolling and, on a laptop, every named element wholly in the first screen. */
async function fits(page: Page, ids: string[], aboveFold: boolean): Promise<void> {
  for (const id of ids) {
    const l = await layout(page, id);
    expect(l.scrollWidth, `page wider than the window at ${l.innerWidth}px`).toBeLessThanOrEqual(l.innerWidth);
    expect(l.box, `${id} is not shown`).not.toBeNull();
    expect(l.box!.right, `${id} is cut off at the right`).toBeLessThanOrEqual(l.innerWidth);
    if (aboveFold) {
      expect(l.scrollY).toBe(0);
      expect(l.box!.bottom, `${id} is below the fold at ${l.innerWidth}×${l.innerHeight}`).toBeLessThanOrEqual(l.innerHeight);
    }
  }
}

async function shot(page: Page, name: string): Promise<void> {
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/${name}.png` });
}

describe('views', () => {
  test('every view fits a laptop and a phone; live lines appear while pretraining; the bar works by keyboard and URL', async () => {
    const { page, errors } = chromium.browser;
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.goto(`${server.url}#corpus=tales&preset=micro&steps=30&save=10&seed=5&view=pretrain`);
    await waitForLab(page, (s) => s.status === 'idle');
    await fits(page, ['chart-loss', 'live-samples'], true);

    // Live samples: the first line comes after step 1, with no button pressed.
    await page.getByRole('button', { name: 'Pretrain' }).click();
    const done = await waitForLab(page, (s) => s.status === 'done', 120_000);
    expect(done.live[0]).toBe(1);
    expect(done.live).toEqual([...done.live].sort((a, b) => a - b));
    const first = page.getByTestId('live-samples').locator('li').first();
    expect(await first.innerText()).toMatch(/^1\s+Once upon a time/);
    expect(await page.getByTestId('chart-loss-source').innerText()).toBe('tales · micro · seed 5 · pretraining · steps 1–30');

    for (const [width, height] of LAPTOPS) {
      await page.setViewportSize({ width, height });
      await page.waitForTimeout(250); // the charts follow the new size
      await fits(page, ['chart-loss', 'live-samples'], true);
      await shot(page, `view-pretrain-${width}x${height}`);
    }

    // A phone: one column (the charts under the controls, full width), nothing wider than the screen.
    await page.setViewportSize({ width: PHONE[0], height: PHONE[1] });
    await page.waitForTimeout(250);
    await fits(page, ['chart-loss', 'live-samples', 'summary'], false);
    const columns = await page.evaluate(() => {
      const side = document.querySelector('.view > .side')!.getBoundingClientRect();
      const work = document.querySelector('.view > .work')!.getBoundingClientRect();
      return { sameLeft: Math.abs(side.left - work.left) < 1, stacked: work.top >= side.bottom };
    });
    expect(columns).toEqual({ sameLeft: true, stacked: true });
    await shot(page, `view-pretrain-${PHONE[0]}x${PHONE[1]}`);

    // Each view, reached from the bar, at 1280 × 720 and 1024 × 768: its key chart wholly in the first
    // screen, its live text beginning there (it may scroll on), no sideways scrolling.
    const keys: [RegExp, string, string[], string | null][] = [
      [/SFT/, 'sft', ['chart-sft-loss', 'what-to-watch'], 'side-by-side'],
      [/DPO/, 'dpo', ['chart-dpo-rewards', 'what-to-watch'], 'side-by-side'],
      [/Reward model/, 'rm', ['rm-chart-loss', 'what-to-watch'], 'rm-latest'],
      [/^6?\s*RL/, 'rl', ['rl-chart-reward', 'what-to-watch'], 'rl-samples'],
      [/Spike lab/, 'spikes', ['chart-loss', 'live-samples', 'what-to-watch'], 'live-samples'],
      [/Share/, 'share', ['checkpoints', 'what-to-watch'], null],
    ];
    for (const [width, height] of [[1280, 720], [1024, 768]] as const) {
      await page.setViewportSize({ width, height });
      for (const [name, view, ids, live] of keys) {
        await page.getByRole('tab', { name }).click();
        await expect.poll(async () => (await snapshot(page)).view).toBe(view);
        expect(page.url()).toContain(`view=${view}`);
        expect(await page.getByRole('tab', { selected: true }).getAttribute('id')).toBe(`tab-${view}`);
        await page.waitForTimeout(150);
        await fits(page, ids, true);
        if (live) {
          const l = await layout(page, live);
          expect(l.box, `${live} is not shown`).not.toBeNull();
          expect(l.box!.top, `${live} begins below the fold at ${width}×${height}`).toBeLessThan(height - 80);
          expect(l.box!.right).toBeLessThanOrEqual(width);
        }
        // One layout: the controls, Pause / Resume / Stop among them, in the left column (Share has no run to pause).
        expect(await page.locator('.view > .side').count()).toBe(1);
        if (view !== 'share') expect(await page.locator('.view > .side').getByRole('button', { name: 'Pause' }).count()).toBe(1);
        if (width === 1280) await shot(page, `view-${view}-1280x720`);
      }
    }
    await page.setViewportSize({ width: 1280, height: 720 });

    // Keyboard: arrows move through the bar and open the view; Home goes back to the start.
    await page.getByRole('tab', { selected: true }).focus();
    await page.keyboard.press('Home');
    expect((await snapshot(page)).view).toBe('data');
    await page.keyboard.press('ArrowRight');
    expect((await snapshot(page)).view).toBe('pretrain');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('tab-pretrain');
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowLeft');
    expect((await snapshot(page)).view).toBe('share');

    // The bar says where the loaded model is and that pretraining is done, to the eye and to a screen reader.
    expect(await page.getByTestId('tab-pretrain').getAttribute('class')).toMatch(/\bhere\b/);
    expect(await page.getByTestId('tab-pretrain').getAttribute('class')).toMatch(/\bdone\b/);
    expect(await page.getByTestId('tab-pretrain').textContent()).toMatch(/the loaded model is here.*done/);
    expect(await page.getByTestId('tab-sft').getAttribute('class')).not.toMatch(/\b(here|done)\b/);

    // A link opens its view, with the run settings: pasted into this tab, or opened afresh.
    await page.goto(`${server.url}#corpus=tales&preset=micro&steps=30&save=10&seed=5&view=dpo`);
    await expect.poll(async () => (await snapshot(page)).view).toBe('dpo');
    await page.goto(`${server.url}#corpus=tales&preset=micro&steps=30&save=10&seed=5&view=rl`);
    await page.reload();
    await waitForLab(page, (s) => s.status !== 'starting');
    expect((await snapshot(page)).view).toBe('rl');
    await page.getByRole('tab', { name: /DPO/ }).click();
    expect(await page.getByRole('tab', { selected: true }).getAttribute('id')).toBe('tab-dpo');
    expect(errors).toEqual([]);
  });
});

describe('two tabs', () => {
  test('a second tab does not train beside the first: it says where training runs and can take over', async () => {
    // A fresh profile: a restored run would bring its own settings into the form.
    const own = await launch({ webgpu: false });
    const first = own.page;
    await first.setViewportSize({ width: 1280, height: 720 });
    await first.goto(`${server.url}#corpus=tales&preset=micro&steps=5000&save=10&seed=6&view=pretrain`);
    const idle = await waitForLab(first, (s) => s.status === 'idle');
    expect(idle.elsewhere).toBe(false);
    await first.getByRole('checkbox', { name: 'Live samples' }).uncheck();
    await first.getByRole('button', { name: 'Pretrain' }).click();
    await waitForLab(first, (s) => s.status === 'running' && s.step >= 12);

    const second = await own.context.newPage();
    const errors: string[] = [];
    second.on('pageerror', (e) => errors.push(String(e)));
    second.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    try {
      await second.goto(`${server.url}#corpus=tales&preset=micro&steps=5000&save=10&seed=6&view=pretrain`);
      await expect.poll(() => second.getByTestId('elsewhere').isVisible(), { timeout: 30_000 }).toBe(true);
      const waiting = await snapshot(second);
      expect(waiting).toMatchObject({ elsewhere: true, status: 'starting', runId: null });
      expect(await second.getByTestId('elsewhere').innerText()).toMatch(/Training runs in another tab/);
      expect((await snapshot(first)).status).toBe('running'); // the first tab trains on, untouched

      // Take over: the first tab saves where it stands and stops; the second continues from that save.
      const runId = (await snapshot(first)).runId;
      await second.getByRole('button', { name: 'Take over here' }).click();
      const taken = await waitForLab(second, (s) => s.status === 'paused' && !s.elsewhere, 60_000);
      const left = await waitForLab(first, (s) => s.elsewhere);
      expect(taken.runId).toBe(runId);
      expect(taken.step).toBeGreaterThanOrEqual(12);
      expect(taken.checkpoints.map((c) => c.step)).toContain(taken.step); // the stop's checkpoint
      await expect.poll(() => first.getByTestId('elsewhere').isVisible()).toBe(true);
      expect(left.step).toBe(taken.step);
      // The first tab no longer trains: its step counter holds while the second tab resumes.
      await second.getByRole('button', { name: 'Resume' }).click();
      await waitForLab(second, (s) => s.step >= taken.step + 3, 60_000);
      expect((await snapshot(first)).step).toBe(taken.step);
      await second.getByRole('button', { name: 'Pause' }).click();
      await waitForLab(second, (s) => s.status === 'paused');
      expect(own.errors).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await own.close();
      removeProfile(own.profile);
    }
  });
});
