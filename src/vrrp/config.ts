// VrrpInstanceConfig: what the agent hands a VRRP instance runner. It mirrors
// the `vrrp:` entries of the YAML config (DESIGN.md) in camelCase, with
// durations already converted to milliseconds.
import { canonicalIpOrSelf, canonicalPrefixed, parseIp } from '../net/address.js';
import { vrrpInstanceDefaults, type VrrpInstanceConfig as VrrpYaml } from '../config/schema.js';
import { TRACK_WEIGHT_MAX } from './limits.js';
import type { V3Ipv4ChecksumMode, VrrpVersion } from './packet.js';

export interface TrackWeight {
  name: string;
  /** keepalived semantics: 0 = FAULT when it fails; > 0 added while up; < 0 added while down. */
  weight: number;
  /** keepalived's `reverse`: the adjustment is negated; weight 0 means FAULT while it is up. */
  reverse?: boolean;
}

export interface TrackScript extends TrackWeight {
  /** argv; run without a shell. */
  command: string[];
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive successes to count as up / failures to count as down. */
  rise: number;
  fall: number;
  /** The state before the first run; unset is up. down is keepalived's init_fail. */
  initial?: 'up' | 'down';
}

export interface TrackFile {
  /** keepalived track_file: the file holds an integer; value × weight is added (weight 0: non-zero = FAULT). */
  path: string;
  weight: number;
  reverse?: boolean;
}

/** keepalived's vrrp_track_process (track-process.ts). */
export interface TrackProcess extends TrackWeight {
  /** The process name (comm), or argv[0] when arguments or fullCommand are given. */
  process: string;
  args?: string[];
  /** How the arguments compare; unset with no args: not compared. */
  paramMatch?: 'exact' | 'partial' | 'initial';
  /** Compare argv[0] of /proc/PID/cmdline rather than the process name. */
  fullCommand?: boolean;
  /** Up while quorum ≤ matching processes ≤ quorumMax. */
  quorum: number;
  quorumMax?: number;
  /** keepalived's fork_delay: quorum must hold this long before it counts as up. */
  delayUpMs: number;
  /** keepalived's terminate_delay: quorum must be lost this long before it counts as down. */
  delayDownMs: number;
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
    processes: TrackProcess[];
  };
  /** Interface flap damping: a change must persist this long before it counts. */
  linkDebounce: { upMs: number; downMs: number };
  /** IPVS connection-sync daemon to run in the role of the state. */
  syncDaemon?: { interface: string; syncId: number; group?: string; port?: number; maxLength?: number; ttl?: number };
  /** Instances with the same sync group change state together. */
  syncGroup?: string;
}

/**
 * What the YAML leaves unset, taken from the config schema (the one place a default is
 * written) and spelled the way an instance takes it. Link debounce is not a config key.
 */
function defaults(): Omit<VrrpInstanceConfig, 'name' | 'interface' | 'vrid' | 'priority' | 'vips' | 'track'> {
  const d = vrrpInstanceDefaults();
  return {
    version: d.version,
    advertIntervalMs: d.advert_interval,
    preempt: d.preempt,
    preemptDelayMs: d.preempt_delay,
    startupDelayMs: d.startup_delay,
    unicastPeers: [...d.unicast_peers],
    v3Ipv4Checksum: checksumModeOf(d.checksum),
    garp: garpOf(d.garp),
    linkDebounce: { upMs: 500, downMs: 0 },
  };
}

/** The YAML's `checksum` as the codec's mode. */
export function checksumModeOf(checksum: VrrpYaml['checksum']): V3Ipv4ChecksumMode {
  return checksum === 'without_pseudo_header' ? 'message-only' : 'pseudo-header';
}

/** The YAML's `garp` (milliseconds already) as the instance takes it. */
export function garpOf(garp: VrrpYaml['garp']): GarpConfig {
  return { count: garp.count, intervalMs: garp.interval, refreshMs: garp.refresh, delayMs: garp.delay };
}

