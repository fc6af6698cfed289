// global_defs → node.name and what every vrrp_instance inherits. A setting whose effect
// depends on the rest of the file is judged once the rest is converted.
import { isIP } from 'node:net';
import { DEFAULT_CPU_BURST_LIMIT } from '../config/schema.js';
import type { GlobalSettings, VrrpDefaults } from './context.js';
import { noGlobalSettings } from './context.js';
import { notCarried, statement, unknownKeyword, warning, type Converted, type Finding } from './findings.js';
import type { KaNode } from './parse.js';
import { bool, duration, int, seconds } from './values.js';
import type { WrittenCheck, WrittenConfig, WrittenInstance, WrittenIpvs, WrittenService, WrittenSyncGroup, WrittenVip } from './written.js';

const EMAIL_KEYWORDS = new Set([
  'notification_email',
  'notification_email_from',
  'smtp_server',
  'smtp_helo_name',
  'smtp_connect_timeout',
  'email_faults',
]);
// Settings that only shape keepalived's own process or logs: nothing on the wire, in the kernel
// or in a program changes.
const PROCESS_ONLY = new Set([
  'router_id',
  'vrrp_skip_check_adv_addr',
  'max_auto_priority',
  'vrrp_no_swap',
  'checker_no_swap',
  'checker_rlimit_rttime',
  'vrrp_priority',
  'checker_priority',
  'checker_rt_priority',
  'log_unknown_vrids',
]);

export function convertGlobalDefs(node: KaNode): Converted<GlobalSettings> {
  const findings: Finding[] = [];
  const settings = noGlobalSettings();
  const d = settings.vrrp;
  const mail: { server: boolean; recipients: boolean; alert?: boolean; checkerAlert?: boolean } = { server: false, recipients: false };
  for (const g of node.children ?? []) {
    const a = g.args;
    switch (g.keyword) {
      case 'router_id':
        if (a[0]) settings.node = { name: a[0] };
        break;
      case 'vrrp_version':
        d.version = int(a[0]);
        break;
      case 'vrrp_strict':
        d.strict = true;
        break;
      case 'vrrp_startup_delay':
        d.startupDelayMs = seconds(a[0]);
        break;
      case 'vrrp_garp_master_repeat':
        d.garp.count = int(a[0]);
        break;
      case 'vrrp_garp_master_refresh':
        d.garp.refreshMs = seconds(a[0]);
        break;
      case 'vrrp_garp_interval':
        d.garp.intervalMs = seconds(a[0]);
        break;
      case 'vrrp_garp_master_delay':
        d.garp.delayMs = seconds(a[0]);
        break;
      case 'lvs_timeouts': {
        const timeouts = convertLvsTimeouts(g);
        findings.push(...timeouts.findings);
        if (timeouts.value && Object.keys(timeouts.value).length) settings.ipvs = { timeouts: timeouts.value };
        break;
      }
      case 'lvs_sync_daemon': {
        const sync = convertSyncDaemon(g);
        findings.push(...sync.findings);
        if (sync.value) d.syncDaemon = sync.value;
        break;
      }
      case 'smtp_alert':
      case 'smtp_alert_vrrp':
      case 'smtp_alert_checker': {
        // No argument means on, as in keepalived's parser.
        const on = a[0] === undefined || bool(a[0]);
        if (g.keyword === 'smtp_alert') mail.alert = on;
        if (g.keyword === 'smtp_alert_checker') mail.checkerAlert = on;
        if (on) findings.push(notCarried(g, 'failoverd sends no email; keepalived would mail transitions'));
        break;
      }
      case 'vrrp_gna_interval':
        settings.gnaInterval = g;
        break;
      case 'script_user':
        settings.scriptUser = g;
        break;
      case 'enable_script_security':
        settings.scriptSecurity = g;
        break;
      case 'vrrp_rt_priority':
        settings.rtPriority = g;
        break;
      case 'vrrp_rlimit_rttime':
        settings.rlimitRttime = g;
        break;
      default:
        if (EMAIL_KEYWORDS.has(g.keyword)) {
          if (g.keyword === 'smtp_server' && g.args.length) mail.server = true;
          if (g.keyword === 'notification_email' && (g.children?.length || g.args.length)) mail.recipients = true;
          findings.push(
            warning(g, `${g.keyword}: email settings; failoverd sends no email (what keepalived would mail is judged where it is set)`),
          );
        } else if (PROCESS_ONLY.has(g.keyword)) {
          findings.push(warning(g, `${statement(g)}: keepalived process setting, no equivalent needed`));
        } else findings.push(unknownKeyword(g, 'global_defs'));
    }
  }
  if (mail.server && mail.recipients && (mail.checkerAlert ?? mail.alert ?? true)) settings.realServersMailed = true;
  return { value: settings, findings };
}

