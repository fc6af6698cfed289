// global_defs → node.name and what every vrrp_instance inherits. A setting whose effect
// depends on the rest of the file is judged once the rest is converted.
import { isIP } from 'node:net';
import type { GlobalSettings, VrrpDefaults } from './context.js';
import { noGlobalSettings } from './context.js';
import { notCarried, statement, unknownKeyword, warning, type Converted, type Finding } from './findings.js';
import type { KaNode } from './parse.js';
import { bool, int, seconds } from './values.js';
import type { WrittenInstance, WrittenService, WrittenVip } from './written.js';

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
  'enable_script_security',
  'max_auto_priority',
  'vrrp_no_swap',
  'checker_no_swap',
  'vrrp_rlimit_rttime',
  'checker_rlimit_rttime',
  'vrrp_priority',
  'checker_priority',
  'vrrp_rt_priority',
  'checker_rt_priority',
  'log_unknown_vrids',
]);

export function convertGlobalDefs(node: KaNode): Converted<GlobalSettings> {
  const findings: Finding[] = [];
  const settings = noGlobalSettings();
  const d = settings.vrrp;
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
      case 'lvs_sync_daemon': {
        const sync = convertSyncDaemon(g);
        findings.push(...sync.findings);
        if (sync.value) d.syncDaemon = sync.value;
        break;
      }
      case 'smtp_alert':
      case 'smtp_alert_vrrp':
      case 'smtp_alert_checker':
        if (bool(a[0])) findings.push(notCarried(g, 'failoverd sends no email; keepalived would mail transitions'));
        break;
      case 'vrrp_gna_interval':
        settings.gnaInterval = g;
        break;
      case 'script_user':
        settings.scriptUser = g;
        break;
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
  const out: { id?: number | undefined; port?: number | undefined; group?: string | undefined } = {};
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

/** The global settings that act only on what the rest of the file has: IPv6 VIPs, MISC_CHECK scripts. */
export function dependentGlobals(globals: GlobalSettings, vrrp: WrittenInstance[], services: WrittenService[]): Finding[] {
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
  const user = globals.scriptUser;
  if (user) {
    const scripts = services.some((s) =>
      [s.check, ...(s.real_servers ?? []).map((rs) => rs.check)].some((check) =>
        (Array.isArray(check) ? check : [check]).some((c) => c?.type === 'exec'),
      ),
    );
    findings.push(
      scripts
        ? notCarried(user, "MISC_CHECK scripts would run as failoverd's user, not this one")
        : warning(user, `${statement(user)}: no script is carried over, so no effect`),
    );
  }
  return findings;
}

const vipAddress = (vip: WrittenVip): string => (typeof vip === 'string' ? vip : (vip.address ?? ''));