export type VrrpInstanceInput = Pick<VrrpInstanceConfig, 'name' | 'interface' | 'vrid' | 'priority' | 'vips'> &
  Omit<Partial<VrrpInstanceConfig>, 'garp'> & { garp?: Partial<GarpConfig> };

/**
 * Fills defaults, and writes every address in its canonical form (net/address.ts): the
 * instance compares peers, its source and its VIPs with decoded packets and kernel dumps.
 * An address that is none is left as written, for validation to report.
 */
export function vrrpInstanceConfig(input: VrrpInstanceInput): VrrpInstanceConfig {
  const base = defaults();
  const config: VrrpInstanceConfig = {
    ...base,
    ...input,
    garp: { ...base.garp, ...input.garp },
    track: { interfaces: [], services: [], scripts: [], files: [], processes: [], ...input.track },
    linkDebounce: { ...base.linkDebounce, ...input.linkDebounce },
  };
  config.vips = config.vips.map(canonicalPrefixed);
  config.unicastPeers = config.unicastPeers.map(canonicalIpOrSelf);
  if (config.sourceAddress !== undefined) config.sourceAddress = canonicalIpOrSelf(config.sourceAddress);
  if (config.vipInterfaces) {
    const entries = Object.entries(config.vipInterfaces).map(([vip, iface]): [string, string] => [canonicalPrefixed(vip), iface]);
    config.vipInterfaces = Object.fromEntries(entries);
  }
  return config;
}

export function instanceFamily(config: Pick<VrrpInstanceConfig, 'vips'>): 4 | 6 {
  return config.vips.length > 0 && isIPv6Text(splitPrefix(config.vips[0]!).address) ? 6 : 4;
}

/**
 * Whether an address the config has validated, or the kernel has formatted, is IPv6. Not
 * node:net's isIPv6: the first call compiles its pattern, 12 ms of every start on an
 * IPv4-only config (issue 15).
 */
export function isIPv6Text(address: string): boolean {
  return address.includes(':');
}

export function splitPrefix(vip: string): { address: string; prefixLength: number } {
  const [address, prefix] = vip.split('/') as [string, string | undefined];
  const max = isIPv6Text(address) ? 128 : 32;
  return { address, prefixLength: prefix === undefined ? max : Number(prefix) };
}

/**
 * One problem with an instance: `path` is in the YAML's own keys, relative to the
 * `vrrp:` entry (["advert_interval"], ["vips", 1], ["track", "interfaces", 0, "weight"]),
 * so the config layer can place it at file:line and an instance can name it.
 */
export interface VrrpProblem {
  path: Array<string | number>;
  message: string;
}

const familyText = (family: 4 | 6): string => `IPv${family}`;

/**
 * Every VRRP rule, once: what an instance refuses to run. The config layer calls it for
 * every `vrrp:` entry (check, run and reload alike); VrrpInstance calls it on its input.
 */
