// The one description of failoverd.yaml: it gives the TypeScript type
// (FailoverdConfig), the validation, and the published JSON Schema (config/schema.json).
// Durations are strings in the file and milliseconds in FailoverdConfig; keys stay
// snake_case in both so a path in an error is the path in the file.
import { isIP } from 'node:net';
import { validateCronExpression } from 'cron';
import * as z from 'zod';
import { listenProblem, type ListenerRole } from '../api/listen.js';
import type { CheckPlugin } from '../health/check.js';
import { CHECK_DEFAULTS } from '../health/types.js';
import { secretProblem } from '../alerts/signature.js';
import { canonicalIp, parseIp } from '../net/address.js';
import { TRACK_WEIGHT_MAX } from '../vrrp/limits.js';
import {
  DURATION_PATTERN,
  durationRangeProblem,
  durationRangeText,
  MAX_DURATION_MS,
  parseDuration,
  type DurationRange,
} from './duration.js';
import { httpHeaders } from './http-headers.js';
import { configErrorMap, withGot } from './issues.js';
import { parseVipRange } from './vip-range.js';

export type CheckPluginRegistry = ReadonlyMap<string, CheckPlugin>;

/**
 * Where the check types come from when only the ones a config names should load
 * (checks/index.ts checkPluginSource): `ofTypes` those it has, `all` every one.
 */
export interface CheckPluginSource {
  ofTypes(types: Iterable<string>): Promise<CheckPluginRegistry>;
  all(): Promise<CheckPluginRegistry>;
}

export const SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'fo', 'ovf', 'mh', 'twos'] as const;
export const PROTOCOLS = ['tcp', 'udp', 'sctp'] as const;
export const FORWARDINGS = ['dr', 'nat', 'tun'] as const;
export const TUNNEL_TYPES = ['ipip', 'gue', 'gre'] as const;
/** Headers a webhook delivery sets itself (docs/alerts.md). */
const WEBHOOK_RESERVED_HEADERS = [
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'x-failoverd-event-type',
  'x-failoverd-delivery-attempt',
];
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;

// Every key any mapping accepts, for "did you mean …" on unknown keys.
const knownKeys = new Set<string>();
function mapping<T extends z.ZodRawShape>(shape: T) {
  for (const k of Object.keys(shape)) knownKeys.add(k);
  return z.strictObject(shape);
}
export function knownConfigKeys(): ReadonlySet<string> {
  return knownKeys;
}

const DURATION_EXPECTED = 'expected a duration like 250ms, 2s or 1m';
// Every duration key names its range: a timer longer than Node's limit fires after
// 1 ms, so an unbounded duration is a flood (garp.refresh: 25d) or an early release.
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const upTo = (maxMs: number): DurationRange => ({ maxMs });
const duration = (range: DurationRange) =>
  z
    .string({ error: DURATION_EXPECTED })
    .regex(DURATION_PATTERN, DURATION_EXPECTED)
    .transform((s, ctx) => {
      const ms = parseDuration(s)!;
      const problem = durationRangeProblem(ms, range);
      if (problem) {
        ctx.addIssue({ code: 'custom', message: problem, input: s });
        return z.NEVER;
      }
      return ms;
    })
    .meta({
      description: `A duration: a number with a unit (ms, s, m, h, d), e.g. 250ms, 2s, 1m30s; ${durationRangeText(range)}`,
    });
const durationDefault = (text: string, range: DurationRange) => duration(range).prefault(text);

/** A service's drain_timeout when it sets none; also how long a removed service's connections may drain. */
export const DEFAULT_DRAIN_TIMEOUT = '60s';

/**
 * vrrp_realtime's RLIMIT_RTTIME when the config sets none: under the kernel's real-time
 * budget (950 ms of each second by default), or the throttle stops the thread first.
 */
export const DEFAULT_CPU_BURST_LIMIT = '200ms';

const int = (min: number, max: number) => z.number().int().min(min).max(max);
/** The kernel keeps IPVS timeouts in whole seconds. */
const ipvsTimeout = () =>
  duration({ minMs: 1000, maxMs: 7 * DAY })
    .refine((ms) => ms % 1000 === 0, { message: 'expected whole seconds (the kernel keeps IPVS timeouts in seconds)' })
    .optional();
const port = () => int(0, 65535);
const name = () => z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'expected a name of letters, digits, ".", "_" and "-"');
const ifname = () => z.string().regex(/^[^\s/:]{1,15}$/, 'expected an interface name (1-15 characters, no spaces, "/" or ":")');

