// struct sockaddr_* as raw bytes, the currency of the native socket.
import { isIPv4, isIPv6 } from 'node:net';
import { AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, AF_UNIX } from './constants.js';

export function ipToBytes(address: string): Buffer {
  if (isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  if (isIPv6(address)) return ipv6ToBytes(address);
  throw new Error(`not an IP address: ${JSON.stringify(address)}`);
}

function ipv6ToBytes(address: string): Buffer {
  let text = address;
  const out = Buffer.alloc(16);
  const v4Tail = text.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (v4Tail) {
    const v4 = ipToBytes(v4Tail[1]!);
    text = text.slice(0, -v4Tail[1]!.length) + `${v4.readUInt16BE(0).toString(16)}:${v4.readUInt16BE(2).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const headParts = head ? head.split(':') : [];
  const tailParts = tail ? tail.split(':') : [];
  const groups =
    tail === undefined ? headParts : [...headParts, ...new Array<string>(8 - headParts.length - tailParts.length).fill('0'), ...tailParts];
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

export function bytesToIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length !== 16) throw new Error(`an IP address has 4 or 16 bytes, got ${bytes.length}`);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // RFC 5952: compress the longest run (>= 2) of zero groups, lowercase hex.
  let bestStart = -1,
    bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function ipFamily(address: string): typeof AF_INET | typeof AF_INET6 {
  if (isIPv4(address)) return AF_INET;
  if (isIPv6(address)) return AF_INET6;
  throw new Error(`not an IP address: ${JSON.stringify(address)}`);
}

/** struct sockaddr_nl: family, pad, pid, groups. */
export function sockaddrNetlink(pid = 0, groups = 0): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16LE(AF_NETLINK, 0);
  b.writeUInt32LE(pid >>> 0, 4);
  b.writeUInt32LE(groups >>> 0, 8);
  return b;
}

/** struct sockaddr_in (port in host order here, network order on the wire). */
export function sockaddrIn(address: string, port = 0): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(AF_INET, 0);
  b.writeUInt16BE(port, 2);
  ipToBytes(address).copy(b, 4);
  return b;
}

export function sockaddrIn6(address: string, port = 0, scopeId = 0): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16LE(AF_INET6, 0);
  b.writeUInt16BE(port, 2);
  ipToBytes(address).copy(b, 8);
  b.writeUInt32LE(scopeId, 24);
  return b;
}

/** sockaddr_in or sockaddr_in6, by the address's family. */
export function sockaddrIp(address: string, port = 0, scopeId = 0): Buffer {
  return isIPv6(address) ? sockaddrIn6(address, port, scopeId) : sockaddrIn(address, port);
}

/** struct sockaddr_ll; protocol in host order. */
export function sockaddrLl(ifindex: number, protocol: number, destination?: Uint8Array): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt16LE(AF_PACKET, 0);
  b.writeUInt16BE(protocol, 2);
  b.writeInt32LE(ifindex, 4);
  if (destination) {
    b.writeUInt8(destination.length, 11);
    Buffer.from(destination).copy(b, 12, 0, Math.min(8, destination.length));
  }
  return b;
}

export function sockaddrUnix(path: string): Buffer {
  const b = Buffer.alloc(110);
  b.writeUInt16LE(AF_UNIX, 0);
  b.write(path, 2, 107, 'utf8');
  return b.subarray(0, 2 + Buffer.byteLength(path) + 1);
}

export type DecodedSockaddr =
  | { family: 'inet' | 'inet6'; address: string; port: number; scopeId?: number }
  | { family: 'netlink'; pid: number; groups: number }
  | { family: 'packet'; protocol: number; ifindex: number; packetType: number; hwAddress: Buffer }
  | { family: 'unix'; path: string }
  | { family: 'other'; raw: Buffer };

export function decodeSockaddr(raw: Buffer): DecodedSockaddr {
  if (raw.length < 2) return { family: 'other', raw };
  const family = raw.readUInt16LE(0);
  if (family === AF_INET && raw.length >= 8) return { family: 'inet', port: raw.readUInt16BE(2), address: bytesToIp(raw.subarray(4, 8)) };
  if (family === AF_INET6 && raw.length >= 24)
    return {
      family: 'inet6',
      port: raw.readUInt16BE(2),
      address: bytesToIp(raw.subarray(8, 24)),
      scopeId: raw.length >= 28 ? raw.readUInt32LE(24) : 0,
    };
  if (family === AF_NETLINK && raw.length >= 12) return { family: 'netlink', pid: raw.readUInt32LE(4), groups: raw.readUInt32LE(8) };
  if (family === AF_PACKET && raw.length >= 12) {
    const len = raw.readUInt8(11);
    return {
      family: 'packet',
      protocol: raw.readUInt16BE(2),
      ifindex: raw.readInt32LE(4),
      packetType: raw.readUInt8(10),
      hwAddress: Buffer.from(raw.subarray(12, 12 + Math.min(len, 8))),
    };
  }
  if (family === AF_UNIX) {
    const end = raw.indexOf(0, 2);
    return { family: 'unix', path: raw.subarray(2, end < 0 ? raw.length : end).toString('utf8') };
  }
  return { family: 'other', raw };
}