export function vrrpInstanceProblems(c: VrrpInstanceConfig): VrrpProblem[] {
  const problems: VrrpProblem[] = [];
  const bad = (path: Array<string | number>, message: string): void => {
    problems.push({ path, message });
  };
  if (!/^[A-Za-z0-9_.-]+$/.test(c.name)) bad(['name'], 'use letters, digits, "_", "-", "."');
  if (!c.interface || c.interface.length > 15) bad(['interface'], 'an interface name of 1..15 characters');
  if (!Number.isInteger(c.vrid) || c.vrid < 1 || c.vrid > 255) bad(['vrid'], 'an integer 1..255');
  if (!Number.isInteger(c.priority) || c.priority < 1 || c.priority > 255)
    bad(['priority'], 'an integer 1..255 (255 = address owner; 0 is reserved for resigning)');
  if (c.version !== 2 && c.version !== 3) bad(['version'], '2 or 3');
  if (c.version === 2) {
    if (c.advertIntervalMs % 1000 !== 0 || c.advertIntervalMs < 1000 || c.advertIntervalMs > 255_000)
      bad(['advert_interval'], `VRRP version 2 needs whole seconds from 1s to 255s, got ${c.advertIntervalMs}ms`);
  } else if (c.advertIntervalMs % 10 !== 0 || c.advertIntervalMs < 10 || c.advertIntervalMs > 40_950) {
    bad(['advert_interval'], `VRRP version 3 needs a multiple of 10ms from 10ms to 40.95s, got ${c.advertIntervalMs}ms`);
  }
  if (c.vips.length === 0) bad(['vips'], 'at least one virtual address');
  const family = instanceFamily(c);
  const addressProblem = (text: string): string | undefined => {
    const parsed = parseIp(text);
    if (!parsed.ok) return parsed.reason;
    if (parsed.family === family) return undefined;
    return `expected an ${familyText(family)} address like the instance's VIPs, got ${text}`;
  };
  c.vips.forEach((vip, i) => {
    const { address, prefixLength } = splitPrefix(vip);
    const parsed = parseIp(address);
    if (!parsed.ok) bad(['vips', i], parsed.reason);
    else if (parsed.family !== family)
      bad(
        ['vips', i],
        `${familyText(parsed.family)} address in an instance whose first VIP is ${familyText(family)}: one instance carries one address family`,
      );
    const max = parsed.ok && parsed.family === 6 ? 128 : 32;
    if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > max) bad(['vips', i], `bad prefix length in "${vip}"`);
  });
  if (family === 6 && c.version === 2) bad(['version'], 'VRRPv2 is IPv4 only: use version: 3 for IPv6 VIPs');
  if (c.authPassword !== undefined) {
    if (c.version !== 2) bad(['auth'], 'authentication exists only in VRRP version 2 (RFC 5798 removed it); remove auth or set version: 2');
    // The advert carries 8 bytes of password: count bytes, not characters.
    if (Buffer.byteLength(c.authPassword) > 8 || c.authPassword.length === 0)
      bad(['auth', 'password'], `expected 1 to 8 bytes (UTF-8), got ${Buffer.byteLength(c.authPassword)}`);
  }
  const peerIndex = new Map<string, number>();
  c.unicastPeers.forEach((peer, i) => {
    const problem = addressProblem(peer);
    if (problem) bad(['unicast_peers', i], problem);
    const canonical = canonicalIpOrSelf(peer);
    const first = peerIndex.get(canonical);
    if (first !== undefined) bad(['unicast_peers', i], `${peer} is already unicast_peers[${first}]`);
    else peerIndex.set(canonical, i);
  });
  const sourceProblem = c.sourceAddress === undefined ? undefined : addressProblem(c.sourceAddress);
  if (sourceProblem) bad(['unicast_source'], sourceProblem);
  if (c.vipLabel !== undefined && (family !== 4 || !c.vipLabel.startsWith(`${c.interface}:`) || c.vipLabel.length > 15)) {
    bad(
      ['vip_label'],
      `an IPv4 address label "${c.interface}:NAME" of at most 15 characters, got "${c.vipLabel}"${family === 4 ? '' : ' on an IPv6 instance'}`,
    );
  }
  if (!Number.isInteger(c.garp.count) || c.garp.count < 0) bad(['garp', 'count'], 'a non-negative integer');
  if (c.garp.intervalMs < 0) bad(['garp', 'interval'], 'non-negative');
  if (c.garp.refreshMs < 0) bad(['garp', 'refresh'], 'non-negative');
  if (c.garp.delayMs < 0) bad(['garp', 'delay'], 'non-negative');
  const vips = new Set(c.vips.map(canonicalPrefixed));
  for (const vip of Object.keys(c.vipInterfaces ?? {})) {
    if (vips.has(canonicalPrefixed(vip))) continue;
    bad(['vips'], `an interface is given for ${vip}, which is not one of the VIPs`);
  }
  const weighted = {
    interfaces: c.track.interfaces,
    services: c.track.services,
    scripts: c.track.scripts,
    files: c.track.files,
    processes: c.track.processes,
  };
  for (const [kind, list] of Object.entries(weighted)) {
    list.forEach((t, j) => {
      if (!Number.isInteger(t.weight) || Math.abs(t.weight) > TRACK_WEIGHT_MAX) {
        bad(
          ['track', kind, j, 'weight'],
          `expected an integer from -${TRACK_WEIGHT_MAX} to ${TRACK_WEIGHT_MAX} (keepalived's range), got ${t.weight}`,
        );
      }
    });
  }
  c.track.scripts.forEach((s, j) => {
    if (s.command.length === 0) bad(['track', 'scripts', j, 'command'], 'a command');
  });
  c.track.processes.forEach((p, j) => {
    if (p.quorumMax !== undefined && p.quorumMax < p.quorum)
      bad(['track', 'processes', j, 'quorum_max'], `at least quorum (${p.quorum}), or the process can never count as up`);
    if (!p.process) bad(['track', 'processes', j, 'process'], 'a process name');
  });
  const names = (kind: 'scripts' | 'processes', list: readonly TrackWeight[]): void => {
    const seen = new Map<string, number>();
    list.forEach((t, j) => {
      const first = seen.get(t.name);
      if (first !== undefined) bad(['track', kind, j, 'name'], `"${t.name}" is already track.${kind}[${first}]`);
      else seen.set(t.name, j);
    });
  };
  names('scripts', c.track.scripts);
  names('processes', c.track.processes);
  const paths = new Map<string, number>();
  c.track.files.forEach((f, j) => {
    const first = paths.get(f.path);
    if (first !== undefined) bad(['track', 'files', j, 'path'], `${f.path} is already track.files[${first}]`);
    else paths.set(f.path, j);
  });
  // keepalived.conf(5), track_file and track_process: "if the vrrp instance is the address
  // owner, weight 0 must also be set".
  if (c.priority === 255) {
    for (const [kind, list] of Object.entries({ files: c.track.files, processes: c.track.processes })) {
      list.forEach((t, j) => {
        if (t.weight !== 0)
          bad(
            ['track', kind, j, 'weight'],
            'the address owner (priority 255) never changes priority: use weight 0 (FAULT) or a lower priority',
          );
      });
    }
  }
  return problems;
}

