/**
 * The loss-spike lab in Chromium, on wasm (software WebGPU would make the 40-odd micro steps take
 * minutes). The lessons shorten the detector's warm-up to 8 steps (window 16), so the injected
 * batch is also flagged as a spike: the tests check the injection's annotation and log entry, and
 * the detected spike and its skip as well.
 * Set LM_LAB_SCREENSHOTS=1 to also write docs/screenshots/spikes.png.
 */
import type { Page } from 'playwright-core';
import { expect, test } from 'vitest';
import { launch, removeProfile, SHOTS, snapshot, useDevServer, waitForLab } from './harness.ts';

const server = useDevServer();

const annotations = async (page: Page, chart: string) => ((await page.getByTestId(chart).getAttribute('data-annotations')) ?? '').split(' ').filter(Boolean);
const logEvents = (page: Page) => page.getByTestId('spike-log').locator('tr[data-event]').evaluateAll((rows) => rows.map((r) => `${r.getAttribute('data-event')}@${r.querySelector('td')?.textContent}`));

test('Inject microwavegang during training: marked on the charts, logged, skipped, and compared with a fork', async () => {
  const browser = await launch({ webgpu: false });
  const { page, errors } = browser;
  try {
    // wasm trains micro at ~100 steps a second: the run is long enough that it cannot end before the
    // test has injected and paused, and keeps enough autosaves that the step-20 one the fork starts
    // from is still there.
    await page.goto(`${server.url}#corpus=tales&preset=micro&steps=2000&save=20&keep=100&seed=1&policy=skip&warmup=8&view=spikes`);
    await waitForLab(page, (s) => s.status === 'idle');
    await page.getByRole('checkbox', { name: 'Live samples' }).uncheck();
    await page.getByRole('button', { name: 'Pretrain' }).click();
    await waitForLab(page, (s) => s.step >= 22 && s.checkpoints.some((c) => c.step === 20), 120_000);

    await page.getByRole('button', { name: 'Inject microwavegang' }).click();
    await expect.poll(() => annotations(page, 'chart-loss'), { timeout: 30_000 }).toContainEqual(expect.stringMatching(/^inject-/));
    const injected = Number(/^inject-(\d+)-/.exec((await annotations(page, 'chart-loss')).find((a) => a.startsWith('inject-'))!)![1]);
    expect(injected).toBeGreaterThanOrEqual(22);
    // The detector (warm after 8 steps) flags the batch of M before its update, and the policy skips it.
    await expect.poll(() => logEvents(page)).toEqual(expect.arrayContaining([`inject@${injected + 1}`, `spike@${injected + 1}`, `skip@${injected + 1}`]));
    expect(await annotations(page, 'chart-gradnorm')).toContainEqual(expect.stringMatching(new RegExp(`^spike-${injected}-`)));
    // The spike logged at the injected step crossed the 6σ threshold on loss or on gradient norm
    // (columns 3 and 4 of its row): the detector flags either.
    const zScores = await page.getByTestId('spike-log').locator('tr[data-event="spike"]').evaluateAll(
      (rows, step) => rows.filter((r) => r.querySelector('td')?.textContent === String(step)).map((r) => [2, 3].map((i) => Number(r.querySelectorAll('td')[i]?.textContent))),
      injected + 1,
    );
    expect(zScores.length).toBeGreaterThan(0);
    expect(Math.max(...zScores[0])).toBeGreaterThan(6);

    // The injection opens to its per-character loss.
    await page.getByTestId('spike-log').getByRole('button', { name: /injected MMMM/ }).click();
    await expect.poll(() => page.getByTestId('token-losses').textContent()).toContain('MMMMMMMM');
    await waitForLab(page, (s) => s.step >= injected + 6);
    await page.getByRole('button', { name: 'Pause' }).click();
    await waitForLab(page, (s) => s.status === 'paused');
    if (SHOTS) await page.screenshot({ path: `${SHOTS}/spikes.png`, fullPage: true });

    // Compare: a fork from step 20 with no recovery replays the injection; both curves are drawn.
    await page.getByLabel('Checkpoint to fork from').selectOption({ label: 'step 20' });
    await page.getByLabel('Policy of the fork').selectOption('none');
    await page.getByRole('button', { name: 'Fork with this policy' }).click();
    await waitForLab(page, (s) => s.status === 'paused' && s.step === 20);
    await page.getByRole('button', { name: 'Resume' }).click();
    await waitForLab(page, (s) => s.step >= injected + 3, 120_000);
    await page.getByRole('button', { name: 'Pause' }).click();
    await waitForLab(page, (s) => s.status === 'paused');
    await expect.poll(() => logEvents(page)).toEqual(expect.arrayContaining([`inject@${injected + 1}`, `spike@${injected + 1}`]));
    expect(await logEvents(page)).not.toContain(`skip@${injected + 1}`); // policy none applies the update
    await expect.poll(() => page.getByTestId('chart-compare').isVisible()).toBe(true);
    expect(Number(await page.getByTestId('chart-compare').getAttribute('data-points'))).toBeGreaterThan(2 * injected);
    if (SHOTS) await page.screenshot({ path: `${SHOTS}/spikes-compare.png`, fullPage: true });
    expect(errors).toEqual([]);
  } finally {
    await browser.close();
    removeProfile(browser.profile);
  }
});