// Addresses leave the schema in their canonical form (net/address.ts), so every later
// comparison (peers, VIPs, real servers, service keys) is of one spelling per address.
const ipAddress = () =>
  z
    .string({ error: 'expected an IP address' })
    .superRefine((s, ctx) => {
      const parsed = parseIp(s);
      if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.reason });
    })
    .overwrite((s) => canonicalIp(s) ?? s)
    .meta({ description: 'An IPv4 or IPv6 address', anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }] });

/** "10.6.2.195", "10.6.2.195/32", "2001:db8::1/128". */
function parsePrefixed(text: string): { address: string; prefix: number } | undefined {
  const [written, prefix, extra] = text.split('/');
  if (extra !== undefined || !written) return undefined;
  const parsed = parseIp(written);
  if (!parsed.ok) return undefined;
  const { address, family } = parsed;
  const max = family === 4 ? 32 : 128;
  if (prefix === undefined) return { address, prefix: max };
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) return undefined;
  return { address, prefix: Number(prefix) };
}
const PREFIXED_EXPECTED = 'expected an IP address with an optional prefix length, like 10.6.2.195/32';
const prefixedAddress = () =>
  z.string({ error: PREFIXED_EXPECTED }).superRefine((s, ctx) => {
    if (parsePrefixed(s) !== undefined) return;
    const address = parseIp(s.split('/')[0]!);
    ctx.addIssue({ code: 'custom', message: address.ok ? PREFIXED_EXPECTED : `${PREFIXED_EXPECTED}: ${address.reason}` });
  });

const GROUP_VIP_EXPECTED = 'expected an address or range like 10.0.0.1-10, or a mapping with address and port';
const vipRange = () =>
  z.string({ error: GROUP_VIP_EXPECTED }).superRefine((text, ctx) => {
    const range = parseVipRange(text);
    if (!range.ok) ctx.addIssue({ code: 'custom', message: range.reason });
  });
/** A service group's entry: an address, range or network (src/config/vip-range.ts), with its own port or the service's. */
const groupVipSchema = z
  .union([vipRange(), mapping({ address: vipRange(), port: int(0, 65535) })], { error: GROUP_VIP_EXPECTED })
  .transform((v) => {
    const text = typeof v === 'string' ? v : v.address;
    const range = parseVipRange(text);
    return { range: text, addresses: range.ok ? range.addresses : [], ...(typeof v === 'object' ? { port: v.port } : {}) };
  });

/** One IPVS service a `services:` entry stands for (several for a group: vips or fwmarks). */
export type ServiceMember = { vip: string; port: number } | { fwmark: number };

const vipSchema = z
  .union(
    [
      prefixedAddress(),
      mapping({
        address: prefixedAddress(),
        /** Interface to put the address on; defaults to the instance's interface. */
        interface: ifname().optional(),
        /** Address label (ip addr … label), at most 15 characters. */
        label: z.string().max(15).optional(),
      }),
    ],
    { error: 'expected an address like 10.6.2.195/32 or a mapping with address, interface, label' },
  )
  .transform((v) => {
    const text = typeof v === 'string' ? v : v.address;
    const parsed = parsePrefixed(text)!;
    return {
      address: parsed.address,
      prefix: parsed.prefix,
      ...(typeof v === 'object' && v.interface ? { interface: v.interface } : {}),
      ...(typeof v === 'object' && v.label ? { label: v.label } : {}),
    };
  });

// The range is the VRRP rule's (vrrp/config.ts), mirrored here so editors know it.
const trackWeight = () => int(-TRACK_WEIGHT_MAX, TRACK_WEIGHT_MAX).default(0);
/** keepalived's `weight N reverse`: the adjustment is negated; weight 0: FAULT while up. */
const reverse = () => z.boolean().default(false);

const COMMAND_EXPECTED = 'expected a list [/absolute/program, arg, ...] (run directly) or a string (run by /bin/sh -c)';
/** A program to run: a list is argv, run without a shell; a string is a /bin/sh command line. */
const command = () =>
  z.union(
    [
      z
        .array(z.string())
        .min(1)
        .refine((argv) => argv[0]!.startsWith('/'), 'expected an absolute program path first'),
      z.string().min(1),
    ],
    { error: COMMAND_EXPECTED },
  );

const notifyTimeout = () => durationDefault('10s', upTo(HOUR));
/** keepalived's notify_master/backup/fault/stop and notify (the latter gets INSTANCE|GROUP NAME STATE PRIORITY appended). */
const vrrpNotify = () =>
  mapping({
    on_master: command().optional(),
    on_backup: command().optional(),
    on_fault: command().optional(),
    on_stop: command().optional(),
    /** Every transition, after the on_* program, with keepalived's 4 arguments appended. */
    on_change: command().optional(),
    timeout: notifyTimeout(),
  }).optional();

