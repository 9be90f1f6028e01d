/**
 * Browser-test harness: the lab and Chromium (cli/chromium.ts), and reading the lab's state from a page.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { type Browser, launch, removeProfile, startServer } from '../../cli/chromium.ts';

export { CHROMIUM, launch, removeProfile, startPreview, startServer, type Browser } from '../../cli/chromium.ts';

/** docs/screenshots when LM_LAB_SCREENSHOTS is set (the tests then also write screenshots), else null. */
export const SHOTS = process.env.LM_LAB_SCREENSHOTS ? resolve(import.meta.dirname, '../../docs/screenshots') : null;
if (SHOTS) mkdirSync(SHOTS, { recursive: true });

/** The lab's dev server for the tests of one file: started before them, stopped after. */
export function useDevServer(): { readonly url: string } {
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.close();
  });
  return {
    get url() {
      if (!server) throw new Error('the dev server has not started');
      return server.url;
    },
  };
}

/** One Chromium (wasm only) for the tests of one file: launched before them, closed after. */
export function useBrowser(): { readonly browser: Browser & { profile: string } } {
  let browser: (Browser & { profile: string }) | undefined;
  beforeAll(async () => {
    browser = await launch({ webgpu: false });
  });
  afterAll(async () => {
    await browser?.close();
    if (browser) removeProfile(browser.profile);
  });
  return {
    get browser() {
      if (!browser) throw new Error('the browser has not started');
      return browser;
    },
  };
}

export interface LabSnapshot {
  status: string;
  step: number;
  /** The loaded run's stage, the open view, whether another tab trains, and the steps of the live lines. */
  stage: string | null;
  view: string;
  elsewhere: boolean;
  live: number[];
  backend: string | null;
  /** Workers sharing each step (data parallelism), from the run's summary. */
  workers: number | null;
  runId: string | null;
  points: Record<'loss' | 'valLoss' | 'gradNorm' | 'lr' | 'tokensPerSec', number>;
  loss: number[];
  gradNorm: number[];
  checkpoints: { step: number; pinned: boolean; kind: string }[];
  notice: string | null;
}

export function snapshot(page: Page): Promise<LabSnapshot> {
  return page.evaluate(() => (window as unknown as { __lab: { snapshot(): unknown } }).__lab.snapshot()) as Promise<LabSnapshot>;
}

/** Waits until the lab's snapshot satisfies `ok`. */
export async function waitForLab(page: Page, ok: (s: LabSnapshot) => boolean, timeout = 60_000): Promise<LabSnapshot> {
  const deadline = Date.now() + timeout;
  let last: LabSnapshot | undefined;
  while (Date.now() < deadline) {
    last = await snapshot(page).catch(() => undefined);
    if (last && ok(last)) return last;
    await page.waitForTimeout(200);
  }
  throw new Error(`timed out waiting for the lab; last state: ${JSON.stringify(last && { ...last, loss: last.loss.length, gradNorm: last.gradNorm.length })}`);
}

/** Drops a file on the page the way a user's drag from the desktop does: dragenter, dragover, drop. */
export async function dropFile(page: Page, name: string, bytes: Uint8Array): Promise<void> {
  await page.evaluate(
    ({ name, data }) => {
      const file = new File([Uint8Array.from(atob(data), (c) => c.charCodeAt(0))], name, { type: 'application/octet-stream' });
      const dataTransfer = new DataTransfer();
      dataTransfer.items.add(file);
      for (const type of ['dragenter', 'dragover', 'drop']) {
        document.body.dispatchEvent(new DragEvent(type, { dataTransfer, bubbles: true, cancelable: true }));
      }
    },
    { name, data: Buffer.from(bytes).toString('base64') },
  );
}
