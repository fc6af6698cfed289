// An in-memory IPVS table with the kernel's semantics and errno codes, for unit
// tests of everything above the netlink client. Each mutation takes effect when
// it is called (not after an await), like requests the kernel handles in the
// order they were written to the socket. test/uml/ipvs/memory-parity.test.ts
// runs the same script against both and compares the outcomes.
import { KNOWN_SCHEDULERS } from './constants.js';
import {
  addressFamily,
  canonicalAddress,
  IpvsSpecError,
  normalizeDestination,
  normalizeService,
  normalizeServiceKey,
} from './normalize.js';
import {
  ipvsError,
  type DestinationKey,
  type IpvsInfo,
  type IpvsTable,
  type IpvsTimeouts,
  type MutationResult,
  type SyncDaemonConfig,
  type SyncDaemonState,
  type SyncDaemonStatus,
  type TableMutation,
} from './table.js';
import {
  destinationId,
  serviceKeyId,
  type ActualDestination,
  type ActualService,
  type DestinationSpec,
  type IpvsStats,
  type ServiceKey,
  type ServiceSpec,
} from './types.js';

const zeroStats = (): IpvsStats => ({
  connections: 0,
  packetsIn: 0,
  packetsOut: 0,
  bytesIn: 0,
  bytesOut: 0,
  cps: 0,
  ppsIn: 0,
  ppsOut: 0,
  bpsIn: 0,
  bpsOut: 0,
});

interface Entry {
  service: ServiceSpec;
  destinations: Map<string, ActualDestination>;
  stats: IpvsStats;
}

export type MemoryTableOperation =
  'addService' | 'editService' | 'deleteService' | 'addDestination' | 'editDestination' | 'deleteDestination';

export interface MemoryTableOptions {
  /** Schedulers this "kernel" has; others fail with ENOENT like a missing module. */
  schedulers?: readonly string[];
}

export class MemoryIpvsTable implements IpvsTable {
  private readonly services = new Map<string, Entry>();
  private timeouts: IpvsTimeouts = { tcp: 900, tcpFin: 120, udp: 300 };
  private readonly daemons = new Map<SyncDaemonState, SyncDaemonStatus>();
  private readonly schedulers: Set<string>;
  /** Mutations attempted, successful or not. */
  calls: { operation: MemoryTableOperation; target: string; error?: string }[] = [];
  /**
   * Runs before each mutation: tests use it to change the table "concurrently"
   * (as another tool would) or to fail an operation with an injected error.
   */
  beforeMutation: ((operation: MemoryTableOperation, target: string) => void) | undefined;

  constructor(options: MemoryTableOptions = {}) {
    this.schedulers = new Set(options.schedulers ?? KNOWN_SCHEDULERS);
  }

  // ---- reads ----

  async getInfo(): Promise<IpvsInfo> {
    return { version: '1.2.1', versionCode: 0x010201, connectionTableSize: 4096 };
  }

  async listServices(): Promise<ActualService[]> {
    return [...this.services.values()].map((e) => this.snapshot(e));
  }

  async listServicesWithoutDestinations(): Promise<ActualService[]> {
    return [...this.services.values()].map((e) => ({ service: copyServiceSpec(e.service), destinations: [], stats: { ...e.stats } }));
  }

  async getService(key: ServiceKey): Promise<ActualService | undefined> {
    const e = this.services.get(serviceKeyId(normalizeServiceKey(key)));
    return e ? this.snapshot(e) : undefined;
  }

  async listDestinations(key: ServiceKey): Promise<ActualDestination[]> {
    // The kernel's GET_DEST dump of an unknown service is empty, not an error.
    const e = this.services.get(serviceKeyId(normalizeServiceKey(key)));
    return e ? this.snapshot(e).destinations : [];
  }

  /**
   * A copy the caller may keep or change, as a kernel dump is. Field by field rather
   * than structuredClone: the VRRP benches stand this table in for the kernel, and at
   * 10,000 real servers the generic clone was about a quarter of an audit's hold on the
   * event loop (bench/ipvs/audit-hold.ts).
   */
  private snapshot(e: Entry): ActualService {
    const destinations: ActualDestination[] = [];
    for (const d of e.destinations.values()) destinations.push(copyDestination(d));
    return { service: copyServiceSpec(e.service), destinations, stats: { ...e.stats } };
  }

