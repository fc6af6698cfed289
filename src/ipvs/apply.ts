// Applies an op list to a table in batches: each batch goes to the kernel back to
// back (one system call per datagram, one ACK per datagram), so a small change
// costs a few system calls, not a few per op. Batches are bounded so the kernel's
// answers to a batch that fails entirely still fit the socket's receive buffer.
import { errorCode, type IpvsTable, type MutationResult } from './table.js';
import type { IpvsOp } from './diff.js';

export interface OpResult {
  op: IpvsOp;
  /** undefined when it succeeded; the errno code (EEXIST, ESRCH, ...) otherwise. */
  error?: string;
  message?: string;
}

export interface ApplyOptions {
  /**
   * Hears of the ops each batch got done, as soon as it is acknowledged (the
   * reconciler's view follows the kernel batch by batch: a long apply does not leave
   * the whole new table to be built, and kept alive, at its very end).
   */
  onApplied?: (done: IpvsOp[]) => void;
  /**
   * Awaited between two batches, with the number of ops in the one before. A table that
   * answers at once (the in-memory one) would otherwise run every batch in one turn of
   * the event loop: the first apply of 1,919 ops held a VRRP master 73 ms (docs/vrrp.md,
   * run AP).
   */
  betweenBatches?: (opsApplied: number) => Promise<void>;
  /** Ops per batch. */
  window?: number;
}

export async function applyOps(table: IpvsTable, ops: readonly IpvsOp[], options: ApplyOptions = {}): Promise<OpResult[]> {
  const { onApplied, betweenBatches, window = 256 } = options;
  const results: OpResult[] = [];
  for (let i = 0; i < ops.length; i += window) {
    if (i > 0) await betweenBatches?.(window);
    const batch = ops.slice(i, i + window);
    let outcomes: MutationResult[];
    try {
      outcomes = await table.applyBatch(batch);
    } catch (err) {
      // Outcome unknown (timeout, replies lost): every op of the batch counts as
      // failed, which makes the reconciler read the table again.
      const error = errorCode(err) ?? 'ERROR',
        message = (err as Error)?.message ?? String(err);
      for (const op of batch) results.push({ op, error, message });
      continue;
    }
    const done: IpvsOp[] = [];
    batch.forEach((op, j) => {
      const e = outcomes[j];
      results.push(e ? { op, error: errorCode(e) ?? 'ERROR', message: e.message } : { op });
      if (!e) done.push(op);
    });
    onApplied?.(done);
  }
  return results;
}
