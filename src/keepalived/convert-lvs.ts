// virtual_server (and virtual_server_group) → failoverd services[]: the IPVS table
// keepalived builds, entry for entry. A check failoverd lacks is refused, never
// dropped: a dropped check makes its real server count as always up.
import { isIP } from 'node:net';
import { SCHEDULERS as SCHEDULER_NAMES } from '../config/schema.js';
import { lossy, notCarried, unknownKeyword, warning, type Converted, type Finding } from './findings.js';
import type { KaNode } from './parse.js';
import { bool, duration, int, literal, ordered, safeName, seconds, type Obj } from './values.js';

const SCHEDULERS: ReadonlySet<string> = new Set(SCHEDULER_NAMES);
const CHECK_TYPES: Record<string, string> = {
  TCP_CHECK: 'tcp', HTTP_GET: 'http', SSL_GET: 'https', MISC_CHECK: 'exec',
};
const MISSING_CHECKS = new Set(['DNS_CHECK', 'SMTP_CHECK', 'BFD_CHECK', 'FILE_CHECK', 'PING_CHECK', 'UDP_CHECK']);

export const SERVICE_KEYS = ['name', 'vip', 'port', 'protocol', 'fwmark', 'family', 'vip_standalone', 'scheduler',
  'scheduler_flags', 'one_packet', 'forwarding', 'tunnel', 'persistence', 'persistence_netmask', 'persistence_engine',
  'quorum', 'hysteresis', 'on_failure', 'sorry_server', 'check', 'real_servers'];

interface CheckDefaults {
  interval?: number;
  timeout?: number;
  retry?: number;
  delayBeforeRetry?: number;
  warmup?: number;
  alpha?: boolean;
  virtualhost?: string;
}

/** One IPVS service a virtual_server (or one entry of its group) stands for. */
type ServiceKey = { vip: string; port: number } | { fwmark: number };

/** virtual_server_group NAME { IP PORT | IP-LAST PORT | fwmark N } → the services it names. */
export function expandServerGroup(node: KaNode): Converted<ServiceKey[]> {
  const findings: Finding[] = [];
  const keys: ServiceKey[] = [];
  for (const entry of node.children ?? []) {
    if (entry.keyword === 'fwmark') {
      const mark = int(entry.args[0]);
      if (mark === undefined || mark < 1) findings.push(notCarried(entry, 'expected fwmark N'));
      else keys.push({ fwmark: mark });
      continue;
    }
    const port = int(entry.args[0]);
    const range = /^(\d+\.\d+\.\d+\.)(\d+)(?:-(\d+))?$/.exec(entry.keyword);
    if (port === undefined || entry.args.length > 1) {
      findings.push(notCarried(entry, 'expected ADDRESS[-LAST] PORT'));
      continue;
    }
    if (!range) {
      if (isIP(entry.keyword) === 0) findings.push(notCarried(entry, 'expected an IPv4 address or range, or IPv6'));
      else keys.push({ vip: entry.keyword, port });
      continue;
    }
    const first = Number(range[2]);
    const last = range[3] === undefined ? first : Number(range[3]);
    if (last < first || last > 255) {
      findings.push(notCarried(entry, 'address range must count up within the last octet'));
      continue;
    }
    for (let n = first; n <= last; n++) keys.push({ vip: `${range[1]}${n}`, port });
  }
  return { value: keys, findings };
}

/** One failoverd service per IPVS service the virtual_server stands for. */
export function convertVirtualServer(node: KaNode, groups: ReadonlyMap<string, KaNode>): Converted<Obj[]> {
  const findings: Finding[] = [];
  let keys: ServiceKey[];
  if (node.args[0] === 'group') {
    const group = groups.get(node.args[1] ?? '');
    if (!group) return { findings: [notCarried(node, `no virtual_server_group ${node.args[1] ?? ''} is defined`)] };
    const expanded = expandServerGroup(group);
    findings.push(...expanded.findings);
    keys = expanded.value ?? [];
    if (keys.length > 1) {
      findings.push(warning(node, `virtual_server group ${node.args[1]}: written as ${keys.length} services; `
        + 'failoverd checks each real server once per service, keepalived once per group'));
    }
  } else if (node.args[0] === 'fwmark') {
    const mark = int(node.args[1]);
    if (mark === undefined) return { findings: [notCarried(node, 'expected fwmark N')] };
    keys = [{ fwmark: mark }];
  } else {
    const port = int(node.args[1]);
    if (isIP(node.args[0] ?? '') === 0 || port === undefined) {
      return { findings: [notCarried(node, 'expected ADDRESS PORT')] };
    }
    keys = [{ vip: node.args[0]!, port }];
  }
  const services: Obj[] = [];
  for (const key of keys) {
    const one = convertService(node, key);
    // The body's findings are the same for every entry of a group: report them once.
    if (services.length === 0) findings.push(...one.findings);
    if (one.value) services.push(one.value);
  }
  return { value: services, findings };
}

