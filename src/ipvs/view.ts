// The reconciler's view of the kernel table: services by id, as last read or as
// left by ops the kernel acknowledged. Between full reads it is kept current op
// by op, so a small change to a large table costs in proportion to the change.
// Addresses compare as strings: ops and tables carry canonical forms.
import type { IpvsOp } from './diff.js';
import { sameDestinationSettings } from './normalize.js';
import { destinationId, serviceKeyId, type ActualDestination, type ActualService } from './types.js';

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
 * A re-read of one service's real servers (the drain poll's) taken into the view: the
 * entry keeps its objects when keepHeldDestinations can, and is replaced by a new one
 * with the fresh real servers when it cannot.
 */
export function refreshDestinations(view: TableView, id: string, fresh: ActualDestination[]): void {
  const entry = view.get(id);
  if (!entry) return;
  const kept = keepHeldDestinations(entry.destinations, fresh);
  if (kept !== entry.destinations) view.set(id, { ...entry, destinations: kept });
}

/**
 * A fresh read of a service's real servers, as the objects the view holds (`held`) when
 * they are the same real servers with the same settings, as they nearly always are:
 * their counters are copied in and `held` is returned (the kernel may list them in
 * another order than the view keeps them). Otherwise `fresh`. Keeping fresh objects
 * made them live until the next read, long enough to be promoted and die old: the drain
 * poll re-reads most of the table every second while real servers flap, and the audit
 * all of it every 10 s, which was half of what the VRRP thread's old generation took in
 * (docs/vrrp.md, runs AN–AT). Counters are therefore the one thing in the view that
 * changes in place; the status API reads a copy.
 */
export function keepHeldDestinations(held: ActualDestination[] | undefined, fresh: ActualDestination[]): ActualDestination[] {
  if (!held) return fresh;
  const pairs = pairBySettings(held, fresh);
  if (!pairs) return fresh;
  pairs.forEach((h, i) => copyCounters(h, fresh[i]!));
  return held;
}

/** For each fresh real server, the held one with its address, port and settings; undefined unless every one has one. */
function pairBySettings(held: readonly ActualDestination[], fresh: readonly ActualDestination[]): ActualDestination[] | undefined {
  if (held.length !== fresh.length) return undefined;
  let byId: Map<string, ActualDestination> | undefined;
  const pairs = new Array<ActualDestination>(fresh.length);
  for (let i = 0; i < fresh.length; i++) {
    const f = fresh[i]!;
    let h: ActualDestination | undefined = held[i];
    if (!h || h.address !== f.address || h.port !== f.port) {
      byId ??= new Map(held.map((d) => [destinationId(d), d]));
      h = byId.get(destinationId(f));
    }
    if (!h || !sameDestinationSettings(h, f)) return undefined;
    pairs[i] = h;
  }
  // Found by identity, each held one once: a duplicate in `fresh` would leave another unpaired.
  return !byId || new Set(pairs).size === pairs.length ? pairs : undefined;
}

function copyCounters(into: ActualDestination, from: ActualDestination): void {
  into.activeConnections = from.activeConnections;
  into.inactiveConnections = from.inactiveConnections;
  into.persistentConnections = from.persistentConnections;
  if (!from.stats) delete into.stats;
  else if (!into.stats) into.stats = from.stats;
  else Object.assign(into.stats, from.stats);
}