const vrrpInstanceSchema = mapping({
  name: name(),
  interface: ifname(),
  vrid: int(1, 255),
  /** 255 = address owner; 0 is reserved for resigning. */
  priority: int(1, 255).default(100),
  version: z.literal([2, 3]).default(3),
  /** The exact bounds depend on the version (checked across keys). */
  advert_interval: durationDefault('1s', upTo(255_000)),
  preempt: z.boolean().default(true),
  preempt_delay: durationDefault('0s', upTo(HOUR)),
  /** How long to stay in BACKUP after start before contending (keepalived's vrrp_startup_delay). */
  startup_delay: durationDefault('0s', upTo(HOUR)),
  /** Source address for unicast adverts; defaults to the interface's primary address. */
  unicast_source: ipAddress().optional(),
  /** Empty: multicast to 224.0.0.18 / ff02::12. */
  unicast_peers: z.array(ipAddress()).default([]),
  vips: z.array(vipSchema).min(1),
  garp: mapping({
    count: int(0, 100).default(5),
    interval: durationDefault('100ms', upTo(MINUTE)),
    /** Repeat the gratuitous ARPs this often while MASTER; 0s = never. */
    refresh: durationDefault('0s', { minMs: 1000, maxMs: DAY, zeroMeansOff: true }),
    /** A second burst this long after becoming MASTER (keepalived's garp_master_delay); 0s = none. */
    delay: durationDefault('5s', upTo(HOUR)),
  }).prefault({}),
  track: mapping({
    /** weight 0: FAULT while the interface is down; otherwise priority changes by weight. */
    interfaces: z.array(mapping({ name: ifname(), weight: trackWeight(), reverse: reverse() })).default([]),
    /** Priority changes by weight while the service has lost quorum; weight 0: FAULT. */
    services: z.array(mapping({ name: name(), weight: trackWeight(), reverse: reverse() })).default([]),
    /** keepalived's vrrp_script: a command run every interval; exit 0 = success. */
    scripts: z
      .array(
        mapping({
          name: name(),
          command: command(),
          interval: durationDefault('1s', { minMs: 10, maxMs: HOUR }),
          /** Default: the interval. A run still going then is killed (its process group) and fails. */
          timeout: duration({ minMs: 10, maxMs: HOUR }).optional(),
          /** Successes in a row to count as up, failures in a row to count as down. */
          rise: int(1, 1000).default(1),
          fall: int(1, 1000).default(1),
          /** The state before the first run: down (keepalived's init_fail) needs `rise` successes to count as up. */
          initial: z.enum(['up', 'down']).default('up'),
          weight: trackWeight(),
          reverse: reverse(),
        }),
      )
      .default([]),
    /** keepalived's track_file: the file holds an integer; value × weight is added (weight 0: non-zero = FAULT; missing = 0). */
    files: z
      .array(mapping({ path: z.string().startsWith('/', 'expected an absolute path'), weight: trackWeight(), reverse: reverse() }))
      .default([]),
    /** keepalived's vrrp_track_process: enough processes matching a name (or a command line) are running. */
    processes: z
      .array(
        mapping({
          name: name(),
          /** The process name (/proc/PID/comm), or argv[0] when args or full_command is given. */
          process: z.string().min(1),
          args: z.array(z.string()).optional(),
          /** exact: the same arguments; partial: the first ones; initial: the last may be longer. */
          param_match: z.enum(['exact', 'partial', 'initial']).optional(),
          full_command: z.boolean().default(false),
          quorum: int(0, 65535).default(1),
          quorum_max: int(0, 65535).optional(),
          /** The count must hold this long before it counts as up (keepalived's fork_delay) / down (terminate_delay). */
          delay_up: durationDefault('0s', upTo(HOUR)),
          delay_down: durationDefault('0s', upTo(HOUR)),
          weight: trackWeight(),
          reverse: reverse(),
        }),
      )
      .default([]),
  }).prefault({}),
  /** Programs run on this instance's transitions (docs/alerts.md). */
  notify: vrrpNotify(),
  /** The IPVS connection-sync daemon: master while this instance is MASTER, backup otherwise. */
  sync_daemon: mapping({
    interface: ifname(),
    sync_id: int(0, 255).optional(),
    /** Multicast group; default 224.0.0.81. */
    group: ipAddress().optional(),
    port: int(1, 65535).optional(),
    /** Largest sync message (UDP payload); the kernel's default is the interface MTU less the headers. */
    maxlen: int(1, 65507).optional(),
    /** Multicast TTL of the sync messages; the kernel's default is 1. */
    ttl: int(1, 255).optional(),
  }).optional(),
  /** Instances with the same sync_group change state together (keepalived's vrrp_sync_group). */
  sync_group: name().optional(),
  /** VRRPv2 simple password authentication (RFC 2338 type 1), at most 8 characters. */
  auth: mapping({ password: z.string().min(1).max(8) }).optional(),
  /** VRRPv3 over IPv4: "without_pseudo_header" talks to peers that compute the checksum without the IPv4 pseudo-header (old keepalived unicast). */
  checksum: z.enum(['standard', 'without_pseudo_header']).default('standard'),
});

