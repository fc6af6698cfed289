// VrrpInstanceConfig: what the agent hands a VRRP instance runner. It mirrors
// the `vrrp:` entries of the YAML config (DESIGN.md) in camelCase, with
// durations already converted to milliseconds.
import { isIPv6 } from 'node:net';
import { canonicalIpOrSelf, canonicalPrefixed, parseIp } from '../net/address.js';
import type { V3Ipv4ChecksumMode, VrrpVersion } from './packet.js';

export interface TrackWeight {
  name: string;
  /** keepalived semantics: 0 = FAULT when it fails; > 0 added while up; < 0 added while down. */
  weight: number;
}

export interface TrackScript extends TrackWeight {
  /** argv; run without a shell. */
  command: string[];
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive successes to count as up / failures to count as down. */
  rise: number;
  fall: number;
}

export interface TrackFile {
  /** keepalived track_file: the file holds an integer; value × weight is added (weight 0: non-zero = FAULT). */
  path: string;
  weight: number;
}

export interface GarpConfig {
  /** Announcements per burst. */
  count: number;
  intervalMs: number;
  /** While master, repeat the burst this often (0 = never). */
  refreshMs: number;
  /**
   * A second burst this long after becoming master (0 = none): a switch port that was
   * still learning, or an ARP entry refreshed from a stale reply, gets corrected
   * (keepalived's garp_master_delay, default 5 s there too).
   */
  delayMs: number;
}

export interface VrrpInstanceConfig {
  name: string;
  interface: string;
  vrid: number;
  /** 1..254, or 255 for the address owner. */
  priority: number;
  version: VrrpVersion;
  advertIntervalMs: number;
  preempt: boolean;
  preemptDelayMs: number;
  /** Do not become master during this long after start (keepalived vrrp_startup_delay). */
  startupDelayMs: number;
  /** Empty: multicast 224.0.0.18 / ff02::12. Otherwise send to and accept from these only. */
  unicastPeers: string[];
  /** Advert source address; default: the interface's first IPv4 address / its IPv6 link-local. */
  sourceAddress?: string;
  /** "address/prefix"; all IPv4 or all IPv6 (that decides the instance's family). */
  vips: string[];
  /** Optional address label (IPv4 only), e.g. "eth0:vrrp"; default none, as keepalived. */
  vipLabel?: string;
  /**
   * VIPs that live on another interface than the instance's (keepalived's `dev`), by their
   * "address/prefix" entry in `vips`: e.g. a NAT director's inside gateway address moving
   * with the outside VIP. They are added, removed and announced on that interface.
   */
  vipInterfaces?: Record<string, string>;
  /** VRRPv2 simple password (≤ 8 bytes); unset = no authentication. */
  authPassword?: string;
  /** VRRPv3 over IPv4: checksum form sent (both are accepted). Default "pseudo-header" (keepalived). */
  v3Ipv4Checksum: V3Ipv4ChecksumMode;
  garp: GarpConfig;
  track: {
    interfaces: TrackWeight[];
    /** Named service quorums, reported by the agent via setTracked('service', name, up). */
    services: TrackWeight[];
    scripts: TrackScript[];
    files: TrackFile[];
  };
  /** Interface flap damping: a change must persist this long before it counts. */
  linkDebounce: { upMs: number; downMs: number };
  /** IPVS connection-sync daemon to run in the role of the state. */
  syncDaemon?: { interface: string; syncId: number };
  /** Instances with the same sync group change state together. */
  syncGroup?: string;
}

export const VRRP_DEFAULTS = {
  version: 3 as VrrpVersion,
  advertIntervalMs: 1000,
  preempt: true,
  preemptDelayMs: 0,
  startupDelayMs: 0,
  unicastPeers: [] as string[],
  v3Ipv4Checksum: 'pseudo-header' as V3Ipv4ChecksumMode,
  garp: { count: 5, intervalMs: 100, refreshMs: 60_000, delayMs: 5000 },
  linkDebounce: { upMs: 500, downMs: 0 },
};

export type VrrpInstanceInput = Pick<VrrpInstanceConfig, 'name' | 'interface' | 'vrid' | 'priority' | 'vips'>
  & Omit<Partial<VrrpInstanceConfig>, 'garp'> & { garp?: Partial<GarpConfig> };

/**
 * Fills defaults, and writes every address in its canonical form (net/address.ts): the
 * instance compares peers, its source and its VIPs with decoded packets and kernel dumps.
 * An address that is none is left as written, for validation to report.
 */
export function vrrpInstanceConfig(input: VrrpInstanceInput): VrrpInstanceConfig {
  const config: VrrpInstanceConfig = {
    ...VRRP_DEFAULTS,
    ...input,
    garp: { ...VRRP_DEFAULTS.garp, ...input.garp },
    track: { interfaces: [], services: [], scripts: [], files: [], ...input.track },
    linkDebounce: { ...VRRP_DEFAULTS.linkDebounce, ...input.linkDebounce },
  };
  config.vips = config.vips.map(canonicalPrefixed);
  config.unicastPeers = config.unicastPeers.map(canonicalIpOrSelf);
  if (config.sourceAddress !== undefined) config.sourceAddress = canonicalIpOrSelf(config.sourceAddress);
  if (config.vipInterfaces) {
    const entries = Object.entries(config.vipInterfaces).map(([vip, iface]) => [canonicalPrefixed(vip), iface]);
    config.vipInterfaces = Object.fromEntries(entries);
  }
  return config;
}

