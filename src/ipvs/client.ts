// The IPVS table over generic netlink: a thin adapter from IpvsTable calls to
// codec requests on one GenericNetlinkSocket. Requests are not serialized here:
// several calls issued without awaiting are written to the socket in call order
// and the kernel applies them in that order, so callers can pipeline.
import { GenericNetlinkSocket, type GenlMessage } from '../net/genetlink.js';
import { NetlinkDecodeError, type Decoded } from '../net/netlink.js';
import {
  decodeDaemonMessage,
  decodeDestinationMessage,
  decodeInfoMessage,
  decodeServiceMessage,
  decodeTimeoutsMessage,
  ipvsRequests,
  type IpvsRequest,
} from './codec.js';
import { IPVS_GENL_NAME } from './constants.js';
import {
  destinationsOrNone,
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
import type { ActualDestination, ActualService, DestinationSpec, ServiceKey, ServiceSpec } from './types.js';

/** How long a sync daemon's start or stop may take the kernel (daemonTimeoutMs). */
const DAEMON_TIMEOUT_MS = 30_000;

export interface IpvsClientOptions {
  /** Open the socket in this network namespace, e.g. "/run/netns/lvs". */
  netns?: string;
  timeoutMs?: number;
  /**
   * Extra sockets for dumps. Netlink runs one dump at a time per socket (a second
   * one gets EBUSY until the first is read to its end), so listing many services'
   * destinations goes faster over a few sockets in parallel.
   */
  dumpSockets?: number;
}

function unwrap<T>(d: Decoded<T>, operation: string): T {
  if (!d.ok) throw new NetlinkDecodeError(`${operation}: malformed reply: ${d.error}`);
  return d.value;
}

function mutationRequest(m: TableMutation): IpvsRequest {
  switch (m.kind) {
    case 'addService':
      return ipvsRequests.addService(m.service);
    case 'editService':
      return ipvsRequests.editService(m.service);
    case 'deleteService':
      return ipvsRequests.deleteService(m.key);
    case 'addDest':
      return ipvsRequests.addDestination(m.key, m.destination);
    case 'editDest':
      return ipvsRequests.editDestination(m.key, m.destination);
    case 'deleteDest':
      return ipvsRequests.deleteDestination(m.key, m.destination);
  }
}

/** A socket whose dumps run one after another. */
class DumpLane {
  private tail: Promise<unknown> = Promise.resolve();
  queued = 0;
  constructor(readonly socket: GenericNetlinkSocket) {}

  run<T>(fn: (socket: GenericNetlinkSocket) => Promise<T>): Promise<T> {
    this.queued++;
    const result = this.tail.then(() => fn(this.socket));
    this.tail = result
      .catch(() => undefined)
      .finally(() => {
        this.queued--;
      });
    return result;
  }
}

export class IpvsClient implements IpvsTable {
  private readonly lanes: DumpLane[];

  private constructor(
    private readonly socket: GenericNetlinkSocket,
    dumpSockets: GenericNetlinkSocket[],
    private readonly options: IpvsClientOptions,
  ) {
    this.lanes = [socket, ...dumpSockets].map((s) => new DumpLane(s));
  }

  static async open(options: IpvsClientOptions = {}): Promise<IpvsClient> {
    const socketOptions = options.netns ? { netns: options.netns } : {};
    const sockets: GenericNetlinkSocket[] = [];
    try {
      for (let i = 0; i <= (options.dumpSockets ?? 3); i++) sockets.push(await GenericNetlinkSocket.open(IPVS_GENL_NAME, socketOptions));
    } catch (err) {
      for (const s of sockets) s.close();
      throw err;
    }
    return new IpvsClient(sockets[0]!, sockets.slice(1), options);
  }

  private send(r: IpvsRequest, timeoutMs = this.options.timeoutMs): Promise<GenlMessage[]> {
    const options = { dump: r.dump, operation: r.operation, ...(timeoutMs ? { timeoutMs } : {}) };
    if (!r.dump) return this.socket.request(r.cmd, r.attrs, 0, options);
    let lane = this.lanes[0]!;
    for (const l of this.lanes) if (l.queued < lane.queued) lane = l;
    return lane.run((socket) => socket.request(r.cmd, r.attrs, 0, options));
  }

  private async sendAck(r: IpvsRequest, timeoutMs?: number): Promise<void> {
    await this.send(r, timeoutMs);
  }

  async getInfo(): Promise<IpvsInfo> {
    const r = ipvsRequests.getInfo();
    const [reply] = await this.send(r);
    if (!reply) throw new NetlinkDecodeError(`${r.operation}: empty reply`);
    return unwrap(decodeInfoMessage(reply.attrs), r.operation);
  }

  async listServices(): Promise<ActualService[]> {
    const services = await this.listServicesWithoutDestinations();
    const lists = await Promise.all(services.map((s) => destinationsOrNone(this, s.service.key)));
    services.forEach((s, i) => {
      s.destinations = lists[i]!;
    });
    return services;
  }

  async listServicesWithoutDestinations(): Promise<ActualService[]> {
    const r = ipvsRequests.listServices();
    return (await this.send(r)).map((m) => unwrap(decodeServiceMessage(m.attrs), r.operation));
  }

  async getService(key: ServiceKey): Promise<ActualService | undefined> {
    const r = ipvsRequests.getService(key);
    let replies: GenlMessage[];
    try {
      replies = await this.send(r);
    } catch (err) {
      if ((err as { code?: string }).code === 'ESRCH') return undefined;
      throw err;
    }
    const first = replies[0];
    if (!first) return undefined;
    const service = unwrap(decodeServiceMessage(first.attrs), r.operation);
    service.destinations = await destinationsOrNone(this, service.service.key);
    return service;
  }

  async listDestinations(key: ServiceKey): Promise<ActualDestination[]> {
    const r = ipvsRequests.listDestinations(key);
    return (await this.send(r)).map((m) => unwrap(decodeDestinationMessage(m.attrs, key.family), r.operation));
  }

  addService(service: ServiceSpec): Promise<void> {
    return this.sendAck(ipvsRequests.addService(service));
  }
  editService(service: ServiceSpec): Promise<void> {
    return this.sendAck(ipvsRequests.editService(service));
  }
  deleteService(key: ServiceKey): Promise<void> {
    return this.sendAck(ipvsRequests.deleteService(key));
  }
  addDestination(key: ServiceKey, d: DestinationSpec): Promise<void> {
    return this.sendAck(ipvsRequests.addDestination(key, d));
  }
  editDestination(key: ServiceKey, d: DestinationSpec): Promise<void> {
    return this.sendAck(ipvsRequests.editDestination(key, d));
  }
  deleteDestination(key: ServiceKey, d: DestinationKey): Promise<void> {
    return this.sendAck(ipvsRequests.deleteDestination(key, d));
  }

  applyBatch(mutations: readonly TableMutation[]): Promise<MutationResult[]> {
    return this.socket.requestBatch(mutations.map(mutationRequest), this.options.timeoutMs ? { timeoutMs: this.options.timeoutMs } : {});
  }

  zeroStats(key?: ServiceKey): Promise<void> {
    return this.sendAck(ipvsRequests.zero(key));
  }

  async getTimeouts(): Promise<IpvsTimeouts> {
    const r = ipvsRequests.getTimeouts();
    const [reply] = await this.send(r);
    if (!reply) throw new NetlinkDecodeError(`${r.operation}: empty reply`);
    return unwrap(decodeTimeoutsMessage(reply.attrs), r.operation);
  }

  setTimeouts(timeouts: Partial<IpvsTimeouts>): Promise<void> {
    return this.sendAck(ipvsRequests.setTimeouts(timeouts));
  }
  startDaemon(config: SyncDaemonConfig): Promise<void> {
    return this.sendAck(ipvsRequests.startDaemon(config), this.daemonTimeoutMs());
  }
  stopDaemon(state: SyncDaemonState): Promise<void> {
    return this.sendAck(ipvsRequests.stopDaemon(state), this.daemonTimeoutMs());
  }

  /**
   * The kernel answers a sync daemon's start or stop only once its threads have started
   * or stopped (kthread_run, kthread_stop): a stop in UML on a loaded host took over
   * 5 s, the netlink socket's default, once in a CI run.
   */
  private daemonTimeoutMs(): number {
    return Math.max(this.options.timeoutMs ?? 0, DAEMON_TIMEOUT_MS);
  }

  async listDaemons(): Promise<SyncDaemonStatus[]> {
    const r = ipvsRequests.listDaemons();
    return (await this.send(r)).map((m) => unwrap(decodeDaemonMessage(m.attrs), r.operation));
  }

  /**
   * The IPVS sockets' receive errors, overruns and reopens, summed. A socket error
   * never throws: a dead socket is reopened and its waiting requests rejected.
   */
  socketStats(): { errors: number; overruns: number; reopens: number } {
    const total = { errors: 0, overruns: 0, reopens: 0 };
    for (const {
      socket: { netlink },
    } of this.lanes) {
      total.errors += netlink.errors;
      total.overruns += netlink.overruns;
      total.reopens += netlink.reopens;
    }
    return total;
  }

  close(): void {
    for (const lane of this.lanes) lane.socket.close();
  }
}
