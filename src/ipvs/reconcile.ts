// The pure diff: desired table + the kernel's table (+ drain bookkeeping) → the
// minimal list of operations, each with its reason. No I/O, no clock: `now` is
// an argument. reconciler.ts runs it against a real or in-memory table.
//
// Ownership: a service is ours when its key is in the desired set, or when it was
// and has been removed from the config but not yet deleted ("retired"). Nothing
// else is ever touched. A destination or retired service is drained, not cut:
// weight 0 until its connections (ActiveConn + InActConn) reach zero or the
// drain timeout passes, then deleted.
import { destinationDifferences, normalizeDestination, normalizeService, sameDestinationSettings, serviceDifferences } from './normalize.js';
import type { DestinationKey } from './table.js';
import { destinationId, serviceKeyId, type ActualDestination, type ActualService, type DesiredService, type DestinationSpec, type ServiceKey, type ServiceSpec } from './types.js';

interface OpBase {
  reason: string;
  /** "drain": part of taking something out gently; "converge": making the table match. */
  purpose: 'converge' | 'drain';
}

export type IpvsOp =
  | (OpBase & { kind: 'addService'; service: ServiceSpec })
  | (OpBase & { kind: 'editService'; service: ServiceSpec })
  | (OpBase & { kind: 'deleteService'; key: ServiceKey })
  | (OpBase & { kind: 'addDest'; key: ServiceKey; destination: DestinationSpec })
  | (OpBase & { kind: 'editDest'; key: ServiceKey; destination: DestinationSpec })
  | (OpBase & { kind: 'deleteDest'; key: ServiceKey; destination: DestinationKey });

export function opServiceKey(op: IpvsOp): ServiceKey {
  return 'service' in op ? op.service.key : op.key;
}

/** "addDest tcp:10.6.2.195:80 10.6.2.191:80" — for logs. */
export function describeOp(op: IpvsOp): string {
  const dest = 'destination' in op ? ` ${destinationId(op.destination)}` : '';
  return `${op.kind} ${serviceKeyId(opServiceKey(op))}${dest}`;
}

export interface DrainEntry {
  service: string;
  /** Absent when the whole (retired) service is draining. */
  destination?: string;
  startedAt: number;
  deadline: number;
}

export const drainKey = (service: string, destination?: string): string => (destination ? `${service} ${destination}` : service);

export interface ReconcileInput {
  /** Normalized (normalizeDesired), unique keys. */
  desired: readonly DesiredService[];
  actual: readonly ActualService[];
  /** Services removed from the config and not yet deleted: still owned. */
  retired: ReadonlySet<string>;
  drains: ReadonlyMap<string, DrainEntry>;
  now: number;
  drainTimeoutMs: (serviceId: string) => number;
  /**
   * Declared services known to need nothing (same desired entry and same kernel
   * entry as when they were last found in order): skipped, so a small change to
   * a large table costs little.
   */
  unchanged?: ReadonlySet<string>;
  /**
   * Whether a service's connection counters were read in this pass. When not, an
   * undeclared real server is only set to weight 0 (drain) — never deleted on
   * stale counters — and the deletion waits for a pass that reads them.
   */
  countersFresh?: (serviceId: string) => boolean;
}

export interface ReconcileOutput {
  ops: IpvsOp[];
  drains: Map<string, DrainEntry>;
  retired: Set<string>;
}

/** The last input seen for a service and what it normalized to. */
export type NormalizeMemo = Map<string, { raw: DesiredService; normalized: DesiredService }>;

const sameRawService = (a: ServiceSpec, b: ServiceSpec): boolean => {
  const ka = a.key, kb = b.key;
  if (ka.kind !== kb.kind || ka.family !== kb.family) return false;
  if (ka.kind === 'fwmark' ? ka.fwmark !== (kb as typeof ka).fwmark : ka.address !== (kb as typeof ka).address || ka.port !== (kb as typeof ka).port || ka.protocol !== (kb as typeof ka).protocol) return false;
  const fa = a.flags ?? {}, fb = b.flags ?? {};
  return a.scheduler === b.scheduler && a.persistenceTimeoutSec === b.persistenceTimeoutSec && a.netmask === b.netmask && a.persistenceEngine === b.persistenceEngine
    && fa.persistent === fb.persistent && fa.onePacket === fb.onePacket && fa.schedFallback === fb.schedFallback && fa.schedPort === fb.schedPort;
};

