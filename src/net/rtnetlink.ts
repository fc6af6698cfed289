// rtnetlink (NETLINK_ROUTE): links and addresses. Pure codecs plus a thin client
// that can work inside any network namespace and watch for changes.
import { EventEmitter } from 'node:events';
import { AF_INET, AF_INET6, NETLINK_ROUTE } from './constants.js';
import {
  AttrMap,
  attr,
  encodeAttrs,
  safeDecode,
  NetlinkDecodeError,
  NLM_F_CREATE,
  NLM_F_EXCL,
  type Decoded,
  type NetlinkMessage,
} from './netlink.js';
import { NetlinkSocket, type NetlinkSocketOptions } from './netlink-socket.js';
import { bytesToIp, ipFamily, ipToBytes } from './sockaddr.js';

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;

export const RTNLGRP_LINK = 1;
export const RTNLGRP_IPV4_IFADDR = 5;
export const RTNLGRP_IPV6_IFADDR = 9;

export const IFLA_ADDRESS = 1;
export const IFLA_BROADCAST = 2;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_OPERSTATE = 16;

export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_LABEL = 3;
export const IFA_FLAGS = 8;

export const IFF_UP = 0x1;
export const IFF_RUNNING = 0x40;
export const IFF_LOWER_UP = 0x10000;
export const IFA_F_NODAD = 0x02;
export const IFA_F_TENTATIVE = 0x40;

export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_HOST = 254;

const IFINFOMSG_LEN = 16;
const IFADDRMSG_LEN = 8;

const OPER_STATES = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'] as const;
export type OperState = (typeof OPER_STATES)[number];

export interface LinkInfo {
  index: number;
  name: string;
  /** Hardware address as "aa:bb:cc:dd:ee:ff" (empty for links without one). */
  mac: string;
  mtu: number;
  operState: OperState;
  flags: number;
  /** Administratively up (IFF_UP). */
  adminUp: boolean;
  /** Carrier present (IFF_LOWER_UP). */
  lowerUp: boolean;
}

export interface AddressInfo {
  ifindex: number;
  family: 'inet' | 'inet6';
  address: string;
  prefixLength: number;
  label?: string;
  scope: number;
  flags: number;
}

export interface AddressSpec {
  ifindex: number;
  address: string;
  prefixLength: number;
  /** IPv4 only; must start with the interface name (a kernel rule), e.g. "eth0:vip". */
  label?: string;
  scope?: number;
}

// ---- codecs ---------------------------------------------------------------

export function encodeIfinfomsg(family = 0, index = 0): Buffer {
  const b = Buffer.alloc(IFINFOMSG_LEN);
  b.writeUInt8(family, 0);
  b.writeInt32LE(index, 4);
  return b;
}

export function decodeLink(message: NetlinkMessage): Decoded<LinkInfo> {
  return safeDecode(() => {
    const p = message.payload;
    if (p.length < IFINFOMSG_LEN) throw new NetlinkDecodeError(`ifinfomsg has ${p.length} bytes, need ${IFINFOMSG_LEN}`);
    const attrs = AttrMap.parse(p.subarray(IFINFOMSG_LEN));
    const flags = p.readUInt32LE(8);
    const mac = attrs.raw(IFLA_ADDRESS);
    const oper = attrs.u8(IFLA_OPERSTATE) ?? 0;
    return {
      index: p.readInt32LE(4),
      name: attrs.string(IFLA_IFNAME) ?? '',
      mac: mac ? [...mac].map((x) => x.toString(16).padStart(2, '0')).join(':') : '',
      mtu: attrs.u32(IFLA_MTU) ?? 0,
      operState: OPER_STATES[oper] ?? 'unknown',
      flags,
      adminUp: (flags & IFF_UP) !== 0,
      lowerUp: (flags & IFF_LOWER_UP) !== 0,
    };
  });
}

export function encodeAddress(spec: AddressSpec): Buffer {
  const family = ipFamily(spec.address);
  const header = Buffer.alloc(IFADDRMSG_LEN);
  header.writeUInt8(family, 0);
  header.writeUInt8(spec.prefixLength, 1);
  header.writeUInt8(family === AF_INET6 ? IFA_F_NODAD : 0, 2);
  header.writeUInt8(spec.scope ?? RT_SCOPE_UNIVERSE, 3);
  header.writeUInt32LE(spec.ifindex, 4);
  const bytes = ipToBytes(spec.address);
  const attrs =
    family === AF_INET
      ? [attr.bytes(IFA_LOCAL, bytes), attr.bytes(IFA_ADDRESS, bytes), spec.label ? attr.string(IFA_LABEL, spec.label) : undefined]
      : // A VIP must answer at once: skip duplicate address detection.
        [attr.bytes(IFA_ADDRESS, bytes), attr.u32(IFA_FLAGS, IFA_F_NODAD)];
  return Buffer.concat([header, encodeAttrs(attrs)]);
}

