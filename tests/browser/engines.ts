/**
 * The lab in three browser engines behind one small driver: Chromium through playwright-core (as
 * harness.ts launches it), Firefox ESR through puppeteer-core over WebDriver BiDi, and WebKit
 * (WebKitGTK's MiniBrowser, the engine of Safari) through selenium-webdriver and WebKitWebDriver
 * under xvfb-run. Every engine is Debian's own (scripts/setup.sh); none is downloaded.
 *
 * The page is served by the lab's dev server with one addition: a script first in <head> that
 * records page errors, unhandled rejections and console.error calls in `window.__errors`, so that
 * "no page error" means the same in each engine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { join, resolve } from 'node:path';
import puppeteer from 'puppeteer-core';
import { Builder, type WebDriver } from 'selenium-webdriver';
import { createServer, type Plugin } from 'vite';
import type { LabSnapshot } from './harness.ts';
import { launch, removeProfile } from './harness.ts';

export type EngineName = 'chromium' | 'firefox' | 'webkit';
export const ENGINES: readonly EngineName[] = ['chromium', 'firefox', 'webkit'];

export const FIREFOX = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';
export const WEBKIT_DRIVER = process.env.WEBKIT_DRIVER_PATH ?? '/usr/bin/WebKitWebDriver';
export const MINIBROWSER = process.env.MINIBROWSER_PATH ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';

/** One tab of the lab, whatever drives it. Selectors are CSS; clicks are the driver's own (real input). */
export interface Tab {
  goto(url: string): Promise<void>;
  /** Runs `fn` in the page (it must not close over anything: it is sent as source text). */
  evaluate<T, A = undefined>(fn: (arg: A) => T | Promise<T>, arg?: A): Promise<T>;
  /** Clicks the first visible element matching `selector` whose text is `text` (trimmed; or matches it). */
  click(selector: string, text?: string | RegExp): Promise<void>;
  reload(): Promise<void>;
  /** Sets the page's viewport (its inner size) to width × height CSS pixels. */
  setViewport(width: number, height: number): Promise<void>;
  screenshot(path: string): Promise<void>;
}

export interface Engine {
  readonly name: EngineName;
  /** The first tab. */
  readonly tab: Tab;
  /** Another tab in the same profile (same IndexedDB, same locks). */
  newTab(): Promise<Tab>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------- the page, served

const RECORDER = `
window.__errors = [];
addEventListener('error', (e) => __errors.push('error: ' + (e.message || (e.target && e.target.src) || e.type)), true);
addEventListener('unhandledrejection', (e) => __errors.push('unhandled rejection: ' + (e.reason && e.reason.message || e.reason)));
const consoleError = console.error;
console.error = (...args) => { __errors.push('console.error: ' + args.map(String).join(' ')); consoleError.apply(console, args); };
`;

const recordErrors: Plugin = {
  name: 'lm-lab-record-errors',
  transformIndexHtml: () => [{ tag: 'script', children: RECORDER, injectTo: 'head-prepend' }],
};

const ROOT = resolve(import.meta.dirname, '../..');

/** The lab's dev server (vite.config.ts: COOP/COEP) on a free port, with the error recorder. */
export async function startEngineServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = await createServer({
    root: ROOT,
    configFile: join(ROOT, 'vite.config.ts'),
    logLevel: 'warn',
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false },
    plugins: [recordErrors],
  });
  await server.listen();
  const address = server.httpServer?.address();
  if (!address || typeof address === 'string') throw new Error('dev server has no port');
  return { url: `http://127.0.0.1:${address.port}/`, close: () => server.close() };
}

// ---------------------------------------------------------------- shared page-side helpers

