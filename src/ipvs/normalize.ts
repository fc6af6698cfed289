// Canonical forms of services and destinations, so that what the config says and
// what the kernel reports compare equal when they mean the same table entry
// ("2001:db8:0::1" vs "2001:db8::1", a missing flag vs false, a netmask given as
// a prefix length vs a dotted mask).
import { isIPv4, isIPv6 } from 'node:net';
import { bytesToIp, ipToBytes } from '../net/sockaddr.js';
import type { DestinationSpec, IpFamily, ServiceFlags, ServiceKey, ServiceSpec, TunnelSpec } from './types.js';

export class IpvsSpecError extends Error {
  override name = 'IpvsSpecError';
}

// Parsing addresses dominates normalizing a large table, and a table names the
// same few addresses over and over: remember the answers (bounded).
const canonicalCache = new Map<string, { family: IpFamily; canonical: string }>();

function parseAddress(address: string): { family: IpFamily; canonical: string } {
  const hit = canonicalCache.get(address);
  if (hit) return hit;
  let family: IpFamily;
  if (isIPv4(address)) family = 'inet';
  else if (isIPv6(address)) family = 'inet6';
  else throw new IpvsSpecError(`not an IP address: ${JSON.stringify(address)}`);
  const parsed = { family, canonical: bytesToIp(ipToBytes(address)) };
  if (canonicalCache.size >= 200_000) canonicalCache.clear();
  canonicalCache.set(address, parsed);
  return parsed;
}

export function addressFamily(address: string): IpFamily {
  return parseAddress(address).family;
}

export function canonicalAddress(address: string): string {
  return parseAddress(address).canonical;
}

function checkPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new IpvsSpecError(`${what}: port ${port} is not an integer in 0..65535`);
}

export function normalizeServiceKey(key: ServiceKey): ServiceKey {
  if (key.kind === 'fwmark') {
    if (!Number.isInteger(key.fwmark) || key.fwmark < 1 || key.fwmark > 0xffffffff)
      throw new IpvsSpecError(`firewall mark ${key.fwmark} is not an integer in 1..4294967295`);
    if (key.family !== 'inet' && key.family !== 'inet6')
      throw new IpvsSpecError(`firewall-mark service: family must be inet or inet6, got ${String(key.family)}`);
    return { kind: 'fwmark', family: key.family, fwmark: key.fwmark };
  }
  const { family, canonical } = parseAddress(key.address);
  if (key.family !== undefined && key.family !== family)
    throw new IpvsSpecError(`service ${key.address}: family ${key.family} does not match the address`);
  if (!['tcp', 'udp', 'sctp'].includes(key.protocol))
    throw new IpvsSpecError(`service ${key.address}:${key.port}: protocol must be tcp, udp or sctp, got ${String(key.protocol)}`);
  checkPort(key.port, `service ${key.address}`);
  return { kind: 'address', family, protocol: key.protocol, address: canonical, port: key.port };
}

export function defaultNetmask(family: IpFamily): string | number {
  return family === 'inet' ? '255.255.255.255' : 128;
}

function prefixToMask(prefix: number): string {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (bits >>> s) & 0xff).join('.');
}

function normalizeNetmask(netmask: string | number | undefined, family: IpFamily): string | number {
  if (netmask === undefined || netmask === '') return defaultNetmask(family);
  if (family === 'inet') {
    if (typeof netmask === 'number' || /^\d+$/.test(netmask)) {
      const prefix = Number(netmask);
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32)
        throw new IpvsSpecError(`IPv4 persistence netmask /${netmask} is not in 0..32`);
      return prefixToMask(prefix);
    }
    if (!isIPv4(netmask)) throw new IpvsSpecError(`IPv4 persistence netmask ${JSON.stringify(netmask)} is not a dotted mask`);
    return netmask;
  }
  const prefix = Number(netmask);
  if (!Number.isInteger(prefix) || prefix < 1 || prefix > 128)
    throw new IpvsSpecError(`IPv6 persistence netmask ${JSON.stringify(netmask)} is not a prefix length in 1..128`);
  return prefix;
}

export function normalizeFlags(flags: ServiceFlags | undefined): Required<ServiceFlags> {
  return {
    persistent: Boolean(flags?.persistent),
    onePacket: Boolean(flags?.onePacket),
    schedFallback: Boolean(flags?.schedFallback),
    schedPort: Boolean(flags?.schedPort),
  };
}

