// The pure diff: desired table + the kernel's table (+ drain bookkeeping) → the
// minimal list of operations, each with its reason. No I/O, no clock: `now` is
// an argument. reconciler.ts runs it against a real or in-memory table.
//
// Ownership: a service is ours when its key is in the desired set, or when it was
// and has been removed from the config but not yet deleted ("retired"). Nothing
// else is ever touched. A destination or retired service is drained, not cut:
// weight 0 until its connections (ActiveConn + InActConn) reach zero or the
// drain timeout passes, then deleted.
import {
  destinationDifferences,
  isCanonicalDestination,
  isCanonicalService,
  normalizeDestination,
  normalizeService,
  sameDestinationSettings,
  serviceDifferences,
} from './normalize.js';
import type { DestinationKey } from './table.js';
import {
  destinationId,
  serviceKeyId,
  type ActualDestination,
  type ActualService,
  type DesiredService,
  type DestinationSpec,
  type ServiceKey,
  type ServiceSpec,
} from './types.js';

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
  /** Normalized (normalizeDesired), keyed by service id. */
  desired: ReadonlyMap<string, DesiredService>;
  /** The kernel's table keyed by service id (viewOf a dump, or the reconciler's view). */
  actual: ReadonlyMap<string, ActualService>;
  /** Services removed from the config and not yet deleted: still owned. */
  retired: ReadonlySet<string>;
  drains: ReadonlyMap<string, DrainEntry>;
  now: number;
  drainTimeoutMs: (serviceId: string) => number;
  /**
   * Only these services are looked at; the others are known to need nothing
   * (their desired entry and kernel entry have not changed since they were last
   * found in order), and their drain bookkeeping is carried over as it is. So a
   * small change to a large table costs little. Absent: every owned service.
   */
  scope?: ReadonlySet<string> | undefined;
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

/**
 * Validates and canonicalizes a desired table into a map by service id (in the
 * order given); throws on bad specs or a key declared twice. A service given in
 * exactly the canonical form of its entry in `previous` (the last table) keeps
 * that very object: parsing addresses is the expensive part, and identity tells
 * the reconciler which services cannot have changed. (A service given in some
 * other form is simply normalized again.)
 *
 * `previousInputs` is the list `previous` was normalized from. A service given as
 * the very object given at the same position last time is taken as it was, without
 * comparing its real servers: the health monitor hands over the same object for
 * every service whose pool did not change, so a flap in one service of a
 * 10,000-server table costs that service's work, not the table's. An input once
 * given is never changed in place.
 */
export function normalizeDesired(
  desired: readonly DesiredService[],
  previous?: ReadonlyMap<string, DesiredService>,
  previousInputs?: readonly DesiredService[],
): Map<string, DesiredService> {
  const out = new Map<string, DesiredService>();
  // A reload usually lists the same services in the same order: the entry at the
  // same position is tried first, before building the service's id to look it up.
  const previousIds = new Array<string>(previous?.size ?? 0);
  let k = 0;
  previous?.forEach((_, id) => {
    previousIds[k++] = id;
  });
  for (let i = 0; i < desired.length; i++) {
    const raw = desired[i]!;
    let id = previousIds[i];
    let normalized = id === undefined ? undefined : previous!.get(id);
    if (normalized && previousInputs?.[i] === raw) {
      if (out.has(id!)) throw new Error(`service ${id!} is declared twice`);
      out.set(id!, normalized);
      continue;
    }
    if (id === undefined || !normalized || !isCanonicalDesired(raw, normalized)) {
      id = serviceKeyId(raw.service.key);
      normalized = previous?.get(id);
    }
    if (!normalized || !isCanonicalDesired(raw, normalized)) {
      // What did not change within a changed service keeps its objects too.
      const before = normalized;
      const s = before && isCanonicalService(raw.service, before.service) ? before.service : normalizeService(raw.service);
      // A real server that left or joined shifts the ones after it: those are found by
      // address and port, since parsing an address costs more than finding it.
      let moved: Int32Array | undefined;
      const destinations = raw.destinations.map((x, j) => {
        if (!before) return normalizeDestination(x);
        const atSamePlace = before.destinations[j];
        if (atSamePlace && isCanonicalDestination(x, atSamePlace)) return atSamePlace;
        moved ??= matchDestinations(raw.destinations, before.destinations);
        const old = moved[j]! >= 0 ? before.destinations[moved[j]!] : undefined;
        return old && old !== atSamePlace && isCanonicalDestination(x, old) ? old : normalizeDestination(x);
      });
      const twice = findDuplicate(destinations);
      if (twice) throw new Error(`service ${serviceKeyId(s.key)}: real server ${destinationId(twice)} is declared twice`);
      normalized = { service: s, destinations };
      id = serviceKeyId(s.key);
    }
    if (out.has(id)) throw new Error(`service ${id} is declared twice`);
    out.set(id, normalized);
  }
  return out;
}