  // ---- mutations ----

  private mutate(operation: MemoryTableOperation, target: string, fn: () => void): Promise<void> {
    try {
      this.beforeMutation?.(operation, target);
      fn();
      this.calls.push({ operation, target });
      return Promise.resolve();
    } catch (err) {
      this.calls.push({ operation, target, error: (err as { code?: string }).code ?? String(err) });
      return Promise.reject(err);
    }
  }

  private checkService(service: ServiceSpec, operation: string): ServiceSpec {
    let s: ServiceSpec;
    try {
      s = normalizeService(service);
    } catch (err) {
      if (err instanceof IpvsSpecError) throw ipvsError('EINVAL', operation, err.message);
      throw err;
    }
    if (!this.schedulers.has(s.scheduler)) throw ipvsError('ENOENT', operation);
    if (s.persistenceEngine && s.persistenceEngine !== 'sip') throw ipvsError('ENOENT', operation);
    return s;
  }

  private entry(key: ServiceKey, operation: string): Entry {
    const e = this.services.get(serviceKeyId(normalizeServiceKey(key)));
    if (!e) throw ipvsError('ESRCH', operation);
    return e;
  }

  private checkDestination(e: Entry, d: DestinationSpec, operation: string): DestinationSpec {
    if (d.weight < 0) throw ipvsError('ERANGE', operation);
    if ((d.lowerThreshold ?? 0) > (d.upperThreshold ?? 0)) throw ipvsError('ERANGE', operation);
    let n: DestinationSpec;
    try {
      n = normalizeDestination(d);
    } catch (err) {
      if (err instanceof IpvsSpecError) throw ipvsError('EINVAL', operation, err.message);
      throw err;
    }
    if (addressFamily(n.address) !== e.service.key.family && n.forwarding !== 'tun') throw ipvsError('EINVAL', operation);
    return n;
  }

  addService(service: ServiceSpec): Promise<void> {
    return this.mutate('addService', serviceKeyId(service.key), () => {
      const s = this.checkService(service, 'IPVS_CMD_NEW_SERVICE');
      const id = serviceKeyId(s.key);
      if (this.services.has(id)) throw ipvsError('EEXIST', 'IPVS_CMD_NEW_SERVICE');
      this.services.set(id, { service: s, destinations: new Map(), stats: zeroStats() });
    });
  }

  editService(service: ServiceSpec): Promise<void> {
    return this.mutate('editService', serviceKeyId(service.key), () => {
      const e = this.entry(service.key, 'IPVS_CMD_SET_SERVICE');
      e.service = this.checkService(service, 'IPVS_CMD_SET_SERVICE');
    });
  }

  deleteService(key: ServiceKey): Promise<void> {
    return this.mutate('deleteService', serviceKeyId(key), () => {
      this.entry(key, 'IPVS_CMD_DEL_SERVICE');
      this.services.delete(serviceKeyId(normalizeServiceKey(key)));
    });
  }

  addDestination(key: ServiceKey, destination: DestinationSpec): Promise<void> {
    return this.mutate('addDestination', `${serviceKeyId(key)} ${destinationId(destination)}`, () => {
      const e = this.entry(key, 'IPVS_CMD_NEW_DEST');
      const d = this.checkDestination(e, destination, 'IPVS_CMD_NEW_DEST');
      const id = destinationId(d);
      if (e.destinations.has(id)) throw ipvsError('EEXIST', 'IPVS_CMD_NEW_DEST');
      e.destinations.set(id, { ...d, activeConnections: 0, inactiveConnections: 0, persistentConnections: 0, stats: zeroStats() });
    });
  }

  editDestination(key: ServiceKey, destination: DestinationSpec): Promise<void> {
    return this.mutate('editDestination', `${serviceKeyId(key)} ${destinationId(destination)}`, () => {
      const e = this.entry(key, 'IPVS_CMD_SET_DEST');
      const d = this.checkDestination(e, destination, 'IPVS_CMD_SET_DEST');
      const old = e.destinations.get(destinationId(d));
      if (!old) throw ipvsError('ENOENT', 'IPVS_CMD_SET_DEST');
      const { tunnel: _drop, ...counters } = old;
      e.destinations.set(destinationId(d), { ...counters, ...d });
    });
  }

