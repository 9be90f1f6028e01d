/**
 * The Inside view in Chromium on wasm: a micro model pretrained a few steps writes; its tokens can
 * be coloured by probability, and hovering, focusing or tapping one shows the five alternatives; a
 * head's attention opens large and a query token highlights where every head looks; the lens has a
 * row per layer. At a laptop's and a phone's size, with no page error. Then, outside the view:
 * the chat drawer, opened from the header, answers with coloured tokens, and the Pretrain view's
 * sample shows a token's alternatives.
 * Last, in a fresh profile, a model that has learnt a text by heart (the alphabet, over and over):
 * the Pretrain view's sample underlines what it copied, on request, and a tap shows the passage;
 * the SFT view's "compare across stages" opens the Inside view's stage changes prefilled and scored.
 * Set LM_LAB_SCREENSHOTS=1 to also write docs/screenshots/view-inside-*.png, chat-*.png,
 * view-pretrain-sample-*.png, view-pretrain-copied-*.png and side-by-side-copied.png.
 */
import type { Page } from 'playwright-core';
import { describe, expect, test } from 'vitest';
import { stageDone, view } from './flows.ts';
import { launch, removeProfile, SHOTS, useBrowser, useDevServer, waitForLab } from './harness.ts';

const server = useDevServer();
const chromium = useBrowser();

