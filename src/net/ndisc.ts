// Unsolicited neighbour advertisements (RFC 4861 section 7.2.6), the IPv6
// counterpart of gratuitous ARP. Same frame as keepalived: from the address
// itself to all-nodes ff02::1, hop limit 255, Override flag, target link-layer
// address option.
import { ETH_P_IPV6, IPPROTO_ICMPV6 } from './constants.js';
import { ipToBytes } from './sockaddr.js';

// ff02::1 as bytes: parsing it here would compile node's IPv6 pattern at every start (issue 15).
const ALL_NODES = Buffer.from('ff020000000000000000000000000001', 'hex');
const ALL_NODES_MAC = Buffer.from('333300000001', 'hex');
const NEIGHBOR_ADVERTISEMENT = 136;
const FLAG_OVERRIDE = 0x20000000;
const OPTION_TARGET_LINK_LAYER_ADDRESS = 2;

export function unsolicitedNeighborAdvertFrame(mac: Uint8Array, address: string, options: { router?: boolean } = {}): Buffer {
  if (mac.length !== 6) throw new RangeError(`a MAC address has 6 bytes, got ${mac.length}`);
  const target = ipToBytes(address);
  if (target.length !== 16) throw new RangeError(`neighbour advertisements are for IPv6 addresses, got ${address}`);
  const icmpLength = 32;
  const f = Buffer.alloc(14 + 40 + icmpLength);
  ALL_NODES_MAC.copy(f, 0);
  f.set(mac, 6);
  f.writeUInt16BE(ETH_P_IPV6, 12);
  const ip = 14;
  f.writeUInt32BE(0x60000000, ip);
  f.writeUInt16BE(icmpLength, ip + 4);
  f[ip + 6] = IPPROTO_ICMPV6;
  f[ip + 7] = 255;
  f.set(target, ip + 8);
  f.set(ALL_NODES, ip + 24);
  const icmp = ip + 40;
  f[icmp] = NEIGHBOR_ADVERTISEMENT;
  f.writeUInt32BE((FLAG_OVERRIDE | (options.router ? 0x80000000 : 0)) >>> 0, icmp + 4);
  f.set(target, icmp + 8);
  f[icmp + 24] = OPTION_TARGET_LINK_LAYER_ADDRESS;
  f[icmp + 25] = 1;
  f.set(mac, icmp + 26);
  f.writeUInt16BE(icmpv6Checksum(target, ALL_NODES, f.subarray(icmp)), icmp + 2);
  return f;
}

function icmpv6Checksum(source: Uint8Array, destination: Uint8Array, message: Uint8Array): number {
  const pseudo = Buffer.alloc(40);
  pseudo.set(source, 0);
  pseudo.set(destination, 16);
  pseudo.writeUInt32BE(message.length, 32);
  pseudo[39] = IPPROTO_ICMPV6;
  let sum = 0;
  for (const part of [pseudo, message]) {
    for (let i = 0; i < part.length; i += 2) sum += (part[i]! << 8) | (part[i + 1] ?? 0);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
