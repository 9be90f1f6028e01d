/**
 * Pretrain → SFT → DPO in real Chromium on wasm (faster here than software WebGPU), then the three
 * stages' charts, the report card and the side-by-side panel must be populated.
 *
 * LM_LAB_SCREENSHOTS=1 also writes docs/screenshots/{sft,dpo,side-by-side}.png. LM_LAB_STAGE_PRESET
 * (default micro) and LM_LAB_STAGE_STEPS (pretrain,sft,dpo; default 12,8,6) make a longer run for them.
 */
import type { Page } from 'playwright-core';
import { describe, expect, test } from 'vitest';
import { launch, removeProfile, SHOTS, useDevServer, waitForLab } from './harness.ts';

const PRESET = process.env.LM_LAB_STAGE_PRESET ?? 'micro';
const [PRETRAIN, SFT, DPO] = (process.env.LM_LAB_STAGE_STEPS ?? '12,8,6').split(',').map(Number);

const server = useDevServer();

const points = async (page: Page, id: string) => Number(await page.getByTestId(id).getAttribute('data-points'));
const view = (page: Page, name: RegExp) => page.getByRole('tab', { name }).click();

/** Waits until the loaded run is `stage` and has taken all its steps. */
async function stageDone(page: Page, stage: string, steps: number, timeout: number): Promise<void> {
  await waitForLab(page, (s) => s.stage === stage && s.status === 'done' && s.step === steps, timeout);
}

describe('post-training in the browser', () => {
  test('runs pretrain, SFT and DPO and shows their charts, report card and side-by-side answers', async () => {
    const browser = await launch({ webgpu: false });
    const { page, errors } = browser;
    const started = Date.now();
    try {
      await page.goto(`${server.url}#corpus=tales&preset=${PRESET}&steps=${PRETRAIN}&save=${PRETRAIN}&seed=4`);
      await waitForLab(page, (s) => s.status === 'idle');
      await page.getByRole('checkbox', { name: 'Refresh while training' }).uncheck();
      await page.getByRole('checkbox', { name: 'Live samples' }).uncheck();

      // Nothing to fine-tune yet; the mask view already shows which tokens an SFT loss counts.
      await view(page, /SFT/);
      await expect.poll(() => page.getByRole('button', { name: 'SFT', exact: true }).isDisabled()).toBe(true);
      await expect.poll(() => page.getByTestId('mask-view').locator('.tok.counted').count()).toBeGreaterThan(3);
      await view(page, /DPO/);
      await expect.poll(() => page.getByRole('button', { name: 'DPO', exact: true }).isDisabled()).toBe(true);

      await view(page, /Pretrain/);
      await page.getByRole('button', { name: 'Pretrain' }).click();
      await stageDone(page, 'pretrain', PRETRAIN, 120_000);
      await view(page, /DPO/);
      expect(await page.getByRole('button', { name: 'DPO', exact: true }).isDisabled()).toBe(true);

      await view(page, /SFT/);
      await page.getByLabel('SFT steps').fill(String(SFT));
      await page.getByLabel('SFT steps').dispatchEvent('change');
      await page.getByRole('button', { name: 'SFT', exact: true }).click();
      await stageDone(page, 'sft', SFT, 120_000);
      await expect.poll(() => points(page, 'chart-sft-loss')).toBeGreaterThanOrEqual(SFT);
      expect(await points(page, 'chart-sft-accuracy')).toBe(SFT);
      expect(await points(page, 'chart-sft-gradnorm')).toBe(SFT);
      await expect.poll(() => points(page, 'chart-stages-loss')).toBeGreaterThanOrEqual(PRETRAIN + SFT);
      if (SHOTS) await page.getByTestId('sft-charts').screenshot({ path: `${SHOTS}/sft.png` });

      await view(page, /DPO/);
      await expect.poll(() => page.getByRole('button', { name: 'DPO', exact: true }).isEnabled()).toBe(true);
      expect(await page.getByLabel('β (beta)').inputValue()).toBe('0.1');
      await page.getByLabel('DPO steps').fill(String(DPO));
      await page.getByLabel('DPO steps').dispatchEvent('change');
      await page.getByRole('button', { name: 'DPO', exact: true }).click();
      await stageDone(page, 'dpo', DPO, 150_000);
      await expect.poll(() => points(page, 'chart-dpo-rewards')).toBe(3 * DPO); // chosen, rejected, margin
      expect(await points(page, 'chart-dpo-logps')).toBe(2 * DPO);
      expect(await points(page, 'chart-dpo-accuracy')).toBeGreaterThan(DPO); // each batch, and the held-out pairs at the end
      expect(await points(page, 'chart-dpo-gradnorm')).toBe(DPO);
      await expect.poll(() => page.getByText('Both rewards falling can be normal').isVisible()).toBe(true);
      // The parents' charts stay: base and SFT rows come from the checkpoints DPO descends from.
      expect(await points(page, 'chart-stages-loss')).toBeGreaterThanOrEqual(PRETRAIN + SFT + DPO);
      await view(page, /SFT/);
      expect(await points(page, 'chart-sft-loss')).toBeGreaterThanOrEqual(SFT);
      // The pipeline bar marks the stages done and where the loaded model is.
      expect(await page.getByTestId('tab-pretrain').getAttribute('class')).toMatch(/\bdone\b/);
      expect(await page.getByTestId('tab-sft').getAttribute('class')).toMatch(/\bdone\b/);
      expect(await page.getByTestId('tab-dpo').getAttribute('class')).toMatch(/\bhere\b/);
      // The pretraining view draws the base model's curve, and says so.
      await view(page, /Pretrain/);
      expect(await points(page, 'chart-loss')).toBeGreaterThanOrEqual(PRETRAIN);
      expect(await page.getByTestId('chart-loss-source').innerText()).toMatch(/pretraining · steps 1–/);
      await view(page, /DPO/);

      // The report card fills in when DPO finishes: one column per stage.
      await expect.poll(() => page.getByTestId('report-card').getAttribute('data-cards'), { timeout: 60_000 }).toBe('3');
      expect(await page.getByTestId('report-card').innerText()).toMatch(/reference: its SFT parent/);

      await page.getByRole('button', { name: 'Answer' }).click();
      await expect.poll(() => page.getByTestId('side-by-side').getAttribute('data-replies'), { timeout: 60_000 }).toBe('3');
      for (const stage of ['pretrain', 'sft', 'dpo']) {
        expect(await page.getByTestId(`reply-${stage}`).innerText()).toMatch(/assistant:/);
      }
      if (SHOTS) {
        await page.getByTestId('dpo-charts').screenshot({ path: `${SHOTS}/dpo.png` });
        await page.getByTestId('side-by-side').screenshot({ path: `${SHOTS}/side-by-side.png` });
        await page.screenshot({ path: `${SHOTS}/stages.png`, fullPage: true });
        // The DPO and SFT views of the trained chain, as a laptop shows them.
        await page.setViewportSize({ width: 1280, height: 720 });
        await page.evaluate(() => scrollTo(0, 0));
        await page.waitForTimeout(250);
        await page.screenshot({ path: `${SHOTS}/view-dpo-trained.png` });
        await view(page, /SFT/);
        await page.evaluate(() => scrollTo(0, 0));
        await page.waitForTimeout(250);
        await page.screenshot({ path: `${SHOTS}/view-sft-trained.png` });
      }
      expect(errors).toEqual([]);
      console.log(`pretrain ${PRETRAIN} + SFT ${SFT} + DPO ${DPO} steps on ${PRESET} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    } finally {
      await browser.close();
      removeProfile(browser.profile);
    }
  });
});
