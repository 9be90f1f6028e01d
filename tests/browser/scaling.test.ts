/**
 * The Scaling view in Chromium: a tiny sweep (two budgets, three sizes) trains in the worker as a
 * queue of stored runs, the fit's table and charts fill, the embeddings switch redraws the fit, a
 * dropped file that is not a point is named with its reason, and the points survive a reload; then
 * a short anneal experiment, with its clean-data arm, fills its tables and charts.
 */
import { describe, expect, test } from 'vitest';
import { view } from './flows.ts';
import { dropFile, useBrowser, useDevServer, waitForLab } from './harness.ts';

const server = useDevServer();
const shared = useBrowser();

describe('the Scaling view', () => {
  test('sweeps, fits, switches the parameter count, refuses a stray file, and keeps its points over a reload; the anneal experiment', async () => {
    const { page, errors } = shared.browser;
    await page.goto(`${server.url}#corpus=tales&preset=micro`);
    await waitForLab(page, (s) => s.status === 'idle');
    await view(page, /Scaling lab/);
    await page.getByTestId('scaling-budgets').fill('2e8, 4e8');
    await page.getByTestId('scaling-sizes').selectOption('3');
    await page.getByTestId('scaling-run').click();
    await expect.poll(() => page.getByTestId('scaling-message').innerText().catch(() => ''), { timeout: 60_000 }).toBe('Sweep finished.');
    expect(await page.getByTestId('scaling-status').innerText()).toMatch(/^6 of 6 runs done/);

    const rows = page.getByTestId('scaling-ratio').locator('tbody tr');
    expect(await rows.count()).toBe(2);
    // Six points, two dashed parabolas of 40 samples, and a star where a parabola has a minimum.
    expect(Number(await page.getByTestId('scaling-loss').getAttribute('data-points'))).toBeGreaterThanOrEqual(6 + 80);
    // The switch redraws the fit with the other count (tests/scaling-sweep.test.ts checks the two fits' numbers).
    expect(await page.getByTestId('scaling-loss-source').innerText()).toMatch(/embedding parameters counted/);
    await page.getByTestId('scaling-embeddings').uncheck();
    await expect.poll(() => page.getByTestId('scaling-loss-source').innerText()).toMatch(/embedding parameters left out/);

    await dropFile(page, 'notes.safetensors', new TextEncoder().encode('my homework'));
    await expect.poll(() => page.getByTestId('scaling-message').innerText()).toMatch(/^Left out: notes\.safetensors: /);

    await page.reload();
    await waitForLab(page, (s) => s.status === 'idle');
    await view(page, /Scaling lab/);
    await expect.poll(() => page.getByTestId('scaling-ratio').locator('tbody tr').count()).toBe(2);
    expect(await page.getByTestId('scaling-run').innerText()).toBe('Run / resume');

    // The anneal experiment, short: three arms in the table, each WSD decay measured, the curves drawn.
    await page.getByTestId('anneal-steps').fill('30');
    await page.getByTestId('anneal-clean').check();
    await page.getByTestId('anneal-run').click();
    const arms = page.getByTestId('anneal-table').locator('tbody tr');
    await expect.poll(() => arms.count(), { timeout: 60_000 }).toBe(3);
    expect(await arms.nth(1).innerText()).toMatch(/WSD \(stable, then decay\)\s+0\.03 M\s+\d\.\d{4}\s+\d\.\d{4} → \d\.\d{4}/);
    expect(Number(await page.getByTestId('anneal-chart').getAttribute('data-points'))).toBeGreaterThan(0);
    expect(await page.getByTestId('anneal-chart').getAttribute('data-annotations')).toBe('decay-wsd decay-wsd-early');
    // The clean-data arm: two decays from one branch, on the raw and the filtered crawl.
    const decays = page.getByTestId('anneal-clean-table').locator('tbody tr');
    await expect.poll(() => decays.count(), { timeout: 60_000 }).toBe(2);
    expect(await decays.nth(0).innerText()).toMatch(/the raw crawl\s+crawl:none\s+\d\.\d{4}\s+(\d\.\d{4}) → \d\.\d{4}/);
    expect(await decays.nth(1).innerText()).toMatch(/the filtered crawl\s+crawl:default\s+\d\.\d{4}/);
    expect(await page.getByTestId('anneal-clean-difference').innerText()).toMatch(/ends \d\.\d{4} (below|above) the decay on the raw crawl/);
    expect(await page.getByTestId('anneal-clean-chart').getAttribute('data-annotations')).toBe('branch');
    expect(errors).toEqual([]);
  });
});