const sameRawDestination = (a: DestinationSpec, b: DestinationSpec): boolean =>
  a.address === b.address && a.port === b.port && a.weight === b.weight && a.forwarding === b.forwarding && a.upperThreshold === b.upperThreshold && a.lowerThreshold === b.lowerThreshold
  && a.tunnel?.type === b.tunnel?.type && a.tunnel?.port === b.tunnel?.port && a.tunnel?.checksum === b.tunnel?.checksum;

const snapshot = (d: DesiredService): DesiredService => ({
  service: { ...d.service, key: { ...d.service.key }, flags: { ...d.service.flags } },
  destinations: d.destinations.map((x) => (x.tunnel ? { ...x, tunnel: { ...x.tunnel } } : { ...x })),
});

/**
 * Validates and canonicalizes a desired table; throws on bad specs or a key
 * declared twice. With a memo, a service given exactly as last time (field by
 * field) keeps its previous normalized object: parsing addresses is the
 * expensive part, and identity lets the reconciler skip what cannot have changed.
 */
export function normalizeDesired(desired: readonly DesiredService[], memo?: NormalizeMemo): DesiredService[] {
  const seen = new Set<string>();
  const nextMemo: NormalizeMemo = new Map();
  const out = desired.map((raw) => {
    const rawId = serviceKeyId(raw.service.key);
    const previous = memo?.get(rawId);
    let normalized: DesiredService;
    if (previous && sameRawService(previous.raw.service, raw.service) && previous.raw.destinations.length === raw.destinations.length
      && previous.raw.destinations.every((d, i) => sameRawDestination(d, raw.destinations[i]!))) {
      normalized = previous.normalized;
      nextMemo.set(rawId, previous);
    } else {
      const s = normalizeService(raw.service);
      const dests = new Map<string, DestinationSpec>();
      for (const d of raw.destinations.map((x) => normalizeDestination(x))) {
        if (dests.has(destinationId(d))) throw new Error(`service ${serviceKeyId(s.key)}: real server ${destinationId(d)} is declared twice`);
        dests.set(destinationId(d), d);
      }
      normalized = { service: s, destinations: [...dests.values()] };
      if (memo) nextMemo.set(rawId, { raw: snapshot(raw), normalized });
    }
    const id = serviceKeyId(normalized.service.key);
    if (seen.has(id)) throw new Error(`service ${id} is declared twice`);
    seen.add(id);
    return normalized;
  });
  if (memo) {
    memo.clear();
    for (const [k, v] of nextMemo) memo.set(k, v);
  }
  return out;
}

const specOf = (d: ActualDestination): DestinationSpec => {
  const out: DestinationSpec = { address: d.address, port: d.port, weight: d.weight, forwarding: d.forwarding, upperThreshold: d.upperThreshold, lowerThreshold: d.lowerThreshold };
  if (d.tunnel) out.tunnel = d.tunnel;
  return out;
};

const connectionsOf = (d: ActualDestination): number => d.activeConnections + d.inactiveConnections;