export function normalizeService(service: ServiceSpec): ServiceSpec {
  const key = normalizeServiceKey(service.key);
  const flags = normalizeFlags(service.flags);
  const scheduler = (service.scheduler ?? '').toLowerCase();
  if (!/^[a-z0-9_]{1,15}$/.test(scheduler))
    throw new IpvsSpecError(`scheduler ${JSON.stringify(service.scheduler)} is not a scheduler name`);
  const timeout = service.persistenceTimeoutSec ?? 0;
  if (!Number.isInteger(timeout) || timeout < 0 || timeout > 0x7fffffff)
    throw new IpvsSpecError(`persistence timeout ${timeout} is not a whole number of seconds`);
  const out: ServiceSpec = {
    key,
    scheduler,
    flags,
    // The kernel keeps a timeout even without persistence; it means nothing then.
    persistenceTimeoutSec: flags.persistent ? timeout : 0,
    netmask: normalizeNetmask(service.netmask, key.family),
  };
  if (service.persistenceEngine) out.persistenceEngine = service.persistenceEngine;
  return out;
}

export function normalizeTunnel(tunnel: TunnelSpec | undefined): Required<TunnelSpec> {
  const type = tunnel?.type ?? 'ipip';
  if (!['ipip', 'gue', 'gre'].includes(type)) throw new IpvsSpecError(`tunnel type must be ipip, gue or gre, got ${String(type)}`);
  const port = tunnel?.port ?? 0;
  checkPort(port, 'tunnel');
  const checksum = tunnel?.checksum ?? 'none';
  if (!['none', 'csum', 'remcsum'].includes(checksum))
    throw new IpvsSpecError(`tunnel checksum must be none, csum or remcsum, got ${String(checksum)}`);
  return { type, port, checksum };
}

export function normalizeDestination(destination: DestinationSpec): DestinationSpec {
  const address = canonicalAddress(destination.address);
  checkPort(destination.port, `destination ${address}`);
  const weight = destination.weight;
  if (!Number.isInteger(weight) || weight < 0 || weight > 0x7fffffff)
    throw new IpvsSpecError(`destination ${address}: weight ${weight} is not an integer in 0..2147483647`);
  const upper = destination.upperThreshold ?? 0;
  const lower = destination.lowerThreshold ?? 0;
  if (!Number.isInteger(upper) || upper < 0 || upper > 0xffffffff)
    throw new IpvsSpecError(`destination ${address}: upper threshold ${upper} is not a non-negative integer`);
  if (!Number.isInteger(lower) || lower < 0 || lower > 0xffffffff)
    throw new IpvsSpecError(`destination ${address}: lower threshold ${lower} is not a non-negative integer`);
  if (destination.forwarding !== 'dr' && destination.forwarding !== 'nat' && destination.forwarding !== 'tun')
    throw new IpvsSpecError(`destination ${address}: forwarding must be dr, nat or tun, got ${String(destination.forwarding)}`);
  const out: DestinationSpec = {
    address,
    port: destination.port,
    weight,
    forwarding: destination.forwarding,
    upperThreshold: upper,
    lowerThreshold: lower,
  };
  if (destination.forwarding === 'tun') {
    out.tunnel = normalizeTunnel(destination.tunnel);
    if (out.tunnel.type === 'gue' && out.tunnel.port === 0) throw new IpvsSpecError(`destination ${address}: a gue tunnel needs a port`);
  }
  return out;
}

/**
 * Whether `raw` is already in the canonical form `n` (an earlier result of
 * normalizeService): then normalizing it again would give `n`, and it needs no
 * checking either, since `n` passed them. Strict: a service that merely means the
 * same (a prefix-length netmask, a timeout without persistence) is not.
 */
export function isCanonicalService(raw: ServiceSpec, n: ServiceSpec): boolean {
  const rk = raw.key,
    nk = n.key;
  if (rk.kind !== nk.kind || rk.family !== nk.family) return false;
  if (
    rk.kind === 'fwmark'
      ? rk.fwmark !== (nk as typeof rk).fwmark
      : rk.address !== (nk as typeof rk).address || rk.port !== (nk as typeof rk).port || rk.protocol !== (nk as typeof rk).protocol
  )
    return false;
  const f = raw.flags;
  return (
    raw.scheduler === n.scheduler &&
    (raw.persistenceTimeoutSec ?? 0) === n.persistenceTimeoutSec &&
    (raw.netmask === n.netmask || ((raw.netmask === undefined || raw.netmask === '') && n.netmask === defaultNetmask(nk.family))) &&
    (raw.persistenceEngine || undefined) === n.persistenceEngine &&
    Boolean(f?.persistent) === n.flags.persistent &&
    Boolean(f?.onePacket) === n.flags.onePacket &&
    Boolean(f?.schedFallback) === n.flags.schedFallback &&
    Boolean(f?.schedPort) === n.flags.schedPort
  );
}