function convertService(node: KaNode, key: ServiceKey): Converted<Obj> {
  const findings: Finding[] = [];
  const out: Obj = { ...key };
  const fwmark = 'fwmark' in key;
  const defaults: CheckDefaults = {};
  let forwarding: { forwarding: string; tunnel?: Obj } = { forwarding: 'nat' };
  let protocol = 'tcp';
  let inhibit = false;
  const flags: string[] = [];
  const realServerNodes: KaNode[] = [];
  for (const c of node.children ?? []) {
    if (checkDefaultsFrom(c, defaults)) continue;
    const a = c.args;
    switch (c.keyword) {
      case 'lb_algo': case 'lvs_sched':
        if (a[0] && SCHEDULERS.has(a[0])) out['scheduler'] = a[0];
        else findings.push(notCarried(c, 'unknown scheduler'));
        break;
      case 'lb_kind': case 'lvs_method': {
        const f = forwardingOf(c);
        findings.push(...f.findings);
        if (f.value) forwarding = f.value;
        break;
      }
      case 'protocol': protocol = (a[0] ?? 'TCP').toLowerCase(); break;
      case 'persistence_timeout': out['persistence'] = duration(seconds(a[0]) ?? 360_000); break;
      case 'persistence_granularity':
        out['persistence_netmask'] = a[0] && /^\d+$/.test(a[0]) ? Number(a[0]) : a[0];
        break;
      case 'persistence_engine': out['persistence_engine'] = a[0]; break;
      case 'quorum': out['quorum'] = int(a[0]); break;
      case 'hysteresis': out['hysteresis'] = int(a[0]); break;
      case 'inhibit_on_failure': inhibit = bool(a[0]); break;
      case 'sorry_server': out['sorry_server'] = { address: a[0], ...(a[1] ? { port: int(a[1]) } : {}) }; break;
      case 'sorry_server_lvs_method': {
        const f = forwardingOf(c);
        findings.push(...f.findings);
        if (f.value && out['sorry_server']) (out['sorry_server'] as Obj)['forwarding'] = f.value.forwarding;
        break;
      }
      case 'ops': out['one_packet'] = true; break;
      case 'sh-port': case 'mh-port': flags.push('port'); break;
      case 'sh-fallback': case 'mh-fallback': flags.push('fallback'); break;
      case 'ip_family': if (fwmark) out['family'] = a[0]; break;
      case 'real_server': realServerNodes.push(c); break;
      case 'smtp_alert': if (bool(a[0])) findings.push(notCarried(c, 'failoverd sends no email')); break;
      case 'quorum_up': case 'quorum_down':
        findings.push(notCarried(c, 'failoverd cannot run a program only on this transition with its own arguments'));
        break;
      default: findings.push(unknownKeyword(c, 'virtual_server'));
    }
  }
  if (!fwmark) out['protocol'] = protocol;
  out['forwarding'] = forwarding.forwarding;
  if (forwarding.tunnel) out['tunnel'] = forwarding.tunnel;
  if (flags.length) out['scheduler_flags'] = [...new Set(flags)];
  const vipText = 'fwmark' in key ? `fwmark-${key.fwmark}` : `${safeName(key.vip)}-${key.port}`;
  out['name'] = fwmark || protocol === 'tcp' ? vipText : `${vipText}-${protocol}`;
  const sorry = out['sorry_server'] as Obj | undefined;
  if (sorry && !sorry['port'] && !fwmark) sorry['port'] = out['port'];

  const servers = realServerNodes.map((rs) => convertRealServer(rs, defaults, forwarding.forwarding, inhibit));
  for (const s of servers) findings.push(...s.findings);
  const inhibitServers = servers.filter((s) => s.inhibit).length;
  if (inhibitServers > 0 && inhibitServers === servers.length) out['on_failure'] = 'inhibit';
  else if (inhibitServers > 0) {
    findings.push(lossy(node, 'inhibit_on_failure on only some real servers: failoverd sets it per service'));
  }
  // Identical checks on every server are written once, on the service.
  const checkTexts = servers.map((s) => JSON.stringify(s.checks));
  const realServers = servers.map((s) => s.out);
  if (servers.length > 0 && checkTexts.every((t) => t === checkTexts[0]) && servers[0]!.checks.length > 0) {
    out['check'] = servers[0]!.checks.length === 1 ? servers[0]!.checks[0] : servers[0]!.checks;
  } else {
    servers.forEach((s, i) => { realServers[i]!['check'] = s.checks.length === 1 ? s.checks[0] : s.checks; });
  }
  out['real_servers'] = realServers;
  const total = realServers.reduce((n, rs) => n + Number(rs['weight'] ?? 1), 0);
  const quorum = (out['quorum'] as number | undefined) ?? 1;
  if (realServers.length && quorum > total) {
    findings.push(lossy(node, `quorum ${quorum} is more than the real servers' total weight ${total}: keepalived `
      + 'never reaches quorum; failoverd does not accept that configuration'));
  }
  return { value: ordered(out, SERVICE_KEYS), findings };
}

