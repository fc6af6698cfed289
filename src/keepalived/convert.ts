// keepalived.conf (parsed) → a failoverd config document, faithful or refused: each
// block has its own converter returning its value and its findings; anything whose
// behaviour would change is a lossy finding (the import fails), a difference that
// cannot change the wire, the kernel or a spawned program is a warning.
//
// Two passes: the first reads what other blocks depend on (global_defs,
// vrrp_sync_group, virtual_server_group) into one ImportContext; the second converts
// each block with it.
import { parseVipRange } from '../config/vip-range.js';
import { noGlobalSettings, type GlobalSettings, type ImportContext } from './context.js';
import { statement, under, unknownKeyword, type Finding } from './findings.js';
import { convertGlobalDefs, convertRealtime, dependentGlobals } from './global-defs.js';
import type { KaNode } from './parse.js';
import { ordered } from './values.js';
import { convertVirtualServer, SERVICE_KEYS } from './virtual-server.js';
import { convertInstance } from './vrrp-instance.js';
import { convertTrackFile, convertTrackProcess, convertVrrpScript, type FileDef, type ProcessDef, type ScriptDef } from './vrrp-script.js';
import { convertSyncGroup } from './vrrp-sync-group.js';
import type { WrittenConfig, WrittenInstance, WrittenService, WrittenSyncGroup } from './written.js';

export interface Explanation {
  file: string;
  line: number;
  block: string;
  became: string;
}

export interface ConvertResult {
  /** Plain data in failoverd.yaml's shape (durations as text). */
  config: WrittenConfig;
  findings: Finding[];
  explanations: Explanation[];
}

/** Top-level keywords of a keepalived.conf; a file with none of them is not one. */
export const TOP_LEVEL_KEYWORDS = new Set([
  'global_defs',
  'vrrp_instance',
  'vrrp_sync_group',
  'virtual_server',
  'virtual_server_group',
  'vrrp_script',
  'static_ipaddress',
  'static_routes',
  'static_rules',
  'linkbeat_interfaces',
  'track_file',
  'vrrp_track_file',
  'track_process',
  'vrrp_track_process',
  'bfd_instance',
  'garp_group',
  'net_namespace',
  'instance',
]);

export function convertKeepalived(nodes: KaNode[]): ConvertResult {
  const findings: Finding[] = [];
  const explanations: Explanation[] = [];
  const explain = (node: KaNode, became: string) => explanations.push({ file: node.file, line: node.line, block: statement(node), became });

  let globals: GlobalSettings = noGlobalSettings();
  const syncGroupOf = new Map<string, string>();
  const serverGroups = new Map<string, KaNode>();
  const scripts = new Map<string, ScriptDef | undefined>();
  const files = new Map<string, FileDef | undefined>();
  const processes = new Map<string, ProcessDef | undefined>();
  const syncGroups: WrittenSyncGroup[] = [];
  const tracked = (kind: string, node: KaNode, converted: { value?: unknown; findings: Finding[] }, into: Map<string, unknown>) => {
    findings.push(...converted.findings);
    // A definition with anything lossy is refused whole, so every instance naming it says so too.
    const value = converted.findings.some((f) => f.kind === 'lossy') ? undefined : converted.value;
    into.set(node.args[0] ?? '', value);
    explain(node, value ? `an entry of track.${kind} in each instance that names it` : 'nothing (refused)');
  };
  for (const node of nodes) {
    if (node.keyword === 'global_defs') {
      const converted = convertGlobalDefs(node);
      findings.push(...converted.findings);
      globals = converted.value!;
      const name = globals.node ? `node.name ${String(globals.node.name)} and ` : '';
      explain(node, `${name}defaults for every instance`);
    } else if (node.keyword === 'vrrp_sync_group') {
      const group = convertSyncGroup(node);
      findings.push(...group.findings);
      for (const member of group.value!.members) syncGroupOf.set(member, group.value!.name);
      const notify = group.value!.notify;
      if (notify) syncGroups.push({ name: group.value!.name, notify });
      explain(
        node,
        `sync_group: ${group.value!.name} on ${group.value!.members.join(', ') || 'no instance'}${notify ? ', and vrrp_sync_groups with its notify programs' : ''}`,
      );
    } else if (node.keyword === 'vrrp_script') {
      tracked('scripts', node, convertVrrpScript(node), scripts);
    } else if (node.keyword === 'track_file' || node.keyword === 'vrrp_track_file') {
      tracked('files', node, convertTrackFile(node), files);
    } else if (node.keyword === 'vrrp_track_process') {
      tracked('processes', node, convertTrackProcess(node), processes);
    } else if (node.keyword === 'virtual_server_group') {
      serverGroups.set(node.args[0] ?? '', node);
      explain(node, 'the vips / fwmarks of every virtual_server that names it');
    }
  }
  const ctx: ImportContext = { globals, syncGroupOf, serverGroups, scripts, files, processes };

  const vrrp: WrittenInstance[] = [];
  const services: WrittenService[] = [];
  for (const node of nodes) {
    switch (node.keyword) {
      case 'global_defs':
      case 'vrrp_sync_group':
      case 'virtual_server_group':
      case 'vrrp_script':
      case 'track_file':
      case 'vrrp_track_file':
      case 'vrrp_track_process':
        break;
      case 'vrrp_instance': {
        const instance = convertInstance(node, ctx);
        findings.push(...under(['vrrp', vrrp.length], instance.findings));
        vrrp.push(instance.value!);
        explain(node, `vrrp[${vrrp.length - 1}] ${String(instance.value!.name)}`);
        break;
      }
      case 'virtual_server': {
        const converted = convertVirtualServer(node, ctx);
        const at = services.length;
        findings.push(...under(['services', at], converted.findings));
        services.push(...(converted.value ?? []));
        const names = (converted.value ?? []).map((s) => String(s.name));
        const range = names.length > 1 ? `${at}..${at + names.length - 1}` : `${at}`;
        explain(node, names.length ? `services[${range}] ${names.join(', ')}` : 'nothing (refused)');
        break;
      }
      default:
        findings.push(unknownKeyword(node, 'the top level'));
        explain(node, 'nothing (refused)');
    }
  }
  findings.push(...dependentGlobals(globals, vrrp, syncGroups, services));
  const realtime = convertRealtime(globals, vrrp.length > 0);
  findings.push(...realtime.findings);
  // keepalived builds the table whoever holds the address; failoverd asks to be told so.
  const vips = new Set(vrrp.flatMap((v) => (v.vips ?? []).map((x) => String(typeof x === 'string' ? x : x.address).split('/')[0])));
  services.forEach((s, i) => {
    const addresses = [
      ...(s.vip !== undefined ? [String(s.vip)] : []),
      ...(s.vips ?? []).flatMap((entry) => {
        const range = parseVipRange(String(typeof entry === 'object' ? entry.address : entry));
        return range.ok ? range.addresses : [];
      }),
    ];
    const standalone = addresses.some((address) => !vips.has(address));
    if (standalone) services[i] = ordered({ ...s, vip_standalone: true }, SERVICE_KEYS);
  });
  const config: WrittenConfig = {};
  if (globals.node) config.node = globals.node;
  if (vrrp.length) config.vrrp = vrrp;
  if (syncGroups.length) config.vrrp_sync_groups = syncGroups;
  if (realtime.value) config.vrrp_realtime = realtime.value;
  if (services.length) config.services = services;
  if (globals.ipvs) config.ipvs = globals.ipvs;
  return { config, findings, explanations };
}
