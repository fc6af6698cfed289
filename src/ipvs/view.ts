// The reconciler's view of the kernel table: services by id, as last read or as
// left by ops the kernel acknowledged. Between full reads it is kept current op
// by op, so a small change to a large table costs in proportion to the change.
// Addresses compare as strings: ops and tables carry canonical forms.
import type { IpvsOp } from './diff.js';
import { sameDestinationSettings } from './normalize.js';
import { serviceKeyId, type ActualDestination, type ActualService, type IpvsStats } from './types.js';

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
 * never a mutated one, so whoever holds the old entry (a previous read) still sees
 * what it saw; counters aside (refreshDestinations). Lenient: an op that would fail
 * on the view leaves it as is.
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

/**
 * A re-read of one service's real servers (the drain poll's) taken into the view. When
 * it has the same real servers in the same order with the same settings as the view's
 * entry, as it nearly always does, only their counters are copied into the objects the
 * view holds; otherwise the entry is replaced by a new one with the fresh real servers.
 * Replacing them on every poll made objects that lived one poll (a second): while 200
 * of 10,000 real servers flapped, something drained in most services, and the objects
 * the poll replaced grew the old generation about 2 MB/s until a full collection
 * (docs/vrrp.md, run AK). Counters are therefore the one thing in the view that changes
 * in place; the status API reads a copy.
 */
export function refreshDestinations(view: TableView, id: string, fresh: ActualDestination[]): void {
  const entry = view.get(id);
  if (!entry) return;
  const held = entry.destinations;
  const same =
    held.length === fresh.length &&
    held.every((d, i) => d.address === fresh[i]!.address && d.port === fresh[i]!.port && sameDestinationSettings(d, fresh[i]!));
  if (!same) {
    view.set(id, { ...entry, destinations: fresh });
    return;
  }
  held.forEach((d, i) => copyCounters(d, fresh[i]!));
}

function copyCounters(into: ActualDestination, from: ActualDestination): void {
  into.activeConnections = from.activeConnections;
  into.inactiveConnections = from.inactiveConnections;
  into.persistentConnections = from.persistentConnections;
  if (!from.stats) delete into.stats;
  else if (!into.stats) into.stats = from.stats;
  else copyStats(into.stats, from.stats);
}

function copyStats(into: IpvsStats, from: IpvsStats): void {
  into.connections = from.connections;
  into.packetsIn = from.packetsIn;
  into.packetsOut = from.packetsOut;
  into.bytesIn = from.bytesIn;
  into.bytesOut = from.bytesOut;
  into.cps = from.cps;
  into.ppsIn = from.ppsIn;
  into.ppsOut = from.ppsOut;
  into.bpsIn = from.bpsIn;
  into.bpsOut = from.bpsOut;
}