export function reconcile(input: ReconcileInput): ReconcileOutput {
  const { now } = input;
  const addServices: IpvsOp[] = [], editServices: IpvsOp[] = [], addDests: IpvsOp[] = [], editDests: IpvsOp[] = [];
  const drainEdits: IpvsOp[] = [], deleteDests: IpvsOp[] = [], deleteServices: IpvsOp[] = [];
  const drains = new Map<string, DrainEntry>();
  const retired = new Set<string>();
  const actualById = new Map(input.actual.map((a) => [serviceKeyId(a.service.key), a]));

  const drainEntry = (service: string, destination?: string): DrainEntry => {
    const existing = input.drains.get(drainKey(service, destination));
    if (existing) return existing;
    const entry: DrainEntry = { service, startedAt: now, deadline: now + Math.max(0, input.drainTimeoutMs(service)) };
    if (destination) entry.destination = destination;
    return entry;
  };

  const fresh = input.countersFresh ?? (() => true);
  for (const want of input.desired) {
    const id = serviceKeyId(want.service.key);
    if (input.unchanged?.has(id)) continue;
    const have = actualById.get(id);
    if (!have) {
      addServices.push({ kind: 'addService', service: want.service, reason: 'declared, not in the kernel', purpose: 'converge' });
      for (const d of want.destinations) addDests.push({ kind: 'addDest', key: want.service.key, destination: d, reason: 'declared real server of a new service', purpose: 'converge' });
      continue;
    }
    // Tables (kernel decode, memory twin, the reconciler's view) hold services in canonical form already.
    const serviceDiffs = serviceDifferences(want.service, have.service);
    if (serviceDiffs.length) editServices.push({ kind: 'editService', service: want.service, reason: serviceDiffs.join(', '), purpose: 'converge' });

    const haveDests = new Map(have.destinations.map((d) => [destinationId(d), d]));
    for (const d of want.destinations) {
      const current = haveDests.get(destinationId(d));
      if (!current) {
        addDests.push({ kind: 'addDest', key: want.service.key, destination: d, reason: 'declared, not in the kernel', purpose: 'converge' });
        continue;
      }
      if (sameDestinationSettings(d, current)) continue;
      const diffs = destinationDifferences(d, specOf(current));
      if (diffs.length) {
        const wasDraining = input.drains.has(drainKey(id, destinationId(d)));
        editDests.push({ kind: 'editDest', key: want.service.key, destination: d, reason: `${wasDraining ? 'back in the config, drain cancelled: ' : ''}${diffs.join(', ')}`, purpose: 'converge' });
      }
    }
    const wanted = new Set(want.destinations.map((d) => destinationId(d)));
    for (const current of have.destinations) {
      const did = destinationId(current);
      if (wanted.has(did)) continue;
      const entry = drainEntry(id, did);
      const conns = connectionsOf(current);
      if (conns === 0 && fresh(id)) {
        deleteDests.push({ kind: 'deleteDest', key: have.service.key, destination: { address: current.address, port: current.port }, reason: input.drains.has(drainKey(id, did)) ? 'drained: no connections left' : 'not declared, no connections', purpose: 'drain' });
      } else if (now >= entry.deadline) {
        deleteDests.push({ kind: 'deleteDest', key: have.service.key, destination: { address: current.address, port: current.port }, reason: `drain timeout: ${conns} connections left after ${Math.round((now - entry.startedAt) / 1000)} s`, purpose: 'drain' });
      } else {
        drains.set(drainKey(id, did), entry);
        if (current.weight !== 0) {
          const what = fresh(id) ? `${conns} connections` : 'its connections';
          drainEdits.push({ kind: 'editDest', key: have.service.key, destination: { ...specOf(current), weight: 0 }, reason: `not declared: draining ${what} (weight ${current.weight} → 0)`, purpose: 'drain' });
        }
      }
    }
  }

  const desiredIds = new Set(input.desired.map((d) => serviceKeyId(d.service.key)));
  for (const id of input.retired) {
    if (desiredIds.has(id)) continue;
    const have = actualById.get(id);
    if (!have) continue;
    const entry = drainEntry(id);
    const conns = have.destinations.reduce((n, d) => n + connectionsOf(d), 0);
    if (conns === 0 && fresh(id)) {
      deleteServices.push({ kind: 'deleteService', key: have.service.key, reason: input.drains.has(id) ? 'removed from the config: drained' : 'removed from the config, no connections', purpose: 'drain' });
    } else if (now >= entry.deadline) {
      deleteServices.push({ kind: 'deleteService', key: have.service.key, reason: `removed from the config: drain timeout, ${conns} connections left after ${Math.round((now - entry.startedAt) / 1000)} s`, purpose: 'drain' });
    } else {
      retired.add(id);
      drains.set(id, entry);
      for (const d of have.destinations) {
        if (d.weight !== 0) drainEdits.push({ kind: 'editDest', key: have.service.key, destination: { ...specOf(d), weight: 0 }, reason: `service removed from the config: draining ${fresh(id) ? `${conns} connections` : 'its connections'}`, purpose: 'drain' });
      }
    }
  }

  return { ops: [...addServices, ...editServices, ...addDests, ...editDests, ...drainEdits, ...deleteDests, ...deleteServices], drains, retired };
}

