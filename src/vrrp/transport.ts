// VRRP over raw IP sockets (protocol 112) bound to one interface, in a given
// network namespace. IPv4: one socket with IP_HDRINCL, so the advert leaves
// with our primary address, TTL 255 and TOS 0xc0 (as keepalived) whatever the
// routing table says. IPv6: a receiving socket (hop limit and destination via
// ancillary data) and a sending socket bound to the link-local address.
import { DatagramSocket, type DatagramSocketOptions, type NativeSocketFactory, type SocketError } from '../net/socket.js';
import {
  AF_INET,
  AF_INET6,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IP_ADD_MEMBERSHIP,
  IP_HDRINCL,
  IP_MULTICAST_IF,
  IP_MULTICAST_LOOP,
  IP_MULTICAST_TTL,
  IPV6_ADD_MEMBERSHIP,
  IPV6_HOPLIMIT,
  IPV6_MULTICAST_HOPS,
  IPV6_MULTICAST_IF,
  IPV6_MULTICAST_LOOP,
  IPV6_PKTINFO,
  IPV6_RECVHOPLIMIT,
  IPV6_RECVPKTINFO,
  IPV6_UNICAST_HOPS,
  SOCK_RAW,
  SOL_SOCKET,
  SO_BINDTODEVICE,
  SO_RCVBUF,
  SO_MEMINFO,
  SO_TIMESTAMPNS,
  SK_MEMINFO_DROPS,
  SK_MEMINFO_VARS,
} from '../net/constants.js';
import { bytesToIp, decodeSockaddr, ipToBytes, sockaddrIn, sockaddrIn6 } from '../net/sockaddr.js';
import type { AncillaryData } from '../net/native.js';
import type { ReceivedPacket } from './accept.js';
import { decodeIpv4, VRRP_MULTICAST_V4, VRRP_MULTICAST_V6, VRRP_PROTOCOL, VRRP_TTL } from './packet.js';
import type { AdvertChannel, AdvertChannelOptions } from './ports.js';

const IP_TOS_INTERNETWORK_CONTROL = 0xc0;

type PacketHandler = (packet: ReceivedPacket) => void;
type DropHandler = (reason: 'bad_ip_header' | 'not_vrrp', detail: string) => void;

function deviceName(name: string): Buffer {
  return Buffer.from(`${name}\0`, 'utf8');
}

/** struct ip_mreqn: multiaddr, local address (any), ifindex. */
function ipMreqn(group: string | undefined, interfaceIndex: number): Buffer {
  const b = Buffer.alloc(12);
  if (group) ipToBytes(group).copy(b, 0);
  b.writeInt32LE(interfaceIndex, 8);
  return b;
}

/** struct ipv6_mreq: multiaddr, ifindex. */
function ipv6Mreq(group: string, interfaceIndex: number): Buffer {
  const b = Buffer.alloc(20);
  ipToBytes(group).copy(b, 0);
  b.writeUInt32LE(interfaceIndex, 16);
  return b;
}

/** The IPv4 header we send under IP_HDRINCL; the kernel fills length, id and checksum. */
export function ipv4Header(source: string, destination: string): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h[1] = IP_TOS_INTERNETWORK_CONTROL;
  h[8] = VRRP_TTL;
  h[9] = VRRP_PROTOCOL;
  ipToBytes(source).copy(h, 12);
  ipToBytes(destination).copy(h, 16);
  return h;
}

/** `openNative` is where the sockets come from; tests pass a fake. */
export function openAdvertChannel(options: AdvertChannelOptions, openNative?: NativeSocketFactory): AdvertChannel {
  return options.family === 4 ? new Ipv4AdvertChannel(options, openNative) : new Ipv6AdvertChannel(options, openNative);
}

function socketOptions(options: AdvertChannelOptions, openNative?: NativeSocketFactory): DatagramSocketOptions {
  return { ...(options.netns ? { netns: options.netns } : {}), ...(openNative ? { openNative } : {}) };
}

/** How long to wait before trying again to replace a receiving socket that died. */
const REOPEN_RETRY_MS = 1000;

