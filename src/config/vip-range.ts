// A service group's address entry (`vips:`), in keepalived's virtual_server_group
// forms: one address, a range ending in the last IPv4 octet (10.0.0.1-10) or IPv6 group
// (2001:db8::1-1f, hexadecimal as keepalived reads it), a range between two full
// addresses (10.0.0.250-10.0.1.5), or a network (10.0.0.8/29, every address of it).
// Pure: text in, canonical addresses out.
import { canonicalIp, parseIp } from '../net/address.js';

/**
 * Addresses one service may stand for. Each is a kernel service carrying a copy of every
 * real server, rewritten on every change of health, so a slip like /16 instead of /26
 * would put 65,536 services into the table; a /22 is the most a real group has needed.
 */
export const MAX_GROUP_ADDRESSES = 1024;

export type VipRange = { ok: true; family: 4 | 6; addresses: string[] } | { ok: false; reason: string };

const EXPECTED = 'expected an address, a range like 10.0.0.1-10 or 10.0.0.250-10.0.1.5, or a network like 10.0.0.8/29';

function toBig(address: string, family: 4 | 6): bigint {
  if (family === 4) return address.split('.').reduce((n, octet) => (n << 8n) | BigInt(Number(octet)), 0n);
  const [head = '', tail] = address.split('::');
  const groups = (s: string) => (s ? s.split(':') : []);
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return all.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
}

function fromBig(value: bigint, family: 4 | 6): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
  const groups = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((shift) => ((value >> shift) & 0xffffn).toString(16));
  return canonicalIp(groups.join(':'))!;
}

function span(first: bigint, last: bigint, family: 4 | 6, text: string): VipRange {
  if (last < first) return { ok: false, reason: `the range ${text} ends before it starts` };
  const count = last - first + 1n;
  if (count > BigInt(MAX_GROUP_ADDRESSES))
    return {
      ok: false,
      reason: `the range ${text} has ${count} addresses, more than ${MAX_GROUP_ADDRESSES} (each is a kernel service with every real server)`,
    };
  const addresses: string[] = [];
  for (let n = first; n <= last; n++) addresses.push(fromBig(n, family));
  return { ok: true, family, addresses };
}

export function parseVipRange(text: string): VipRange {
  const slash = text.indexOf('/');
  const dash = text.indexOf('-');
  if (slash >= 0 && dash >= 0) return { ok: false, reason: EXPECTED };
  if (slash >= 0) {
    const start = parseIp(text.slice(0, slash));
    const prefixText = text.slice(slash + 1);
    if (!start.ok) return { ok: false, reason: `${EXPECTED}: ${start.reason}` };
    const bits = start.family === 4 ? 32 : 128;
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) < 1 || Number(prefixText) > bits)
      return { ok: false, reason: `expected a prefix length 1-${bits} after "/", got "${prefixText}"` };
    const hostBits = BigInt(bits - Number(prefixText));
    const first = toBig(start.address, start.family);
    const mask = (1n << hostBits) - 1n;
    if ((first & mask) !== 0n)
      return { ok: false, reason: `${text} is not a network: ${start.address} has bits set past the /${prefixText} prefix` };
    return span(first, first | mask, start.family, text);
  }
  if (dash < 0) {
    const one = parseIp(text);
    return one.ok ? { ok: true, family: one.family, addresses: [one.address] } : { ok: false, reason: `${EXPECTED}: ${one.reason}` };
  }
  const start = parseIp(text.slice(0, dash));
  const endText = text.slice(dash + 1);
  if (!start.ok) return { ok: false, reason: `${EXPECTED}: ${start.reason}` };
  const first = toBig(start.address, start.family);
  const full = parseIp(endText);
  if (full.ok) {
    if (full.family !== start.family) return { ok: false, reason: `the range ${text} mixes IPv4 and IPv6` };
    return span(first, toBig(full.address, full.family), start.family, text);
  }
  // The short form replaces the last octet (decimal) or the last IPv6 group (hexadecimal).
  const [pattern, radix, max, width] = start.family === 4 ? [/^\d{1,3}$/, 10, 255, 8n] : [/^[0-9a-fA-F]{1,4}$/, 16, 0xffff, 16n];
  if (!pattern.test(endText) || parseInt(endText, radix) > max)
    return {
      ok: false,
      reason: `expected the range's end after "-" to be a full address or the last ${start.family === 4 ? 'octet (0-255)' : 'group (hexadecimal 0-ffff)'}, got "${endText}"`,
    };
  const last = ((first >> width) << width) | BigInt(parseInt(endText, radix));
  return span(first, last, start.family, text);
}
