/**
 * What a student does in the page, as steps the browser tests share: open a view, fill a field,
 * train a stage to its end, export a checkpoint and load a file.
 */
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import { dropFile, waitForLab } from './harness.ts';
export const points = async (page: Page, id: string) => Number(await page.getByTestId(id).getAttribute('data-points'));
export const view = (page: Page, name: RegExp) => page.getByRole('tab', { name }).click();
export const stageDone = (page: Page, stage: string, steps: number, timeout = 120_000) => waitForLab(page, (s) => s.stage === stage && s.status === 'done' && s.step === steps, timeout);

/** Exports a checkpoint of the loaded run from the Share view's list, as the user's download. */
export async function exportAt(page: Page, step: number): Promise<{ name: string; bytes: Uint8Array }> {
  await view(page, /Share/);
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: `Export checkpoint at step ${step}` }).click();
  const saved = await download;
  return { name: saved.suggestedFilename(), bytes: new Uint8Array(readFileSync((await saved.path())!)) };
}

/** Drops a file, waits for its card and loads it into a new run. */
export async function load(page: Page, file: { name: string; bytes: Uint8Array }): Promise<void> {
  await dropFile(page, file.name, file.bytes);
  await expect.poll(() => page.getByTestId('import-card').isVisible()).toBe(true);
  await page.getByRole('button', { name: 'Load into a new run' }).click();
  await expect.poll(() => page.getByTestId('import-card').isVisible()).toBe(false);
}

export async function fill(page: Page, testId: string, value: string): Promise<void> {
  await page.getByTestId(testId).fill(value);
  await page.getByTestId(testId).dispatchEvent('change');
}

/** Pretrains the page's run (the link's settings, `steps` of them), then fine-tunes it for `sftSteps`, with the live views off. */
export async function pretrainAndSft(page: Page, steps: number, sftSteps: number): Promise<void> {
  await page.getByRole('checkbox', { name: 'Refresh while training' }).uncheck();
  await page.getByRole('checkbox', { name: 'Live samples' }).uncheck();
  await page.getByRole('button', { name: 'Pretrain' }).click();
  await stageDone(page, 'pretrain', steps);
  await view(page, /SFT/);
  await page.getByLabel('SFT steps').fill(String(sftSteps));
  await page.getByLabel('SFT steps').dispatchEvent('change');
  await page.getByRole('button', { name: 'SFT', exact: true }).click();
  await stageDone(page, 'sft', sftSteps);
}

