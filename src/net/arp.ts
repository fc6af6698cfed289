// Gratuitous ARP: frames that move neighbours' ARP caches for an address to our
// MAC, sent over AF_PACKET. Same frame as keepalived: an ARP request "who-has
// VIP tell VIP" to the broadcast address (RFC 5227 section 3 ARP announcement).
import { DatagramSocket } from './socket.js';
import { AF_PACKET, ETH_P_ARP, SOCK_RAW } from './constants.js';
import { ipToBytes } from './sockaddr.js';
import { sockaddrLl } from './sockaddr.js';

export const BROADCAST_MAC = Buffer.from('ffffffffffff', 'hex');
const ARP_REQUEST = 1;

/** The complete Ethernet frame of a gratuitous ARP for an IPv4 address. */
export function gratuitousArpFrame(mac: Uint8Array, address: string): Buffer {
  if (mac.length !== 6) throw new RangeError(`a MAC address has 6 bytes, got ${mac.length}`);
  const ip = ipToBytes(address);
  if (ip.length !== 4) throw new RangeError(`gratuitous ARP is for IPv4 addresses, got ${address}`);
  const f = Buffer.alloc(42);
  BROADCAST_MAC.copy(f, 0);
  f.set(mac, 6);
  f.writeUInt16BE(ETH_P_ARP, 12);
  f.writeUInt16BE(1, 14); // hardware: Ethernet
  f.writeUInt16BE(0x0800, 16); // protocol: IPv4
  f[18] = 6;
  f[19] = 4;
  f.writeUInt16BE(ARP_REQUEST, 20);
  f.set(mac, 22);
  f.set(ip, 28);
  BROADCAST_MAC.copy(f, 32);
  f.set(ip, 38);
  return f;
}

/** Sends prebuilt link-layer frames out of one interface. */
export class PacketSender {
  private readonly socket: DatagramSocket;

  constructor(
    private readonly interfaceIndex: number,
    options: { netns?: string } = {},
  ) {
    // Protocol 0: this socket only sends, so the kernel queues nothing to it.
    this.socket = new DatagramSocket(AF_PACKET, SOCK_RAW, 0, options.netns ? { netns: options.netns } : {});
  }

  send(frame: Buffer): void {
    const destination = frame.subarray(0, 6);
    this.socket.send(frame, sockaddrLl(this.interfaceIndex, frame.readUInt16BE(12), destination));
  }

  close(): void {
    this.socket.close();
  }
}