export function decodeAddress(message: NetlinkMessage): Decoded<AddressInfo> {
  return safeDecode(() => {
    const p = message.payload;
    if (p.length < IFADDRMSG_LEN) throw new NetlinkDecodeError(`ifaddrmsg has ${p.length} bytes, need ${IFADDRMSG_LEN}`);
    const familyNumber = p.readUInt8(0);
    if (familyNumber !== AF_INET && familyNumber !== AF_INET6)
      throw new NetlinkDecodeError(`address family ${familyNumber} is neither inet nor inet6`);
    const attrs = AttrMap.parse(p.subarray(IFADDRMSG_LEN));
    // For IPv4, IFA_LOCAL is the interface's own address (IFA_ADDRESS is the peer on point-to-point links).
    const raw = attrs.raw(IFA_LOCAL) ?? attrs.raw(IFA_ADDRESS);
    if (!raw) throw new NetlinkDecodeError('address message without IFA_LOCAL or IFA_ADDRESS');
    const expected = familyNumber === AF_INET ? 4 : 16;
    if (raw.length !== expected) throw new NetlinkDecodeError(`address has ${raw.length} bytes, expected ${expected}`);
    const label = attrs.string(IFA_LABEL);
    const info: AddressInfo = {
      ifindex: p.readUInt32LE(4),
      family: familyNumber === AF_INET ? 'inet' : 'inet6',
      address: bytesToIp(raw),
      prefixLength: p.readUInt8(1),
      scope: p.readUInt8(3),
      flags: attrs.u32(IFA_FLAGS) ?? p.readUInt8(2),
    };
    if (label) info.label = label;
    return info;
  });
}

// ---- client -----------------------------------------------------------------

export type RtnlChange =
  { kind: 'link'; action: 'new' | 'del'; link: LinkInfo } | { kind: 'address'; action: 'new' | 'del'; address: AddressInfo };

export class RtNetlink {
  private readonly socket: NetlinkSocket;

  constructor(private readonly options: NetlinkSocketOptions = {}) {
    this.socket = new NetlinkSocket(NETLINK_ROUTE, options);
  }

  async listLinks(): Promise<LinkInfo[]> {
    const replies = await this.socket.request(RTM_GETLINK, 0, encodeIfinfomsg(), { dump: true, operation: 'RTM_GETLINK dump' });
    return replies.filter((m) => m.type === RTM_NEWLINK).map((m) => unwrap(decodeLink(m), 'link'));
  }

  /** One link by name or index; rejects with code ENODEV when there is none. */
  async getLink(nameOrIndex: string | number): Promise<LinkInfo> {
    const payload =
      typeof nameOrIndex === 'number'
        ? encodeIfinfomsg(0, nameOrIndex)
        : Buffer.concat([encodeIfinfomsg(), encodeAttrs([attr.string(IFLA_IFNAME, nameOrIndex)])]);
    const replies = await this.socket.request(RTM_GETLINK, 0, payload, { operation: `RTM_GETLINK ${nameOrIndex}` });
    const link = replies.find((m) => m.type === RTM_NEWLINK);
    if (!link) throw Object.assign(new Error(`no link ${nameOrIndex}`), { code: 'ENODEV' });
    return unwrap(decodeLink(link), 'link');
  }

  async listAddresses(filter: { ifindex?: number; family?: 'inet' | 'inet6' } = {}): Promise<AddressInfo[]> {
    const header = Buffer.alloc(IFADDRMSG_LEN);
    header.writeUInt8(filter.family === 'inet' ? AF_INET : filter.family === 'inet6' ? AF_INET6 : 0, 0);
    const replies = await this.socket.request(RTM_GETADDR, 0, header, { dump: true, operation: 'RTM_GETADDR dump' });
    return replies
      .filter((m) => m.type === RTM_NEWADDR)
      .map((m) => unwrap(decodeAddress(m), 'address'))
      .filter(
        (a) =>
          (filter.ifindex === undefined || a.ifindex === filter.ifindex) && (filter.family === undefined || a.family === filter.family),
      );
  }