/** Marks the element to click with a fresh id (run in the page); null when none matches. */
function markTarget(a: { selector: string; text?: string; pattern?: string; flags?: string }): string | null {
  const re = a.pattern !== undefined ? new RegExp(a.pattern, a.flags) : null;
  for (const el of document.querySelectorAll<HTMLElement>(a.selector)) {
    const text = (el.innerText ?? el.textContent ?? '').trim();
    if (a.text !== undefined && text !== a.text) continue;
    if (re && !re.test(text)) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    const id = String(Math.random()).slice(2);
    el.setAttribute('data-engine-target', id);
    return id;
  }
  return null;
}

async function clickMarked(tab: Pick<Tab, 'evaluate'>, selector: string, text: string | RegExp | undefined, click: (css: string) => Promise<void>): Promise<void> {
  const query = text instanceof RegExp ? { selector, pattern: text.source, flags: text.flags } : { selector, text };
  const id = await tab.evaluate(markTarget, query);
  if (!id) throw new Error(`nothing to click: ${selector}${text === undefined ? '' : ` with text ${String(text)}`}`);
  await click(`[data-engine-target="${id}"]`);
}

// ---------------------------------------------------------------- Chromium (playwright-core)

async function openChromium(): Promise<Engine> {
  const browser = await launch({ webgpu: false });
  const wrap = (page: typeof browser.page): Tab => {
    const tab: Tab = {
      goto: async (url) => void (await page.goto(url)),
      evaluate: (fn, arg) => page.evaluate(fn as never, arg) as never,
      click: (selector, text) => clickMarked(tab, selector, text, (css) => page.click(css)),
      reload: async () => void (await page.reload()),
      setViewport: (width, height) => page.setViewportSize({ width, height }),
      screenshot: async (path) => void (await page.screenshot({ path })),
    };
    return tab;
  };
  return {
    name: 'chromium',
    tab: wrap(browser.page),
    newTab: async () => wrap(await browser.context.newPage()),
    close: async () => {
      await browser.close();
      removeProfile(browser.profile);
    },
  };
}

// ---------------------------------------------------------------- Firefox (puppeteer-core, WebDriver BiDi)

async function openFirefox(): Promise<Engine> {
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    defaultViewport: { width: 1280, height: 800 },
  });
  const wrap = (page: Awaited<ReturnType<typeof browser.newPage>>): Tab => {
    const tab: Tab = {
      goto: async (url) => void (await page.goto(url)),
      evaluate: (fn, arg) => page.evaluate(fn as never, arg) as never,
      click: (selector, text) => clickMarked(tab, selector, text, (css) => page.click(css)),
      reload: async () => void (await page.reload()),
      setViewport: (width, height) => page.setViewport({ width, height }),
      screenshot: async (path) => void (await page.screenshot({ path: path as `${string}.png` })),
    };
    return tab;
  };
  const first = (await browser.pages())[0] ?? (await browser.newPage());
  return {
    name: 'firefox',
    tab: wrap(first),
    newTab: async () => wrap(await browser.newPage()),
    close: () => browser.close(),
  };
}

// ---------------------------------------------------------------- WebKit (selenium-webdriver, WebKitWebDriver)

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createNetServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

/** Waits until WebKitWebDriver answers on `port`. */
async function driverReady(port: number, child: ChildProcess, timeout = 30_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`WebKitWebDriver exited with ${child.exitCode}`);
    const ok = await fetch(`http://127.0.0.1:${port}/status`).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`WebKitWebDriver did not answer on port ${port} within ${timeout} ms`);
}

