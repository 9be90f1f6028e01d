/**
 * How `npm run bench -- --browser` finds the Chromium flags that reach a GPU: the device nodes it
 * looks for, the order it tries the flag sets in, and the adapter label it prints.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { findGpuFlags, gpuDevices, gpuFlagsFor, LINUX_GPU_FLAGS } from '../cli/chromium.ts';
import type { AdapterProbe } from '../src/core/backend/adapter.ts';
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

  describe('when the bench searches', () => {
    const asProbe = (adapter: typeof software | null): AdapterProbe => (adapter ? { adapter, label: describeAdapter(adapter) } : { why: 'WebGPU is present but no GPU adapter is available' });
    /** A Chromium whose answer depends on the flags: hardware only with set `works` (-1: never). */
    const chromium = (works: number, plain: typeof software | null = software) => {
      const launched: (readonly string[])[] = [];
      const probe = async (flags: readonly string[]) => {
        launched.push(flags);
        if (flags.length === 0) return asProbe(plain);
        return asProbe(LINUX_GPU_FLAGS.indexOf(flags) === works ? hardware : software);
      };
      return { launched, probe };
    };
    const said: string[] = [];
    const say = (line: string) => void said.push(line);

    test('not at all without a GPU device, or with flags given by hand', async () => {
      for (const [devices, given] of [[[], undefined], [['/dev/nvidia0'], '--enable-features=Vulkan']] as const) {
        const c = chromium(0);
        expect(await gpuFlagsFor(devices, given, c.probe, say)).toEqual([]);
        expect(c.launched).toEqual([]); // no launch spent
      }
    });

    test('not when the plain launch already reaches the GPU', async () => {
      const c = chromium(0, hardware);
      expect(await gpuFlagsFor(['/dev/nvidia0'], undefined, c.probe, say)).toEqual([]);
      expect(c.launched).toEqual([[]]);
    });

    test('with a GPU the plain launch misses: the set that reaches it, said on the way', async () => {
      said.length = 0;
      const c = chromium(1, null);
      expect(await gpuFlagsFor(['/dev/nvidia0'], undefined, c.probe, say)).toEqual(LINUX_GPU_FLAGS[1]);
      expect(c.launched).toEqual([[], LINUX_GPU_FLAGS[0], LINUX_GPU_FLAGS[1]]);
      expect(said[0]).toMatch(/\/dev\/nvidia0 present, but WebGPU gives no adapter/);
      expect(said[1]).toContain(`LM_LAB_CHROMIUM_ARGS="${LINUX_GPU_FLAGS[1].join(' ')}"`);
    });

    test('none found: no flags, and it says so', async () => {
      said.length = 0;
      const c = chromium(-1);
      expect(await gpuFlagsFor(['/dev/dri/renderD128'], undefined, c.probe, say)).toEqual([]);
      expect(c.launched).toHaveLength(1 + LINUX_GPU_FLAGS.length);
      expect(said[1]).toMatch(/none of 4 flag sets/);
    });
  });
});