async function shot(page: Page, name: string): Promise<void> {
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/${name}.png` });
}

/** A finger's tap at the middle of an element (Chrome's touch emulation): pointer events of type touch, then a click. */
async function tap(page: Page, testId: string): Promise<void> {
  const box = (await page.getByTestId(testId).boundingBox())!;
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Emulation.setTouchEmulationEnabled', { enabled: true, maxTouchPoints: 1 });
  const point = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [point] });
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
  await cdp.send('Emulation.setTouchEmulationEnabled', { enabled: false });
  await cdp.detach();
}

/** No sideways scrolling of the page. */
async function noSideways(page: Page): Promise<void> {
  const size = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, window: window.innerWidth }));
  expect(size.scroll, `page wider than the window at ${size.window}px`).toBeLessThanOrEqual(size.window);
}

describe('the Inside view', () => {
  test('write with probabilities, alternatives on hover, focus and tap, attention heads and the lens', async () => {
    const { page, errors } = chromium.browser;
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.goto(`${server.url}#corpus=tales&preset=micro&steps=12&save=6&seed=5&view=pretrain`);
    await waitForLab(page, (s) => s.status === 'idle');
    await page.getByRole('checkbox', { name: 'Live samples' }).uncheck();
    await page.getByRole('button', { name: 'Pretrain' }).click();
    await waitForLab(page, (s) => s.status === 'done', 120_000);

    await page.getByRole('tab', { name: 'Inside' }).click();
    await expect.poll(() => page.getByTestId('inside-view').isVisible()).toBe(true);
    expect(page.url()).toContain('view=inside');
    await page.getByTestId('inside-prompt').fill('Once upon a time');
    await page.getByTestId('inside-write').click();
    await expect.poll(() => page.getByTestId('token-0').isVisible(), { timeout: 60_000 }).toBe(true);
    await expect.poll(() => page.getByTestId('head-0-0').isVisible(), { timeout: 60_000 }).toBe(true);
    await expect.poll(() => page.getByTestId('copied-spans').isVisible(), { timeout: 60_000 }).toBe(true);
    expect(await page.locator('button[data-testid^="token-"]').count()).toBeGreaterThan(10);

    // Colouring follows the switch.
    const background = () => page.getByTestId('token-0').evaluate((el) => getComputedStyle(el).backgroundColor);
    expect(await background()).toMatch(/^rgba\(234, 88, 12/);
    await page.getByTestId('probability-switch').uncheck();
    expect(await background()).toBe('rgba(0, 0, 0, 0)');
    await page.getByTestId('probability-switch').check();

    // Hover: five alternatives, with probabilities, gone when the mouse leaves.
    await page.getByTestId('token-0').hover();
    const popover = page.getByTestId('token-popover');
    await expect.poll(() => popover.count()).toBe(1);
    expect(await popover.locator('li').count()).toBe(5);
    expect(await popover.innerText()).toMatch(/drawn with p = [\d.<]+%/);
    const shares = (await popover.locator('li .num').allInnerTexts()).map((t) => parseFloat(t));
    expect(shares.every((p) => p >= 0 && p <= 100)).toBe(true);
    expect(shares).toEqual([...shares].sort((a, b) => b - a));
    await page.getByTestId('inside-prompt').hover();
    await expect.poll(() => popover.count()).toBe(0);

    // Keyboard: a focused token shows its alternatives; Escape hides them.
    await page.getByTestId('token-2').focus();
    await expect.poll(() => popover.count()).toBe(1);
    expect(await page.getByTestId('token-2').getAttribute('aria-expanded')).toBe('true');
    await page.keyboard.press('Escape');
    await expect.poll(() => popover.count()).toBe(0);

    // A head drawn large, with the tokens on both axes; a query token shows where every head looks from it.
    await page.getByTestId('head-1-1').click();
    const matrix = page.getByTestId('attention-matrix');
    await expect.poll(() => matrix.isVisible()).toBe(true);
    expect(await matrix.getByRole('heading').innerText()).toMatch(/Layer 2, head 2/i);
    const T = await matrix.getByRole('rowheader').count();
    expect(T).toBe(16); // micro reads 16 tokens at a time
    expect(await matrix.getByRole('cell').count()).toBe(T * T);
    await page.getByTestId('query-5').click();
    const looks = page.getByTestId('attention-looks');
    await expect.poll(() => looks.isVisible()).toBe(true);
    expect(await looks.locator('li').count()).toBe(4); // 2 layers × 2 heads
    // Clicking a written token follows it in the attention too: the last one is the window's last query.
    const written = await page.locator('button[data-testid^="token-"]').count();
    await page.getByTestId(`token-${written - 1}`).click();
    expect(await page.getByTestId('query-15').getAttribute('aria-pressed')).toBe('true');
    await page.getByTestId(`token-${written - 1}`).click(); // unpinned again
    await shot(page, 'view-inside-1280x720');
    if (process.env.INSIDE_MATRIX_SHOT) await matrix.screenshot({ path: process.env.INSIDE_MATRIX_SHOT });
    await noSideways(page);

    // The lens: the embeddings and each of the 2 blocks, then the tokens that really come next.
    await page.getByTestId('panel-lens').click();
    const lens = page.getByTestId('lens-table');
    await expect.poll(() => lens.isVisible()).toBe(true);
    expect(await lens.locator('tbody tr').count()).toBe(2 + 1 + 1);
    expect(await lens.locator('tbody tr').first().locator('td').count()).toBe(16);
    await shot(page, 'view-inside-lens-1280x720');

    // A copied span opens its passage; a text with none says so (a model this young copies little).
    if ((await page.locator('[data-testid^="copied-span-"]').count()) > 0) {
      await page.getByTestId('copied-span-0').click();
      expect(await page.getByTestId('copied-source').innerText()).toMatch(/training text.*character [\d,]+/s);
    } else {
      expect(await page.getByTestId('copied-spans').innerText()).toMatch(/No stretch of 20 characters or more/);
    }

    // A phone: a tap pins a token's alternatives (another tap hides them), nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByTestId('panel-attention').click();
    await page.waitForTimeout(200);
    await noSideways(page);
    await page.getByTestId('token-3').scrollIntoViewIfNeeded();
    await tap(page, 'token-3');
    await expect.poll(() => popover.count()).toBe(1);
    expect(await popover.locator('li').count()).toBe(5);
    const pop = (await popover.boundingBox())!;
    expect(pop.x).toBeGreaterThanOrEqual(0);
    expect(pop.x + pop.width).toBeLessThanOrEqual(390);
    await shot(page, 'view-inside-390x844');
    await tap(page, 'token-3');
    await expect.poll(() => popover.count()).toBe(0);
    expect(errors).toEqual([]);
  });
});

