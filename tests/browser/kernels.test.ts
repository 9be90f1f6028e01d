/**
 * The project's WebGPU kernels in real Chromium (software adapter, SwiftShader) against the cpu
 * backend's tfjs-op references (GELU, LayerNorm, cross-entropy, embedding, causal attention): values and gradients to 1e-4, the AdamW update over four steps,
 * and 20 training steps of micro whose losses match the cpu backend's to 1e-4, on WebGPU and on
 * wasm with threads (the shared-memory build of the SIMD matmul). The checks run in
 * the page (src/bench/kernel-check.ts); this file asserts on what they return.
 */
import { describe, expect, test } from 'vitest';
import type { checkWebGPUKernels } from '../../src/bench/kernel-check.ts';
import { probeChromium } from '../../cli/chromium.ts';
import { describeAdapter } from '../../src/core/backend/adapter.ts';
import { launch, removeProfile, useDevServer } from './harness.ts';

const server = useDevServer();

describe('WebGPU kernels', () => {
  test('match the cpu backend: each kernel, and 20 training steps', async () => {
    const browser = await launch({ webgpu: true });
    const { page, errors } = browser;
    try {
      await page.goto(`${server.url}tests/browser/kernels.html`);
      // A string, so that the test runner leaves the page's own dynamic import alone.
      const result = (await page.evaluate("import('/src/bench/kernel-check.ts').then((m) => m.checkWebGPUKernels())")) as Awaited<ReturnType<typeof checkWebGPUKernels>>;
      console.log(JSON.stringify({ kernelsPerStep: result.kernelsPerStep, checks: result.checks.map((c) => [c.name, Math.max(...c.errors)]) }));
      expect(result.checks.map((c) => c.name)).toEqual(['GELU', 'LayerNorm', 'masked cross-entropy', 'embedding', 'causal attention', 'AdamW with clipping']);
      for (const c of result.checks) {
        expect(c.fusedRan, `${c.name} ran its WebGPU kernel`).toBe(true);
        c.errors.forEach((e, i) => expect(e, `${c.name} ${i === 0 ? 'value' : `gradient ${i}`}`).toBeLessThan(1e-4));
      }
      expect(result.training.webgpu).toHaveLength(20);
      result.training.webgpu.forEach((loss, i) => expect(Math.abs(loss - result.training.cpu[i]), `loss at step ${i}`).toBeLessThan(1e-4));
      expect(result.training.cpu[19]).toBeLessThan(result.training.cpu[0]); // it trained
      const { fused, reference } = result.kernelsPerStep;
      expect(fused.kernels).toBeLessThan(reference.kernels);
      expect(fused.dispatches).toBeGreaterThan(0); // counted where the backend records its programs
      expect(fused.dispatches).toBeLessThan(reference.dispatches);
      expect(fused.dispatches).toBeLessThanOrEqual(fused.kernels);
      // wasm with threads (this page is cross-origin isolated): the shared-memory build of the SIMD
      // matmul, and every other wasm kernel, give the cpu backend's losses too.
      const wasm = (await page.evaluate("import('/src/bench/kernel-check.ts').then((m) => m.wasmTrainingLosses())")) as { threads: boolean; losses: number[] };
      expect(wasm.threads).toBe(true);
      wasm.losses.forEach((loss, i) => expect(Math.abs(loss - result.training.cpu[i]), `wasm loss at step ${i}`).toBeLessThan(1e-4));
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      removeProfile(browser.profile);
    }
  });

  test('bench.html?probe reports the adapter the WebGPU backend will get', async () => {
    // How `npm run bench -- --browser` tells a GPU from the software adapter before it measures.
    const probe = await probeChromium(server.url);
    if (!('adapter' in probe)) throw new Error(`no adapter: ${probe.why}`);
    expect(probe.adapter.vendor).not.toBe('unknown');
    expect(probe.label).toBe(describeAdapter(probe.adapter));
    // With Chromium's Vulkan flags on a machine without a GPU driver, WebGPU has no adapter or the
    // software one, never a pretend GPU; with a driver, a hardware one.
    const vulkan = await probeChromium(server.url, ['--enable-features=Vulkan', '--ignore-gpu-blocklist']);
    if ('adapter' in vulkan && !vulkan.adapter.isFallbackAdapter) expect(vulkan.adapter.vendor).not.toBe('google');
    else expect('why' in vulkan ? vulkan.why : vulkan.label).toMatch(/no GPU adapter|software adapter/);
  });
});
