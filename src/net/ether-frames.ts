// Ethernet frames for probes sent over a packet socket, as pure functions over
// bytes: ARP requests (RFC 826), IPv4 + TCP segments (RFC 791, RFC 9293), and a
// parser for what comes back. The DSR check builds what an IPVS-DR director
// forwards: the real server's MAC, the VIP as IP destination.
import { checksumIsValid, internetChecksum, ipv4PseudoHeader } from '../vrrp/checksum.js';
import { bytesToIp, ipToBytes } from './sockaddr.js';
import { ETH_P_ARP, ETH_P_IP } from './constants.js';

export const BROADCAST_MAC = Buffer.from('ffffffffffff', 'hex');
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_ACK = 0x10;

const IPPROTO_TCP = 6;

function ipv4(address: string): Buffer {
  const b = ipToBytes(address);
  if (b.length !== 4) throw new RangeError(`an IPv4 address is needed, got ${address}`);
  return b;
}

function mac(bytes: Uint8Array, what: string): Uint8Array {
  if (bytes.length !== 6) throw new RangeError(`${what}: a MAC address has 6 bytes, got ${bytes.length}`);
  return bytes;
}

export function formatMac(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(':');
}

export function parseMac(text: string): Buffer {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(text)) throw new RangeError(`not a MAC address: ${JSON.stringify(text)}`);
  return Buffer.from(text.replace(/:/g, ''), 'hex');
}

/** "who-has TARGET tell SENDER", broadcast (or to `to`, a unicast poll). */
export function arpRequestFrame(senderMac: Uint8Array, senderIp: string, targetIp: string, to: Uint8Array = BROADCAST_MAC): Buffer {
  const f = Buffer.alloc(42);
  f.set(mac(to, 'destination'), 0);
  f.set(mac(senderMac, 'sender'), 6);
  f.writeUInt16BE(ETH_P_ARP, 12);
  f.writeUInt16BE(1, 14); // hardware: Ethernet
  f.writeUInt16BE(ETH_P_IP, 16);
  f[18] = 6;
  f[19] = 4;
  f.writeUInt16BE(ARP_REQUEST, 20);
  f.set(senderMac, 22);
  f.set(ipv4(senderIp), 28);
  // Target hardware address: zero in a request (RFC 5227 section 2.1.1).
  f.set(ipv4(targetIp), 38);
  return f;
}

export interface TcpSegmentSpec {
  sourceMac: Uint8Array;
  destinationMac: Uint8Array;
  source: string;
  destination: string;
  sourcePort: number;
  destinationPort: number;
  seq: number;
  ack: number;
  flags: number;
  /** IPv4 identification. */
  id: number;
  window?: number;
  ttl?: number;
}

/**
 * An Ethernet frame with one IPv4 + TCP segment, both checksums filled in (a
 * packet socket sends the bytes as they are). A SYN carries an MSS option of
 * 1460, as every stack's SYN does; other segments carry no options.
 */
export function tcpFrame(s: TcpSegmentSpec): Buffer {
  const options = s.flags & TCP_SYN ? Buffer.from([2, 4, 0x05, 0xb4]) : Buffer.alloc(0);
  const tcpLength = 20 + options.length;
  const f = Buffer.alloc(14 + 20 + tcpLength);
  f.set(mac(s.destinationMac, 'destination'), 0);
  f.set(mac(s.sourceMac, 'source'), 6);
  f.writeUInt16BE(ETH_P_IP, 12);
  const ip = f.subarray(14, 34);
  const src = ipv4(s.source),
    dst = ipv4(s.destination);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + tcpLength, 2);
  ip.writeUInt16BE(s.id & 0xffff, 4);
  ip.writeUInt16BE(0x4000, 6); // don't fragment
  ip[8] = s.ttl ?? 64;
  ip[9] = IPPROTO_TCP;
  ip.set(src, 12);
  ip.set(dst, 16);
  ip.writeUInt16BE(internetChecksum(ip), 10);
  const tcp = f.subarray(34);
  tcp.writeUInt16BE(s.sourcePort, 0);
  tcp.writeUInt16BE(s.destinationPort, 2);
  tcp.writeUInt32BE(s.seq >>> 0, 4);
  tcp.writeUInt32BE(s.ack >>> 0, 8);
  tcp[12] = (tcpLength / 4) << 4;
  tcp[13] = s.flags;
  tcp.writeUInt16BE(s.window ?? (s.flags & TCP_RST ? 0 : 64240), 14);
  tcp.set(options, 20);
  tcp.writeUInt16BE(internetChecksum(ipv4PseudoHeader(src, dst, IPPROTO_TCP, tcpLength), tcp), 16);
  return f;
}

