// virtual_server (and the virtual_server_group it may name) → failoverd services[]: the
// IPVS table keepalived builds, entry for entry. A check failoverd lacks is refused,
// never dropped: a dropped check makes its real server count as always up.
import { isIP } from 'node:net';
import { SCHEDULERS as SCHEDULER_NAMES } from '../config/schema.js';
import { checkDefaultsFrom, type CheckDefaults } from './checker.js';
import type { ImportContext } from './context.js';
import { forwardingOf, type Forwarding } from './forwarding.js';
import { lossy, notCarried, unknownKeyword, warning, type Converted, type Finding } from './findings.js';
import { commandOf } from './notify.js';
import type { KaNode } from './parse.js';
import { convertRealServer } from './real-server.js';
import { bool, duration, int, ordered, safeName, seconds } from './values.js';
import type { WrittenService, WrittenSorryServer } from './written.js';

const SCHEDULERS: ReadonlySet<string> = new Set(SCHEDULER_NAMES);

/** services[] keys in the order the schema documents them. */
export const SERVICE_KEYS: (keyof WrittenService)[] = [
  'name',
  'vip',
  'port',
  'protocol',
  'fwmark',
  'family',
  'vip_standalone',
  'scheduler',
  'scheduler_flags',
  'one_packet',
  'forwarding',
  'tunnel',
  'persistence',
  'persistence_netmask',
  'persistence_engine',
  'quorum',
  'hysteresis',
  'on_failure',
  'sorry_server',
  'check',
  'real_servers',
];

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
export function convertVirtualServer(node: KaNode, ctx: ImportContext): Converted<WrittenService[]> {
  const findings: Finding[] = [];
  let keys: ServiceKey[];
  if (node.args[0] === 'group') {
    const group = ctx.serverGroups.get(node.args[1] ?? '');
    if (!group) return { findings: [notCarried(node, `no virtual_server_group ${node.args[1] ?? ''} is defined`)] };
    const expanded = expandServerGroup(group);
    findings.push(...expanded.findings);
    keys = expanded.value ?? [];
    if (keys.length > 1) {
      findings.push(
        warning(
          node,
          `virtual_server group ${node.args[1]}: written as ${keys.length} services; ` +
            'failoverd checks each real server once per service, keepalived once per group',
        ),
      );
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
  const services: WrittenService[] = [];
  for (const key of keys) {
    const one = convertService(node, key);
    // The body's findings are the same for every entry of a group: report them once.
    if (services.length === 0) findings.push(...one.findings);
    if (one.value) services.push(one.value);
  }
  return { value: services, findings };
}

function convertService(node: KaNode, key: ServiceKey): Converted<WrittenService> {
  const findings: Finding[] = [];
  const out: WrittenService = { ...key };
  const fwmark = 'fwmark' in key;
  const defaults: CheckDefaults = {};
  let forwarding: Forwarding = { forwarding: 'nat' };
  let protocol = 'tcp';
  let inhibit = false;
  const flags: string[] = [];
  const realServerNodes: KaNode[] = [];
  for (const c of node.children ?? []) {
    if (checkDefaultsFrom(c, defaults)) continue;
    const a = c.args;
    switch (c.keyword) {
      case 'lb_algo':
      case 'lvs_sched':
        if (a[0] && SCHEDULERS.has(a[0])) out.scheduler = a[0];
        else findings.push(notCarried(c, 'unknown scheduler'));
        break;
      case 'lb_kind':
      case 'lvs_method': {
        const f = forwardingOf(c);
        findings.push(...f.findings);
        if (f.value) forwarding = f.value;
        break;
      }
      case 'protocol':
        protocol = (a[0] ?? 'TCP').toLowerCase();
        break;
      case 'persistence_timeout':
        out.persistence = duration(seconds(a[0]) ?? 360_000);
        break;
      case 'persistence_granularity':
        out.persistence_netmask = a[0] && /^\d+$/.test(a[0]) ? Number(a[0]) : a[0];
        break;
      case 'persistence_engine':
        out.persistence_engine = a[0];
        break;
      case 'quorum':
        out.quorum = int(a[0]);
        break;
      case 'hysteresis':
        out.hysteresis = int(a[0]);
        break;
      case 'inhibit_on_failure':
        inhibit = bool(a[0]);
        break;
      case 'sorry_server':
        out.sorry_server = { address: a[0], ...(a[1] ? { port: int(a[1]) } : {}) };
        break;
      case 'sorry_server_lvs_method': {
        const f = forwardingOf(c);
        findings.push(...f.findings);
        if (f.value && out.sorry_server) out.sorry_server.forwarding = f.value.forwarding;
        break;
      }
      case 'ops':
        out.one_packet = true;
        break;
      case 'sh-port':
      case 'mh-port':
        flags.push('port');
        break;
      case 'sh-fallback':
      case 'mh-fallback':
        flags.push('fallback');
        break;
      case 'ip_family':
        if (fwmark) out.family = a[0];
        break;
      case 'real_server':
        realServerNodes.push(c);
        break;
      case 'smtp_alert':
        if (bool(a[0])) findings.push(notCarried(c, 'failoverd sends no email'));
        break;
      case 'quorum_up':
      case 'quorum_down': {
        const command = commandOf(c);
        findings.push(...command.findings);
        if (command.value !== undefined) (out.notify ??= {})[c.keyword === 'quorum_up' ? 'on_quorum_up' : 'on_quorum_down'] = command.value;
        break;
      }
      default:
        findings.push(unknownKeyword(c, 'virtual_server'));
    }
  }
  if (!fwmark) out.protocol = protocol;
  out.forwarding = forwarding.forwarding;
  if (forwarding.tunnel) out.tunnel = forwarding.tunnel;
  if (flags.length) out.scheduler_flags = [...new Set(flags)];
  const vipText = 'fwmark' in key ? `fwmark-${key.fwmark}` : `${safeName(key.vip)}-${key.port}`;
  out.name = fwmark || protocol === 'tcp' ? vipText : `${vipText}-${protocol}`;
  const sorry: WrittenSorryServer | undefined = out.sorry_server;
  if (sorry && !sorry.port && !fwmark) sorry.port = out.port;

  const scope = { checkDefaults: defaults, forwarding: forwarding.forwarding, inhibit };
  const servers = realServerNodes.map((rs) => convertRealServer(rs, scope));
  for (const s of servers) findings.push(...s.findings);
  const inhibitServers = servers.filter((s) => s.inhibit).length;
  if (inhibitServers > 0 && inhibitServers === servers.length) out.on_failure = 'inhibit';
  else if (inhibitServers > 0) {
    findings.push(lossy(node, 'inhibit_on_failure on only some real servers: failoverd sets it per service'));
  }
  // Identical checks on every server are written once, on the service.
  const checkTexts = servers.map((s) => JSON.stringify(s.checks));
  const realServers = servers.map((s) => s.out);
  if (servers.length > 0 && checkTexts.every((t) => t === checkTexts[0]) && servers[0]!.checks.length > 0) {
    out.check = servers[0]!.checks.length === 1 ? servers[0]!.checks[0] : servers[0]!.checks;
  } else {
    servers.forEach((s, i) => {
      realServers[i]!.check = s.checks.length === 1 ? s.checks[0] : s.checks;
    });
  }
  out.real_servers = realServers;
  const total = realServers.reduce((n, rs) => n + Number(rs.weight ?? 1), 0);
  const quorum = out.quorum ?? 1;
  if (realServers.length && quorum > total) {
    findings.push(
      lossy(
        node,
        `quorum ${quorum} is more than the real servers' total weight ${total}: keepalived ` +
          'never reaches quorum; failoverd does not accept that configuration',
      ),
    );
  }
  return { value: ordered(out, SERVICE_KEYS), findings };
}
