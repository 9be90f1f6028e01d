/**
 * The reward-model and RL views in real Chromium on wasm, on the micro model: pretrain → SFT →
 * reward model → RL against the reward model at β = 0 and the default β (forked from one SFT
 * checkpoint) → RL with verifiers; the charts fill, the completions table shows the latest
 * samples with their rewards, and the β comparison draws both runs.
 */
import type { Page } from 'playwright-core';
import { describe, expect, test } from 'vitest';
import { launch, removeProfile, SHOTS, useDevServer, waitForLab } from './harness.ts';
import { LESSON_PLAN } from '../../src/core/lesson/plan.ts';

const server = useDevServer();
const points = async (page: Page, id: string) => Number(await page.getByTestId(id).getAttribute('data-points'));
const view = (page: Page, name: RegExp) => page.getByRole('tab', { name }).click();
const stageDone = (page: Page, stage: string, steps: number, timeout = 120_000) => waitForLab(page, (s) => s.stage === stage && s.status === 'done' && s.step === steps, timeout);

async function fill(page: Page, testId: string, value: string): Promise<void> {
  await page.getByTestId(testId).fill(value);
  await page.getByTestId(testId).dispatchEvent('change');
}

describe('RL in the browser', () => {
  test('trains a reward model and RL runs, and shows their charts and sampled completions', async () => {
    const browser = await launch({ webgpu: false });
    const { page, errors } = browser;
    try {
      await page.goto(`${server.url}#corpus=tales&preset=micro&steps=10&save=10&seed=4`);
      await waitForLab(page, (s) => s.status === 'idle');
      await page.getByRole('checkbox', { name: 'Refresh while training' }).uncheck();
      await page.getByRole('checkbox', { name: 'Live samples' }).uncheck();
      await page.getByRole('button', { name: 'Pretrain' }).click();
      await stageDone(page, 'pretrain', 10);
      await view(page, /SFT/);
      await page.getByLabel('SFT steps').fill('6');
      await page.getByLabel('SFT steps').dispatchEvent('change');
      await page.getByRole('button', { name: 'SFT', exact: true }).click();
      await stageDone(page, 'sft', 6);

      await view(page, /Reward model/);
      await fill(page, 'rm-steps', '4');
      await page.getByTestId('rm-start').click();
      await stageDone(page, 'rm', 4);
      await expect.poll(() => points(page, 'rm-chart-loss')).toBe(8); // the loss and its next-token term, 4 steps each
      expect(await points(page, 'rm-chart-accuracy')).toBeGreaterThanOrEqual(4);

      await view(page, /RL/);
      await expect.poll(() => page.getByTestId('rl-reward').locator('option[value="model"]').isDisabled()).toBe(false);
      await page.getByTestId('rl-reward').selectOption('model');
      expect(await page.getByTestId('rl-kl').inputValue()).toBe(String(LESSON_PLAN.rl.klCoef.model));
      await fill(page, 'rl-steps', '3');
      await page.getByTestId('rl-beta0').click();
      await stageDone(page, 'rl', 3);
      await expect.poll(() => points(page, 'rl-chart-reward')).toBe(6); // the reward (the reward model's score), each step and smoothed
      expect(await points(page, 'rl-chart-kl')).toBe(6);
      await expect.poll(() => page.getByTestId('rl-samples').locator('tbody tr').count()).toBeGreaterThan(1);
      await page.getByTestId('rl-start').click(); // the default β, from the same SFT checkpoint
      await waitForLab(page, (s) => s.status === 'running' || s.status === 'loading', 30_000).catch(() => undefined);
      await stageDone(page, 'rl', 3);
      await expect.poll(() => points(page, 'rl-chart-hacking')).toBe(12); // two runs × (proxy, true) × 3 steps
      expect(await points(page, 'rl-chart-gao')).toBe(12);
      if (SHOTS) await page.getByTestId('rl-view').screenshot({ path: `${SHOTS}/rl.png` });

      await page.getByTestId('rl-reward').selectOption('verifier');
      expect(await page.getByTestId('rl-kl').inputValue()).toBe('0');
      await page.getByTestId('rl-start').click();
      await waitForLab(page, (s) => s.status === 'running' || s.status === 'loading', 30_000).catch(() => undefined);
      await stageDone(page, 'rl', 3);
      await expect.poll(() => points(page, 'rl-chart-verified')).toBeGreaterThanOrEqual(3);
      const table = await page.getByTestId('rl-samples').innerText();
      expect(table).toMatch(/Count to|Say|Spell|What is|Repeat/);
      // micro's 16-character context leaves no room for any held-out answer: the card says so rather than scoring 0%
      await page.getByTestId('rl-score').click();
      await expect.poll(() => page.getByTestId('rl-card-count').textContent(), { timeout: 30_000 }).toMatch(/None of the \d+ held-out questions/);
      expect(await page.getByTestId('rl-card').count()).toBe(0); // no table of 0% rows
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      removeProfile(browser.profile);
    }
  });
});
