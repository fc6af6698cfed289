// Sends hand-made IPv4 datagrams from inside a namespace: a raw socket with
// IP_HDRINCL, so the test chooses source address and TTL (the kernel fills in
// length, id and header checksum). Multicast leaves through the named interface.
import { DatagramSocket } from '../../../src/net/socket.js';
import { AF_INET, IPPROTO_IP, IP_HDRINCL, IP_MULTICAST_IF, SOCK_RAW, SOL_SOCKET, SO_BINDTODEVICE } from '../../../src/net/constants.js';
import { sockaddrIn } from '../../../src/net/sockaddr.js';
import { ipv4Header } from '../../../src/vrrp/transport.js';
import type { HostilePacket } from '../../fixtures/corpus/hostile-vrrp.js';

export class Injector {
  private readonly socket: DatagramSocket;

  constructor(netns: string, interfaceName: string, ifindex: number) {
    this.socket = new DatagramSocket(AF_INET, SOCK_RAW, 255 /* IPPROTO_RAW */, { netns });
    this.socket.setOption(SOL_SOCKET, SO_BINDTODEVICE, Buffer.from(`${interfaceName}\0`));
    this.socket.setOption(IPPROTO_IP, IP_HDRINCL, 1);
    const mreqn = Buffer.alloc(12);
    mreqn.writeInt32LE(ifindex, 8);
    this.socket.setOption(IPPROTO_IP, IP_MULTICAST_IF, mreqn);
  }

  /** The whole datagram for a hostile packet: header with its TTL, then the payload. */
  static datagram(p: Pick<HostilePacket, 'source' | 'destination' | 'ttl' | 'payload'>): { bytes: Buffer; to: Buffer } {
    const header = ipv4Header(p.source, p.destination);
    header[8] = p.ttl;
    return { bytes: Buffer.concat([header, p.payload]), to: sockaddrIn(p.destination) };
  }

  send(d: { bytes: Buffer; to: Buffer }): void {
    this.socket.send(d.bytes, d.to);
  }

  close(): void {
    this.socket.close();
  }
}
