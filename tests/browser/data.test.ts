/**
 * The Data view in Chromium: the first tab of the pipeline bar; the default filters run in the
 * worker over the bundled crawl and the teacher's line clears the lesson's bar; a 512-token BPE
 * tokenizer trains in the worker and colours held-out text token by token, pretrains against characters
 * for the same seconds (both in bits per character on one chart), and, chosen for
 * pretraining, a new run in Pretrain learns through it; everything fits a laptop. Set LM_LAB_SCREENSHOTS=1 to also write docs/screenshots/view-data-*.png.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import { launch, removeProfile, SHOTS, snapshot, useBrowser, useDevServer, waitForLab } from './harness.ts';

const server = useDevServer();
const chromium = useBrowser();

/** Curation takes a second or two in the worker: longer than expect.poll's default wait. */
const WAIT = { timeout: 30_000 };
const percent = (text: string) => Number(text.replace('%', ''));

describe('the Data view', () => {
  test('filters the crawl, scores it, trains a tokenizer and shows its tokens', async () => {
    const { page, errors } = chromium.browser;
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.goto(`${server.url}#preset=micro&view=pretrain`);
    await waitForLab(page, (s) => s.status !== 'starting');

    // Data comes first in the bar, before Pretrain.
    const tabs = await page.getByRole('tab').evaluateAll((els) => els.map((e) => e.id));
    expect(tabs.slice(0, 2)).toEqual(['tab-data', 'tab-pretrain']);
    await page.getByTestId('tab-data').click();
    await expect.poll(async () => (await snapshot(page)).view, WAIT).toBe('data');
    expect(page.url()).toContain('view=data');

    await page.getByTestId('data-run').click();
    const teacher = page.getByTestId('teacher-line');
    await teacher.waitFor({ timeout: 60_000 });
    expect(percent(await page.getByTestId('junk-removed').innerText())).toBeGreaterThanOrEqual(90);
    expect(percent(await page.getByTestId('clean-kept').innerText())).toBeGreaterThanOrEqual(95);
    for (const key of ['c4-lines', 'gopher-quality', 'exact-dedup', 'near-dedup']) {
      expect(Number((await page.getByTestId(`removed-${key}`).innerText()).replace('−', ''))).toBeGreaterThan(0);
    }
    expect(await page.getByTestId('removed-examples').innerText()).toMatch(/#\d+: /);
    expect(await page.getByTestId('doc-page').innerText()).toMatch(/^page 1 of \d+ · 2,468 documents$/);
    await page.getByTestId('doc-show').selectOption('removed');
    await expect.poll(() => page.getByTestId('doc-page').innerText(), WAIT).not.toMatch(/2,468/);

    // Everything off but near-dedup at a loose threshold: fewer junk pages go, the line says so.
    const junkBefore = await page.getByTestId('junk-removed').innerText();
    for (const key of ['c4-lines', 'gopher-quality', 'gopher-repetition', 'line-punctuation', 'exact-dedup']) await page.getByTestId(`filter-${key}`).uncheck();
    await page.getByTestId('data-run').click();
    await expect.poll(() => page.getByTestId('junk-removed').innerText(), WAIT).not.toBe(junkBefore);
    expect(percent(await page.getByTestId('junk-removed').innerText())).toBeLessThan(50);
    for (const key of ['c4-lines', 'gopher-quality', 'gopher-repetition', 'line-punctuation', 'exact-dedup']) await page.getByTestId(`filter-${key}`).check();
    await page.getByTestId('data-run').click();
    await expect.poll(() => page.getByTestId('junk-removed').innerText(), WAIT).toBe(junkBefore);

    // The tokenizer experiment waits for a tokenizer, and says so.
    expect(await page.getByTestId('tokexp-run').isDisabled()).toBe(true);
    expect(await page.getByTestId('tokexp-needs').innerText()).toMatch(/Train a tokenizer above first/);

    // A vocabulary below the bytes and specials: the core's message, and nothing trained.
    await page.getByTestId('bpe-vocab').fill('100');
    await page.getByTestId('bpe-train').click();
    await expect.poll(() => page.getByTestId('bpe-error').innerText(), WAIT).toMatch(/vocabulary of 100 tokens is too small/);

    await page.getByTestId('bpe-vocab').fill('512');
    await page.getByTestId('bpe-train').click();
    const sample = page.getByTestId('bpe-sample');
    await sample.waitFor({ timeout: 60_000 });
    const tokens = sample.locator('.tok');
    expect(await tokens.count()).toBeGreaterThan(100);
    const colours = await tokens.evaluateAll((els) => els.slice(0, 6).map((e) => getComputedStyle(e).backgroundColor));
    expect(new Set(colours).size).toBeGreaterThan(1);
    expect(Number(await page.getByTestId('bpe-cpt').innerText())).toBeGreaterThan(2);
    expect(await page.getByTestId('bpe-merges').locator('li').count()).toBe(512 - 260);
    expect(await page.getByTestId('bpe-effect').innerText()).toMatch(/covers [\d.]+× more text.*embedding table grows from 4,416 to 32.8 k parameters/s);
    expect(await page.getByTestId('bpe-chat').locator('.special').allInnerTexts()).toEqual(['<|user|>', '<|end|>', '<|assistant|>', '<|end|>']);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('bpe-download').click()]);
    expect(download.suggestedFilename()).toBe('tokenizer.json');
    const json = JSON.parse(await readFile((await download.path())!, 'utf8'));
    expect(json.model.type).toBe('BPE');
    expect(Object.keys(json.model.vocab)).toHaveLength(512);

    // The first screen holds the chart and the examples, at both laptop sizes, with no sideways scrolling.
    for (const [width, height] of [[1280, 720], [1024, 768]] as const) {
      await page.setViewportSize({ width, height });
      await page.evaluate(() => scrollTo(0, 0));
      await page.waitForTimeout(250);
      const boxes = await page.evaluate(() => ({
        scrollWidth: document.documentElement.scrollWidth,
        chart: document.querySelector('[data-testid="data-chart"]')!.getBoundingClientRect().toJSON(),
        live: document.querySelector('[data-testid="removed-examples"]')!.getBoundingClientRect().toJSON(),
      }));
      expect(boxes.scrollWidth).toBeLessThanOrEqual(width);
      expect(boxes.chart.bottom).toBeLessThanOrEqual(height);
      expect(boxes.live.top).toBeLessThan(height - 80);
      if (SHOTS) {
        await page.screenshot({ path: `${SHOTS}/view-data-${width}x${height}.png` });
      }
    }
    // A phone: one column, nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(250);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    if (SHOTS) {
      await page.setViewportSize({ width: 1280, height: 720 });
      await page.getByTestId('tokenizer-panel').evaluate((el) => el.scrollIntoView());
      await page.screenshot({ path: `${SHOTS}/view-data-tokenizer-1280x720.png` });
      await page.getByTestId('doc-list').evaluate((el) => el.scrollIntoView());
      await page.screenshot({ path: `${SHOTS}/view-data-documents-1280x720.png` });
    }
    // Characters or tokens at equal time, two seconds each: both curves on one chart in bits per character, the steps each got, a sample of each.
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.getByTestId('tokexp-seconds').fill('2');
    await page.getByTestId('tokexp-run').click();
    await page.getByTestId('tokexp-result').waitFor({ timeout: 30_000 });
    expect(Number(await page.getByTestId('tokexp-chart').getAttribute('data-points'))).toBeGreaterThanOrEqual(4);
    for (const arm of ['chars', 'bpe']) {
      const bits = Number(await page.getByTestId(`tokexp-bpc-${arm}`).innerText());
      expect(bits).toBeGreaterThan(0);
      expect(bits).toBeLessThan(Math.log2(512)); // below a guess among the BPE's tokens, per character
      expect(Number(await page.getByTestId(`tokexp-steps-${arm}`).innerText())).toBeGreaterThan(0);
      expect((await page.getByTestId(`tokexp-sample-${arm}`).innerText()).length).toBeGreaterThan(20);
    }
    expect(await page.getByTestId('tokexp-result').innerText()).toMatch(/characters, \d+ tokens: [\d.]+ bits a character.*·\s*byte-level BPE, 512 tokens: [\d.]+ bits a character/s);
    expect(await page.getByTestId('tokexp-why').innerText()).toContain('npm run lab -- lesson --tokenizer bpe');
    // Stop ends a long one part-way, and says so.
    await page.getByTestId('tokexp-seconds').fill('600');
    await page.getByTestId('tokexp-run').click();
    await page.getByTestId('tokexp-at').waitFor({ timeout: 30_000 });
    await page.getByTestId('tokexp-stop').click();
    await expect.poll(() => page.getByTestId('tokexp-result').innerText(), WAIT).toMatch(/stopped before both finished/);
    expect(await page.getByTestId('tokexp-run').isEnabled()).toBe(true);
    if (SHOTS) {
      await page.getByTestId('tokexp-panel').evaluate((el) => el.scrollIntoView());
      await page.screenshot({ path: `${SHOTS}/view-data-tokexp-1280x720.png` });
    }

    // Chosen for pretraining: a new run in Pretrain learns through it, and its summary says so.
    await page.getByTestId('bpe-use').check();
    await page.getByTestId('tab-pretrain').click();
    await page.getByRole('button', { name: 'Step', exact: true }).click();
    await waitForLab(page, (s) => s.step === 1 && s.status === 'paused', 60_000);
    await expect.poll(() => page.getByTestId('summary-tokenizer').innerText(), WAIT).toBe('byte-level BPE, 512 tokens');
    expect(errors).toEqual([]);
  });

  test('runs the raw and the filtered crawl as one experiment, draws both curves on one chart, and Pretrain trains on the crawl it chooses', async () => {
    // A fresh profile: the BPE run the test above left would be restored, and Step would continue it.
    const own = await launch({ webgpu: false });
    try {
      await experiment(own);
    } finally {
      await own.close();
      removeProfile(own.profile);
    }
  });
});

