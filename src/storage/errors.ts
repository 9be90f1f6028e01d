/**
 * The one storage error a student has to act on: the site's storage is full.
 *
 * Browsers report it in several ways: a QuotaExceededError thrown by put(), the same error on the
 * failed request, or only as the error of an aborted transaction when the commit itself does not
 * fit. All of them become a StorageFullError, whose message says what to do.
 */
import { storageEstimate } from './health.ts';

export class StorageFullError extends Error {
  override name = 'StorageFullError';

  constructor(
    readonly usage?: number,
    readonly quota?: number,
    options?: { cause?: unknown },
  ) {
    const used =
      usage !== undefined && quota !== undefined ? ` (used ${mb(usage)} MB of ${mb(quota)} MB)` : '';
    super(
      `The browser's storage for this site is full${used}. ` +
        'Delete old runs or checkpoints, or download checkpoints to keep them.',
      options,
    );
  }
}

function mb(bytes: number): string {
  const megabytes = bytes / 1e6;
  return megabytes >= 100 ? megabytes.toFixed(0) : megabytes.toFixed(1);
}

/** True for every way a browser says "quota exceeded". */
export function isQuotaExceeded(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { name, code } = error as { name?: unknown; code?: unknown };
  return (
    name === 'QuotaExceededError' ||
    name === 'NS_ERROR_DOM_QUOTA_REACHED' || // older Firefox
    code === 22 // DOMException.QUOTA_EXCEEDED_ERR, older WebKit
  );
}

/** Turns a quota error into a StorageFullError (with the current usage, if known); others pass through. */
export async function toStorageError(error: unknown): Promise<unknown> {
  if (error instanceof StorageFullError || !isQuotaExceeded(error)) return error;
  const estimate = await storageEstimate();
  return new StorageFullError(estimate?.usage, estimate?.quota, { cause: error });
}
