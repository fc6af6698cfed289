// ICMP and ICMPv6 echo messages (RFC 792, RFC 4443) for the ping check, as pure
// functions over bytes. IPv4 raw sockets deliver the IP header too and leave the
// checksum to us; ICMPv6 raw sockets deliver the ICMPv6 message alone and the
// kernel computes and verifies its checksum (it covers a pseudo-header).
import { checksumIsValid, internetChecksum } from '../vrrp/checksum.js';

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMPV6_DEST_UNREACH = 1;
export const ICMPV6_TIME_EXCEEDED = 3;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;

export type IcmpFamily = 4 | 6;

export function encodeEchoRequest(family: IcmpFamily, identifier: number, sequence: number, payload: Uint8Array): Buffer {
  const b = Buffer.alloc(8 + payload.length);
  b[0] = family === 4 ? ICMP_ECHO_REQUEST : ICMPV6_ECHO_REQUEST;
  b.writeUInt16BE(identifier & 0xffff, 4);
  b.writeUInt16BE(sequence & 0xffff, 6);
  b.set(payload, 8);
  if (family === 4) b.writeUInt16BE(internetChecksum(b), 2);
  return b;
}

export type IcmpMessage =
  | { kind: 'echo-reply'; identifier: number; sequence: number; payload: Buffer }
  /** An error about one of our echo requests (it quotes the request's header). */
  | { kind: 'error'; type: number; code: number; identifier: number; sequence: number; text: string }
  | { kind: 'other'; type: number }
  | { kind: 'malformed'; why: string };

const V4_UNREACH: Record<number, string> = {
  0: 'network unreachable',
  1: 'host unreachable',
  2: 'protocol unreachable',
  3: 'port unreachable',
  9: 'network prohibited',
  10: 'host prohibited',
  13: 'administratively prohibited',
};
const V6_UNREACH: Record<number, string> = {
  0: 'no route',
  1: 'administratively prohibited',
  3: 'address unreachable',
  4: 'port unreachable',
};

function errorText(family: IcmpFamily, type: number, code: number): string {
  if (family === 4 && type === ICMP_DEST_UNREACH) return `ICMP ${V4_UNREACH[code] ?? `destination unreachable (code ${code})`}`;
  if (family === 6 && type === ICMPV6_DEST_UNREACH) return `ICMPv6 ${V6_UNREACH[code] ?? `destination unreachable (code ${code})`}`;
  return `${family === 4 ? 'ICMP' : 'ICMPv6'} time exceeded`;
}

/** The IPv4 header's length, or a reason it is not an IPv4 header. */
function ipv4HeaderLength(packet: Buffer): number | string {
  if (packet.length < 20 || packet[0]! >> 4 !== 4) return 'not an IPv4 packet';
  const length = (packet[0]! & 0x0f) * 4;
  return length < 20 || packet.length < length ? 'bad IPv4 header length' : length;
}

/**
 * Reads what a raw ICMP socket delivered: for IPv4 the whole IP packet (the ICMP
 * checksum is verified here), for IPv6 the ICMPv6 message.
 */
export function parseIcmp(family: IcmpFamily, packet: Buffer): IcmpMessage {
  let icmp = packet;
  if (family === 4) {
    const header = ipv4HeaderLength(packet);
    if (typeof header === 'string') return { kind: 'malformed', why: header };
    icmp = packet.subarray(header);
  }
  if (icmp.length < 8) return { kind: 'malformed', why: `${icmp.length} bytes of ICMP, fewer than a header` };
  if (family === 4 && !checksumIsValid(icmp)) return { kind: 'malformed', why: 'bad ICMP checksum' };
  const type = icmp[0]!;
  const code = icmp[1]!;
  const reply = family === 4 ? ICMP_ECHO_REPLY : ICMPV6_ECHO_REPLY;
  if (type === reply) {
    return { kind: 'echo-reply', identifier: icmp.readUInt16BE(4), sequence: icmp.readUInt16BE(6), payload: icmp.subarray(8) };
  }
  const isError =
    family === 4
      ? type === ICMP_DEST_UNREACH || type === ICMP_TIME_EXCEEDED
      : type === ICMPV6_DEST_UNREACH || type === ICMPV6_TIME_EXCEEDED;
  if (!isError) return { kind: 'other', type };
  // The error quotes the offending packet: its IP header, then at least 8 bytes of ours.
  const quoted = icmp.subarray(8);
  let inner: Buffer;
  if (family === 4) {
    const header = ipv4HeaderLength(quoted);
    if (typeof header === 'string') return { kind: 'malformed', why: `quoted packet: ${header}` };
    if (quoted[9] !== 1) return { kind: 'other', type };
    inner = quoted.subarray(header);
  } else {
    if (quoted.length < 40 || quoted[0]! >> 4 !== 6) return { kind: 'malformed', why: 'quoted packet: not an IPv6 packet' };
    if (quoted[6] !== 58) return { kind: 'other', type };
    inner = quoted.subarray(40);
  }
  if (inner.length < 8 || inner[0] !== (family === 4 ? ICMP_ECHO_REQUEST : ICMPV6_ECHO_REQUEST)) return { kind: 'other', type };
  return {
    kind: 'error',
    type,
    code,
    identifier: inner.readUInt16BE(4),
    sequence: inner.readUInt16BE(6),
    text: errorText(family, type, code),
  };
}

/**
 * The ICMP_FILTER / ICMP6_FILTER value that lets only these types through (a set
 * bit blocks a type): a ping socket then never wakes for the host's other ICMP.
 */
export function icmpTypeFilter(family: IcmpFamily, pass: readonly number[]): Buffer {
  if (family === 4) {
    let blocked = 0xffffffff;
    for (const t of pass) if (t < 32) blocked &= ~(1 << t);
    const b = Buffer.alloc(4);
    b.writeUInt32LE(blocked >>> 0, 0);
    return b;
  }
  const words = new Uint32Array(8).fill(0xffffffff);
  for (const t of pass) words[t >> 5] = words[t >> 5]! & ~(1 << (t & 31));
  return Buffer.from(words.buffer);
}