let vrrpDefaults: VrrpInstanceConfig | undefined;
/**
 * A `vrrp:` entry with every optional key left out, as the schema completes it: the
 * defaults, for code that builds an instance without a file (vrrp/config.ts).
 */
export function vrrpInstanceDefaults(): VrrpInstanceConfig {
  vrrpDefaults ??= vrrpInstanceSchema.parse({ name: 'defaults', interface: 'lo', vrid: 1, vips: ['192.0.2.1'] });
  return vrrpDefaults;
}

const CHECK_COMMON_KEYS = ['type', 'interval', 'timeout', 'rise', 'fall', 'warmup', 'retry', 'delay_before_retry', 'initial'] as const;
const checkCommonShape = {
  /** Check plugin: tcp, http, https, exec, or any other file in checks/. */
  type: z.string().regex(/^[a-z][a-z0-9_-]*$/, 'expected a check type name'),
  interval: duration({ minMs: 1, maxMs: HOUR }).optional(),
  timeout: duration({ minMs: 1, maxMs: 5 * MINUTE }).optional(),
  /** Consecutive successes to come up. */
  rise: int(1, 100).optional(),
  /** Consecutive failures to go down. */
  fall: int(1, 100).optional(),
  /** Delay before the first run. */
  warmup: duration(upTo(HOUR)).optional(),
  /** Quick re-runs after a failure (keepalived's retry). */
  retry: int(0, 100).optional(),
  delay_before_retry: duration(upTo(HOUR)).optional(),
  /** The state before the first result (keepalived's alpha = down). */
  initial: z.enum(['up', 'down']).optional(),
};
for (const k of CHECK_COMMON_KEYS) knownKeys.add(k);

interface ParsedCheck {
  type: string;
  interval?: number | undefined;
  timeout?: number | undefined;
  rise?: number | undefined;
  fall?: number | undefined;
  warmup?: number | undefined;
  retry?: number | undefined;
  delay_before_retry?: number | undefined;
  initial?: 'up' | 'down' | undefined;
  /** The plugin's own keys, parsed by its schema (defaults applied). */
  options: Record<string, unknown>;
}

/** A check with every common key resolved. */
export interface CheckConfig {
  type: string;
  interval: number;
  timeout: number;
  rise: number;
  fall: number;
  warmup: number;
  retry: number;
  delay_before_retry: number;
  initial: 'up' | 'down';
  options: Record<string, unknown>;
}

function pluginShape(plugin: CheckPlugin): z.ZodRawShape | undefined {
  const options = plugin.options as unknown as { shape?: z.ZodRawShape };
  return options && typeof options === 'object' && options.shape && typeof options.shape === 'object' ? options.shape : undefined;
}

function checkSchema(plugins: CheckPluginRegistry) {
  return z.looseObject(checkCommonShape).transform((value, ctx): ParsedCheck => {
    const { type, interval, timeout, rise, fall, warmup, retry, delay_before_retry, initial, ...rest } = value;
    const plugin = plugins.get(type);
    const fail = (path: PropertyKey[], message: string, atKey = false) =>
      ctx.addIssue({ code: 'custom', path, message, params: { final: true, atKey } });
    if (!plugin) {
      fail(['type'], `expected one of ${[...plugins.keys()].sort().join(', ')}`);
      return z.NEVER;
    }
    const shape = pluginShape(plugin);
    for (const key of Object.keys(rest)) {
      if (shape && !(key in shape)) {
        fail(
          [key],
          `unknown key for check type ${type} (it takes ${Object.keys(shape).sort().join(', ') || 'no options'}; every check takes ${CHECK_COMMON_KEYS.slice(1).join(', ')})`,
          true,
        );
      }
    }
    const parsed = plugin.options.safeParse(rest, { reportInput: true, error: configErrorMap });
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        if (issue.code === 'unrecognized_keys' && shape) continue; // reported above, with the keys it takes
        if (issue.code === 'unrecognized_keys') {
          for (const key of (issue as { keys?: string[] }).keys ?? [])
            fail([...issue.path, key], `unknown key for check type ${type}`, true);
          continue;
        }
        let value: unknown = rest;
        for (const seg of issue.path)
          value = value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[seg] : undefined;
        fail(issue.path, value === undefined ? `missing required key (${issue.message})` : withGot(issue.message, value, issue.code));
      }
    }
    if (!parsed.success || ctx.issues.length > 0) return z.NEVER;
    return {
      type,
      interval,
      timeout,
      rise,
      fall,
      warmup,
      retry,
      delay_before_retry,
      initial,
      options: parsed.data as Record<string, unknown>,
    };
  });
}