test('a lesson link from the teacher panel schedules the injection and hides the controls it names', async () => {
  const teacher = await launch({ webgpu: false });
  let link: string;
  try {
    const { page } = teacher;
    await page.goto(`${server.url}#corpus=tales&preset=micro&steps=200&save=20&seed=3&view=spikes`);
    await waitForLab(page, (s) => s.status === 'idle');
    const panel = page.getByTestId('teacher-panel');
    await panel.getByLabel('Injection of the lesson').selectOption('microwavegang');
    // Step 24, not earlier: before it the detector's 16-step window still holds the steep fall of
    // the first steps, whose spread hides a batch of M (at step 14 it is missed on every seed).
    await panel.getByLabel('Injection step').fill('24');
    await panel.getByLabel('Injection size').fill('2');
    await panel.getByLabel('Recovery policy of the lesson').selectOption('skip');
    await panel.getByLabel('Detector warm-up').fill('8');
    await panel.getByLabel('Hide inject buttons').check();
    await panel.getByLabel('Lock run settings').check();
    link = await page.getByTestId('lesson-link').inputValue();
    expect(link).toContain('inject=microwavegang%4024x2');
    expect(link).toMatch(/hide=[^&]*inject/);
    expect(link).toContain('view=spikes'); // the student lands in the spike lab
  } finally {
    await teacher.close();
    removeProfile(teacher.profile);
  }

  const student = await launch({ webgpu: false });
  const { page, errors } = student;
  try {
    await page.goto(link);
    await waitForLab(page, (s) => s.status === 'idle');
    // Hidden: the inject buttons and the teacher panel; locked: the run settings.
    expect(await page.getByRole('button', { name: 'Inject microwavegang' }).count()).toBe(0);
    expect(await page.getByTestId('teacher-panel').count()).toBe(0);
    expect(await page.getByRole('combobox', { name: 'Model size' }).isDisabled()).toBe(true);
    expect(await page.getByLabel('Recovery policy').inputValue()).toBe('skip');

    expect(await snapshot(page)).toMatchObject({ view: 'spikes' });
    await page.getByRole('checkbox', { name: 'Live samples' }).uncheck();
    await page.getByRole('button', { name: 'Pretrain' }).click();
    await expect.poll(() => page.getByTestId('spike-status').innerText()).toContain('microwavegang@24x2');
    await waitForLab(page, (s) => s.step >= 27, 120_000);
    await page.getByRole('button', { name: 'Pause' }).click();
    await waitForLab(page, (s) => s.status === 'paused');
    const events = await logEvents(page);
    expect(events.filter((e) => e.startsWith('inject@'))).toEqual(['inject@26', 'inject@25']); // two batches, newest first
    expect(events.filter((e) => e === 'spike@25' || e === 'spike@26').length).toBeGreaterThan(0); // caught at an injected batch
    expect(await annotations(page, 'chart-loss')).toContainEqual(expect.stringMatching(/^inject-24-/));
    // The link is kept while the student works: a reload keeps the lesson.
    expect(page.url()).toMatch(/hide=[^&]*inject/);
    expect(errors).toEqual([]);
  } finally {
    await student.close();
    removeProfile(student.profile);
  }
});