export type ParsedFrame =
  | { kind: 'arp'; op: number; sourceMac: Buffer; senderMac: Buffer; senderIp: string; targetIp: string }
  | {
      kind: 'tcp';
      sourceMac: Buffer;
      destinationMac: Buffer;
      source: string;
      destination: string;
      sourcePort: number;
      destinationPort: number;
      seq: number;
      ack: number;
      flags: number;
    }
  | { kind: 'other' }
  | { kind: 'malformed'; why: string };

/**
 * Reads an Ethernet frame. The IPv4 header checksum is verified; the TCP checksum
 * is not: a packet socket sees segments whose checksum the kernel left to the NIC
 * (veth, offload) unfilled, and a probe's answer is matched by a 32-bit ack anyway.
 */
export function parseFrame(frame: Uint8Array): ParsedFrame {
  const f = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  if (f.length < 14) return { kind: 'malformed', why: `${f.length} bytes, shorter than an Ethernet header` };
  const type = f.readUInt16BE(12);
  if (type === ETH_P_ARP) {
    if (f.length < 42) return { kind: 'malformed', why: 'short ARP packet' };
    if (f.readUInt16BE(14) !== 1 || f.readUInt16BE(16) !== ETH_P_IP || f[18] !== 6 || f[19] !== 4) return { kind: 'other' };
    return {
      kind: 'arp',
      op: f.readUInt16BE(20),
      sourceMac: Buffer.from(f.subarray(6, 12)),
      senderMac: Buffer.from(f.subarray(22, 28)),
      senderIp: bytesToIp(f.subarray(28, 32)),
      targetIp: bytesToIp(f.subarray(38, 42)),
    };
  }
  if (type !== ETH_P_IP) return { kind: 'other' };
  const ip = f.subarray(14);
  if (ip.length < 20 || ip[0]! >> 4 !== 4) return { kind: 'malformed', why: 'not an IPv4 packet' };
  const headerLength = (ip[0]! & 0x0f) * 4;
  if (headerLength < 20 || ip.length < headerLength) return { kind: 'malformed', why: 'bad IPv4 header length' };
  if (!checksumIsValid(ip.subarray(0, headerLength))) return { kind: 'malformed', why: 'bad IPv4 header checksum' };
  if (ip[9] !== IPPROTO_TCP || (ip.readUInt16BE(6) & 0x1fff) !== 0) return { kind: 'other' };
  const totalLength = Math.min(ip.readUInt16BE(2), ip.length);
  const tcp = ip.subarray(headerLength, totalLength);
  if (tcp.length < 20) return { kind: 'malformed', why: 'short TCP header' };
  return {
    kind: 'tcp',
    sourceMac: Buffer.from(f.subarray(6, 12)),
    destinationMac: Buffer.from(f.subarray(0, 6)),
    source: bytesToIp(ip.subarray(12, 16)),
    destination: bytesToIp(ip.subarray(16, 20)),
    sourcePort: tcp.readUInt16BE(0),
    destinationPort: tcp.readUInt16BE(2),
    seq: tcp.readUInt32BE(4),
    ack: tcp.readUInt32BE(8),
    flags: tcp[13]!,
  };
}
