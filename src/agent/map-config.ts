// Maps the validated config (snake_case, YAML-shaped) onto the inputs of the
// subsystems: health services, IPVS service specs and VRRP instances.
import type { CheckConfig, FailoverdConfig, RealServerConfig, ServiceConfig, VrrpInstanceConfig as VrrpYaml } from '../config/index.js';
import type { HealthCheckConfig, HealthServiceConfig } from '../health/types.js';
import type { DestinationSpec, ServiceKey, ServiceSpec } from '../ipvs/types.js';
import type { IpvsTimeouts } from '../ipvs/table.js';
import { checksumModeOf, garpOf, validateVrrpInstanceConfig, vrrpInstanceConfig, type VrrpInstanceConfig } from '../vrrp/config.js';

/** The kernel services a `services:` entry stands for: one, or one per address or mark of a group. */
export function serviceKeysOf(s: ServiceConfig): ServiceKey[] {
  return s.members.map((m): ServiceKey =>
    'fwmark' in m
      ? { kind: 'fwmark', family: s.family, fwmark: m.fwmark }
      : { kind: 'address', family: s.family, protocol: s.protocol, address: m.vip, port: m.port },
  );
}

export function serviceSpecsOf(s: ServiceConfig): ServiceSpec[] {
  return serviceKeysOf(s).map((key) => serviceSpecOf(s, key));
}

function serviceSpecOf(s: ServiceConfig, key: ServiceKey): ServiceSpec {
  const persistent = s.persistence > 0;
  const spec: ServiceSpec = {
    key,
    scheduler: s.scheduler,
    flags: {
      persistent,
      onePacket: s.one_packet,
      schedFallback: s.scheduler_flags.includes('fallback'),
      schedPort: s.scheduler_flags.includes('port'),
    },
    persistenceTimeoutSec: persistent ? Math.max(1, Math.ceil(s.persistence / 1000)) : 0,
    netmask: s.persistence_netmask ?? (s.family === 'inet6' ? 128 : '255.255.255.255'),
  };
  if (s.persistence_engine) spec.persistenceEngine = s.persistence_engine;
  return spec;
}

/** A real server as an IPVS destination, at its configured weight. */
export function destinationSpecOf(rs: RealServerConfig): DestinationSpec {
  return {
    address: rs.address,
    port: rs.port,
    weight: rs.weight,
    forwarding: rs.forwarding,
    ...(rs.tunnel ? { tunnel: rs.tunnel } : {}),
    upperThreshold: rs.upper_threshold,
    lowerThreshold: rs.lower_threshold,
  };
}

function healthCheckOf(c: CheckConfig): HealthCheckConfig {
  return {
    type: c.type,
    options: c.options,
    intervalMs: c.interval,
    timeoutMs: c.timeout,
    rise: c.rise,
    fall: c.fall,
    warmupMs: c.warmup,
    retry: c.retry,
    delayBeforeRetryMs: c.delay_before_retry,
    initial: c.initial,
  };
}

export function healthServiceOf(s: ServiceConfig): HealthServiceConfig {
  const out: HealthServiceConfig = {
    name: s.name,
    spec: serviceSpecsOf(s)[0]!,
    ...(s.members.length > 1 || s.vips !== undefined || s.fwmarks !== undefined ? { groupKeys: serviceKeysOf(s) } : {}),
    forwarding: s.forwarding,
    quorum: s.quorum,
    hysteresis: s.hysteresis,
    onFailure: s.on_failure,
    realServers: s.real_servers.map((rs) => ({ ...destinationSpecOf(rs), onFailure: rs.on_failure, checks: rs.checks.map(healthCheckOf) })),
  };
  if (s.sorry_server) out.sorryServer = { ...s.sorry_server };
  return out;
}

/** A `command:` as argv: a list is run as written, a string by /bin/sh -c. */
export function argvOf(command: string | string[]): string[] {
  return typeof command === 'string' ? ['/bin/sh', '-c', command] : [...command];
}

