// The Internet checksum (RFC 1071) and the pseudo-headers VRRP folds into it.

/** One's-complement sum of 16-bit big-endian words, not yet complemented. */
function onesComplementSum(parts: readonly Uint8Array[]): number {
  let sum = 0;
  for (const part of parts) {
    const even = part.length & ~1;
    for (let i = 0; i < even; i += 2) sum += (part[i]! << 8) | part[i + 1]!;
    if (part.length & 1) sum += part[part.length - 1]! << 8;
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The checksum to write into a header whose checksum field is zero. */
export function internetChecksum(...parts: Uint8Array[]): number {
  return ~onesComplementSum(parts) & 0xffff;
}

/** True when the data, checksum field included, sums to all ones. */
export function checksumIsValid(...parts: Uint8Array[]): boolean {
  return onesComplementSum(parts) === 0xffff;
}

/** RFC 768-style IPv4 pseudo-header: source, destination, zero, protocol, length. */
export function ipv4PseudoHeader(source: Uint8Array, destination: Uint8Array, protocol: number, length: number): Buffer {
  const b = Buffer.alloc(12);
  b.set(source, 0);
  b.set(destination, 4);
  b[9] = protocol;
  b.writeUInt16BE(length, 10);
  return b;
}

/** RFC 8200 section 8.1 pseudo-header: source, destination, length (32 bits), zeros, next header. */
export function ipv6PseudoHeader(source: Uint8Array, destination: Uint8Array, nextHeader: number, length: number): Buffer {
  const b = Buffer.alloc(40);
  b.set(source, 0);
  b.set(destination, 16);
  b.writeUInt32BE(length, 32);
  b[39] = nextHeader;
  return b;
}