  deleteDestination(key: ServiceKey, destination: DestinationKey): Promise<void> {
    return this.mutate('deleteDestination', `${serviceKeyId(key)} ${destinationId(destination)}`, () => {
      const e = this.entry(key, 'IPVS_CMD_DEL_DEST');
      const id = destinationId({ address: canonicalAddress(destination.address), port: destination.port });
      if (!e.destinations.delete(id)) throw ipvsError('ENOENT', 'IPVS_CMD_DEL_DEST');
    });
  }

  async applyBatch(mutations: readonly TableMutation[]): Promise<MutationResult[]> {
    // Each call takes effect at once, so issuing them all before awaiting keeps the kernel's order.
    const issued = mutations.map((m) => {
      switch (m.kind) {
        case 'addService':
          return this.addService(m.service);
        case 'editService':
          return this.editService(m.service);
        case 'deleteService':
          return this.deleteService(m.key);
        case 'addDest':
          return this.addDestination(m.key, m.destination);
        case 'editDest':
          return this.editDestination(m.key, m.destination);
        case 'deleteDest':
          return this.deleteDestination(m.key, m.destination);
      }
    });
    return (await Promise.allSettled(issued)).map((s) => (s.status === 'rejected' ? (s.reason as Error) : undefined));
  }

  async zeroStats(key?: ServiceKey): Promise<void> {
    const entries = key ? [this.entry(key, 'IPVS_CMD_ZERO')] : [...this.services.values()];
    for (const e of entries) {
      e.stats = zeroStats();
      for (const d of e.destinations.values()) d.stats = zeroStats();
    }
  }

  async getTimeouts(): Promise<IpvsTimeouts> {
    return { ...this.timeouts };
  }

  async setTimeouts(t: Partial<IpvsTimeouts>): Promise<void> {
    this.timeouts = { tcp: t.tcp || this.timeouts.tcp, tcpFin: t.tcpFin || this.timeouts.tcpFin, udp: t.udp || this.timeouts.udp };
  }

  async startDaemon(config: SyncDaemonConfig): Promise<void> {
    if (this.daemons.has(config.state)) throw ipvsError('EEXIST', 'IPVS_CMD_NEW_DAEMON');
    this.daemons.set(config.state, { maxLength: 1472, group: '224.0.0.81', port: 8848, ttl: 1, ...config });
  }

  async stopDaemon(state: SyncDaemonState): Promise<void> {
    if (!this.daemons.delete(state)) throw ipvsError('ESRCH', 'IPVS_CMD_DEL_DAEMON');
  }

  async listDaemons(): Promise<SyncDaemonStatus[]> {
    return [...this.daemons.values()].map((d) => ({ ...d }));
  }

  close(): void {}

  // ---- test controls: what traffic would do to the kernel's counters ----

  /** Sets a destination's connection counters (ActiveConn/InActConn/PersistConn). */
  setConnections(key: ServiceKey, destination: DestinationKey, active: number, inactive = 0, persistent = 0): void {
    const d = this.entry(key, 'setConnections').destinations.get(
      destinationId({ address: canonicalAddress(destination.address), port: destination.port }),
    );
    if (!d) throw ipvsError('ENOENT', 'setConnections');
    d.activeConnections = active;
    d.inactiveConnections = inactive;
    d.persistentConnections = persistent;
  }
}

function copyServiceSpec(s: ServiceSpec): ServiceSpec {
  return { ...s, key: { ...s.key }, flags: { ...s.flags } };
}

function copyDestination(d: ActualDestination): ActualDestination {
  const copy: ActualDestination = {
    address: d.address,
    port: d.port,
    weight: d.weight,
    forwarding: d.forwarding,
    upperThreshold: d.upperThreshold,
    lowerThreshold: d.lowerThreshold,
    activeConnections: d.activeConnections,
    inactiveConnections: d.inactiveConnections,
    persistentConnections: d.persistentConnections,
  };
  if (d.tunnel) copy.tunnel = { ...d.tunnel };
  if (d.stats) copy.stats = { ...d.stats };
  return copy;
}