describe('probabilities outside the Inside view', () => {
  test('the chat answers from any view with coloured tokens, and a sample in Pretrain shows a token\'s alternatives', async () => {
    const { page, errors } = chromium.browser; // the model the first test trained is still loaded
    await page.setViewportSize({ width: 1024, height: 768 });
    await page.getByRole('tab', { name: 'Pretrain' }).click();

    // The chat, opened from the header: a base model continues the text, saying so.
    await page.getByTestId('chat-toggle').click();
    const panel = page.getByTestId('chat-panel');
    await expect.poll(() => panel.isVisible()).toBe(true);
    expect(await page.getByTestId('chat-mode').innerText()).toMatch(/Base model.*continues your text/s);
    await page.getByTestId('chat-input').fill('Once upon a time');
    await page.getByTestId('chat-send').click();
    const reply = panel.getByTestId('chat-reply');
    await expect.poll(() => reply.count(), { timeout: 60_000 }).toBe(1);
    const tokens = reply.locator('button[data-testid^="token-"]');
    expect(await tokens.count()).toBeGreaterThan(5);
    expect(await tokens.first().evaluate((el) => getComputedStyle(el).backgroundColor)).toMatch(/^rgba\(234, 88, 12|^rgb\(/);
    await tokens.nth(1).hover();
    await expect.poll(() => page.getByTestId('token-popover').count()).toBe(1);
    expect(await page.getByTestId('token-popover').locator('li').count()).toBe(5);
    // Where did it learn that: the reply is traced in the training data.
    await page.getByTestId('chat-mode').hover(); // the popover goes with the mouse
    await expect.poll(() => page.getByTestId('token-popover').count()).toBe(0);
    await panel.getByTestId('chat-trace').click();
    await expect.poll(() => panel.getByTestId('chat-trace-result').count(), { timeout: 30_000 }).toBe(1);
    expect(await panel.getByTestId('chat-trace-result').innerText()).toMatch(/copied word for word|No stretch of 20 characters/);
    await shot(page, 'chat-1024x768');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(200); // the charts behind the drawer redraw at the new width
    await noSideways(page);
    await shot(page, 'chat-390x844');
    await page.setViewportSize({ width: 1280, height: 720 });
    await panel.getByRole('button', { name: 'Close the chat' }).click(); // the drawer covers the header's button
    await expect.poll(() => panel.count()).toBe(0);

    // The Pretrain view's sample: each written character can be hovered for the five the model weighed.
    await page.getByRole('button', { name: 'Regenerate' }).click();
    const sample = page.getByTestId('sample');
    await expect.poll(() => sample.locator('button[data-testid^="token-"]').count(), { timeout: 60_000 }).toBeGreaterThan(10);
    await sample.getByTestId('token-2').hover();
    const popover = page.getByTestId('token-popover');
    await expect.poll(() => popover.count()).toBe(1);
    expect(await popover.locator('li').count()).toBe(5);
    expect(await popover.innerText()).toMatch(/drawn with p = [\d.<]+%/);
    await shot(page, 'view-pretrain-sample-1280x720');

    // What each stage changed, in the Inside view: a base model alone scores the reply in one row, its tokens' numbers on a click.
    await page.getByRole('tab', { name: 'Inside' }).click();
    await page.getByTestId('changes-score').click();
    await expect.poll(() => page.getByTestId('changes-row-0').isVisible(), { timeout: 60_000 }).toBe(true);
    expect(await page.locator('[data-testid^="changes-row-"]').count()).toBe(1);
    expect(await page.getByTestId('changes-row-0').locator('button').count()).toBe('Hank eats an apple.'.length + 1); // and ⏎
    await page.getByTestId('change-0-0').click();
    expect(await page.getByTestId('changes-detail').locator('tbody tr').count()).toBe(1);
    await page.getByTestId('stage-changes').scrollIntoViewIfNeeded();
    await shot(page, 'view-inside-changes-1280x720');
    expect(errors).toEqual([]);
  });
});

describe('where it learnt it, and what each stage changed, from the views', () => {
  test('the Pretrain sample underlines its copies on request; SFT\'s "compare across stages" opens the Inside view prefilled', async () => {
    // A fresh profile: the run the tests above left would be restored with its settings.
    const own = await launch({ webgpu: false });
    const page = own.page;
    try {
      await page.setViewportSize({ width: 1024, height: 768 });
      await page.goto(`${server.url}#corpus=own&preset=micro&steps=30&save=30&seed=5&view=pretrain`);
      await waitForLab(page, (s) => s.status === 'idle');
      // Each letter has one successor: thirty steps learn the text by heart, so greedy decoding copies it.
      const text = 'abcdefghijklmnopqrstuvwxyz. '.repeat(400);
      await page.getByLabel('Text file to train on').setInputFiles({ name: 'alphabet.txt', mimeType: 'text/plain', buffer: Buffer.from(text) });
      await page.getByRole('checkbox', { name: 'Live samples' }).uncheck();
      await page.getByRole('button', { name: 'Pretrain' }).click();
      await stageDone(page, 'pretrain', 30);

      // Nothing is traced until asked: no underline, then underlines under the copied letters.
      const panel = page.locator('section[aria-labelledby="sample-heading"]');
      const sample = panel.getByTestId('sample');
      await panel.getByRole('textbox', { name: 'Prompt' }).fill('abc');
      await panel.locator('input[type="range"]').fill('0'); // greedy
      await page.getByRole('button', { name: 'Regenerate' }).click();
      // The sample drawn when training finished comes first; then the greedy one, the alphabet on.
      await expect.poll(() => sample.innerText(), { timeout: 30_000 }).toContain('defghijklmnopqrstuvwxyz. abc');
      expect(await sample.locator('button.copied').count()).toBe(0);
      await panel.getByTestId('trace-ask').click();
      await expect.poll(() => sample.locator('button.copied').count(), { timeout: 30_000 }).toBeGreaterThan(20);
      // The underline and the probability colouring together on one token.
      const first = sample.locator('button.copied').first();
      const style = await first.evaluate((el) => ({ line: getComputedStyle(el).textDecorationLine, background: getComputedStyle(el).backgroundColor }));
      expect(style.line).toBe('underline');
      expect(style.background).toMatch(/^rgba\(234, 88, 12/);
      // A tap on an underlined letter shows its alternatives and the passage it was copied from.
      await first.click();
      const popover = page.getByTestId('token-popover');
      await expect.poll(() => popover.count()).toBe(1);
      expect(await popover.getByTestId('copied-source').innerText()).toMatch(/alphabet\.txt \(training text\), character [\d,]+ \(and \d+ more places\)/);
      expect(await panel.getByTestId('copied-spans').innerText()).toMatch(/copied word for word/);
      await shot(page, 'view-pretrain-copied-1024x768');
      await page.setViewportSize({ width: 390, height: 844 });
      await page.waitForTimeout(200);
      await noSideways(page);
      await first.scrollIntoViewIfNeeded();
      await first.click(); // the scroll closed it: open it again
      await expect.poll(() => popover.count()).toBe(1);
      const pop = (await popover.boundingBox())!;
      expect(pop.x + pop.width).toBeLessThanOrEqual(390);
      await shot(page, 'view-pretrain-copied-390x844');
      await page.setViewportSize({ width: 1024, height: 768 });

      // A few SFT steps, then the SFT answer of the side by side scored under every stage in the Inside view.
      await view(page, /SFT/);
      await page.getByLabel('SFT steps').fill('3');
      await page.getByLabel('SFT steps').dispatchEvent('change');
      await page.getByRole('button', { name: 'SFT', exact: true }).click();
      await stageDone(page, 'sft', 3);
      await page.getByRole('textbox', { name: 'Question for every stage' }).fill('What is next?');
      await page.getByRole('button', { name: 'Answer', exact: true }).click();
      await expect.poll(() => page.getByTestId('compare-stages-sft').count(), { timeout: 30_000 }).toBe(1);
      const reply = (await page.getByTestId('reply-sft').locator('button[data-testid^="token-"]').allTextContents()).join('');
      // The side by side traces its answers too: the SFT model's against the alphabet and the SFT answers.
      const sideBySide = page.getByTestId('side-by-side');
      await sideBySide.getByTestId('trace-ask').click();
      await expect.poll(() => sideBySide.getByTestId('copied-spans-sft').count(), { timeout: 30_000 }).toBe(1);
      expect(await sideBySide.getByTestId('copied-spans-sft').innerText()).toMatch(/copied word for word|No stretch of 20 characters or more is word for word in the training data or the SFT answers/);
      expect(await sideBySide.getByTestId('copied-spans-pretrain').count()).toBe(1);
      if (SHOTS) await sideBySide.screenshot({ path: `${SHOTS}/side-by-side-copied.png` });
      await page.getByTestId('compare-stages-sft').click();
      await expect.poll(() => page.getByTestId('inside-view').isVisible()).toBe(true);
      expect(page.url()).toContain('view=inside');
      expect(await page.getByTestId('changes-prompt').inputValue()).toBe('What is next?');
      expect(await page.getByTestId('changes-reply').inputValue()).toBe(reply.replaceAll('↵', '\n'));
      await expect.poll(() => page.getByTestId('changes-row-1').isVisible(), { timeout: 30_000 }).toBe(true);
      expect(await page.locator('[data-testid^="changes-row-"]').count()).toBe(2); // base and SFT
      expect(own.errors).toEqual([]);
    } finally {
      await own.close();
      removeProfile(own.profile);
    }
  });
});
