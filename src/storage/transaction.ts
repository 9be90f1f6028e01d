/**
 * How every write in this layer runs: all of it or none of it, and finished only once committed.
 *
 * IndexedDB commits a transaction on its own as soon as no request is pending. So if our code
 * threw between two puts (a put that throws QuotaExceededError synchronously, a bug, a test
 * hook) the puts already queued would still commit, leaving half a checkpoint. Aborting on any
 * error is what makes a save atomic; waiting for `done` is what makes "saved" mean "on disk".
 */
import type { IDBPTransaction } from 'idb';
import { toStorageError } from './errors.ts';

// Any of our transactions, whatever its stores; only abort() and done are used here.
type AnyTransaction = Pick<IDBPTransaction<any, any, 'readwrite'>, 'abort' | 'done'>;

export async function commit<T>(tx: AnyTransaction, work: () => Promise<T>): Promise<T> {
  try {
    const result = await work();
    await tx.done;
    return result;
  } catch (error) {
    try {
      tx.abort();
    } catch {
      // already aborted (a failed request aborts it) or already finished
    }
    // The abort's own error says less than the one that caused it, unless the commit itself
    // failed: then `error` is that abort, often carrying the QuotaExceededError.
    await tx.done.catch(() => {});
    throw await toStorageError(error);
  }
}