async function experiment({ page, errors }: { page: Page; errors: string[] }): Promise<void> {
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto(`${server.url}#preset=micro&view=data`);
  await waitForLab(page, (s) => s.status !== 'starting');
  const chart = page.getByTestId('experiment-chart');
  expect(await chart.getAttribute('data-points')).toBe('0');

  // Ten steps each, a validation point at every step: ten points a curve, twenty on the chart.
  await page.getByTestId('experiment-steps').fill('10');
  await page.getByTestId('experiment-run').click();
  await page.getByTestId('experiment-result').waitFor({ timeout: 60_000 });
  expect(await chart.getAttribute('data-points')).toBe('20');
  const raw = Number(await page.getByTestId('experiment-raw').innerText());
  const filtered = Number(await page.getByTestId('experiment-filtered').innerText());
  expect(raw).toBeGreaterThan(0);
  expect(filtered).toBeGreaterThan(0);
  expect(await page.getByTestId('experiment-gain').innerText()).toBe(`${raw >= filtered ? 'lower' : 'higher'} by ${Math.abs(raw - filtered).toFixed(3)}`);
  for (const arm of ['raw', 'filtered']) expect((await page.getByTestId(`experiment-sample-${arm}`).innerText()).length).toBeGreaterThan(20);
  if (SHOTS) {
    await page.getByTestId('experiment-panel').evaluate((el) => el.scrollIntoView());
    await page.screenshot({ path: `${SHOTS}/view-data-experiment-1280x720.png` });
  }

  // Stop ends a long one part-way: the chart keeps what was drawn, the result says it stopped.
  await page.getByTestId('experiment-steps').fill('5000');
  await page.getByTestId('experiment-run').click();
  await page.getByTestId('experiment-at').waitFor({ timeout: 30_000 });
  await page.getByTestId('experiment-stop').click();
  await expect.poll(() => page.getByTestId('experiment-result').innerText(), WAIT).toMatch(/stopped before both finished/);
  expect(await page.getByTestId('experiment-run').isEnabled()).toBe(true);

  // Pretrain trains on what the view chooses: the raw crawl is the crawl through no filters, and the link says so.
  await page.getByTestId('pretrain-on').selectOption('raw');
  await expect.poll(() => page.url()).toContain('corpus=crawl');
  expect(page.url()).toContain('filters=none');
  await page.getByTestId('tab-pretrain').click();
  expect(await page.getByLabel('Corpus').inputValue()).toBe('crawl');
  await page.getByRole('button', { name: 'Step', exact: true }).click();
  await waitForLab(page, (s) => s.step >= 1);
  expect(await page.locator('.runname').innerText()).toMatch(/^crawl:none · micro · seed 1/);
  await page.getByTestId('tab-data').click();
  await page.getByTestId('pretrain-on').selectOption('tales');
  await expect.poll(() => page.url()).toContain('corpus=tales');
  expect(errors).toEqual([]);
}
