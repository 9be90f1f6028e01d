/**
 * How `npm run bench -- --browser` finds the Chromium flags that reach a GPU: the device nodes it
 * looks for, the order it tries the flag sets in, and the adapter label it prints.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { findGpuFlags, gpuDevices, LINUX_GPU_FLAGS } from '../cli/chromium.ts';
import { describeAdapter } from '../src/core/backend/adapter.ts';

describe('GPU device nodes', () => {
  test('NVIDIA, DRM render nodes and AMD compute are found; a machine without them has none', () => {
    const dev = mkdtempSync(join(tmpdir(), 'lm-lab-dev-'));
    try {
      expect(gpuDevices(dev)).toEqual([]);
      mkdirSync(join(dev, 'dri'));
      writeFileSync(join(dev, 'dri', 'card0'), ''); // a display node alone computes nothing
      expect(gpuDevices(dev)).toEqual([]);
      writeFileSync(join(dev, 'nvidia0'), '');
      writeFileSync(join(dev, 'dri', 'renderD128'), '');
      expect(gpuDevices(dev)).toEqual([join(dev, 'nvidia0'), join(dev, 'dri', 'renderD128')]);
    } finally {
      rmSync(dev, { recursive: true, force: true });
    }
  });
});

describe('finding the flags', () => {
  const software = { vendor: 'google', architecture: 'swiftshader', isFallbackAdapter: true };
  const hardware = { vendor: 'nvidia', architecture: 'hopper', isFallbackAdapter: false, description: 'NVIDIA H200' };

  test('the first set that gives a hardware adapter wins, and later sets are not tried', async () => {
    const tried: (readonly string[])[] = [];
    const answers = [null, software, hardware, hardware];
    const found = await findGpuFlags(async (flags) => answers[tried.push(flags) - 1]);
    expect(found).toEqual({ flags: LINUX_GPU_FLAGS[2], adapter: hardware });
    expect(tried).toEqual(LINUX_GPU_FLAGS.slice(0, 3));
  });

  test('none when every set gives the software adapter or nothing', async () => {
    let calls = 0;
    expect(await findGpuFlags(async () => (calls++ % 2 ? software : null))).toBeNull();
    expect(calls).toBe(LINUX_GPU_FLAGS.length);
  });

  test('every set turns Vulkan on, where Chromium runs WebGPU on Linux', () => {
    for (const flags of LINUX_GPU_FLAGS) expect(flags.some((f) => /^--enable-features=(.*,)?Vulkan(,|$)/.test(f))).toBe(true);
  });

  test('the adapter label names the device and says when it is software', () => {
    expect(describeAdapter(hardware)).toBe('nvidia · hopper (NVIDIA H200)');
    expect(describeAdapter(software)).toBe('google · swiftshader (software adapter)');
    expect(describeAdapter({ ...hardware, description: 'hopper' })).toBe('nvidia · hopper');
  });
});