/** keepalived's global_parser.c: `IF [[inst] INSTANCE] [id N] [maxlen N] [port N] [ttl N] [group ADDRESS]`, and the old `IF INSTANCE [SYNCID]`. */
function convertSyncDaemon(g: KaNode): Converted<NonNullable<VrrpDefaults['syncDaemon']>> {
  const [ifname, ...rest] = g.args;
  let instance: string | undefined;
  const out: Omit<NonNullable<VrrpDefaults['syncDaemon']>, 'instance' | 'interface'> = {};
  const numbers = { id: [0, 255], maxlen: [1, 65507], port: [1, 65535], ttl: [1, 255] } as const;
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i]!;
    const value = rest[i + 1];
    if (word === 'inst' && value !== undefined) {
      instance = value;
      i++;
    } else if (word in numbers && value !== undefined) {
      const [min, max] = numbers[word as keyof typeof numbers];
      const n = int(value);
      if (n === undefined || n < min || n > max) return { findings: [notCarried(g, `${word} ${value}: expected ${min} to ${max}`)] };
      out[word as keyof typeof numbers] = n;
      i++;
    } else if (word === 'group' && value !== undefined) {
      if (!isMulticast(value)) return { findings: [notCarried(g, `group ${value}: not a multicast address (keepalived ignores it)`)] };
      out.group = value;
      i++;
    } else if (i === 0) instance = word;
    else if (i === 1 && int(word) !== undefined) out.id = int(word);
    else return { findings: [notCarried(g, `${word}: the sync daemon has no such setting`)] };
  }
  if (!ifname || !instance) {
    // Without an instance keepalived runs the master and the backup daemon all the time; failoverd's follows an instance.
    return {
      findings: [notCarried(g, 'expected lvs_sync_daemon INTERFACE [inst] INSTANCE: failoverd runs the sync daemon of one instance')],
    };
  }
  return { value: { interface: ifname, instance, ...out }, findings: [] };
}

function isMulticast(address: string): boolean {
  if (isIP(address) === 4) return Number(address.split('.')[0]) >= 224 && Number(address.split('.')[0]) <= 239;
  return isIP(address) === 6 && /^ff/i.test(address);
}

/** `lvs_timeouts [tcp SECS] [tcpfin SECS] [udp SECS]`; 0 leaves the kernel's value, as an option left out does. */
function convertLvsTimeouts(g: KaNode): Converted<NonNullable<WrittenIpvs['timeouts']>> {
  const out: NonNullable<WrittenIpvs['timeouts']> = {};
  const words = g.args;
  if (words.length === 0) return { findings: [notCarried(g, 'expected tcp, tcpfin or udp SECONDS')] };
  for (let i = 0; i < words.length; i += 2) {
    const key = words[i]!;
    const secs = int(words[i + 1]);
    if (!['tcp', 'tcpfin', 'udp'].includes(key) || secs === undefined || secs < 0) {
      return {
        findings: [notCarried(g, `${key} ${words[i + 1] ?? ''}: expected tcp, tcpfin or udp and whole seconds`.replace(' :', ':'))],
      };
    }
    if (secs > 7 * 86_400) return { findings: [notCarried(g, `${key} ${secs}: failoverd takes IPVS timeouts up to 7 days`)] };
    if (secs > 0) out[key as 'tcp' | 'tcpfin' | 'udp'] = duration(secs * 1000);
  }
  return { value: out, findings: [] };
}

// keepalived's RT_RLIMIT_DEFAULT: the VRRP process's real-time CPU burst when vrrp_rlimit_rttime is not given.
const KEEPALIVED_RLIMIT_RTTIME_US = 10_000;
// failoverd's floor for cpu_burst_limit (src/config/schema.ts).
const MIN_CPU_BURST_MS = 10;

/**
 * vrrp_rt_priority → vrrp_realtime.priority, and vrrp_rlimit_rttime (µs) →
 * cpu_burst_limit. keepalived applies the limit only to a real-time VRRP process.
 * Scheduling changes no byte on the wire, in the kernel or in a program, so what
 * differs (the default limit) is a warning.
 */
export function convertRealtime(globals: GlobalSettings, hasInstances: boolean): Converted<NonNullable<WrittenConfig['vrrp_realtime']>> {
  const { rtPriority, rlimitRttime } = globals;
  if (!rtPriority) {
    return { findings: rlimitRttime ? [warning(rlimitRttime, `${statement(rlimitRttime)}: without vrrp_rt_priority, no effect`)] : [] };
  }
  const priority = int(rtPriority.args[0]);
  if (priority === undefined || priority < 1 || priority > 99) {
    return { findings: [notCarried(rtPriority, 'expected a real-time priority from 1 to 99')] };
  }
  if (!hasInstances) return { findings: [warning(rtPriority, `${statement(rtPriority)}: no vrrp_instance, so no effect`)] };
  if (!rlimitRttime) {
    const why =
      `keepalived limits a real-time burst to ${KEEPALIVED_RLIMIT_RTTIME_US / 1000} ms by default; failoverd's cpu_burst_limit ` +
      `defaults to ${DEFAULT_CPU_BURST_LIMIT}, because its VRRP thread also applies reloads and IPVS changes (docs/vrrp.md); past it the thread runs ` +
      'at normal priority until it is back in its loop';
    return { value: { priority }, findings: [warning(rtPriority, `${statement(rtPriority)}: ${why}`)] };
  }
  const us = int(rlimitRttime.args[0]);
  if (us === undefined || us < 1) return { findings: [notCarried(rlimitRttime, 'expected microseconds')] };
  const ms = Math.max(MIN_CPU_BURST_MS, Math.ceil(us / 1000));
  const findings =
    ms * 1000 === us
      ? []
      : [
          warning(
            rlimitRttime,
            `${statement(rlimitRttime)}: cpu_burst_limit ${duration(ms)} (whole milliseconds, at least ${MIN_CPU_BURST_MS})`,
          ),
        ];
  return { value: { priority, cpu_burst_limit: duration(ms) }, findings };
}

