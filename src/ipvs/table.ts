// The kernel IPVS table as an interface: one implementation speaks generic
// netlink (client.ts), the other is an in-memory twin for unit tests
// (memory-table.ts). Both fail with the same errno codes the kernel uses.
//
// There is deliberately no flush here: nothing in failoverd can empty the table
// wholesale, so "never flush at start, reload or stop" holds by construction.
import { NetlinkError } from '../net/netlink.js';
import { errnoNumber } from '../net/errno.js';
import type { ActualDestination, ActualService, DestinationSpec, ServiceKey, ServiceSpec } from './types.js';

export interface IpvsInfo {
  /** e.g. "1.2.1". */
  version: string;
  versionCode: number;
  connectionTableSize: number;
}

export interface IpvsTimeouts {
  /** Seconds; 0 means "unchanged" when setting and "default" when read. */
  tcp: number;
  tcpFin: number;
  udp: number;
}

export type SyncDaemonState = 'master' | 'backup';

export interface SyncDaemonConfig {
  state: SyncDaemonState;
  interface: string;
  syncId: number;
  /** UDP payload size (ipvsadm --sync-maxlen). */
  maxLength?: number;
  /** Multicast group (ipvsadm --mcast-group), IPv4 or IPv6. */
  group?: string;
  port?: number;
  ttl?: number;
}

export type SyncDaemonStatus = Required<Pick<SyncDaemonConfig, 'state' | 'interface' | 'syncId'>> &
  Omit<SyncDaemonConfig, 'state' | 'interface' | 'syncId'>;

/** Identifies a destination within a service. */
export type DestinationKey = Pick<DestinationSpec, 'address' | 'port'>;

/** One change to the table, as data, so a batch of them can go out at once. */
export type TableMutation =
  | { kind: 'addService'; service: ServiceSpec }
  | { kind: 'editService'; service: ServiceSpec }
  | { kind: 'deleteService'; key: ServiceKey }
  | { kind: 'addDest'; key: ServiceKey; destination: DestinationSpec }
  | { kind: 'editDest'; key: ServiceKey; destination: DestinationSpec }
  | { kind: 'deleteDest'; key: ServiceKey; destination: DestinationKey };

/** A mutation's outcome in a batch: undefined when it was applied, else the kernel's error. */
export type MutationResult = (Error & { code?: string }) | undefined;

/**
 * Operations on the IPVS table. Mutations take effect in call order, even when
 * several are issued without awaiting the previous one (the netlink client
 * pipelines them on one socket; the memory twin applies each at call time).
 * Errors are NetlinkError with the kernel's errno code: EEXIST (already there),
 * ESRCH (no such service), ENOENT (no such destination, or unknown scheduler),
 * EINVAL/ERANGE (bad values).
 */
export interface IpvsTable {
  getInfo(): Promise<IpvsInfo>;
  /** Every service with its destinations, connection counters and stats. */
  listServices(): Promise<ActualService[]>;
  /** Every service with its stats; `destinations` is empty (listDestinations reads them). */
  listServicesWithoutDestinations(): Promise<ActualService[]>;
  /** One service (without destinations' details beyond the listing), or undefined. */
  getService(key: ServiceKey): Promise<ActualService | undefined>;
  listDestinations(key: ServiceKey): Promise<ActualDestination[]>;
  addService(service: ServiceSpec): Promise<void>;
  editService(service: ServiceSpec): Promise<void>;
  deleteService(key: ServiceKey): Promise<void>;
  addDestination(key: ServiceKey, destination: DestinationSpec): Promise<void>;
  editDestination(key: ServiceKey, destination: DestinationSpec): Promise<void>;
  deleteDestination(key: ServiceKey, destination: DestinationKey): Promise<void>;
  /**
   * Applies mutations in order, each one's outcome in the result; a refused one
   * does not stop those after it. Rejects only when the outcome is unknown
   * (timeout, socket closed, replies lost).
   */
  applyBatch(mutations: readonly TableMutation[]): Promise<MutationResult[]>;
  /** Zeroes the counters of one service, or of all when no key is given. */
  zeroStats(key?: ServiceKey): Promise<void>;
  getTimeouts(): Promise<IpvsTimeouts>;
  /** Fields left out or 0 are left unchanged. */
  setTimeouts(timeouts: Partial<IpvsTimeouts>): Promise<void>;
  startDaemon(config: SyncDaemonConfig): Promise<void>;
  stopDaemon(state: SyncDaemonState): Promise<void>;
  listDaemons(): Promise<SyncDaemonStatus[]>;
  close(): void;
}

/** An error shaped exactly like the kernel's, for the memory twin and for callers' checks. */
export function ipvsError(
  code: 'EEXIST' | 'ESRCH' | 'ENOENT' | 'EINVAL' | 'ERANGE' | 'EAFNOSUPPORT' | 'EBUSY',
  operation: string,
  extAck?: string,
): NetlinkError {
  return new NetlinkError(errnoNumber(code)!, extAck, operation);
}

/** A service's real servers, or none when it was deleted since it was listed (ESRCH). */
export async function destinationsOrNone(table: Pick<IpvsTable, 'listDestinations'>, key: ServiceKey): Promise<ActualDestination[]> {
  try {
    return await table.listDestinations(key);
  } catch (err) {
    if (errorCode(err) === 'ESRCH') return [];
    throw err;
  }
}

export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
