// keepalived.conf (parsed) → a failoverd config document, faithful or refused: each
// block has its own converter returning its value and its findings; anything whose
// behaviour would change is a lossy finding (the import fails), a difference that
// cannot change the wire, the kernel or a spawned program is a warning.
import { convertVirtualServer, SERVICE_KEYS } from './convert-lvs.js';
import { convertInstance, convertSyncGroup, type VrrpDefaults } from './convert-vrrp.js';
import { notCarried, statement, under, unknownKeyword, warning, type Converted, type Finding } from './findings.js';
import type { KaNode } from './parse.js';
import { bool, int, ordered, seconds, type Obj } from './values.js';

export interface Explanation {
  file: string;
  line: number;
  block: string;
  became: string;
}

export interface ConvertResult {
  /** Plain data in failoverd.yaml's shape (durations as text). */
  config: Record<string, unknown>;
  findings: Finding[];
  explanations: Explanation[];
}

/** Top-level keywords of a keepalived.conf; a file with none of them is not one. */
export const TOP_LEVEL_KEYWORDS = new Set(['global_defs', 'vrrp_instance', 'vrrp_sync_group', 'virtual_server',
  'virtual_server_group', 'vrrp_script', 'static_ipaddress', 'static_routes', 'static_rules', 'linkbeat_interfaces',
  'track_file', 'vrrp_track_file', 'track_process', 'bfd_instance', 'garp_group', 'net_namespace', 'instance']);

interface GlobalSettings {
  node?: Obj;
  defaults: Omit<VrrpDefaults, 'syncGroupOf'>;
  /** Settings whose effect depends on the rest of the file (IPv6 VIPs, MISC_CHECK scripts). */
  gnaInterval?: KaNode;
  scriptUser?: KaNode;
}

const EMAIL_KEYWORDS = new Set(['notification_email', 'notification_email_from', 'smtp_server', 'smtp_helo_name',
  'smtp_connect_timeout', 'email_faults']);
// Settings that only shape keepalived's own process or logs: nothing on the wire, in the kernel
// or in a program changes.
const PROCESS_ONLY = new Set(['router_id', 'vrrp_skip_check_adv_addr', 'enable_script_security',
  'max_auto_priority', 'vrrp_no_swap', 'checker_no_swap', 'vrrp_rlimit_rttime', 'checker_rlimit_rttime',
  'vrrp_priority', 'checker_priority', 'vrrp_rt_priority', 'checker_rt_priority', 'log_unknown_vrids']);

export function convertGlobalDefs(node: KaNode): Converted<GlobalSettings> {
  const findings: Finding[] = [];
  const settings: GlobalSettings = { defaults: { strict: false, garp: {} } };
  const d = settings.defaults;
  for (const g of node.children ?? []) {
    const a = g.args;
    switch (g.keyword) {
      case 'router_id': if (a[0]) settings.node = { name: a[0] }; break;
      case 'vrrp_version': d.version = int(a[0]); break;
      case 'vrrp_strict': d.strict = true; break;
      case 'vrrp_startup_delay': d.startupDelayMs = seconds(a[0]); break;
      case 'vrrp_garp_master_repeat': d.garp.count = int(a[0]); break;
      case 'vrrp_garp_master_refresh': d.garp.refreshMs = seconds(a[0]); break;
      case 'vrrp_garp_interval': d.garp.intervalMs = seconds(a[0]); break;
      case 'vrrp_garp_master_delay': d.garp.delayMs = seconds(a[0]); break;
      case 'lvs_sync_daemon': {
        const sync = convertSyncDaemon(g);
        findings.push(...sync.findings);
        if (sync.value) d.syncDaemon = sync.value;
        break;
      }
      case 'smtp_alert': case 'smtp_alert_vrrp': case 'smtp_alert_checker':
        if (bool(a[0])) findings.push(notCarried(g, 'failoverd sends no email; keepalived would mail transitions'));
        break;
      case 'vrrp_gna_interval': settings.gnaInterval = g; break;
      case 'script_user': settings.scriptUser = g; break;
      default:
        if (EMAIL_KEYWORDS.has(g.keyword)) {
          findings.push(warning(g, `${g.keyword}: email settings; keepalived sends no mail without smtp_alert`));
        } else if (PROCESS_ONLY.has(g.keyword)) {
          findings.push(warning(g, `${statement(g)}: keepalived process setting, no equivalent needed`));
        } else findings.push(unknownKeyword(g, 'global_defs'));
    }
  }
  return { value: settings, findings };
}