function trackOf(t: VrrpYaml['track']): VrrpInstanceConfig['track'] {
  return {
    interfaces: t.interfaces,
    services: t.services,
    scripts: t.scripts.map((s) => ({
      name: s.name,
      command: argvOf(s.command),
      intervalMs: s.interval,
      timeoutMs: s.timeout ?? s.interval,
      rise: s.rise,
      fall: s.fall,
      ...(s.initial === 'down' ? { initial: s.initial } : {}),
      weight: s.weight,
      reverse: s.reverse,
    })),
    files: t.files.map((f) => ({ path: f.path, weight: f.weight, reverse: f.reverse })),
    processes: t.processes.map((p) => ({
      name: p.name,
      process: p.process,
      ...(p.args ? { args: p.args } : {}),
      ...(p.param_match ? { paramMatch: p.param_match } : {}),
      fullCommand: p.full_command,
      quorum: p.quorum,
      ...(p.quorum_max !== undefined ? { quorumMax: p.quorum_max } : {}),
      delayUpMs: p.delay_up,
      delayDownMs: p.delay_down,
      weight: p.weight,
      reverse: p.reverse,
    })),
  };
}

export function vrrpInstanceOf(v: VrrpYaml): VrrpInstanceConfig {
  const label = v.vips.find((vip) => vip.label)?.label;
  return vrrpInstanceConfig({
    name: v.name,
    interface: v.interface,
    vrid: v.vrid,
    priority: v.priority,
    version: v.version,
    advertIntervalMs: v.advert_interval,
    preempt: v.preempt,
    preemptDelayMs: v.preempt_delay,
    startupDelayMs: v.startup_delay,
    unicastPeers: v.unicast_peers,
    ...(v.unicast_source ? { sourceAddress: v.unicast_source } : {}),
    vips: v.vips.map((vip) => `${vip.address}/${vip.prefix}`),
    vipInterfaces: Object.fromEntries(
      v.vips.filter((vip) => vip.interface && vip.interface !== v.interface).map((vip) => [`${vip.address}/${vip.prefix}`, vip.interface!]),
    ),
    ...(label ? { vipLabel: label.includes(':') ? label : `${v.interface}:${label}` } : {}),
    ...(v.auth ? { authPassword: v.auth.password } : {}),
    v3Ipv4Checksum: checksumModeOf(v.checksum),
    garp: garpOf(v.garp),
    track: trackOf(v.track),
    ...(v.sync_daemon ? { syncDaemon: syncDaemonOf(v.sync_daemon, v.vrid) } : {}),
    ...(v.sync_group ? { syncGroup: v.sync_group } : {}),
  });
}

/** What the config asks each subsystem to do, derived once per load. */
export interface RuntimePlan {
  node: string;
  services: HealthServiceConfig[];
  instances: VrrpInstanceConfig[];
  /** The kernel's connection timeouts in seconds (ipvs.timeouts); absent: left as they are. */
  ipvsTimeouts?: Partial<IpvsTimeouts>;
  /** What is applied but deserves the operator's attention. */
  warnings: string[];
  /**
   * What the subsystems refuse; non-empty = reject the config. The loader already ran the
   * same rules (config/validate.ts), so a loaded config has none: this guards a plan built
   * from a config that did not come through the loader.
   */
  problems: string[];
}

export function planOf(config: FailoverdConfig, defaultNode: string): RuntimePlan {
  const warnings: string[] = [];
  const instances = config.vrrp.map(vrrpInstanceOf);
  return {
    node: config.node.name ?? defaultNode,
    services: config.services.map(healthServiceOf),
    instances,
    ...(config.ipvs.timeouts ? { ipvsTimeouts: ipvsTimeoutsOf(config.ipvs.timeouts) } : {}),
    warnings,
    problems: instances.flatMap((c) => validateVrrpInstanceConfig(c).map((p) => `vrrp ${c.name}: ${p}`)),
  };
}

function ipvsTimeoutsOf(t: NonNullable<FailoverdConfig['ipvs']['timeouts']>): Partial<IpvsTimeouts> {
  return {
    ...(t.tcp !== undefined ? { tcp: t.tcp / 1000 } : {}),
    ...(t.tcpfin !== undefined ? { tcpFin: t.tcpfin / 1000 } : {}),
    ...(t.udp !== undefined ? { udp: t.udp / 1000 } : {}),
  };
}

/** The sync daemon's settings; those left out are the kernel's defaults (group 224.0.0.81, port 8848, ttl 1, maxlen from the MTU). */
function syncDaemonOf(sd: NonNullable<VrrpYaml['sync_daemon']>, vrid: number): NonNullable<VrrpInstanceConfig['syncDaemon']> {
  return {
    interface: sd.interface,
    syncId: sd.sync_id ?? vrid,
    ...(sd.group !== undefined ? { group: sd.group } : {}),
    ...(sd.port !== undefined ? { port: sd.port } : {}),
    ...(sd.maxlen !== undefined ? { maxLength: sd.maxlen } : {}),
    ...(sd.ttl !== undefined ? { ttl: sd.ttl } : {}),
  };
}