/** The global settings that act only on what the rest of the file has: IPv6 VIPs, the scripts it runs. */
export function dependentGlobals(
  globals: GlobalSettings,
  vrrp: WrittenInstance[],
  syncGroups: WrittenSyncGroup[],
  services: WrittenService[],
): Finding[] {
  const findings: Finding[] = [];
  const gna = globals.gnaInterval;
  if (gna) {
    const ipv6 = vrrp.some((v) => (v.vips ?? []).some((x) => isIP(vipAddress(x).split('/')[0]!) === 6));
    findings.push(
      ipv6
        ? notCarried(gna, 'failoverd has no separate spacing for unsolicited neighbour adverts of IPv6 VIPs')
        : warning(gna, `${statement(gna)}: no IPv6 VIP, so no effect`),
    );
  }
  // keepalived runs every script (notify, track scripts, MISC_CHECK, quorum and real-server
  // notify) as the script user. root is keepalived's own default user, which the import
  // carries over everywhere else (failoverd runs its programs as itself).
  const scripts = scriptsRun(vrrp, syncGroups, services);
  const user = globals.scriptUser;
  const asRoot = user !== undefined && isRoot(user);
  if (user) {
    findings.push(
      scripts.length && !asRoot
        ? notCarried(user, `keepalived would run the ${scripts.join(', ')} as this user; failoverd runs them as itself`)
        : warning(
            user,
            `${statement(user)}: ${scripts.length ? "keepalived's default user, as without it" : 'no script is carried over, so no effect'}`,
          ),
    );
  }
  const security = globals.scriptSecurity;
  if (security) {
    if (!scripts.length) findings.push(warning(security, `${statement(security)}: no script is carried over, so no effect`));
    else if (asRoot) {
      findings.push(
        warning(
          security,
          `${statement(security)}: with script_user root, keepalived runs the ${scripts.join(', ')} as root, but none whose ` +
            'path a non-root user can write; failoverd does not look at the path (keep them root-owned, not group- or world-writable)',
        ),
      );
    } else {
      findings.push(
        notCarried(
          security,
          `keepalived would run the ${scripts.join(', ')} only as ${user ? 'script_user' : 'the keepalived_script user'}, ` +
            'and none at all if that user does not exist; failoverd runs them as itself',
        ),
      );
    }
  }
  return findings;
}

/** `script_user root` or `script_user root root` (by name or uid): keepalived's default user. */
function isRoot(user: KaNode): boolean {
  const [name, group] = user.args;
  const root = (x: string | undefined) => x === 'root' || x === '0';
  return root(name) && (group === undefined || root(group.replace(/^:/, '')));
}

/** The kinds of program the converted config runs, in keepalived's words. */
export function scriptsRun(vrrp: WrittenInstance[], syncGroups: WrittenSyncGroup[], services: WrittenService[]): string[] {
  const hasNotify = (n: object | undefined) => n !== undefined && Object.values(n).some((v) => v !== undefined);
  const checks: WrittenCheck[] = services.flatMap((s) =>
    [s.check, ...(s.real_servers ?? []).map((rs) => rs.check)].flatMap((c) => (c === undefined ? [] : Array.isArray(c) ? c : [c])),
  );
  const kinds: [string, boolean][] = [
    ['notify scripts', vrrp.some((v) => hasNotify(v.notify)) || syncGroups.some((g) => hasNotify(g.notify))],
    ['track scripts', vrrp.some((v) => (v.track?.scripts ?? []).length > 0)],
    ['MISC_CHECK scripts', checks.some((c) => c.type === 'exec')],
    [
      'quorum and real-server notify scripts',
      services.some((s) => hasNotify(s.notify) || (s.real_servers ?? []).some((rs) => hasNotify(rs.notify))),
    ],
  ];
  return kinds.filter(([, present]) => present).map(([kind]) => kind);
}

const vipAddress = (vip: WrittenVip): string => (typeof vip === 'string' ? vip : (vip.address ?? ''));
