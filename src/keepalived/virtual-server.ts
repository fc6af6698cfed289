// virtual_server (and the virtual_server_group it may name) → one failoverd service: the
// IPVS table keepalived builds, entry for entry; a group stays one service (vips, fwmarks),
// so each real server is checked once, as keepalived does. A check failoverd lacks is refused,
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
import { parseVipRange } from '../config/vip-range.js';
import { bool, duration, int, ordered, safeName, seconds } from './values.js';
import type { WrittenService, WrittenSorryServer } from './written.js';

const SCHEDULERS: ReadonlySet<string> = new Set(SCHEDULER_NAMES);

/** services[] keys in the order the schema documents them. */
export const SERVICE_KEYS: (keyof WrittenService)[] = [
  'name',
  'vip',
  'vips',
  'port',
  'protocol',
  'fwmark',
  'fwmarks',
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

/** What a virtual_server stands for: one address, one mark, or a group (written as vips / fwmarks). */
type Target = { vip: string; port: number } | { fwmark: number } | { group: ServerGroup };

/** A virtual_server_group as failoverd's group keys: ranges keep keepalived's spelling, which failoverd reads alike. */
export interface ServerGroup {
  name: string;
  vips: Array<{ range: string; port: number }>;
  fwmarks: number[];
  /** From the vips, or from `fwmark N inet|inet6`. */
  family?: 'inet' | 'inet6';
}

/** virtual_server_group NAME { IP [PORT] | RANGE [PORT] | fwmark N [inet|inet6] } → failoverd's group keys. */
export function expandServerGroup(node: KaNode): Converted<ServerGroup> {
  const findings: Finding[] = [];
  const group: ServerGroup = { name: node.args[0] ?? '', vips: [], fwmarks: [] };
  const families = new Set<'inet' | 'inet6'>();
  for (const entry of node.children ?? []) {
    if (entry.keyword === 'fwmark') {
      const mark = int(entry.args[0]);
      const family = entry.args[1];
      if (mark === undefined || mark < 1 || mark > 2 ** 32 - 1 || entry.args.length > 2) {
        findings.push(notCarried(entry, 'expected fwmark N [inet|inet6] with N from 1'));
      } else if (family !== undefined && family !== 'inet' && family !== 'inet6') {
        findings.push(notCarried(entry, 'expected the family inet or inet6'));
      } else {
        group.fwmarks.push(mark);
        if (family) families.add(family);
      }
      continue;
    }
    const port = entry.args[0] === undefined ? 0 : int(entry.args[0]);
    if (port === undefined || port < 0 || port > 65535 || entry.args.length > 1) {
      findings.push(notCarried(entry, 'expected ADDRESS[-LAST|/PREFIX] [PORT]'));
      continue;
    }
    const range = parseVipRange(entry.keyword);
    if (!range.ok) {
      findings.push(notCarried(entry, range.reason));
      continue;
    }
    families.add(range.family === 6 ? 'inet6' : 'inet');
    group.vips.push({ range: entry.keyword, port });
  }
  if (families.size > 1) findings.push(notCarried(node, 'mixes IPv4 and IPv6: a failoverd service group has one address family'));
  else if (families.size === 1) group.family = [...families][0]!;
  if (group.vips.length === 0 && group.fwmarks.length === 0 && findings.length === 0)
    findings.push(notCarried(node, 'the group is empty: keepalived builds no service from it'));
  return { value: group, findings };
}

/** One failoverd service per virtual_server; a group's stays one service over all its kernel services. */
export function convertVirtualServer(node: KaNode, ctx: ImportContext): Converted<WrittenService[]> {
  let target: Target;
  const findings: Finding[] = [];
  if (node.args[0] === 'group') {
    const group = ctx.serverGroups.get(node.args[1] ?? '');
    if (!group) return { findings: [notCarried(node, `no virtual_server_group ${node.args[1] ?? ''} is defined`)] };
    const expanded = expandServerGroup(group);
    if (expanded.findings.length) return { findings: expanded.findings };
    target = { group: expanded.value! };
  } else if (node.args[0] === 'fwmark') {
    const mark = int(node.args[1]);
    if (mark === undefined) return { findings: [notCarried(node, 'expected fwmark N')] };
    target = { fwmark: mark };
  } else {
    const port = int(node.args[1]);
    if (isIP(node.args[0] ?? '') === 0 || port === undefined) {
      return { findings: [notCarried(node, 'expected ADDRESS PORT')] };
    }
    target = { vip: node.args[0]!, port };
  }
  const one = convertService(node, target, ctx.globals.realServersMailed ?? false);
  findings.push(...one.findings);
  return { value: one.value ? [one.value] : [], findings };
}

/** The service's own keys for its target: vip + port, fwmark, or a group's vips / fwmarks (and the port they share). */
function targetKeys(target: Target): WrittenService {
  if (!('group' in target)) return { ...target };
  const { vips, fwmarks, family } = target.group;
  const ports = new Set(vips.map((v) => v.port));
  const out: WrittenService = {};
  if (ports.size === 1) {
    out.vips = vips.map((v) => v.range);
    out.port = [...ports][0]!;
  } else if (vips.length) out.vips = vips.map((v) => ({ address: v.range, port: v.port }));
  if (fwmarks.length) out.fwmarks = fwmarks;
  if (!vips.length && family) out.family = family;
  return out;
}

function convertService(node: KaNode, target: Target, mailsByDefault: boolean): Converted<WrittenService> {
  const findings: Finding[] = [];
  const out: WrittenService = targetKeys(target);
  // Marks alone select the traffic: no protocol, no port.
  const fwmark = 'fwmark' in target || ('group' in target && target.group.vips.length === 0);
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
      case 'sorry_server_inhibit':
        // keepalived ignores it before or without a sorry_server (check_parser.c).
        if (out.sorry_server) out.sorry_server.inhibit = true;
        else
          findings.push(warning(c, 'sorry_server_inhibit before or without sorry_server: keepalived ignores it, and so does the import'));
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
        if (fwmark && !('group' in target && target.group.family)) out.family = a[0];
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
  const vipText =
    'group' in target
      ? safeName(target.group.name)
      : 'fwmark' in target
        ? `fwmark-${target.fwmark}`
        : `${safeName(target.vip)}-${target.port}`;
  out.name = fwmark || protocol === 'tcp' ? vipText : `${vipText}-${protocol}`;
  const sorry: WrittenSorryServer | undefined = out.sorry_server;
  if (sorry && !sorry.port && !fwmark && !('group' in target)) sorry.port = out.port;
  const scope = { checkDefaults: defaults, forwarding: forwarding.forwarding, inhibit, mailsByDefault };
  const servers = realServerNodes.map((rs) => convertRealServer(rs, scope));
  for (const s of servers) findings.push(...s.findings);
  if ('group' in target)
    findings.push(...groupPortFindings(node, target.group, realServerNodes, servers, forwarding.forwarding, out.sorry_server));
  // keepalived's inhibit_on_failure is per real server (the virtual_server's is its default):
  // the service's on_failure is the common choice, a server that differs says its own.
  const serviceInhibit = servers.length > 0 && servers.every((s) => s.inhibit) ? true : inhibit;
  if (serviceInhibit) out.on_failure = 'inhibit';
  // Identical checks on every server are written once, on the service.
  const checkTexts = servers.map((s) => JSON.stringify(s.checks));
  const realServers = servers.map((s) =>
    s.inhibit === serviceInhibit ? s.out : { ...s.out, on_failure: s.inhibit ? 'inhibit' : 'remove' },
  );
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

/**
 * keepalived gives a group's direct-routing and tunnelled servers each entry's port (a
 * mark's: 0) and a masquerading server without a port port 0 (check_data.c); failoverd
 * gives a server one port in every kernel service of the group. What only the former can
 * express is refused.
 */
function groupPortFindings(
  node: KaNode,
  group: ServerGroup,
  serverNodes: KaNode[],
  servers: Array<{ out: { port?: number | undefined; forwarding?: string | undefined } }>,
  serviceForwarding: string,
  sorry: WrittenSorryServer | undefined,
): Finding[] {
  const findings: Finding[] = [];
  const ports = new Set([...group.vips.map((v) => v.port), ...(group.fwmarks.length ? [0] : [])]);
  const only = ports.size === 1 ? [...ports][0]! : undefined;
  const check = (at: KaNode, what: string, forwarding: string, port: number | undefined) => {
    if (forwarding === 'nat') {
      if (port === undefined) findings.push(lossy(at, `${what} without a port: keepalived uses port 0 in a group; give it a port`));
    } else if (only === undefined) {
      findings.push(
        lossy(
          at,
          `${what}: keepalived gives it each group entry's port (${[...ports].join(', ')}); failoverd gives a server one port in every entry`,
        ),
      );
    } else if (port !== undefined && port !== only) {
      findings.push(lossy(at, `${what}: port ${port}, but keepalived uses the group's port ${only} for direct routing and tunnels`));
    }
  };
  servers.forEach((s, i) =>
    check(serverNodes[i]!, `real_server ${serverNodes[i]!.args.join(' ')}`, s.out.forwarding ?? serviceForwarding, s.out.port),
  );
  if (sorry) {
    const forwarding = String(sorry.forwarding ?? serviceForwarding);
    // keepalived ignores a direct-routing sorry server's port in a group (it warns so).
    if (forwarding !== 'nat' && only !== undefined) sorry.port = only;
    else check(node, 'sorry_server', forwarding, sorry.port);
  }
  return findings;
}