/** A real server listed twice (same address and port), if any. */
function findDuplicate(ds: readonly DestinationSpec[]): DestinationSpec | undefined {
  if (ds.length <= 32) {
    for (let i = 1; i < ds.length; i++) {
      for (let j = 0; j < i; j++) if (ds[i]!.address === ds[j]!.address && ds[i]!.port === ds[j]!.port) return ds[i];
    }
    return undefined;
  }
  const seen = new Set<string>();
  for (const d of ds) {
    const did = destinationId(d);
    if (seen.has(did)) return d;
    seen.add(did);
  }
  return undefined;
}

/** `raw` is already `n`, the normalized form, field for field (so normalizing it would give `n`). */
function isCanonicalDesired(raw: DesiredService, n: DesiredService): boolean {
  const rd = raw.destinations,
    nd = n.destinations;
  if (rd.length !== nd.length || !isCanonicalService(raw.service, n.service)) return false;
  for (let i = 0; i < rd.length; i++) if (!isCanonicalDestination(rd[i]!, nd[i]!)) return false;
  return true;
}

const specOf = (d: ActualDestination): DestinationSpec => {
  const out: DestinationSpec = {
    address: d.address,
    port: d.port,
    weight: d.weight,
    forwarding: d.forwarding,
    upperThreshold: d.upperThreshold,
    lowerThreshold: d.lowerThreshold,
  };
  if (d.tunnel) out.tunnel = d.tunnel;
  return out;
};

const connectionsOf = (d: ActualDestination): number => d.activeConnections + d.inactiveConnections;

/**
 * For each wanted real server, the index of the same one (address and port) in
 * `have`, or -1. Small services, the common case, are scanned without building a
 * key string per real server: that garbage is what a diff would otherwise cost.
 */
export function matchDestinations(want: readonly DestinationSpec[], have: readonly DestinationSpec[]): Int32Array {
  const out = new Int32Array(want.length).fill(-1);
  if (want.length * have.length <= 1024) {
    for (let i = 0; i < want.length; i++) {
      const w = want[i]!;
      for (let j = 0; j < have.length; j++) {
        if (have[j]!.address === w.address && have[j]!.port === w.port) {
          out[i] = j;
          break;
        }
      }
    }
    return out;
  }
  const index = new Map<string, number>();
  have.forEach((d, j) => index.set(destinationId(d), j));
  want.forEach((d, i) => {
    out[i] = index.get(destinationId(d)) ?? -1;
  });
  return out;
}