async function openWebKit(): Promise<Engine> {
  const port = await freePort();
  // The MiniBrowser needs a display: xvfb-run gives the driver one. Its own process group, to end it whole.
  const child = spawn('xvfb-run', ['-a', '-s', '-screen 0 1920x1200x24', WEBKIT_DRIVER, `--port=${port}`], { stdio: 'ignore', detached: true });
  const stop = () => {
    if (child.exitCode === null && child.pid) process.kill(-child.pid, 'SIGTERM');
  };
  let driver: WebDriver;
  try {
    await driverReady(port, child);
    driver = await new Builder()
      .usingServer(`http://127.0.0.1:${port}`)
      .withCapabilities({ browserName: 'MiniBrowser', 'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] } })
      .build();
    await driver.manage().setTimeouts({ script: 60_000, pageLoad: 60_000 });
  } catch (e) {
    stop();
    throw e;
  }
  // One driver, one current window: each tab switches to its own before acting.
  let current = await driver.getWindowHandle();
  await driver.manage().window().setRect({ width: 1280, height: 800 }); // a laptop's, as the other engines'
  const wrap = (handle: string): Tab => {
    const on = async () => {
      if (current !== handle) await driver.switchTo().window(handle);
      current = handle;
    };
    const tab: Tab = {
      goto: async (url) => {
        await on();
        await driver.get(url);
      },
      evaluate: async (fn, arg) => {
        await on();
        return driver.executeScript(`return (${fn.toString()}).apply(null, arguments)`, arg) as never;
      },
      click: (selector, text) => clickMarked(tab, selector, text, async (css) => {
        await on();
        const el = await driver.findElement({ css });
        await driver.executeScript('arguments[0].scrollIntoView({ block: "center" })', el);
        await el.click();
      }),
      reload: async () => {
        await on();
        await driver.navigate().refresh();
      },
      setViewport: async (width, height) => {
        await on();
        // WebDriver sets the outer window; grow it by the frame the window adds around the page.
        const inner = (await driver.executeScript('return [innerWidth, innerHeight]')) as [number, number];
        const rect = await driver.manage().window().getRect();
        await driver.manage().window().setRect({ width: width + rect.width - inner[0], height: height + rect.height - inner[1] });
      },
      screenshot: async (path) => {
        await on();
        writeFileSync(path, Buffer.from(await driver.takeScreenshot(), 'base64'));
      },
    };
    return tab;
  };
  return {
    name: 'webkit',
    tab: wrap(current),
    newTab: async () => {
      await driver.switchTo().newWindow('tab');
      current = await driver.getWindowHandle();
      return wrap(current);
    },
    close: async () => {
      await driver.quit().catch(() => undefined);
      stop();
    },
  };
}

export function openEngine(name: EngineName): Promise<Engine> {
  return { chromium: openChromium, firefox: openFirefox, webkit: openWebKit }[name]();
}

// ---------------------------------------------------------------- the lab, from any engine

export const labSnapshot = (tab: Tab): Promise<LabSnapshot> =>
  tab.evaluate(() => (window as unknown as { __lab: { snapshot(): unknown } }).__lab.snapshot()) as Promise<LabSnapshot>;

/** What the recorder saw: page errors, unhandled rejections, console.error calls. */
export const pageErrors = (tab: Tab): Promise<string[]> => tab.evaluate(() => (window as unknown as { __errors: string[] }).__errors.slice());

/** Polls `read` until `ok` holds; throws with the last value read. */
export async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean, timeout = 60_000, what = 'a condition'): Promise<T> {
  const deadline = Date.now() + timeout;
  let last: T | undefined;
  let error: unknown;
  while (Date.now() < deadline) {
    try {
      last = await read();
      if (ok(last)) return last;
    } catch (e) {
      error = e; // a page between two documents (a reload) cannot answer yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${timeout} ms waiting for ${what}; last: ${JSON.stringify(last)?.slice(0, 600)}${error ? `; last error: ${String(error)}` : ''}`);
}

/** Waits until the lab's snapshot satisfies `ok`. */
export function untilLab(tab: Tab, ok: (s: LabSnapshot) => boolean, timeout = 60_000): Promise<LabSnapshot> {
  return until(() => labSnapshot(tab), (s) => Boolean(s) && ok(s), timeout, 'the lab').catch((e: Error) => {
    throw new Error(e.message.replace(/"loss":\[[^\]]*\]/, '"loss":[…]').replace(/"gradNorm":\[[^\]]*\]/, '"gradNorm":[…]'));
  });
}