function convertSyncDaemon(g: KaNode): Converted<NonNullable<VrrpDefaults['syncDaemon']>> {
  const [ifname, ...rest] = g.args;
  let instance: string | undefined;
  const out: { id?: number; port?: number; group?: string } = {};
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i]!;
    if (word === 'inst') instance = rest[++i];
    else if (word === 'id') out.id = int(rest[++i]);
    else if (word === 'port') out.port = int(rest[++i]);
    else if (word === 'group') out.group = rest[++i];
    else if (instance === undefined && !['maxlen', 'ttl'].includes(word)) instance = word;
    else return { findings: [notCarried(g, `${word}: the sync daemon has no such setting in failoverd`)] };
  }
  if (!ifname || !instance) return { findings: [notCarried(g, 'expected lvs_sync_daemon INTERFACE INSTANCE')] };
  return { value: { interface: ifname, instance, ...out }, findings: [] };
}

function dependentGlobals(globals: GlobalSettings, vrrp: Obj[], services: Obj[]): Finding[] {
  const findings: Finding[] = [];
  const gna = globals.gnaInterval;
  if (gna) {
    const ipv6 = JSON.stringify(vrrp.map((v) => v['vips'])).includes(':');
    findings.push(ipv6
      ? notCarried(gna, 'failoverd has no separate spacing for unsolicited neighbour adverts of IPv6 VIPs')
      : warning(gna, `${statement(gna)}: no IPv6 VIP, so no effect`));
  }
  const user = globals.scriptUser;
  if (user) {
    const scripts = JSON.stringify(services).includes('"type":"exec"');
    findings.push(scripts
      ? notCarried(user, 'MISC_CHECK scripts would run as failoverd\'s user, not this one')
      : warning(user, `${statement(user)}: no script is carried over, so no effect`));
  }
  return findings;
}

export function convertKeepalived(nodes: KaNode[]): ConvertResult {
  const findings: Finding[] = [];
  const explanations: Explanation[] = [];
  const explain = (node: KaNode, became: string) =>
    explanations.push({ file: node.file, line: node.line, block: statement(node), became });

  let globals: GlobalSettings = { defaults: { strict: false, garp: {} } };
  const syncGroupOf = new Map<string, string>();
  const serverGroups = new Map<string, KaNode>();
  for (const node of nodes) {
    if (node.keyword === 'global_defs') {
      const converted = convertGlobalDefs(node);
      findings.push(...converted.findings);
      globals = converted.value!;
      const name = globals.node ? `node.name ${String(globals.node['name'])} and ` : '';
      explain(node, `${name}defaults for every instance`);
    } else if (node.keyword === 'vrrp_sync_group') {
      const group = convertSyncGroup(node);
      findings.push(...group.findings);
      for (const member of group.value!.members) syncGroupOf.set(member, group.value!.name);
      explain(node, `sync_group: ${group.value!.name} on ${group.value!.members.join(', ') || 'no instance'}`);
    } else if (node.keyword === 'virtual_server_group') {
      serverGroups.set(node.args[0] ?? '', node);
      explain(node, 'expanded into every virtual_server that names it');
    }
  }

  const vrrp: Obj[] = [];
  const services: Obj[] = [];
  for (const node of nodes) {
    switch (node.keyword) {
      case 'global_defs': case 'vrrp_sync_group': case 'virtual_server_group': break;
      case 'vrrp_instance': {
        const instance = convertInstance(node, { ...globals.defaults, syncGroupOf });
        findings.push(...under(['vrrp', vrrp.length], instance.findings));
        vrrp.push(instance.value!);
        explain(node, `vrrp[${vrrp.length - 1}] ${String(instance.value!['name'])}`);
        break;
      }
      case 'virtual_server': {
        const converted = convertVirtualServer(node, serverGroups);
        const at = services.length;
        findings.push(...under(['services', at], converted.findings));
        services.push(...(converted.value ?? []));
        const names = (converted.value ?? []).map((s) => String(s['name']));
        const range = names.length > 1 ? `${at}..${at + names.length - 1}` : `${at}`;
        explain(node, names.length ? `services[${range}] ${names.join(', ')}` : 'nothing (refused)');
        break;
      }
      case 'vrrp_script':
        findings.push(notCarried(node, 'failoverd has no VRRP track scripts'));
        explain(node, 'nothing (refused)');
        break;
      default:
        findings.push(unknownKeyword(node, 'the top level'));
        explain(node, 'nothing (refused)');
    }
  }
  findings.push(...dependentGlobals(globals, vrrp, services));
  // keepalived builds the table whoever holds the address; failoverd asks to be told so.
  const vips = new Set(vrrp.flatMap((v) => ((v['vips'] as Array<string | Obj> | undefined) ?? [])
    .map((x) => String(typeof x === 'string' ? x : x['address']).split('/')[0])));
  services.forEach((s, i) => {
    const standalone = s['vip'] !== undefined && !vips.has(String(s['vip']));
    if (standalone) services[i] = ordered({ ...s, vip_standalone: true }, SERVICE_KEYS);
  });
  const config: Obj = {};
  if (globals.node) config['node'] = globals.node;
  if (vrrp.length) config['vrrp'] = vrrp;
  if (services.length) config['services'] = services;
  return { config, findings, explanations };
}