export function reconcile(input: ReconcileInput): ReconcileOutput {
  const { now } = input;
  const addServices: IpvsOp[] = [],
    editServices: IpvsOp[] = [],
    addDests: IpvsOp[] = [],
    editDests: IpvsOp[] = [];
  const drainEdits: IpvsOp[] = [],
    deleteDests: IpvsOp[] = [],
    deleteServices: IpvsOp[] = [];
  const drains = new Map<string, DrainEntry>();
  const retired = new Set<string>();
  const { desired, actual, scope } = input;

  const drainEntry = (service: string, destination?: string): DrainEntry => {
    const existing = input.drains.get(drainKey(service, destination));
    if (existing) return existing;
    const entry: DrainEntry = { service, startedAt: now, deadline: now + Math.max(0, input.drainTimeoutMs(service)) };
    if (destination) entry.destination = destination;
    return entry;
  };

  const fresh = input.countersFresh ?? (() => true);
  const declared = (id: string, want: DesiredService): void => {
    const have = actual.get(id);
    if (!have) {
      addServices.push({ kind: 'addService', service: want.service, reason: 'declared, not in the kernel', purpose: 'converge' });
      for (const d of want.destinations)
        addDests.push({
          kind: 'addDest',
          key: want.service.key,
          destination: d,
          reason: 'declared real server of a new service',
          purpose: 'converge',
        });
      return;
    }
    // Tables (kernel decode, memory twin, the reconciler's view) hold services in canonical form already.
    const serviceDiffs = serviceDifferences(want.service, have.service);
    if (serviceDiffs.length)
      editServices.push({ kind: 'editService', service: want.service, reason: serviceDiffs.join(', '), purpose: 'converge' });

    const haveDests = have.destinations;
    const match = matchDestinations(want.destinations, haveDests);
    const kept = new Uint8Array(haveDests.length);
    want.destinations.forEach((d, i) => {
      const j = match[i]!;
      if (j < 0) {
        addDests.push({
          kind: 'addDest',
          key: want.service.key,
          destination: d,
          reason: 'declared, not in the kernel',
          purpose: 'converge',
        });
        return;
      }
      kept[j] = 1;
      const current = haveDests[j]!;
      if (sameDestinationSettings(d, current)) return;
      const diffs = destinationDifferences(d, specOf(current));
      if (diffs.length) {
        const wasDraining = input.drains.has(drainKey(id, destinationId(d)));
        editDests.push({
          kind: 'editDest',
          key: want.service.key,
          destination: d,
          reason: `${wasDraining ? 'back in the config, drain cancelled: ' : ''}${diffs.join(', ')}`,
          purpose: 'converge',
        });
      }
    });
    // sh/mh without fallback hash a weight-0 server's share of new connections to nothing
    // ("no destination available"), so there a server leaves at once: deleting it keeps its
    // connections in the kernel's table, and its share is hashed over the others.
    const hashedWithoutFallback = (want.service.scheduler === 'sh' || want.service.scheduler === 'mh') && !want.service.flags.schedFallback;
    for (let j = 0; j < haveDests.length; j++) {
      if (kept[j]) continue;
      const current = haveDests[j]!;
      const did = destinationId(current);
      const entry = drainEntry(id, did);
      const conns = connectionsOf(current);
      if (hashedWithoutFallback) {
        deleteDests.push({
          kind: 'deleteDest',
          key: have.service.key,
          destination: { address: current.address, port: current.port },
          reason: `not declared: deleted at once (${want.service.scheduler} without fallback sends a weight-0 server's new connections nowhere; its ${conns} connections stay)`,
          purpose: 'drain',
        });
      } else if (conns === 0 && fresh(id)) {
        deleteDests.push({
          kind: 'deleteDest',
          key: have.service.key,
          destination: { address: current.address, port: current.port },
          reason: input.drains.has(drainKey(id, did)) ? 'drained: no connections left' : 'not declared, no connections',
          purpose: 'drain',
        });
      } else if (now >= entry.deadline) {
        deleteDests.push({
          kind: 'deleteDest',
          key: have.service.key,
          destination: { address: current.address, port: current.port },
          reason: `drain timeout: ${conns} connections left after ${Math.round((now - entry.startedAt) / 1000)} s`,
          purpose: 'drain',
        });
      } else {
        drains.set(drainKey(id, did), entry);
        if (current.weight !== 0) {
          const what = fresh(id) ? `${conns} connections` : 'its connections';
          drainEdits.push({
            kind: 'editDest',
            key: have.service.key,
            destination: { ...specOf(current), weight: 0 },
            reason: `not declared: draining ${what} (weight ${current.weight} → 0)`,
            purpose: 'drain',
          });
        }
      }
    }
  };

  const removed = (id: string): void => {
    const have = actual.get(id);
    if (!have) return;
    const entry = drainEntry(id);
    const conns = have.destinations.reduce((n, d) => n + connectionsOf(d), 0);
    if (conns === 0 && fresh(id)) {
      deleteServices.push({
        kind: 'deleteService',
        key: have.service.key,
        reason: input.drains.has(id) ? 'removed from the config: drained' : 'removed from the config, no connections',
        purpose: 'drain',
      });
    } else if (now >= entry.deadline) {
      deleteServices.push({
        kind: 'deleteService',
        key: have.service.key,
        reason: `removed from the config: drain timeout, ${conns} connections left after ${Math.round((now - entry.startedAt) / 1000)} s`,
        purpose: 'drain',
      });
    } else {
      retired.add(id);
      drains.set(id, entry);
      for (const d of have.destinations) {
        if (d.weight !== 0)
          drainEdits.push({
            kind: 'editDest',
            key: have.service.key,
            destination: { ...specOf(d), weight: 0 },
            reason: `service removed from the config: draining ${fresh(id) ? `${conns} connections` : 'its connections'}`,
            purpose: 'drain',
          });
      }
    }
  };

  if (scope) {
    for (const id of scope) {
      const want = desired.get(id);
      if (want) declared(id, want);
      else if (input.retired.has(id)) removed(id);
    }
    for (const [key, e] of input.drains) if (!scope.has(e.service)) drains.set(key, e);
    for (const id of input.retired) if (!scope.has(id) && !desired.has(id)) retired.add(id);
  } else {
    for (const [id, want] of desired) declared(id, want);
    for (const id of input.retired) if (!desired.has(id)) removed(id);
  }

  return {
    ops: [...addServices, ...editServices, ...addDests, ...editDests, ...drainEdits, ...deleteDests, ...deleteServices],
    drains,
    retired,
  };
}

/** An op's place in a pass: services added and changed, real servers added and changed, drains begun, real servers deleted, services deleted. */
function passRank(op: IpvsOp): number {
  switch (op.kind) {
    case 'addService':
      return 0;
    case 'editService':
      return 1;
    case 'addDest':
      return 2;
    case 'editDest':
      return op.purpose === 'drain' ? 4 : 3;
    case 'deleteDest':
      return 5;
    case 'deleteService':
      return 6;
  }
}

