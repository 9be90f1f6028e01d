/**
 * Browser-test harness: the lab and Chromium (cli/chromium.ts), and reading the lab's state from a page.
 */
import type { Page } from 'playwright-core';

export { CHROMIUM, launch, removeProfile, startPreview, startServer, type Browser } from '../../cli/chromium.ts';

export interface LabSnapshot {
  status: string;
  step: number;
  backend: string | null;
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
