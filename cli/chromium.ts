/**
 * The lab served on a free 127.0.0.1 port (Vite's dev server, or a build under `vite preview`) and
 * Debian's headless Chromium driven by playwright-core (never a downloaded browser), with a fresh
 * profile each time. Used by the browser tests and by `npm run bench -- --browser`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { build, createServer, preview, type ViteDevServer } from 'vite';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROOT = resolve(import.meta.dirname, '..');

const BASE_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export async function startServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const server: ViteDevServer = await createServer({
    root: ROOT,
    configFile: join(ROOT, 'vite.config.ts'),
    logLevel: 'warn',
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false },
  });
  await server.listen();
  const address = server.httpServer?.address();
  if (!address || typeof address === 'string') throw new Error('dev server has no port');
  return { url: `http://127.0.0.1:${address.port}/`, close: () => server.close() };
}

/** Builds the static site into a temporary folder and serves it with `vite preview`. */
export async function startPreview(): Promise<{ url: string; close: () => Promise<void> }> {
  const outDir = mkdtempSync(join(tmpdir(), 'lm-lab-dist-'));
  const configFile = join(ROOT, 'vite.config.ts');
  await build({ root: ROOT, configFile, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  const server = await preview({ root: ROOT, configFile, logLevel: 'warn', build: { outDir }, preview: { host: '127.0.0.1', port: 0, strictPort: false } });
  const address = server.httpServer.address();
  if (!address || typeof address === 'string') throw new Error('preview server has no port');
  return {
    url: `http://127.0.0.1:${address.port}/`,
    close: async () => {
      await server.close();
      rmSync(outDir, { recursive: true, force: true });
    },
  };
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught page errors seen so far. */
  errors: string[];
  close: () => Promise<void>;
}

/** Launches Chromium with a fresh profile (or `profile`, to reopen one), WebGPU on unless told otherwise. */
export async function launch(opts: { webgpu?: boolean; profile?: string } = {}): Promise<Browser & { profile: string }> {
  const profile = opts.profile ?? mkdtempSync(join(tmpdir(), 'lm-lab-chromium-'));
  // LM_LAB_CHROMIUM_ARGS adds flags a machine needs, e.g. a real GPU's (README, "Benchmarks on a GPU").
  const extra = process.env.LM_LAB_CHROMIUM_ARGS?.split(/\s+/).filter(Boolean) ?? [];
  const args = [...BASE_ARGS, ...(opts.webgpu === false ? [] : ['--enable-unsafe-webgpu']), ...extra];
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    ignoreDefaultArgs: ['--headless'],
    args,
    viewport: { width: 1440, height: 1000 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  return {
    context,
    page,
    errors,
    profile,
    close: async () => {
      await context.close();
    },
  };
}

export function removeProfile(profile: string): void {
  rmSync(profile, { recursive: true, force: true });
}