function forwardingOf(c: KaNode): Converted<{ forwarding: string; tunnel?: Obj }> {
  const [method, ...rest] = c.args;
  const m = method?.toUpperCase();
  if (m === 'DR' || m === 'NAT') return { value: { forwarding: m.toLowerCase() }, findings: [] };
  if (m !== 'TUN') return { findings: [notCarried(c, 'expected NAT, DR or TUN')] };
  const tunnel: Obj = {};
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i]!;
    if (word === 'type') tunnel['type'] = rest[++i];
    else if (word === 'port') tunnel['port'] = int(rest[++i]);
    else if (word === 'nocsum') tunnel['checksum'] = 'none';
    else if (word === 'csum' || word === 'remcsum') tunnel['checksum'] = word;
    else return { findings: [notCarried(c, `${word}: no tunnel equivalent`)] };
  }
  return { value: { forwarding: 'tun', ...(Object.keys(tunnel).length ? { tunnel } : {}) }, findings: [] };
}

function checkDefaultsFrom(c: KaNode, d: CheckDefaults): boolean {
  switch (c.keyword) {
    case 'delay_loop': d.interval = seconds(c.args[0]); return true;
    case 'connect_timeout': d.timeout = seconds(c.args[0]); return true;
    case 'retry': case 'nb_get_retry': d.retry = int(c.args[0]); return true;
    case 'delay_before_retry': d.delayBeforeRetry = seconds(c.args[0]); return true;
    case 'warmup': d.warmup = seconds(c.args[0]); return true;
    case 'alpha': d.alpha = bool(c.args[0]); return true;
    case 'virtualhost': d.virtualhost = c.args[0]; return true;
    default: return false;
  }
}

interface RealServerResult { out: Obj; checks: Obj[]; inhibit: boolean; findings: Finding[] }

function convertRealServer(
  node: KaNode, serviceDefaults: CheckDefaults, serviceForwarding: string, serviceInhibit: boolean,
): RealServerResult {
  const findings: Finding[] = [];
  const out: Obj = { address: node.args[0] };
  if (node.args[1] !== undefined) out['port'] = int(node.args[1]);
  const defaults: CheckDefaults = { ...serviceDefaults };
  let inhibit = serviceInhibit;
  const checkers: KaNode[] = [];
  for (const c of node.children ?? []) {
    if (checkDefaultsFrom(c, defaults)) continue;
    switch (c.keyword) {
      case 'weight': out['weight'] = int(c.args[0]); break;
      case 'lvs_method': case 'lb_kind': {
        const f = forwardingOf(c);
        findings.push(...f.findings);
        if (f.value && f.value.forwarding !== serviceForwarding) out['forwarding'] = f.value.forwarding;
        if (f.value?.tunnel) out['tunnel'] = f.value.tunnel;
        break;
      }
      case 'uthreshold': out['upper_threshold'] = int(c.args[0]); break;
      case 'lthreshold': out['lower_threshold'] = int(c.args[0]); break;
      case 'inhibit_on_failure': inhibit = bool(c.args[0]); break;
      case 'smtp_alert': if (bool(c.args[0])) findings.push(notCarried(c, 'failoverd sends no email')); break;
      case 'notify_up': case 'notify_down':
        findings.push(notCarried(c, 'failoverd cannot run a program only on this transition with its own arguments'));
        break;
      case 'TCP_CHECK': case 'HTTP_GET': case 'SSL_GET': case 'MISC_CHECK': checkers.push(c); break;
      default:
        if (MISSING_CHECKS.has(c.keyword)) {
          findings.push(notCarried(c, 'failoverd has no such check; without it the server would count as always up'));
        } else findings.push(unknownKeyword(c, 'real_server'));
    }
  }
  if (out['weight'] === undefined) out['weight'] = 1;
  const checks: Obj[] = [];
  for (const c of checkers) {
    const converted = convertChecker(c, defaults);
    findings.push(...converted.findings);
    checks.push(...(converted.value ?? []));
  }
  return { out, checks, inhibit, findings };
}