export function instanceFamily(config: Pick<VrrpInstanceConfig, 'vips'>): 4 | 6 {
  return config.vips.length > 0 && isIPv6(splitPrefix(config.vips[0]!).address) ? 6 : 4;
}

export function splitPrefix(vip: string): { address: string; prefixLength: number } {
  const [address, prefix] = vip.split('/') as [string, string | undefined];
  const max = isIPv6(address) ? 128 : 32;
  return { address, prefixLength: prefix === undefined ? max : Number(prefix) };
}

/** Every problem with a config, as "key: message" (empty = valid). */
export function validateVrrpInstanceConfig(c: VrrpInstanceConfig): string[] {
  const errors: string[] = [];
  const bad = (key: string, message: string): void => { errors.push(`${key}: ${message}`); };
  if (!/^[A-Za-z0-9_.-]+$/.test(c.name)) bad('name', 'use letters, digits, "_", "-", "."');
  if (!c.interface || c.interface.length > 15) bad('interface', 'an interface name of 1..15 characters');
  if (!Number.isInteger(c.vrid) || c.vrid < 1 || c.vrid > 255) bad('vrid', 'an integer 1..255');
  if (!Number.isInteger(c.priority) || c.priority < 1 || c.priority > 255) bad('priority', 'an integer 1..255 (255 = address owner; 0 is reserved for resigning)');
  if (c.version !== 2 && c.version !== 3) bad('version', '2 or 3');
  if (c.version === 2) {
    if (c.advertIntervalMs % 1000 !== 0 || c.advertIntervalMs < 1000 || c.advertIntervalMs > 255_000) bad('advert_interval', 'VRRPv2 needs whole seconds 1..255');
  } else if (c.advertIntervalMs % 10 !== 0 || c.advertIntervalMs < 10 || c.advertIntervalMs > 40_950) {
    bad('advert_interval', 'VRRPv3 needs a multiple of 10 ms, 10 ms..40.95 s');
  }
  if (c.vips.length === 0) bad('vips', 'at least one virtual address');
  const family = instanceFamily(c);
  const addressProblem = (text: string): string | undefined => {
    const parsed = parseIp(text);
    if (!parsed.ok) return parsed.reason;
    if (parsed.family === family) return undefined;
    return `expected an IPv${family} address (all addresses of an instance share one family)`;
  };
  c.vips.forEach((vip, i) => {
    const { address, prefixLength } = splitPrefix(vip);
    const problem = addressProblem(address);
    if (problem) bad(`vips[${i}]`, problem);
    if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > (family === 4 ? 32 : 128)) bad(`vips[${i}]`, `bad prefix length in "${vip}"`);
  });
  if (family === 6 && c.version === 2) bad('version', 'VRRPv2 is IPv4 only; IPv6 VIPs need version 3');
  if (c.authPassword !== undefined) {
    if (c.version !== 2) bad('auth_password', 'authentication exists only in VRRPv2');
    if (Buffer.byteLength(c.authPassword) > 8 || c.authPassword.length === 0) bad('auth_password', '1..8 bytes');
  }
  c.unicastPeers.forEach((peer, i) => {
    const problem = addressProblem(peer);
    if (problem) bad(`unicast_peers[${i}]`, problem);
  });
  const peerIndex = new Map<string, number>();
  c.unicastPeers.forEach((peer, i) => {
    const canonical = canonicalIpOrSelf(peer);
    const first = peerIndex.get(canonical);
    if (first !== undefined) bad(`unicast_peers[${i}]`, `the same address as unicast_peers[${first}]`);
    else peerIndex.set(canonical, i);
  });
  const sourceProblem = c.sourceAddress === undefined ? undefined : addressProblem(c.sourceAddress);
  if (sourceProblem) bad('source_address', sourceProblem);
  if (c.vipLabel !== undefined && (family !== 4 || !c.vipLabel.startsWith(`${c.interface}:`) || c.vipLabel.length > 15)) {
    bad('vip_label', `an IPv4 label "${c.interface}:NAME" of at most 15 characters`);
  }
  if (!Number.isInteger(c.garp.count) || c.garp.count < 0) bad('garp.count', 'a non-negative integer');
  if (c.garp.intervalMs < 0) bad('garp.interval', 'non-negative');
  if (c.garp.refreshMs < 0) bad('garp.refresh', 'non-negative');
  if (c.garp.delayMs < 0) bad('garp.delay', 'non-negative');
  const vips = new Set(c.vips.map(canonicalPrefixed));
  for (const vip of Object.keys(c.vipInterfaces ?? {})) {
    if (vips.has(canonicalPrefixed(vip))) continue;
    bad('vips', `an interface is given for ${vip}, which is not one of the VIPs`);
  }
  const weights = [...c.track.interfaces, ...c.track.services, ...c.track.scripts].map((t) => ['track', t.name, t.weight] as const);
  for (const [, name, weight] of weights) if (!Number.isInteger(weight) || weight < -253 || weight > 253) bad(`track.${name}.weight`, 'an integer -253..253');
  for (const s of c.track.scripts) if (s.command.length === 0) bad(`track.scripts.${s.name}.command`, 'a command');
  return errors;
}