/** For the JSON Schema only: each check type as a closed mapping, so editors complete its keys. */
function checkSchemaForEditors(plugins: CheckPluginRegistry) {
  const variants = [...plugins.values()]
    .sort((a, b) => a.type.localeCompare(b.type))
    .map((plugin) => {
      const shape = pluginShape(plugin) ?? {};
      return z.strictObject({ ...checkCommonShape, ...shape, type: z.literal(plugin.type) }).meta({ description: plugin.description });
    });
  if (variants.length === 0) return z.looseObject(checkCommonShape);
  return variants.length === 1 ? variants[0]! : z.union(variants as unknown as [z.ZodType, z.ZodType, ...z.ZodType[]]);
}

const tunnelSchema = mapping({
  type: z.enum(TUNNEL_TYPES).default('ipip'),
  /** Destination UDP port for gue. */
  port: int(1, 65535).optional(),
  checksum: z.enum(['none', 'csum', 'remcsum']).optional(),
});

function resolveCheck(check: ParsedCheck, inherit: Partial<ParsedCheck> | undefined): CheckConfig {
  const pick = <K extends keyof typeof CHECK_DEFAULTS>(own: unknown, key: K, yaml: keyof ParsedCheck) =>
    (own ?? inherit?.[yaml] ?? CHECK_DEFAULTS[key]) as (typeof CHECK_DEFAULTS)[K];
  return {
    type: check.type,
    interval: pick(check.interval, 'intervalMs', 'interval'),
    timeout: pick(check.timeout, 'timeoutMs', 'timeout'),
    rise: pick(check.rise, 'rise', 'rise'),
    fall: pick(check.fall, 'fall', 'fall'),
    warmup: pick(check.warmup, 'warmupMs', 'warmup'),
    retry: pick(check.retry, 'retry', 'retry'),
    delay_before_retry: pick(check.delay_before_retry, 'delayBeforeRetryMs', 'delay_before_retry'),
    initial: pick(check.initial, 'initial', 'initial'),
    options: check.options,
  };
}

const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

export interface BuildSchemaOptions {
  /** Closed per-type check mappings instead of the loader's check transform (for the JSON Schema). */
  forEditors?: boolean;
  /** Names the main parts, so the JSON Schema has readable $defs. */
  registry?: z.core.$ZodRegistry<{ id?: string }>;
}

