/**
 * The Class view in Chromium: a teacher drops the students' files (one of them not a checkpoint),
 * sees one row per student with the names they typed, the refused file with its reason, sorts by
 * validation loss, and downloads the table as CSV. Nothing is sent anywhere: the files are read in
 * the tab (the test server would see any request).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { LabSession } from '../../src/core/train/session.ts';
import { tinyCorpus, useBackend } from '../helpers.ts';
import { view } from './flows.ts';
import { dropFile, launch, removeProfile, useDevServer, waitForLab } from './harness.ts';

const server = useDevServer();

/** A micro base model trained `steps` steps by `student`. */
async function studentFile(student: string, steps: number, seed: number): Promise<Uint8Array> {
  await useBackend('cpu');
  const { corpus, tokenizer } = tinyCorpus();
  const s = LabSession.create({ preset: 'micro', corpus, tokenizer, train: { steps, evalInterval: steps, seed } });
  s.student = student;
  while (!s.done) await s.step();
  const bytes = await s.toCheckpointBytes();
  s.dispose();
  return bytes;
}

describe('the Class view', () => {
  test('reads the dropped files into one table, refuses what is not a checkpoint, sorts, and exports CSV', async () => {
    const files = [
      { name: 'ada.safetensors', bytes: await studentFile('Ada', 6, 1) },
      { name: 'bo.safetensors', bytes: await studentFile('Bo', 2, 2) },
      { name: 'notes.safetensors', bytes: new TextEncoder().encode('my homework') },
    ];
    const browser = await launch({ webgpu: false });
    const { page, errors } = browser;
    try {
      await page.goto(`${server.url}#corpus=tales&preset=micro`);
      await waitForLab(page, (s) => s.status === 'idle');
      await view(page, /Class/);
      for (const f of files) await dropFile(page, f.name, f.bytes);
      const rows = page.getByTestId('class-table').locator('tbody tr');
      await expect.poll(() => rows.count()).toBe(2);
      expect(await page.getByTestId('class-summary').innerText()).toMatch(/2 files read, 1 refused[\s\S]*notes\.safetensors: not a valid \.safetensors file/);
      expect(await page.getByTestId('import-card').isVisible()).toBe(false); // dropped files join the table, not the import

      // Sorted by validation loss, ascending then descending: Ada trained longer, so her loss is lower.
      await page.getByRole('button', { name: /Val loss/ }).click();
      expect(await rows.first().innerText()).toMatch(/^Ada/);
      await page.getByRole('button', { name: /Val loss/ }).click();
      expect(await rows.first().innerText()).toMatch(/^Bo/);

      const download = page.waitForEvent('download');
      await page.getByTestId('class-csv').click();
      const csv = readFileSync((await (await download).path())!, 'utf8').trim().split('\r\n');
      expect(csv[0]).toMatch(/^file,student,stage,lineage,steps/);
      expect(csv.slice(1).map((l) => l.split(',')[1])).toEqual(['Bo', 'Ada', '']);
      expect(csv[3]).toMatch(/^notes\.safetensors,.*not a valid \.safetensors file/);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      removeProfile(browser.profile);
    }
  });
});