function convertChecker(node: KaNode, inherited: CheckDefaults): Converted<Obj[]> {
  const findings: Finding[] = [];
  const d: CheckDefaults = { ...inherited };
  const options: Obj = {};
  const urls: KaNode[] = [];
  let miscTimeout: number | undefined;
  const http = node.keyword === 'HTTP_GET' || node.keyword === 'SSL_GET';
  for (const c of node.children ?? []) {
    if (checkDefaultsFrom(c, d)) continue;
    switch (c.keyword) {
      case 'connect_port': options['connect_port'] = int(c.args[0]); break;
      case 'bindto': options['bind_to'] = c.args[0]; break;
      case 'url': if (http) urls.push(c); else findings.push(unknownKeyword(c, node.keyword)); break;
      case 'misc_path':
        // keepalived splits misc_path into words and runs it without a shell: so does an argv command.
        if (node.keyword === 'MISC_CHECK') {
          options['command'] = c.args.join(' ').split(/\s+/).filter(Boolean).map(literal);
        }
        else findings.push(unknownKeyword(c, node.keyword));
        break;
      case 'misc_timeout': miscTimeout = seconds(c.args[0]); break;
      case 'misc_dynamic': options['misc_dynamic'] = true; break;
      default: findings.push(unknownKeyword(c, node.keyword));
    }
  }
  const type = CHECK_TYPES[node.keyword] ?? 'exec';
  const interval = d.interval ?? 60_000;
  const common: Obj = {
    type,
    interval: duration(interval),
    timeout: duration(type === 'exec' ? miscTimeout ?? interval : d.timeout ?? 5000),
    // keepalived marks a server down when a check and its retries fail, up on one success.
    rise: 1,
    fall: 1,
    retry: d.retry ?? (type === 'exec' ? 0 : 1),
    delay_before_retry: duration(d.delayBeforeRetry ?? (http ? 3000 : 1000)),
    ...(d.warmup !== undefined ? { warmup: duration(d.warmup) } : {}),
    initial: d.alpha ? 'down' : 'up',
  };
  if (type === 'exec') {
    if (!options['command']) return { findings: [...findings, notCarried(node, 'MISC_CHECK without misc_path')] };
    return { value: [{ ...common, ...options }], findings };
  }
  if (!http) return { value: [{ ...common, ...options }], findings };
  if (type === 'https') {
    options['tls_verify'] = false;
    findings.push(warning(node, 'SSL_GET: keepalived does not verify the server certificate, so tls_verify is false'));
  }
  if (urls.length === 0) {
    findings.push(warning(node, `${node.keyword} without url: checking path / for a 2xx status`));
    const host = d.virtualhost ? { host: d.virtualhost } : {};
    return { value: [{ ...common, path: '/', ...host, ...options }], findings };
  }
  const checks = urls.map((u) => {
    const check: Obj = { ...common };
    let host = d.virtualhost;
    for (const x of u.children ?? []) {
      switch (x.keyword) {
        case 'path': check['path'] = x.args[0]; break;
        case 'status_code': check['expect_status'] = x.args.map((s) => (/^\d+$/.test(s) ? Number(s) : s)); break;
        case 'virtualhost': host = x.args[0]; break;
        case 'regex': check['expect_body'] = literal(x.args[0] ?? ''); break;
        case 'digest':
          findings.push(notCarried(x, 'keepalived compares an MD5 digest of the body; failoverd has no MD5 check, so a '
            + 'changed body would no longer fail the check'));
          break;
        default: findings.push(unknownKeyword(x, 'url'));
      }
    }
    if (host) check['host'] = host;
    return { ...check, ...options };
  });
  return { value: checks, findings };
}
