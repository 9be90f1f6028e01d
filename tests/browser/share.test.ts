/**
 * Sharing checkpoint files in Chromium (wasm, for speed): export a trained micro checkpoint from
 * one profile, drop the file on the page in a fresh profile, read its card, load it and keep
 * training from the same step; a corrupt file shows its error and stores nothing.
 * Set LM_LAB_SCREENSHOTS=1 to also write docs/screenshots/import-card.png.
 */
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { expect, test } from 'vitest';
import { dropFile, launch, removeProfile, SHOTS, snapshot, useDevServer, waitForLab } from './harness.ts';

const server = useDevServer();

/** Runs and checkpoints as stored in the page's IndexedDB. */
function stored(page: Page): Promise<{ runs: string[]; checkpoints: number }> {
  return page.evaluate(
    () =>
      new Promise((done, fail) => {
        const open = indexedDB.open('lm-lab');
        open.onerror = () => fail(open.error);
        open.onsuccess = () => {
          const tx = open.result.transaction(['runs', 'checkpoints']);
          const runs = tx.objectStore('runs').getAllKeys();
          const checkpoints = tx.objectStore('checkpoints').count();
          tx.oncomplete = () => {
            done({ runs: (runs.result as string[]).sort(), checkpoints: checkpoints.result });
            open.result.close();
          };
        };
      }),
  );
}

test('export a micro checkpoint, drop it into a fresh profile, load it and continue from the same step', async () => {
  // The sender trains a little and exports the autosave at step 10.
  const sender = await launch({ webgpu: false });
  let file: { name: string; bytes: Uint8Array };
  let sentLoss: number[];
  try {
    const { page } = sender;
    // Long enough that it cannot finish before Pause (fused wasm trains micro at ~100 steps/s), and
    // keeping enough autosaves that the step-10 one is still there when it pauses.
    await page.goto(`${server.url}#corpus=tales&preset=micro&steps=2000&save=10&keep=100&seed=4`);
    await waitForLab(page, (s) => s.status === 'idle');
    await page.getByRole('checkbox', { name: 'Refresh while training' }).uncheck();
    await page.getByRole('checkbox', { name: 'Live samples' }).uncheck();
    await page.getByRole('button', { name: 'Pretrain' }).click();
    await waitForLab(page, (s) => s.step >= 12, 120_000);
    await page.getByRole('button', { name: 'Pause' }).click();
    const paused = await waitForLab(page, (s) => s.status === 'paused' && s.checkpoints.some((c) => c.step === 10));
    sentLoss = paused.loss;
    await page.getByRole('tab', { name: /Share/ }).click(); // the checkpoint list is in the Share view
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export checkpoint at step 10' }).click();
    const saved = await download;
    file = { name: saved.suggestedFilename(), bytes: new Uint8Array(readFileSync((await saved.path())!)) };
    expect(file.name).toMatch(/step10\.safetensors$/);
    expect(sender.errors).toEqual([]);
  } finally {
    await sender.close();
    removeProfile(sender.profile);
  }

  // The receiver starts with nothing, drops the file, reads the card and loads it.
  const receiver = await launch({ webgpu: false });
  const { page, errors } = receiver;
  try {
    await page.goto(`${server.url}#preset=micro`);
    await waitForLab(page, (s) => s.status === 'idle');
    await dropFile(page, file.name, file.bytes);
    const card = page.getByTestId('import-card');
    await expect.poll(() => card.isVisible()).toBe(true);
    await expect.poll(() => page.getByTestId('import-lines').innerText()).toContain('stage: pretrain, step 10');
    const lines = await page.getByTestId('import-lines').innerText();
    // micro: wte V·32 + wpe 16·32 + 2 blocks · 12,704 (12·32² + 13·32) + ln_f 64.
    const vocab = JSON.parse(readFileSync(new URL('../../corpora/vocab.json', import.meta.url), 'utf8')) as { specials: string[]; chars: string[] };
    const V = vocab.specials.length + vocab.chars.length;
    expect(lines).toContain(`${(V * 32 + 16 * 32 + 2 * 12_704 + 64).toLocaleString('en-US')} parameters`);
    expect(lines).toContain('optimizer moments included');
    expect(lines).toMatch(/metrics: 10 rows logged/);
    if (SHOTS) await page.screenshot({ path: `${SHOTS}/import-card.png` });
    expect((await stored(page)).runs).toEqual([]); // nothing is stored before the user chooses
    await page.getByRole('button', { name: 'Load into a new run' }).click();
    const loaded = await waitForLab(page, (s) => s.status === 'paused' && s.step === 10);
    expect(loaded.loss).toEqual(sentLoss.slice(0, 10));

    // Training continues from step 10, on the same batches with the same moments: the same loss.
    await page.getByRole('button', { name: 'Step', exact: true }).click();
    const stepped = await waitForLab(page, (s) => s.step === 11 && s.status === 'paused');
    expect(stepped.loss[10]).toBeCloseTo(sentLoss[10], 4);
    const before = await stored(page);
    expect(before.runs).toHaveLength(1);

    // A corrupt file (header length past the end of the file) is refused with one line; nothing changes.
    const corrupt = file.bytes.slice();
    corrupt[3] = 0x7f;
    await dropFile(page, 'broken.safetensors', corrupt);
    const error = page.getByTestId('import-error');
    await expect.poll(() => error.isVisible()).toBe(true);
    const message = await error.innerText();
    expect(message).toMatch(/^broken\.safetensors: not a valid \.safetensors file: header length/);
    expect(message).not.toContain('\n');
    expect(await stored(page)).toEqual(before);
    await page.getByRole('button', { name: 'Close' }).click();

    // The picker (Share view) opens the same card; Cancel stores nothing either.
    await page.getByRole('tab', { name: /Share/ }).click();
    await page.getByTestId('import-picker').setInputFiles({ name: file.name, mimeType: 'application/octet-stream', buffer: Buffer.from(file.bytes) });
    await expect.poll(() => page.getByTestId('import-lines').isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => card.isVisible()).toBe(false);
    expect(await stored(page)).toEqual(before);
    expect((await snapshot(page)).step).toBe(11);
    expect(errors).toEqual([]);
  } finally {
    await receiver.close();
    removeProfile(receiver.profile);
  }
});
