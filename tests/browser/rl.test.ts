/**
 * The reward-model and RL views in real Chromium on wasm, on the micro model: pretrain → SFT →
 * reward model → RL against the reward model at β = 0 and the default β (forked from one SFT
 * checkpoint) → RL with verifiers; the charts fill, the completions table shows the latest
 * samples with their rewards, and the β comparison draws both runs. The last RL run, dropped into a
 * fresh profile, loads frozen with its charts until the SFT checkpoint it started from is dropped too.
 * On wasm, with a batch large enough to share, RL's steps are shared with the helper workers.
 */
import { describe, expect, test } from 'vitest';
import { exportAt, fill, load, points, pretrainAndSft, stageDone, view } from './flows.ts';
import { launch, removeProfile, SHOTS, useDevServer, waitForLab } from './harness.ts';
import { LESSON_PLAN } from '../../src/core/lesson/plan.ts';

const server = useDevServer();

describe('RL in the browser', () => {
  test('trains a reward model and RL runs, and shows their charts and sampled completions', async () => {
    const browser = await launch({ webgpu: false });
    const { page, errors } = browser;
    let rlFile: { name: string; bytes: Uint8Array } | undefined;
    let sftFile: { name: string; bytes: Uint8Array } | undefined;
    try {
      await page.goto(`${server.url}#corpus=tales&preset=micro&steps=10&save=10&seed=4`);
      await waitForLab(page, (s) => s.status === 'idle');
      await pretrainAndSft(page, 10, 6);
      sftFile = await exportAt(page, 6);

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
      await expect.poll(() => page.getByTestId('rl-samples').locator('li').count()).toBeGreaterThan(1);
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
      // 3 steps of verified accuracy, faint and smoothed, and of the training questions solved (micro fits no held-out answer)
      await expect.poll(() => points(page, 'rl-chart-verified')).toBe(9);
      const table = await page.getByTestId('rl-samples').innerText(); // the sampled replies, each under its prompt
      expect(table).toMatch(/Count to|Say|Spell|What is|Repeat/);
      // micro's 16-character context leaves no room for any held-out answer: the card says so rather than scoring 0%
      await page.getByTestId('rl-score').click();
      await expect.poll(() => page.getByTestId('rl-card-count').textContent(), { timeout: 30_000 }).toMatch(/None of the \d+ held-out questions/);
      expect(await page.getByTestId('rl-card').count()).toBe(0); // no table of 0% rows
      expect(errors).toEqual([]);
      rlFile = await exportAt(page, 3);
    } finally {
      await browser.close();
      removeProfile(browser.profile);
    }

    // A student's fresh tab: the RL file alone loads with its charts but cannot train; its SFT file makes it whole.
    const receiver = await launch({ webgpu: false });
    try {
      const { page, errors } = receiver;
      await page.goto(`${server.url}#preset=micro`);
      await waitForLab(page, (s) => s.status === 'idle');
      await load(page, rlFile!);
      await waitForLab(page, (s) => s.stage === 'rl' && s.step === 3 && s.status === 'done');
      await expect.poll(() => page.getByTestId('frozen').textContent()).toMatch(/needs its KL reference, the SFT checkpoint it started from \(step 6, SHA-256/);
      await view(page, /RL/);
      await expect.poll(() => points(page, 'rl-chart-verified')).toBe(9);
      await load(page, sftFile!);
      await expect.poll(async () => (await waitForLab(page, () => true)).notice ?? '').toMatch(/lacked, so that run stays loaded and is whole again/);
      expect((await waitForLab(page, () => true)).stage).toBe('rl');
      expect(await page.getByTestId('frozen').count()).toBe(0);
      expect(errors).toEqual([]);
    } finally {
      await receiver.close();
      removeProfile(receiver.profile);
    }
  });

  test('the reward model and RL views have Pause, Resume and Stop, and a paused RL run takes no more steps', async () => {
    const browser = await launch({ webgpu: false });
    const { page, errors } = browser;
    const button = (name: string) => page.locator('.view > .side').getByRole('button', { name, exact: true });
    try {
      await page.goto(`${server.url}#corpus=tales&preset=micro&steps=6&save=6&seed=8`);
      await waitForLab(page, (s) => s.status === 'idle');
      await pretrainAndSft(page, 6, 3);

      // The reward model: Pause and Stop while it trains; Stop saves where it stands.
      await view(page, /Reward model/);
      await fill(page, 'rm-steps', '5000');
      await page.getByTestId('rm-start').click();
      await waitForLab(page, (s) => s.stage === 'rm' && s.status === 'running' && s.step >= 1);
      expect(await button('Pause').isEnabled()).toBe(true);
      expect(await button('Stop').isEnabled()).toBe(true);
      await button('Stop').click();
      // Stop saves a checkpoint at the step it stopped at (the list follows the status).
      const stopped = await waitForLab(page, (s) => s.stage === 'rm' && s.status === 'stopped' && s.checkpoints.some((c) => c.step === s.step));
      expect(stopped.step).toBeLessThan(5000);

      // RL: Pause stops its steps, Resume goes on from there, Stop ends it.
      await view(page, /RL/);
      await fill(page, 'rl-steps', '5000');
      await page.getByTestId('rl-start').click();
      await waitForLab(page, (s) => s.stage === 'rl' && s.status === 'running' && s.step >= 1);
      expect(await button('Pause').isEnabled()).toBe(true);
      expect(await button('Stop').isEnabled()).toBe(true);
      await button('Pause').click();
      const paused = await waitForLab(page, (s) => s.stage === 'rl' && s.status === 'paused');
      await page.waitForTimeout(3000); // a running RL step takes well under this on micro
      const still = await waitForLab(page, () => true);
      expect(still).toMatchObject({ status: 'paused', step: paused.step, runId: paused.runId });
      expect(await button('Resume').isEnabled()).toBe(true);
      expect(await button('Pause').isDisabled()).toBe(true);
      await button('Resume').click();
      await waitForLab(page, (s) => s.status === 'running' && s.step > paused.step);
      await button('Stop').click();
      const ended = await waitForLab(page, (s) => s.status === 'stopped');
      expect(ended.runId).toBe(paused.runId);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      removeProfile(browser.profile);
    }
  });

  test('on wasm, RL shares its samples, reference log-probs and updates with the helper workers', async () => {
    const browser = await launch({ webgpu: false });
    const { page, errors } = browser;
    try {
      // micro with 32 rows a batch: its steps are large enough to share, and RL inherits the batch size
      await page.goto(`${server.url}#corpus=tales&preset=micro&steps=4&save=4&seed=5&batch=32`);
      await waitForLab(page, (s) => s.status === 'idle');
      const workers = Math.min(4, await page.evaluate(() => navigator.hardwareConcurrency));
      expect(workers).toBeGreaterThan(1); // the test machines have two cores
      await pretrainAndSft(page, 4, 2);
      await view(page, /RL/);
      await fill(page, 'rl-steps', '3');
      await page.getByTestId('rl-start').click();
      // An update is shared only when enough rows learn (groups whose rewards differ): watch every step.
      let sharedSteps = 0;
      const done = await waitForLab(page, (s) => {
        if (s.stage === 'rl' && s.workers === workers) sharedSteps += 1;
        return s.stage === 'rl' && s.status === 'done' && s.step === 3;
      }, 120_000);
      expect(sharedSteps).toBeGreaterThan(0);
      expect(done.notice ?? '').not.toMatch(/one worker/);
      await expect.poll(() => page.getByTestId('rl-samples').locator('li').count()).toBeGreaterThan(1);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      removeProfile(browser.profile);
    }
  });
});