  /** Adds an address; rejects with code EEXIST when it is already there. */
  async addAddress(spec: AddressSpec): Promise<void> {
    await this.socket.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, encodeAddress(spec), {
      operation: `add address ${spec.address}/${spec.prefixLength}`,
    });
  }

  /** Deletes an address; rejects with code EADDRNOTAVAIL when it is not there. */
  async deleteAddress(spec: AddressSpec): Promise<void> {
    await this.socket.request(RTM_DELADDR, 0, encodeAddress(spec), { operation: `delete address ${spec.address}/${spec.prefixLength}` });
  }

  /**
   * Watches link and address changes on a separate socket (so replies and
   * notifications never interleave). "overrun" means events were lost; the
   * watcher then re-lists links and addresses over this client's socket and
   * emits "resync" with what it found.
   */
  watch(options: { receiveBuffer?: number } = {}): RtnlWatcher {
    const snapshot = async (): Promise<RtnlSnapshot> => ({
      links: await this.listLinks(),
      addresses: await this.listAddresses(),
    });
    return new RtnlWatcher({ ...this.options, ...options }, snapshot);
  }

  close(): void {
    this.socket.close();
  }
}

const RESYNC_RETRY_MS = 1000;

/** Every link and address, read after notifications were lost. */
export interface RtnlSnapshot {
  links: LinkInfo[];
  addresses: AddressInfo[];
}

/**
 * Emits "change" per notification. After a receive-buffer overrun (or a reopened
 * socket) notifications are lost, so it emits "overrun", re-lists links and
 * addresses and emits "resync" with them: a lost notification never becomes a
 * missed link-down for a consumer that re-derives its state on "resync".
 */
type RtnlWatcherEvents = { change: [RtnlChange]; overrun: [Error]; resync: [RtnlSnapshot]; error: [Error] };

export class RtnlWatcher extends EventEmitter<RtnlWatcherEvents> {
  private readonly socket: NetlinkSocket;
  private resyncRunning = false;
  private resyncAgain = false;
  private closed = false;
  /** Notifications that could not be decoded; counted, not thrown. */
  malformed = 0;
  /** Overruns seen (each one is followed by a resync). */
  overruns = 0;
  /** Resyncs completed. */
  resyncs = 0;
  /** Resyncs that failed; each is retried after RESYNC_RETRY_MS. */
  resyncFailures = 0;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    options: NetlinkSocketOptions = {},
    private readonly snapshot?: () => Promise<RtnlSnapshot>,
  ) {
    super();
    this.socket = new NetlinkSocket(NETLINK_ROUTE, options);
    for (const group of [RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR]) this.socket.subscribe(group);
    this.socket.on('notification', (m) => this.onNotification(m));
    this.socket.on('overrun', (e) => this.onOverrun(e));
    this.socket.on('error', (e) => {
      if (this.listenerCount('error') > 0) this.emit('error', e);
    });
  }

  /** The watching socket's counters: receive errors, overruns, reopens. */
  get socketStats(): { errors: number; overruns: number; reopens: number } {
    return { errors: this.socket.errors, overruns: this.socket.overruns, reopens: this.socket.reopens };
  }

  private onOverrun(err: Error): void {
    this.overruns++;
    this.emit('overrun', err);
    void this.resync();
  }

  /** One re-list at a time; overruns during one ask for another after it. */
  private async resync(): Promise<void> {
    if (!this.snapshot) return;
    if (this.resyncRunning) {
      this.resyncAgain = true;
      return;
    }
    this.resyncRunning = true;
    try {
      do {
        this.resyncAgain = false;
        let found: RtnlSnapshot;
        try {
          found = await this.snapshot();
        } catch (err) {
          this.resyncFailures++;
          if (this.listenerCount('error') > 0) this.emit('error', err as Error);
          // Until a re-list succeeds, a lost link-down stays lost: keep trying.
          if (!this.closed && !this.retryTimer) {
            this.retryTimer = setTimeout(() => {
              this.retryTimer = undefined;
              void this.resync();
            }, RESYNC_RETRY_MS);
            this.retryTimer.unref();
          }
          continue;
        }
        if (this.closed) return;
        this.resyncs++;
        this.emit('resync', found);
      } while (this.resyncAgain && !this.closed);
    } finally {
      this.resyncRunning = false;
    }
  }

  private onNotification(message: NetlinkMessage): void {
    if (message.type === RTM_NEWLINK || message.type === RTM_DELLINK) {
      const link = decodeLink(message);
      if (!link.ok) {
        this.malformed++;
        return;
      }
      this.emit('change', { kind: 'link', action: message.type === RTM_NEWLINK ? 'new' : 'del', link: link.value });
    } else if (message.type === RTM_NEWADDR || message.type === RTM_DELADDR) {
      const address = decodeAddress(message);
      if (!address.ok) {
        this.malformed++;
        return;
      }
      this.emit('change', { kind: 'address', action: message.type === RTM_NEWADDR ? 'new' : 'del', address: address.value });
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.socket.close();
  }
}

function unwrap<T>(d: Decoded<T>, what: string): T {
  if (!d.ok) throw new NetlinkDecodeError(`malformed ${what} message from the kernel: ${d.error}`);
  return d.value;
}