/** Whether `raw` is already in the canonical form `n` (an earlier result of normalizeDestination). */
export function isCanonicalDestination(raw: DestinationSpec, n: DestinationSpec): boolean {
  if (
    raw.address !== n.address ||
    raw.port !== n.port ||
    raw.weight !== n.weight ||
    raw.forwarding !== n.forwarding ||
    (raw.upperThreshold ?? 0) !== n.upperThreshold ||
    (raw.lowerThreshold ?? 0) !== n.lowerThreshold
  )
    return false;
  // Only a tunnel's settings survive normalizing.
  if (n.forwarding !== 'tun') return true;
  return (
    (raw.tunnel?.type ?? 'ipip') === n.tunnel!.type &&
    (raw.tunnel?.port ?? 0) === n.tunnel!.port &&
    (raw.tunnel?.checksum ?? 'none') === n.tunnel!.checksum
  );
}

/** What differs between two normalized services' settings (empty when none). */
export function serviceDifferences(want: ServiceSpec, have: ServiceSpec): string[] {
  const diffs: string[] = [];
  if (want.scheduler !== have.scheduler) diffs.push(`scheduler ${have.scheduler} → ${want.scheduler}`);
  const wf = normalizeFlags(want.flags),
    hf = normalizeFlags(have.flags);
  for (const name of ['persistent', 'onePacket', 'schedFallback', 'schedPort'] as const) {
    if (wf[name] !== hf[name]) diffs.push(`${name} ${hf[name]} → ${wf[name]}`);
  }
  if (want.persistenceTimeoutSec !== have.persistenceTimeoutSec)
    diffs.push(`persistence timeout ${have.persistenceTimeoutSec}s → ${want.persistenceTimeoutSec}s`);
  if (String(want.netmask) !== String(have.netmask)) diffs.push(`netmask ${have.netmask} → ${want.netmask}`);
  if ((want.persistenceEngine ?? '') !== (have.persistenceEngine ?? ''))
    diffs.push(`persistence engine ${have.persistenceEngine ?? '-'} → ${want.persistenceEngine ?? '-'}`);
  return diffs;
}

/**
 * True when two normalized destinations have the same settings: not deep equality on
 * purpose. Address and port are the destination's identity, not a setting; a tunnel's
 * settings count only with forwarding tun (normalizing drops them otherwise) and an
 * absent one equals its defaults. No allocation: the hot path of a diff.
 */
export function sameDestinationSettings(a: DestinationSpec, b: DestinationSpec): boolean {
  if (
    a.weight !== b.weight ||
    a.forwarding !== b.forwarding ||
    a.upperThreshold !== b.upperThreshold ||
    a.lowerThreshold !== b.lowerThreshold
  )
    return false;
  if (a.forwarding !== 'tun') return true;
  return (
    (a.tunnel?.type ?? 'ipip') === (b.tunnel?.type ?? 'ipip') &&
    (a.tunnel?.port ?? 0) === (b.tunnel?.port ?? 0) &&
    (a.tunnel?.checksum ?? 'none') === (b.tunnel?.checksum ?? 'none')
  );
}

/** What differs between two normalized destinations' settings (empty when none). */
export function destinationDifferences(want: DestinationSpec, have: DestinationSpec): string[] {
  const diffs: string[] = [];
  if (want.weight !== have.weight) diffs.push(`weight ${have.weight} → ${want.weight}`);
  if (want.forwarding !== have.forwarding) diffs.push(`forwarding ${have.forwarding} → ${want.forwarding}`);
  if (want.upperThreshold !== have.upperThreshold) diffs.push(`upper threshold ${have.upperThreshold} → ${want.upperThreshold}`);
  if (want.lowerThreshold !== have.lowerThreshold) diffs.push(`lower threshold ${have.lowerThreshold} → ${want.lowerThreshold}`);
  if (want.forwarding === 'tun' && have.forwarding === 'tun') {
    const wt = normalizeTunnel(want.tunnel),
      ht = normalizeTunnel(have.tunnel);
    if (wt.type !== ht.type) diffs.push(`tunnel type ${ht.type} → ${wt.type}`);
    if (wt.port !== ht.port) diffs.push(`tunnel port ${ht.port} → ${wt.port}`);
    if (wt.checksum !== ht.checksum) diffs.push(`tunnel checksum ${ht.checksum} → ${wt.checksum}`);
  }
  return diffs;
}
