/**
 * Storage health: how much room the browser gives this site, and whether it may evict our data.
 *
 * Browsers treat a site's storage as "best effort" by default and may delete it under disk
 * pressure; a persisted site keeps its data until the user clears it. Both calls are optional
 * parts of the platform, so each reports when it is unavailable instead of throwing.
 */

/** The part of the StorageManager API used here, so tests can pass a stand-in. */
export interface StorageManagerLike {
  persist?: () => Promise<boolean>;
  estimate?: () => Promise<StorageEstimate>;
}

function defaultStorage(): StorageManagerLike | undefined {
  return (globalThis as { navigator?: { storage?: StorageManagerLike } }).navigator?.storage;
}

/**
 * Asks the browser not to evict this site's data. Returns whether it agreed, or 'unsupported'.
 * Note: `persist` exists only on the page's main thread, not in workers, so the UI should call
 * this (it is plain TypeScript and safe to import there).
 */
export async function requestPersistence(
  storage: StorageManagerLike | undefined = defaultStorage(),
): Promise<boolean | 'unsupported'> {
  if (typeof storage?.persist !== 'function') return 'unsupported';
  return storage.persist();
}

/** Bytes used and bytes allowed for this site, or null when the browser will not say. */
export async function storageEstimate(
  storage: StorageManagerLike | undefined = defaultStorage(),
): Promise<{ usage: number; quota: number } | null> {
  if (typeof storage?.estimate !== 'function') return null;
  try {
    const { usage, quota } = await storage.estimate();
    if (usage === undefined || quota === undefined) return null;
    return { usage, quota };
  } catch {
    return null;
  }
}
