// What a VRRP instance needs from the host, as interfaces: the real adapters
// (raw sockets, AF_PACKET, rtnetlink) and in-memory twins for tests implement them.
import type { ReceivedPacket } from './accept.js';

export interface InterfaceAddress {
  address: string;
  prefixLength: number;
  label?: string;
}

export interface LinkState {
  name: string;
  index: number;
  /** 6-byte MAC address. */
  mac: Buffer;
  /** Operationally up (carrier and admin up). */
  up: boolean;
  addresses: InterfaceAddress[];
}

/** Reads and watches links and moves the virtual addresses. */
export interface VrrpHost {
  link(name: string): Promise<LinkState>;
  /** Calls back on every change of the link or its addresses; returns an unsubscribe. */
  watchLink(name: string, onChange: (link: LinkState) => void): () => void;
  /**
   * Idempotent: an address already present is not an error. Implementations
   * should issue the change before returning (rtnetlink applies it in the
   * write), so the runner can announce without waiting for the acknowledgement.
   */
  addAddress(interfaceName: string, address: InterfaceAddress): Promise<void>;
  /** Idempotent: an absent address is not an error. */
  removeAddress(interfaceName: string, address: InterfaceAddress): Promise<void>;
}

/** Sends and receives VRRP messages on one interface. */
export interface AdvertChannel {
  /** Our source address for adverts (used in the checksum). */
  readonly sourceAddress: string;
  send(payload: Buffer, destination: string): void;
  onPacket(handler: (packet: ReceivedPacket) => void): void;
  /** Malformed IP packets the channel could not even hand on, with the reason. */
  onDrop(handler: (reason: 'bad_ip_header' | 'not_vrrp', detail: string) => void): void;
  /** Datagrams the kernel dropped on this channel's receiving socket(s) because the queue was full; cumulative. */
  receiveQueueDrops?(): number;
  /** Hands what is queued on the receiving socket to onPacket now, instead of at the event loop's next poll. */
  receivePending?(): void;
  close(): void;
}

export interface AdvertChannelOptions {
  family: 4 | 6;
  interfaceName: string;
  interfaceIndex: number;
  sourceAddress: string;
  /** Join the VRRP multicast group (false in unicast mode). */
  multicast: boolean;
  netns?: string;
}

/** Announces that addresses now live at our MAC: gratuitous ARP / unsolicited NA. */
export interface Announcer {
  announce(addresses: string[]): void;
  close(): void;
}

export interface AnnouncerOptions {
  interfaceIndex: number;
  mac: Buffer;
  netns?: string;
}

export interface VrrpIo {
  host: VrrpHost;
  openChannel(options: AdvertChannelOptions): AdvertChannel;
  openAnnouncer(options: AnnouncerOptions): Announcer;
  /** The VRRP thread's CPU scheduling (vrrp_realtime); absent where there is none to change. */
  scheduling?: VrrpScheduling;
  /** The VRRP thread's young generation (ScavengePacer); absent where it cannot be scavenged on demand. */
  youngGeneration?: YoungGeneration;
}

/** The VRRP thread's young generation: V8's nursery of new objects, collected by a scavenge. */
export interface YoungGeneration {
  /** The used share of its current capacity, 0 to 1. */
  fill(): number;
  /** Scavenges it now, on the calling thread. */
  scavenge(): void;
}

/** The calling thread's scheduling: the VRRP thread is the thread that opened the VrrpIo. */
export interface VrrpScheduling {
  /**
   * SCHED_RR at `priority` for the calling thread; threads and processes it starts
   * afterwards get normal scheduling. Throws (EPERM...) when the kernel refuses.
   */
  setRealtime(priority: number, cpuBurstLimitMs: number): void;
  /** Called, from the thread's event loop, each time it ran cpuBurstLimitMs without blocking and was put back to normal scheduling. */
  onDropped(callback: () => void): void;
  /**
   * Whether V8 hands work (garbage collection, optimizing compilation) to its platform
   * threads, which keep normal scheduling (node started without --single-threaded).
   */
  readonly v8HelperThreads: boolean;
  /** Whether V8's memory reducer runs (node started without --no-memory-reducer). */
  readonly memoryReducer: boolean;
}
