/** What the lab shows of a WebGPU adapter (kept free of tfjs, so that the page can import it). */
export interface AdapterInfo {
  vendor: string;
  architecture: string;
  isFallbackAdapter: boolean;
  /** The driver's name for the device, where the browser gives one ("NVIDIA H200"). */
  description?: string;
}

/** What bench.html's `?probe` reports: the adapter and its label, or why there is none. */
export type AdapterProbe = { adapter: AdapterInfo; label: string } | { why: string };

/** "nvidia · hopper (NVIDIA H200)": vendor, architecture and the driver's name for the device. */
export function adapterName(adapter: AdapterInfo): string {
  const description = adapter.description && adapter.description !== adapter.architecture ? ` (${adapter.description})` : '';
  return `${adapter.vendor} · ${adapter.architecture}${description}`;
}

/** The name, and whether it is a software adapter: "google · swiftshader (software adapter)". */
export function describeAdapter(adapter: AdapterInfo): string {
  return `${adapterName(adapter)}${adapter.isFallbackAdapter ? ' (software adapter)' : ''}`;
}

interface GpuLike {
  requestAdapter(options?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<{ info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean }; isFallbackAdapter?: boolean } | null>;
}

/** The WebGPU adapter this context would get, without starting the backend; a reason when there is none. */
export async function probeAdapter(): Promise<{ ok: true; adapter: AdapterInfo } | { ok: false; why: string }> {
  const gpu = (globalThis.navigator as { gpu?: GpuLike } | undefined)?.gpu;
  if (!gpu) return { ok: false, why: 'this browser exposes no WebGPU (navigator.gpu is missing)' };
  // The adapter tfjs's WebGPU backend will ask for (a discrete GPU where there are two).
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
  if (!adapter) return { ok: false, why: 'WebGPU is present but no GPU adapter is available' };
  const info = adapter.info ?? {};
  return {
    ok: true,
    adapter: {
      vendor: info.vendor || 'unknown',
      architecture: info.architecture || 'unknown',
      isFallbackAdapter: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter),
      ...(info.description ? { description: info.description } : {}),
    },
  };
}
