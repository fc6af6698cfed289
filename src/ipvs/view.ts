// The reconciler's view of the kernel table: services by id, as last read or as
// left by ops the kernel acknowledged. Between full reads it is kept current op
// by op, so a small change to a large table costs in proportion to the change.
// Addresses compare as strings: ops and tables carry canonical forms.
import type { IpvsOp } from './diff.js';
import { serviceKeyId, type ActualService } from './types.js';

export type TableView = Map<string, ActualService>;

/** A list of services (a dump) as a view keyed by service id. */
export function viewOf(services: readonly ActualService[]): TableView {
  const view: TableView = new Map();
  for (const s of services) view.set(serviceKeyId(s.service.key), s);
  return view;
}

/**
 * Updates the view in place to what the kernel has after these (acknowledged)
 * ops: counters kept, new entries at zero. A touched service gets a new object,
 * never a mutated one, so whoever holds the old entry (a copy for status, a
 * previous read) still sees what it saw. Lenient: an op that would fail on the
 * view leaves it as is.
 */
export function applyOpsToView(view: TableView, ops: readonly IpvsOp[]): void {
  const copied = new Set<string>();
  for (const op of ops) {
    const id = serviceKeyId('service' in op ? op.service.key : op.key);
    let entry = view.get(id);
    if (entry && !copied.has(id)) {
      entry = { ...entry, destinations: [...entry.destinations] };
      view.set(id, entry);
      copied.add(id);
    }
    switch (op.kind) {
      case 'addService':
        if (!entry) {
          view.set(id, { service: op.service, destinations: [] });
          copied.add(id);
        }
        break;
      case 'editService':
        if (entry) entry.service = op.service;
        break;
      case 'deleteService':
        view.delete(id);
        copied.delete(id);
        break;
      case 'addDest': {
        const { address, port } = op.destination;
        if (entry && !entry.destinations.some((d) => d.address === address && d.port === port)) {
          entry.destinations.push({ ...op.destination, activeConnections: 0, inactiveConnections: 0, persistentConnections: 0 });
        }
        break;
      }
      case 'editDest':
        if (entry) {
          const { address, port } = op.destination;
          const i = entry.destinations.findIndex((d) => d.address === address && d.port === port);
          if (i >= 0) {
            const { tunnel: _old, ...rest } = entry.destinations[i]!;
            entry.destinations[i] = { ...rest, ...op.destination };
          }
        }
        break;
      case 'deleteDest':
        if (entry) {
          const { address, port } = op.destination;
          entry.destinations = entry.destinations.filter((d) => d.address !== address || d.port !== port);
        }
        break;
    }
  }
}