/**
 * reconcile() a piece of about `pieceDestinations` real servers (desired and in the
 * table) at a time: each piece is a reconcile() scoped to its services, fed the drains
 * and retired services the one before it left, and the generator yields between
 * pieces so that its caller can let the event loop turn. What it returns is what one
 * reconcile() of the whole input returns, ops in the same order.
 */
export function* reconcileInPieces(input: ReconcileInput, pieceDestinations: number): Generator<void, ReconcileOutput, void> {
  const ids = input.scope ? [...input.scope] : [...input.desired.keys(), ...[...input.retired].filter((id) => !input.desired.has(id))];
  const pieces: string[][] = [];
  let piece: string[] = [];
  let inPiece = 0;
  for (const id of ids) {
    piece.push(id);
    inPiece += (input.desired.get(id)?.destinations.length ?? 0) + (input.actual.get(id)?.destinations.length ?? 0);
    if (inPiece >= pieceDestinations) {
      pieces.push(piece);
      piece = [];
      inPiece = 0;
    }
  }
  if (piece.length) pieces.push(piece);
  if (pieces.length <= 1) return reconcile(input);
  const ops: IpvsOp[] = [];
  let drains: ReadonlyMap<string, DrainEntry> = input.drains;
  let retired: ReadonlySet<string> = input.retired;
  for (let i = 0; i < pieces.length; i++) {
    if (i > 0) yield;
    const out = reconcile({ ...input, drains, retired, scope: new Set(pieces[i]) });
    ops.push(...out.ops);
    drains = out.drains;
    retired = out.retired;
  }
  const ranked = ops.map((op, i) => ({ op, i, rank: passRank(op) }));
  ranked.sort((a, b) => a.rank - b.rank || a.i - b.i);
  // A scoped reconcile() carries the drains of services outside its scope; a whole one
  // keeps only those of the services it owns, all of which were in some piece.
  const owned = new Set(ids);
  const kept = input.scope ? new Map(drains) : new Map([...drains].filter(([, e]) => owned.has(e.service)));
  return { ops: ranked.map((r) => r.op), drains: kept, retired: new Set(retired) };
}

/**
 * How the kernel's table differs from what the reconciler last left there, for
 * the services it owns: changes someone made behind its back. Counters are not
 * compared.
 */
export function findDrift(
  exp: ReadonlyMap<string, ActualService>,
  act: ReadonlyMap<string, ActualService>,
  owned: ReadonlySet<string>,
): { service: string; destination?: string; what: string }[] {
  const out: { service: string; destination?: string; what: string }[] = [];
  for (const id of owned) {
    const e = exp.get(id),
      a = act.get(id);
    if (!e && !a) continue;
    if (e && !a) {
      out.push({ service: id, what: 'service deleted' });
      continue;
    }
    if (!e && a) {
      out.push({ service: id, what: 'service added' });
      continue;
    }
    // Differences read "what we left → what is there now".
    const diffs = serviceDifferences(normalizeService(a!.service), normalizeService(e!.service));
    if (diffs.length) out.push({ service: id, what: `service changed: ${diffs.join(', ')}` });
    const expected = e!.destinations;
    const actual = a!.destinations;
    // The kernel lists a service's real servers in the order they were added, which is
    // the view's order: then no id or map is needed (an audit of 10,000 runs on the
    // thread that sends the VRRP adverts). Any other order takes the general path.
    if (inSameOrder(expected, actual)) {
      for (let i = 0; i < expected.length; i++) {
        if (sameDestinationSettings(actual[i]!, expected[i]!)) continue;
        const dd = destinationDifferences(actual[i]!, expected[i]!);
        if (dd.length) out.push({ service: id, destination: destinationId(expected[i]!), what: `real server changed: ${dd.join(', ')}` });
      }
      continue;
    }
    const ed = new Map(expected.map((d) => [destinationId(d), d]));
    const ad = new Map(actual.map((d) => [destinationId(d), d]));
    for (const [did, d] of ed) {
      const now = ad.get(did);
      if (!now) out.push({ service: id, destination: did, what: 'real server deleted' });
      else if (!sameDestinationSettings(now, d)) {
        const dd = destinationDifferences(now, d);
        if (dd.length) out.push({ service: id, destination: did, what: `real server changed: ${dd.join(', ')}` });
      }
    }
    for (const did of ad.keys()) if (!ed.has(did)) out.push({ service: id, destination: did, what: 'real server added' });
  }
  return out;
}

/** The same real servers (address and port) at the same positions. */
function inSameOrder(a: readonly DestinationSpec[], b: readonly DestinationSpec[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]!.address !== b[i]!.address || a[i]!.port !== b[i]!.port) return false;
  return true;
}