abstract class BaseChannel implements AdvertChannel {
  protected packetHandlers: PacketHandler[] = [];
  protected dropHandlers: DropHandler[] = [];
  protected closed = false;
  private reopenTimer: NodeJS.Timeout | undefined;
  /** Receive errors on the receiving socket (ICMP errors, overruns...): counted, never thrown. */
  receiveErrors = 0;
  lastReceiveError: SocketError | undefined;
  /** Times the receiving socket died and was replaced. */
  reopens = 0;
  abstract readonly sourceAddress: string;
  abstract send(payload: Buffer, destination: string): void;
  abstract close(): void;
  /** Opens a fresh receiving socket in place of a dead one. */
  protected abstract reopenReceiver(): void;

  /** A non-fatal error leaves the socket receiving; a fatal one gets it replaced. */
  protected onReceiveError(err: SocketError): void {
    this.receiveErrors++;
    this.lastReceiveError = err;
    if (err.fatal) this.replaceReceiver();
  }

  private replaceReceiver(): void {
    if (this.closed) return;
    try {
      this.reopenReceiver();
      this.reopens++;
    } catch (err) {
      this.lastReceiveError = err as SocketError;
      this.reopenTimer = setTimeout(() => this.replaceReceiver(), REOPEN_RETRY_MS);
      this.reopenTimer.unref();
    }
  }

  protected stopReopening(): void {
    this.closed = true;
    clearTimeout(this.reopenTimer);
  }

  onPacket(handler: PacketHandler): void {
    this.packetHandlers.push(handler);
  }

  onDrop(handler: DropHandler): void {
    this.dropHandlers.push(handler);
  }

  protected deliver(packet: ReceivedPacket): void {
    for (const h of this.packetHandlers) h(packet);
  }

  protected drop(reason: 'bad_ip_header' | 'not_vrrp', detail: string): void {
    for (const h of this.dropHandlers) h(reason, detail);
  }
}

/** The kernel's count of datagrams dropped on a socket (full receive queue), read on demand: no packet has to arrive to report it. */
function socketDrops(socket: DatagramSocket): number {
  try {
    return socket.getOption(SOL_SOCKET, SO_MEMINFO, 4 * SK_MEMINFO_VARS).readUInt32LE(4 * SK_MEMINFO_DROPS);
  } catch {
    return 0; // closed
  }
}

class Ipv4AdvertChannel extends BaseChannel {
  private socket: DatagramSocket;
  readonly sourceAddress: string;
  private readonly header: Map<string, Buffer> = new Map();

  constructor(
    private readonly options: AdvertChannelOptions,
    private readonly openNative?: NativeSocketFactory,
  ) {
    super();
    this.sourceAddress = options.sourceAddress;
    this.socket = this.open();
  }

  private open(): DatagramSocket {
    const options = this.options;
    const socket = new DatagramSocket(AF_INET, SOCK_RAW, VRRP_PROTOCOL, socketOptions(options, this.openNative));
    try {
      socket.setOption(SOL_SOCKET, SO_BINDTODEVICE, deviceName(options.interfaceName));
      socket.setOption(IPPROTO_IP, IP_HDRINCL, 1);
      socket.setOption(IPPROTO_IP, IP_MULTICAST_IF, ipMreqn(undefined, options.interfaceIndex));
      socket.setOption(IPPROTO_IP, IP_MULTICAST_TTL, VRRP_TTL);
      socket.setOption(IPPROTO_IP, IP_MULTICAST_LOOP, 0);
      socket.setOption(SOL_SOCKET, SO_TIMESTAMPNS, 1);
      if (options.multicast) {
        socket.setOption(IPPROTO_IP, IP_ADD_MEMBERSHIP, ipMreqn(VRRP_MULTICAST_V4, options.interfaceIndex));
      }
    } catch (err) {
      socket.close();
      throw err;
    }
    socket.on('message', ({ data, ageMs }) => {
      const ip = decodeIpv4(data);
      if (!ip.ok) {
        this.drop(ip.reason as 'bad_ip_header' | 'not_vrrp', ip.detail);
        return;
      }
      this.deliver({ payload: ip.value.payload, source: ip.value.source, destination: ip.value.destination, ttl: ip.value.ttl, ageMs });
    });
    socket.on('error', (err) => this.onReceiveError(err));
    socket.receive();
    return socket;
  }

  protected reopenReceiver(): void {
    const fresh = this.open();
    this.socket.close();
    this.socket = fresh;
  }