export function buildConfigSchema(plugins: CheckPluginRegistry, options: BuildSchemaOptions = {}) {
  const named = <T extends z.ZodType>(schema: T, id: string): T => {
    options.registry?.add(schema, { id });
    return schema;
  };
  const check = named(
    options.forEditors ? (checkSchemaForEditors(plugins) as unknown as ReturnType<typeof checkSchema>) : checkSchema(plugins),
    'Check',
  );
  const checks = z.union([check, z.array(check)], { error: 'expected a check mapping or a list of them' });

  const realServerSchema = mapping({
    address: ipAddress(),
    /** Defaults to the service's port. */
    port: port().optional(),
    weight: int(0, 65535).default(1),
    /** Defaults to the service's forwarding. */
    forwarding: z.enum(FORWARDINGS).optional(),
    tunnel: tunnelSchema.optional(),
    /** Connection limits (ipvsadm -x / -y); 0 = none. */
    upper_threshold: int(0, 2 ** 32 - 1).default(0),
    lower_threshold: int(0, 2 ** 32 - 1).default(0),
    /** Overrides the service's on_failure for this server (keepalived's per-real_server inhibit_on_failure). */
    on_failure: z.enum(['remove', 'inhibit']).optional(),
    /** Replaces the service's check for this server; unset timing keys come from the service's check of the same type (or its first). [] = no check. */
    check: checks.optional(),
    /** keepalived's notify_up / notify_down: programs run when this server goes up / down. */
    notify: mapping({ on_up: command().optional(), on_down: command().optional(), timeout: notifyTimeout() }).optional(),
  });
  named(realServerSchema, 'RealServer');

  const serviceSchema = mapping({
    name: name(),
    /** Virtual address (address services); give one of vip + port, fwmark, or a group (vips and/or fwmarks). */
    vip: ipAddress().optional(),
    /** A service group (keepalived's virtual_server_group): one kernel service per address, sharing the real servers and their checks. */
    vips: z.array(groupVipSchema).min(1).optional(),
    port: port().optional(),
    protocol: z.enum(PROTOCOLS).default('tcp'),
    /** Firewall-mark service (iptables/nft sets the mark). */
    fwmark: int(1, 2 ** 32 - 1).optional(),
    /** A service group over firewall marks: one kernel service per mark. */
    fwmarks: z
      .array(int(1, 2 ** 32 - 1))
      .min(1)
      .optional(),
    /** Address family of a fwmark service. */
    family: z.enum(['inet', 'inet6']).optional(),
    /** True when no vrrp instance carries the VIP (it is managed elsewhere). */
    vip_standalone: z.boolean().default(false),
    scheduler: z.enum(SCHEDULERS).default('wlc'),
    /** sh/mh only: fallback to another server when one is down; hash the port too. */
    scheduler_flags: z.array(z.enum(['fallback', 'port'])).default([]),
    /** UDP one-packet scheduling (ipvsadm -o). */
    one_packet: z.boolean().default(false),
    forwarding: z.enum(FORWARDINGS).default('dr'),
    tunnel: tunnelSchema.optional(),
    /** Client affinity; 0s = off. */
    persistence: durationDefault('0s', upTo(MAX_DURATION_MS)),
    /** Persistence granularity: a dotted IPv4 mask or an IPv6 prefix length. */
    persistence_netmask: z
      .union([z.string().regex(/^\d{1,3}(\.\d{1,3}){3}$/, 'expected a dotted netmask like 255.255.255.0'), int(1, 128)])
      .optional(),
    persistence_engine: z.string().min(1).optional(),
    /** Minimum total weight of live real servers. */
    quorum: int(0, 2 ** 31 - 1).default(1),
    hysteresis: int(0, 2 ** 31 - 1).default(0),
    on_failure: z.enum(['remove', 'inhibit']).default('remove'),
    /** Takes the traffic while quorum is lost. */
    sorry_server: mapping({
      address: ipAddress(),
      port: port().optional(),
      weight: int(0, 65535).default(1),
      forwarding: z.enum(FORWARDINGS).optional(),
      /** Stay in the table at weight 0 while quorum holds, instead of being removed (keepalived's sorry_server_inhibit). */
      inhibit: z.boolean().default(false),
    }).optional(),
    /** A real server removed from the config keeps weight 0 this long so its connections finish. */
    drain_timeout: durationDefault(DEFAULT_DRAIN_TIMEOUT, upTo(MAX_DURATION_MS)),
    /** keepalived's quorum_up / quorum_down: programs run when the service regains / loses quorum. */
    notify: mapping({ on_quorum_up: command().optional(), on_quorum_down: command().optional(), timeout: notifyTimeout() }).optional(),
    check: checks.optional(),
    real_servers: z.array(realServerSchema).default([]),
  }).transform((s) => {
    const firstVip = s.vip ?? s.vips?.[0]?.addresses[0];
    const family: 'inet' | 'inet6' = firstVip ? (isIP(firstVip) === 6 ? 'inet6' : 'inet') : (s.family ?? 'inet');
    const servicePort = s.port ?? 0;
    const serviceChecks = asList(s.check);
    const { check: _serviceCheck, real_servers, sorry_server, ...rest } = s;
    const members: ServiceMember[] = [
      ...(s.vip !== undefined ? [{ vip: s.vip, port: servicePort }] : []),
      ...(s.fwmark !== undefined ? [{ fwmark: s.fwmark }] : []),
      ...(s.vips ?? []).flatMap((entry) => entry.addresses.map((vip) => ({ vip, port: entry.port ?? servicePort }))),
      ...(s.fwmarks ?? []).map((fwmark) => ({ fwmark })),
    ];
    return {
      ...rest,
      family,
      port: servicePort,
      /** The kernel services this entry stands for, in the order written. */
      members,
      checks: serviceChecks.map((c) => resolveCheck(c, undefined)),
      ...(sorry_server
        ? { sorry_server: { ...sorry_server, port: sorry_server.port ?? servicePort, forwarding: sorry_server.forwarding ?? s.forwarding } }
        : {}),
      real_servers: real_servers.map(({ check: own, ...rs }) => ({
        ...rs,
        on_failure: rs.on_failure ?? s.on_failure,
        port: rs.port ?? servicePort,
        forwarding: rs.forwarding ?? s.forwarding,
        // A server inherits the service's tunnel only when it tunnels.
        ...(rs.tunnel ? { tunnel: rs.tunnel } : (rs.forwarding ?? s.forwarding) === 'tun' && s.tunnel ? { tunnel: s.tunnel } : {}),
        checks:
          own === undefined
            ? serviceChecks.map((c) => resolveCheck(c, undefined))
            : asList(own).map((c) => resolveCheck(c, serviceChecks.find((sc) => sc.type === c.type) ?? serviceChecks[0])),
      })),
    };
  });

  named(serviceSchema, 'Service');
  named(vrrpInstanceSchema, 'VrrpInstance');
  named(tunnelSchema, 'Tunnel');

  const webhookSecret = () =>
    z.string().superRefine((secret, ctx) => {
      const problem = secretProblem(secret);
      if (problem) ctx.addIssue({ code: 'custom', message: problem, params: { final: true } });
    });
  const webhookSchema = mapping({
    /** Shown in logs, metrics and status; default: the URL with its credentials, path and query redacted. */
    name: z.string().min(1).optional(),
    url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
    /** Standard Webhooks signing key: whsec_<base64>, or any other string used as written; empty or absent = unsigned. */
    secret: z
      .union([z.literal(''), webhookSecret()])
      .optional()
      .transform((s) => s || undefined),
    /** Several keys, each signing every delivery (the webhook-signature header lists them all): for key rotation. */
    secrets: z.array(webhookSecret()).default([]),
    /** Event type patterns with * wildcards. */
    events: z.array(z.string().min(1)).min(1).default(['*']),
    timeout: durationDefault('5s', upTo(5 * MINUTE)),
    retries: int(0, 100).default(3),
    headers: httpHeaders(WEBHOOK_RESERVED_HEADERS).default({}),
    /** The body: json (the event), slack ({"text": …}), or { body: … } with {{placeholders}} (docs/alerts.md). */
    template: z
      .union(
        [
          z.enum(['json', 'slack'], { error: 'expected json, slack or a mapping with body' }),
          mapping({ body: z.unknown().refine((b) => b !== undefined, 'expected a body') }),
        ],
        { error: 'expected json, slack or a mapping with body' },
      )
      .default('json'),
  });

  const notifySchema = mapping({
    /** Absolute path of an executable, run without a shell, with FAILOVERD_* variables describing the event (and keepalived's notify arguments INSTANCE NAME STATE PRIORITY for vrrp.state). */
    program: z.string().startsWith('/', 'expected an absolute path'),
    events: z.array(z.string().min(1)).min(1).default(['*']),
    timeout: durationDefault('10s', upTo(HOUR)),
  });

  const scheduleSchema = mapping({
    name: z.string().min(1).optional(),
    cron: z
      .string()
      .refine((c) => validateCronExpression(c).valid, 'expected a cron expression like "0 3 * * 0" (minute hour day month weekday)'),
    timezone: z.string().refine(isTimeZone, 'expected an IANA time zone like UTC or Europe/Berlin').default('UTC'),
    action: z.enum(['drain', 'demote']),
    /** drain: the service and the real server (address or address:port). */
    service: name().optional(),
    real_server: z.string().min(1).optional(),
    /** demote: the vrrp instance, and by how much its priority drops (default 50). */
    instance: name().optional(),
    by: int(1, 254).optional(),
    for: duration({ minMs: 1, maxMs: MAX_DURATION_MS }),
  });

  // ECMP routing mode (docs/ecmp.md): VIPs announced by a routing daemon, gated on health.
  const routingSchema = mapping({
    /** Kernel table that holds the announcement routes the routing daemon exports (no rule should look it up). */
    table: int(1, 2 ** 32 - 1).default(200),
    /** Route protocol number marking failoverd's announcement routes (ip route ... proto N). */
    protocol: int(1, 255).default(200),
    /** While this file exists, every announcement is withdrawn (the director keeps serving). */
    maintenance_file: z.string().startsWith('/', 'expected an absolute path').optional(),
    /** Set net.ipv4.vs.sloppy_tcp and sloppy_sctp, so a mid-flow packet moved by ECMP is scheduled (mh sends it to the same real server). */
    sloppy: z.boolean().default(true),
    /** Accept configs that reset flows when ECMP moves them (a non-consistent scheduler, sloppy: false). */
    allow_flow_resets: z.boolean().default(false),
    announce: z
      .array(
        mapping({
          name: name(),
          /** Announced as /32 or /128, and held on `interface` without ARP. */
          vips: z.array(ipAddress()).min(1),
          /** Services that must have quorum; default: every service on these VIPs. */
          services: z.array(name()).optional(),
          /** Where the VIPs are held (lo, or a dummy interface): never answers ARP. */
          interface: ifname().default('lo'),
          /** On SIGTERM: withdraw, keep serving this long while the router converges, then stop. */
          converge: durationDefault('3s', upTo(10 * MINUTE)),
          /** At start, a route a previous agent left keeps being announced this long while the checks prove it. */
          adopt_grace: durationDefault('30s', upTo(HOUR)),
        }),
      )
      .default([]),
  });

  return mapping({
    node: mapping({
      /** This director's name in events, logs and metrics; default: the host name. */
      name: z.string().min(1).optional(),
    }).prefault({}),
    vrrp: z.array(vrrpInstanceSchema).default([]),
    /** Sync groups (named by vrrp[].sync_group) with their own notify programs (keepalived's vrrp_sync_group notify_*). */
    vrrp_sync_groups: z.array(mapping({ name: name(), notify: vrrpNotify() })).default([]),
    /** The VRRP thread under SCHED_RR (keepalived's vrrp_rt_priority and vrrp_rlimit_rtime); absent: normal scheduling. Read at start. */
    vrrp_realtime: mapping({
      /** SCHED_RR priority, 1 (lowest) to 99. */
      priority: int(1, 99),
      /** CPU time the thread may run real-time without blocking (RLIMIT_RTTIME); past it, it drops to normal scheduling. */
      cpu_burst_limit: durationDefault(DEFAULT_CPU_BURST_LIMIT, { minMs: 10, maxMs: MINUTE }),
    }).optional(),
    services: z.array(serviceSchema).default([]),
    alerts: mapping({
      webhooks: z.array(webhookSchema).default([]),
      notify: z.array(notifySchema).default([]),
    }).prefault({}),
    schedules: z.array(scheduleSchema).default([]),
    routing: routingSchema.prefault({}),
    api: mapping({
      /** The status/control API: a Unix socket path, or a loopback HOST:PORT (then no socket). */
      listen: listenAddress('status').default('/run/failoverd/failoverd.sock'),
      /** With a loopback api.listen: accept POST /admin/* there too (any local user could then drain). */
      admin_over_tcp: z.boolean().default(false),
      /** HOST:PORT of the Prometheus endpoint, or false for none. */
      metrics: z.union([listenAddress('metrics'), z.literal(false)]).default('127.0.0.1:9595'),
    }).prefault({}),
    health: mapping({
      /** Where the health checks run: worker = their own thread, so VRRP adverts never wait behind check sockets; main = the agent's event loop (a single-core host gains nothing from a thread); auto = the worker above 50 checks/s (src/health/checks-thread.ts). A reload that changes the choice moves the checks. */
      checks_thread: z.enum(['auto', 'worker', 'main']).default('auto'),
    }).prefault({}),
    logging: mapping({
      level: z.enum(LOG_LEVELS).default('info'),
      /** auto: pretty on a terminal, JSON otherwise. */
      format: z.enum(LOG_FORMATS).default('auto'),
    }).prefault({}),
    ipvs: mapping({
      /** The kernel's connection timeouts (ipvsadm --set, keepalived's lvs_timeouts); one left out is left as the kernel has it. */
      timeouts: mapping({ tcp: ipvsTimeout(), tcpfin: ipvsTimeout(), udp: ipvsTimeout() }).optional(),
    }).prefault({}),
    /** On shutdown: keep the IPVS table and addresses (a restart drops nothing) or remove what failoverd added. */
    on_stop: z.enum(['keep', 'remove']).default('keep'),
  });
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** An `api:` listen address; src/api/listen.ts decides what each listener accepts. */
function listenAddress(role: ListenerRole) {
  return z.string().superRefine((text, ctx) => {
    const problem = listenProblem(text, role);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
}

type ConfigSchema = ReturnType<typeof buildConfigSchema>;
/** The validated config: defaults applied, durations in milliseconds, checks resolved per real server. */
export type FailoverdConfig = z.output<ConfigSchema>;
export type VrrpInstanceConfig = FailoverdConfig['vrrp'][number];
export type ServiceConfig = FailoverdConfig['services'][number];
export type RealServerConfig = ServiceConfig['real_servers'][number];
export type VipConfig = VrrpInstanceConfig['vips'][number];
export type WebhookConfig = FailoverdConfig['alerts']['webhooks'][number];
export type NotifyConfig = FailoverdConfig['alerts']['notify'][number];
export type ScheduleConfig = FailoverdConfig['schedules'][number];
export type VrrpNotifyConfig = NonNullable<VrrpInstanceConfig['notify']>;
export type VrrpSyncGroupConfig = FailoverdConfig['vrrp_sync_groups'][number];
export type VrrpRealtimeConfig = NonNullable<FailoverdConfig['vrrp_realtime']>;
export type RoutingConfig = FailoverdConfig['routing'];