/**
 * The table after the ops, as the kernel would have it (connection counters kept,
 * new entries at zero). Lenient: an op that would fail leaves the table as is.
 * The reconciler keeps its view of the kernel current with it between reads.
 */
export function applyOpsToTable(actual: readonly ActualService[], ops: readonly IpvsOp[]): ActualService[] {
  const table = new Map(actual.map((a) => [serviceKeyId(a.service.key), a]));
  // Copy on write: entries no op touches stay the very same objects, which is how
  // the reconciler recognises services that cannot have changed.
  const copied = new Set<string>();
  for (const op of ops) {
    const id = serviceKeyId(opServiceKey(op));
    let entry = table.get(id);
    if (entry && !copied.has(id)) {
      entry = { ...entry, destinations: [...entry.destinations] };
      table.set(id, entry);
      copied.add(id);
    }
    switch (op.kind) {
      case 'addService':
        if (!entry) { table.set(id, { service: op.service, destinations: [] }); copied.add(id); }
        break;
      case 'editService':
        if (entry) entry.service = op.service;
        break;
      case 'deleteService':
        table.delete(id);
        break;
      case 'addDest':
        if (entry && !entry.destinations.some((d) => destinationId(d) === destinationId(op.destination))) {
          entry.destinations.push({ ...op.destination, activeConnections: 0, inactiveConnections: 0, persistentConnections: 0 });
        }
        break;
      case 'editDest':
        if (entry) {
          entry.destinations = entry.destinations.map((d) => {
            if (destinationId(d) !== destinationId(op.destination)) return d;
            const { tunnel: _old, ...rest } = d;
            return { ...rest, ...op.destination };
          });
        }
        break;
      case 'deleteDest':
        if (entry) entry.destinations = entry.destinations.filter((d) => destinationId(d) !== destinationId(op.destination));
        break;
    }
  }
  return [...table.values()];
}

/**
 * How the kernel's table differs from what the reconciler last left there, for
 * the services it owns: changes someone made behind its back. Counters are not
 * compared.
 */
export function findDrift(expected: readonly ActualService[], actual: readonly ActualService[], owned: ReadonlySet<string>): { service: string; destination?: string; what: string }[] {
  const out: { service: string; destination?: string; what: string }[] = [];
  const exp = new Map(expected.map((a) => [serviceKeyId(a.service.key), a]));
  const act = new Map(actual.map((a) => [serviceKeyId(a.service.key), a]));
  for (const id of owned) {
    const e = exp.get(id), a = act.get(id);
    if (!e && !a) continue;
    if (e && !a) { out.push({ service: id, what: 'service deleted' }); continue; }
    if (!e && a) { out.push({ service: id, what: 'service added' }); continue; }
    // Differences read "what we left → what is there now".
    const diffs = serviceDifferences(normalizeService(a!.service), normalizeService(e!.service));
    if (diffs.length) out.push({ service: id, what: `service changed: ${diffs.join(', ')}` });
    const ed = new Map(e!.destinations.map((d) => [destinationId(d), d]));
    const ad = new Map(a!.destinations.map((d) => [destinationId(d), d]));
    for (const [did, d] of ed) {
      const now = ad.get(did);
      if (!now) out.push({ service: id, destination: did, what: 'real server deleted' });
      else {
        const dd = destinationDifferences(specOf(now), specOf(d));
        if (dd.length) out.push({ service: id, destination: did, what: `real server changed: ${dd.join(', ')}` });
      }
    }
    for (const did of ad.keys()) if (!ed.has(did)) out.push({ service: id, destination: did, what: 'real server added' });
  }
  return out;
}
