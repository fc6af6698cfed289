// The one owner of how an IP address is spelled when addresses are compared.
// Config keys, API arguments and decoded packets all pass through here, so two
// spellings of one address (FE80::2, fe80:0:0:0:0:0:0:2, fe80::0002) are one string.
//
// The canonical form is the one the byte decoders (sockaddr.ts bytesToIp, used for
// packets and kernel dumps) already produce, so decoded addresses need no rework:
// - IPv4: dotted decimal without leading zeros. node:net's isIPv4 accepts only that
//   spelling; "010.0.0.1" is refused (inet_aton would read it as octal 8.0.0.1).
// - IPv6: RFC 5952 text (lowercase, no leading zeros, the longest zero run as "::"),
//   as node's WHATWG URL parser serialises an [IPv6] host. IPv4-mapped addresses come
//   out in hex (::ffff:a00:1), like bytesToIp.
// Refused rather than guessed: zone indexes ("fe80::1%eth0": the interface is named
// elsewhere, and a packet's source never carries one) and IPv4-mapped IPv6 addresses
// (::ffff:10.0.0.1 is an IPv4 address: write 10.0.0.1).
import { isIPv4, isIPv6 } from 'node:net';

export type IpParse = { ok: true; address: string; family: 4 | 6 } | { ok: false; reason: string };

const IPV4_MAPPED_PREFIX = '::ffff:';

/** Validates an address as written and gives its canonical form, or why it is refused (without echoing it). */
export function parseIp(text: string): IpParse {
  if (isIPv4(text)) return { ok: true, address: text, family: 4 };
  if (text.includes('%') && isIPv6(text)) {
    return { ok: false, reason: 'a zone index ("%eth0") is not allowed: the interface is given by the instance' };
  }
  const address = isIPv6(text) ? ipv6Canonical(text) : undefined;
  if (address !== undefined) {
    if (address.startsWith(IPV4_MAPPED_PREFIX) && address.split(':').length === 5) {
      return { ok: false, reason: 'an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is an IPv4 address: write it as one' };
    }
    return { ok: true, address, family: 6 };
  }
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text) && text.split('.').some((octet) => /^0\d/.test(octet))) {
    return { ok: false, reason: 'an IPv4 address has no leading zeros in its numbers (inet_aton reads them as octal)' };
  }
  return { ok: false, reason: 'expected an IPv4 or IPv6 address' };
}

/** The canonical form, or undefined when the text is not an address parseIp accepts. */
export function canonicalIp(text: string): string | undefined {
  const parsed = parseIp(text);
  return parsed.ok ? parsed.address : undefined;
}

/** The canonical form where there is one; the text unchanged otherwise (for validation to report). */
export function canonicalIpOrSelf(text: string): string {
  return canonicalIp(text) ?? text;
}

export function sameIp(a: string, b: string): boolean {
  const ca = canonicalIp(a);
  return ca !== undefined && ca === canonicalIp(b);
}

/** "address/prefix" with the address part canonical (the prefix as written); the text unchanged if it is no address. */
export function canonicalPrefixed(text: string): string {
  const slash = text.indexOf('/');
  if (slash < 0) return canonicalIpOrSelf(text);
  return `${canonicalIpOrSelf(text.slice(0, slash))}${text.slice(slash)}`;
}

/**
 * A real server as an operator names it: "10.0.0.1", "10.0.0.1:80", "2001:db8::1",
 * "[2001:db8::1]:80", any spelling. Undefined when it is none of these.
 */
export function parseEndpoint(text: string): { address: string; port?: number } | undefined {
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
  if (bracketed) return withPort(bracketed[1]!, bracketed[2]);
  const whole = canonicalIp(text);
  if (whole) return { address: whole };
  const v4WithPort = /^([^:]+):(\d{1,5})$/.exec(text);
  return v4WithPort ? withPort(v4WithPort[1]!, v4WithPort[2]) : undefined;
}

function withPort(addressText: string, portText: string | undefined): { address: string; port?: number } | undefined {
  const address = canonicalIp(addressText);
  if (!address) return undefined;
  if (portText === undefined) return { address };
  const port = Number(portText);
  return port <= 65535 ? { address, port } : undefined;
}

/** Whether an operator's "address" or "address:port" names this real server. */
export function endpointMatches(text: string, server: { address: string; port: number }): boolean {
  const wanted = parseEndpoint(text);
  if (!wanted || wanted.address !== canonicalIp(server.address)) return false;
  return wanted.port === undefined || wanted.port === server.port;
}

function ipv6Canonical(text: string): string | undefined {
  // The WHATWG host serialiser is RFC 5952 compression with lowercase hex, the same
  // text bytesToIp gives for the same 16 bytes.
  try {
    return new URL(`http://[${text}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
}