/**
 * The sync groups that carry settings of their own (`vrrp_sync_groups:`): each names a
 * group some instance is in, once. `path` is relative to the vrrp_sync_groups list.
 */
export function vrrpSyncGroupProblems(
  groups: ReadonlyArray<{ name: string }>,
  instances: ReadonlyArray<{ syncGroup?: string | undefined }>,
): VrrpProblem[] {
  const used = new Set(instances.map((i) => i.syncGroup).filter((g) => g !== undefined));
  const seen = new Map<string, number>();
  const problems: VrrpProblem[] = [];
  groups.forEach((g, i) => {
    const first = seen.get(g.name);
    if (first !== undefined) problems.push({ path: [i, 'name'], message: `"${g.name}" is already vrrp_sync_groups[${first}]` });
    else seen.set(g.name, i);
    if (!used.has(g.name))
      problems.push({ path: [i, 'name'], message: `no vrrp instance has sync_group: ${g.name}, so its programs would never run` });
  });
  return problems;
}

/** "track.interfaces[0].weight" */
export function vrrpPathText(path: ReadonlyArray<string | number>): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

/** Every problem with a config, as "key: message" (empty = valid). */
export function validateVrrpInstanceConfig(c: VrrpInstanceConfig): string[] {
  return vrrpInstanceProblems(c).map((p) => `${vrrpPathText(p.path)}: ${p.message}`);
}
