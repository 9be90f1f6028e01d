/**
 * The lab served on a free 127.0.0.1 port (Vite's dev server, or a build under `vite preview`) and
 * Debian's headless Chromium driven by playwright-core (never a downloaded browser), with a fresh
 * profile each time. Used by the browser tests and by `npm run bench -- --browser`.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { build, createServer, preview, type ViteDevServer } from 'vite';
import type { AdapterProbe } from '../src/core/backend/adapter.ts';

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

/**
 * Chromium flag sets that reach a GPU from headless Linux, tried in order by `npm run bench --
 * --browser` when the plain launch offers WebGPU only its software adapter on a machine that has a
 * GPU. Chromium's WebGPU (Dawn) runs on Vulkan there. The first set is the one Chrome's developers
 * give for headless Chrome on NVIDIA; ANGLE on Vulkan needs surface extensions that some drivers
 * lack without a display (the GPU process then exits), so the next two leave GL to the default or to
 * ANGLE's SwiftShader and only WebGPU on the Vulkan driver; the last puts GL on the EGL driver.
 */
export const LINUX_GPU_FLAGS: readonly (readonly string[])[] = [
  ['--enable-features=Vulkan', '--use-angle=vulkan', '--disable-vulkan-surface', '--ignore-gpu-blocklist'],
  ['--enable-features=Vulkan', '--ignore-gpu-blocklist', '--disable-gpu-sandbox'],
  ['--enable-features=Vulkan', '--use-vulkan=native', '--use-angle=swiftshader', '--ignore-gpu-blocklist', '--disable-gpu-sandbox'],
  ['--use-gl=angle', '--use-angle=gl-egl', '--enable-features=Vulkan', '--ignore-gpu-blocklist', '--disable-gpu-sandbox'],
];

/** This machine's GPU device nodes (NVIDIA's, DRM render nodes, AMD's compute node): where a hardware adapter could come from. */
export function gpuDevices(dev = '/dev'): string[] {
  const found = ['nvidia0', 'kfd'].map((name) => join(dev, name)).filter((path) => existsSync(path));
  const dri = join(dev, 'dri');
  if (existsSync(dri)) found.push(...readdirSync(dri).filter((name) => name.startsWith('renderD')).map((name) => join(dri, name)));
  return found;
}

/**
 * The first flag set with which Chromium gives WebGPU a hardware adapter, and that adapter; null
 * when none does. `probe` launches Chromium with the extra flags and returns the adapter it got.
 */
export async function findGpuFlags<A extends { isFallbackAdapter: boolean }>(
  probe: (flags: readonly string[]) => Promise<A | null>,
  sets: readonly (readonly string[])[] = LINUX_GPU_FLAGS,
): Promise<{ flags: readonly string[]; adapter: A } | null> {
  for (const flags of sets) {
    const adapter = await probe(flags);
    if (adapter && !adapter.isFallbackAdapter) return { flags, adapter };
  }
  return null;
}

/**
 * The extra flags the benchmark's Chromium needs: none, unless the machine has a GPU device, no
 * flags were given by hand (`given`, LM_LAB_CHROMIUM_ARGS), and the plain launch gets no hardware
 * adapter; then the first of LINUX_GPU_FLAGS that does. `say` reports what it tried.
 */
export async function gpuFlagsFor(
  devices: readonly string[],
  given: string | undefined,
  probe: (flags: readonly string[]) => Promise<AdapterProbe>,
  say: (line: string, fields: object) => void,
): Promise<readonly string[]> {
  if (devices.length === 0 || given) return [];
  const plain = await probe([]);
  if ('adapter' in plain && !plain.adapter.isFallbackAdapter) return [];
  say(`${devices.join(', ')} present, but WebGPU gives ${'label' in plain ? plain.label : `no adapter (${plain.why})`}: trying Chromium's Linux GPU flags`, { gpuDevices: devices, plainAdapter: plain });
  const found = await findGpuFlags(async (flags) => {
    const p = await probe(flags);
    return 'adapter' in p ? p.adapter : null;
  });
  if (!found) {
    say(`none of ${LINUX_GPU_FLAGS.length} flag sets gave WebGPU a hardware adapter; measuring what Chromium offers (README, "Benchmarks on a GPU")`, { gpuFlags: null });
    return [];
  }
  say(`WebGPU reaches the GPU with LM_LAB_CHROMIUM_ARGS="${found.flags.join(' ')}"`, { gpuFlags: found.flags });
  return found.flags;
}

/**
 * Launches Chromium with a fresh profile (or `profile`, to reopen one), WebGPU on unless told
 * otherwise; `flags` are added after LM_LAB_CHROMIUM_ARGS's.
 */
export async function launch(opts: { webgpu?: boolean; profile?: string; flags?: readonly string[] } = {}): Promise<Browser & { profile: string }> {
  const profile = opts.profile ?? mkdtempSync(join(tmpdir(), 'lm-lab-chromium-'));
  // LM_LAB_CHROMIUM_ARGS adds flags a machine needs, e.g. a real GPU's (docs/engine.md, "Benchmarks on a GPU").
  const extra = process.env.LM_LAB_CHROMIUM_ARGS?.split(/\s+/).filter(Boolean) ?? [];
  const args = [...BASE_ARGS, ...(opts.webgpu === false ? [] : ['--enable-unsafe-webgpu']), ...extra, ...(opts.flags ?? [])];
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

/** The WebGPU adapter that Chromium, launched with `flags`, gives the lab's bench.html (`?probe`) at `url`. */
export async function probeChromium(url: string, flags: readonly string[] = []): Promise<AdapterProbe> {
  const browser = await launch({ webgpu: true, flags });
  try {
    await browser.page.goto(`${url}bench.html?probe`);
    await browser.page.waitForFunction(() => (window as unknown as { __bench?: { done: boolean } }).__bench?.done === true, null, { timeout: 60_000 });
    return (await browser.page.evaluate(() => (window as unknown as { __bench: { probe: unknown } }).__bench.probe)) as AdapterProbe;
  } finally {
    await browser.close();
    removeProfile(browser.profile);
  }
}

export function removeProfile(profile: string): void {
  rmSync(profile, { recursive: true, force: true });
}

