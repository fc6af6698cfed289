// Applies an op list to a table. Ops are issued back to back without waiting for
// each answer (the table applies them in call order), in windows so that the
// answers queued in the socket's receive buffer stay bounded.
import type { IpvsTable } from './table.js';
import { errorCode } from './table.js';
import type { IpvsOp } from './reconcile.js';

export interface OpResult {
  op: IpvsOp;
  /** undefined when it succeeded; the errno code (EEXIST, ESRCH, ...) otherwise. */
  error?: string;
  message?: string;
}

export function issueOp(table: IpvsTable, op: IpvsOp): Promise<void> {
  switch (op.kind) {
    case 'addService': return table.addService(op.service);
    case 'editService': return table.editService(op.service);
    case 'deleteService': return table.deleteService(op.key);
    case 'addDest': return table.addDestination(op.key, op.destination);
    case 'editDest': return table.editDestination(op.key, op.destination);
    case 'deleteDest': return table.deleteDestination(op.key, op.destination);
  }
}

export async function applyOps(table: IpvsTable, ops: readonly IpvsOp[], window = 64): Promise<OpResult[]> {
  const results: OpResult[] = [];
  for (let i = 0; i < ops.length; i += window) {
    const batch = ops.slice(i, i + window);
    const settled = await Promise.allSettled(batch.map((op) => {
      try {
        return issueOp(table, op);
      } catch (err) {
        return Promise.reject(err);
      }
    }));
    settled.forEach((s, j) => {
      const op = batch[j]!;
      if (s.status === 'fulfilled') results.push({ op });
      else results.push({ op, error: errorCode(s.reason) ?? 'ERROR', message: (s.reason as Error)?.message ?? String(s.reason) });
    });
  }
  return results;
}