  send(payload: Buffer, destination: string): void {
    let header = this.header.get(destination);
    if (!header) {
      header = ipv4Header(this.sourceAddress, destination);
      this.header.set(destination, header);
    }
    this.socket.send(Buffer.concat([header, payload]), sockaddrIn(destination));
  }

  receiveQueueDrops(): number {
    return socketDrops(this.socket);
  }

  receivePending(): void {
    this.socket.receivePending();
  }

  close(): void {
    this.stopReopening();
    this.socket.close();
  }
}

class Ipv6AdvertChannel extends BaseChannel {
  private receiver: DatagramSocket;
  private readonly sender: DatagramSocket;
  readonly sourceAddress: string;
  private readonly interfaceIndex: number;

  constructor(
    private readonly options: AdvertChannelOptions,
    private readonly openNative?: NativeSocketFactory,
  ) {
    super();
    this.sourceAddress = options.sourceAddress;
    this.interfaceIndex = options.interfaceIndex;
    this.receiver = this.openReceiver();
    this.sender = new DatagramSocket(AF_INET6, SOCK_RAW, VRRP_PROTOCOL, socketOptions(options, this.openNative));
    try {
      this.sender.setOption(SOL_SOCKET, SO_BINDTODEVICE, deviceName(options.interfaceName));
      // The sender is bound to our address and never read: keep its queue tiny.
      this.sender.setOption(SOL_SOCKET, SO_RCVBUF, 1);
      this.sender.setOption(IPPROTO_IPV6, IPV6_MULTICAST_IF, options.interfaceIndex);
      this.sender.setOption(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, VRRP_TTL);
      this.sender.setOption(IPPROTO_IPV6, IPV6_UNICAST_HOPS, VRRP_TTL);
      this.sender.setOption(IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0);
      this.sender.bind(sockaddrIn6(options.sourceAddress, 0, options.interfaceIndex));
    } catch (err) {
      this.receiver.close();
      this.sender.close();
      throw err;
    }
  }

  private openReceiver(): DatagramSocket {
    const options = this.options;
    const receiver = new DatagramSocket(AF_INET6, SOCK_RAW, VRRP_PROTOCOL, socketOptions(options, this.openNative));
    try {
      receiver.setOption(SOL_SOCKET, SO_BINDTODEVICE, deviceName(options.interfaceName));
      receiver.setOption(IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1);
      receiver.setOption(IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
      receiver.setOption(SOL_SOCKET, SO_TIMESTAMPNS, 1);
      if (options.multicast) {
        receiver.setOption(IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, ipv6Mreq(VRRP_MULTICAST_V6, options.interfaceIndex));
      }
    } catch (err) {
      receiver.close();
      throw err;
    }
    receiver.on('message', ({ data, from, ancillary, ageMs }) => {
      const sender = decodeSockaddr(from);
      if (sender.family !== 'inet6') return;
      const { hopLimit, destination } = ipv6Ancillary(ancillary);
      this.deliver({ payload: data, source: sender.address, destination: destination ?? VRRP_MULTICAST_V6, ttl: hopLimit, ageMs });
    });
    receiver.on('error', (err) => this.onReceiveError(err));
    receiver.receive();
    return receiver;
  }

  protected reopenReceiver(): void {
    const fresh = this.openReceiver();
    this.receiver.close();
    this.receiver = fresh;
  }

  send(payload: Buffer, destination: string): void {
    const scope = destination.toLowerCase().startsWith('fe80:') || destination.toLowerCase().startsWith('ff02:') ? this.interfaceIndex : 0;
    this.sender.send(payload, sockaddrIn6(destination, 0, scope));
  }

  receiveQueueDrops(): number {
    return socketDrops(this.receiver);
  }

  receivePending(): void {
    this.receiver.receivePending();
  }

  close(): void {
    this.stopReopening();
    this.receiver.close();
    this.sender.close();
  }
}

export function ipv6Ancillary(ancillary: AncillaryData[]): { hopLimit?: number; destination?: string } {
  const out: { hopLimit?: number; destination?: string } = {};
  for (const a of ancillary) {
    if (a.level !== IPPROTO_IPV6) continue;
    if (a.type === IPV6_HOPLIMIT && a.data.length >= 4) out.hopLimit = a.data.readInt32LE(0);
    if (a.type === IPV6_PKTINFO && a.data.length >= 20) out.destination = bytesToIp(a.data.subarray(0, 16));
  }
  return out;
}
