// vrrp_instance → a failoverd vrrp[] entry, with keepalived's own semantics: strict mode
// drops authentication (keepalived does), a priority left out follows from `state`, AH
// has no equivalent and is refused; tracked scripts, files and processes take the
// definitions of the first pass, notify scripts become the instance's notify programs.
import { isIP } from 'node:net';
import type { ImportContext, VrrpDefaults } from './context.js';
import { lossy, notCarried, unknownKeyword, warning, type Converted, type Finding } from './findings.js';
import { commandOf } from './notify.js';
import type { KaNode } from './parse.js';
import { bool, duration, int, ordered, safeName, seconds } from './values.js';
import { weightOf, type FileDef, type ProcessDef, type ScriptDef, type TrackWeightDef } from './vrrp-script.js';
import type { WrittenGarp, WrittenInstance, WrittenTrack, WrittenTrackedInterface, WrittenVip, WrittenVrrpNotify } from './written.js';

/** vrrp[] keys in the order the schema documents them. */
const INSTANCE_KEYS: (keyof WrittenInstance)[] = [
  'name',
  'interface',
  'vrid',
  'priority',
  'version',
  'advert_interval',
  'preempt',
  'preempt_delay',
  'startup_delay',
  'unicast_source',
  'unicast_peers',
  'vips',
  'garp',
  'track',
  'notify',
  'sync_daemon',
  'sync_group',
  'auth',
  'checksum',
];

const NOTIFY_KEYS: Record<string, keyof WrittenVrrpNotify> = {
  notify_master: 'on_master',
  notify_backup: 'on_backup',
  notify_fault: 'on_fault',
  notify_stop: 'on_stop',
  notify: 'on_change',
};

/** notify_master/backup/fault/stop and notify (instance or sync group) into `into`; notify_deleted is refused. */
export function vrrpNotifyEntry(c: KaNode, into: WrittenVrrpNotify): Finding[] {
  const key = NOTIFY_KEYS[c.keyword];
  if (!key) {
    return [
      notCarried(
        c,
        c.keyword === 'notify_deleted'
          ? 'failoverd has no reload that deletes instances with their own notification'
          : 'not a keepalived notify keyword failoverd knows',
      ),
    ];
  }
  const command = commandOf(c);
  if (command.value !== undefined) (into as Record<string, string | string[]>)[key] = command.value;
  return command.findings;
}

/** The track_script / track_file / track_process entry's `NAME [weight N] [reverse|noreverse]`, over its definition's. */
function trackEntry(t: KaNode, def: TrackWeightDef): Converted<TrackWeightDef> {
  const at = t.args.indexOf('weight');
  if (at < 0) {
    if (t.args.length === 1 && ['reverse', 'noreverse', 'no_reverse'].includes(t.args[0]!))
      return { value: { weight: def.weight, reverse: t.args[0] === 'reverse' }, findings: [] };
    if (t.args.length) return { findings: [notCarried(t, 'expected NAME [weight N [reverse]]')] };
    return { value: def, findings: [] };
  }
  if (at !== 0) return { findings: [notCarried(t, 'expected NAME [weight N [reverse]]')] };
  return weightOf(t, t.args.slice(1));
}

/** The instance's own garp settings, in ms, before global_defs fills the gaps. */
interface OwnGarp {
  count?: number | undefined;
  interval?: number | undefined;
  refresh?: number | undefined;
  delay?: number | undefined;
}

export function convertInstance(node: KaNode, ctx: ImportContext): Converted<WrittenInstance> {
  const defaults = ctx.globals.vrrp;
  const findings: Finding[] = [];
  const out: WrittenInstance = { name: safeName(node.args[0] ?? 'instance') };
  if (out.name !== node.args[0]) {
    findings.push(warning(node, `instance name "${node.args[0] ?? ''}" written as ${String(out.name)}`));
  }
  const vips: WrittenVip[] = [];
  const trackInterfaces: WrittenTrackedInterface[] = [];
  const track: WrittenTrack = {};
  const notify: WrittenVrrpNotify = {};
  const garp: OwnGarp = {};
  let version: number | undefined;
  let state: string | undefined;
  let strict = defaults.strict;
  let accept: boolean | undefined;
  let auth: AuthBlock | undefined;
  for (const c of node.children ?? []) {
    const a = c.args;
    switch (c.keyword) {
      case 'state':
        state = a[0]?.toUpperCase();
        break;
      case 'interface':
        out.interface = a[0];
        break;
      case 'virtual_router_id':
        out.vrid = int(a[0]);
        break;
      case 'priority':
        out.priority = int(a[0]);
        break;
      case 'advert_int':
        out.advert_interval = durationOf(a[0]);
        break;
      case 'version':
        version = int(a[0]);
        break;
      case 'strict_mode':
        strict = bool(a[0]);
        break;
      case 'nopreempt':
      case 'no_preempt':
        out.preempt = false;
        break;
      case 'preempt':
        break;
      case 'preempt_delay':
        out.preempt_delay = durationOf(a[0]);
        break;
      case 'accept':
        accept = true;
        break;
      case 'no_accept':
        accept = false;
        break;
      case 'authentication':
        auth = { node: c };
        for (const x of c.children ?? []) {
          if (x.keyword === 'auth_pass') auth.password = x.args[0];
          else if (x.keyword === 'auth_type') {
            auth.type = x.args[0]?.toUpperCase();
            auth.typeNode = x;
          } else findings.push(unknownKeyword(x, 'authentication'));
        }
        break;
      case 'virtual_ipaddress':
        for (const v of c.children ?? []) {
          const vip = convertVip(v);
          findings.push(...vip.findings);
          if (vip.value) vips.push(vip.value);
        }
        break;
      case 'unicast_src_ip':
        out.unicast_source = a[0];
        break;
      case 'unicast_peer':
        out.unicast_peers = (c.children ?? []).map((p) => {
          if (p.args.length) findings.push(notCarried(p, "options after a unicast peer's address have no equivalent"));
          return p.keyword;
        });
        break;
      case 'track_interface':
        for (const t of c.children ?? []) {
          const tracked = convertTrackedInterface(t);
          findings.push(...tracked.findings);
          if (tracked.value) trackInterfaces.push(tracked.value);
        }
        break;
      case 'garp_master_repeat':
        garp.count = int(a[0]);
        break;
      case 'garp_master_refresh':
        garp.refresh = seconds(a[0]);
        break;
      case 'garp_interval':
        garp.interval = seconds(a[0]);
        break;
      case 'garp_master_delay':
        garp.delay = seconds(a[0]);
        break;
      case 'lvs_sync_daemon_interface':
        out.sync_daemon = { interface: a[0] };
        break;
      case 'old_unicast_checksum':
        out.checksum = 'without_pseudo_header';
        break;
      case 'debug':
        findings.push(warning(c, 'debug: keepalived log verbosity; set logging.level instead'));
        break;
      case 'smtp_alert':
        if (bool(a[0])) findings.push(notCarried(c, 'failoverd sends no email'));
        break;
      case 'notify_master':
      case 'notify_backup':
      case 'notify_fault':
      case 'notify_stop':
      case 'notify':
      case 'notify_deleted':
        findings.push(...vrrpNotifyEntry(c, notify));
        break;
      case 'track_script':
      case 'track_file':
      case 'track_process':
        findings.push(...trackedObjects(c, ctx, track));
        break;
      default:
        findings.push(unknownKeyword(c, 'vrrp_instance'));
    }
  }
  // keepalived: a priority left out is 255 (address owner) for state MASTER, else 100.
  if (out.priority === undefined) out.priority = state === 'MASTER' ? 255 : 100;
  if (state === 'MASTER' && out.priority !== 255) {
    findings.push(
      warning(
        node,
        'state MASTER: keepalived announces itself at once on start; failoverd waits one ' +
          'master-down interval as BACKUP, then the same election gives the same master',
      ),
    );
  }
  const firstVip = vips[0];
  const firstAddress = typeof firstVip === 'string' ? firstVip : String(firstVip?.address ?? '');
  const family = isIP(firstAddress.split('/')[0]!) === 6 ? 6 : 4;
  out.version = family === 6 ? 3 : (version ?? defaults.version ?? 2);
  if (auth) findings.push(...authFindings(auth, out, strict));
  if (strict) findings.push(...strictFindings(node, out, accept));
  else if (accept === false) {
    findings.push(lossy(node, 'no_accept: keepalived installs firewall rules that drop traffic to the VIPs; ' + 'failoverd installs none'));
  }
  if (vips.length) out.vips = vips;
  else findings.push(lossy(node, 'no virtual_ipaddress: failoverd needs at least one VIP per instance'));
  if (defaults.startupDelayMs) out.startup_delay = duration(defaults.startupDelayMs);
  if (trackInterfaces.length) track.interfaces = trackInterfaces;
  if (Object.keys(track).length) out.track = ordered(track, ['interfaces', 'services', 'scripts', 'files', 'processes']);
  if (Object.keys(notify).length) out.notify = ordered(notify, ['on_master', 'on_backup', 'on_fault', 'on_stop', 'on_change']);
  const garpOut = garpOf(garp, defaults.garp);
  if (Object.keys(garpOut).length) out.garp = garpOut;
  const global = defaults.syncDaemon;
  if (global && global.instance === node.args[0]) {
    out.sync_daemon = {
      interface: global.interface,
      ...(global.id !== undefined ? { sync_id: global.id } : {}),
      ...(global.group ? { group: global.group } : {}),
      ...(global.port !== undefined ? { port: global.port } : {}),
      ...(global.maxlen !== undefined ? { maxlen: global.maxlen } : {}),
      ...(global.ttl !== undefined ? { ttl: global.ttl } : {}),
    };
  }
  const sync = out.sync_daemon;
  if (sync && sync.sync_id === undefined) sync.sync_id = out.vrid;
  const group = ctx.syncGroupOf.get(node.args[0] ?? '');
  if (group) out.sync_group = group;
  return { value: ordered(out, INSTANCE_KEYS), findings };
}

interface AuthBlock {
  node: KaNode;
  typeNode?: KaNode;
  type?: string | undefined;
  password?: string | undefined;
}

function authFindings(auth: AuthBlock, out: WrittenInstance, strict: boolean): Finding[] {
  const type = auth.type ?? 'PASS';
  if (type === 'AH') {
    return [
      notCarried(
        auth.typeNode ?? auth.node,
        'failoverd speaks only PASS; the AH peer and failoverd would drop ' + "each other's adverts and both become MASTER",
      ),
    ];
  }
  if (type !== 'PASS') return [notCarried(auth.typeNode ?? auth.node, `keepalived knows PASS and AH only`)];
  // keepalived ignores authentication in strict mode and with VRRPv3 (vrrp.c, "does not support authentication").
  const ignored = (why: string) => [warning(auth.node, `authentication: ${why}; not written`)];
  if (strict) return ignored('keepalived ignores it under vrrp_strict, so the adverts carry none');
  if (out.version === 3) return ignored('keepalived ignores it with VRRP version 3');
  if (!auth.password) return ignored('without auth_pass keepalived sends none');
  out.auth = { password: auth.password.slice(0, 8) };
  return auth.password.length > 8 ? [warning(auth.node, 'auth_pass: longer than 8 characters; both send the first 8')] : [];
}

/** vrrp_strict's rules (keepalived.conf(5)) that change what failoverd would do. */
function strictFindings(node: KaNode, out: WrittenInstance, accept: boolean | undefined): Finding[] {
  const findings: Finding[] = [];
  const owner = out.priority === 255;
  // Strict mode: no_accept unless the address owner, and accept cannot be set with VRRPv2.
  const accepting = owner || (accept === true && out.version === 3);
  if (!accepting) {
    findings.push(
      lossy(
        node,
        'vrrp_strict: keepalived runs this instance in no_accept mode (it is not the address ' +
          'owner), installing firewall rules that drop traffic to the VIPs; failoverd installs none',
      ),
    );
  }
  if (out.unicast_peers?.length) {
    findings.push(lossy(node, 'vrrp_strict: keepalived rejects unicast peers in strict mode'));
  }
  if (out.preempt_delay !== undefined) {
    findings.push(lossy(node, 'vrrp_strict: keepalived does not support preempt_delay in strict mode'));
  }
  return findings;
}

/** track_interface's entries: INTERFACE [weight N [reverse]]. */
function convertTrackedInterface(t: KaNode): Converted<WrittenTrackedInterface> {
  const entry = trackEntry(t, { weight: 0, reverse: false });
  if (!entry.value) return { findings: entry.findings };
  return { value: { name: t.keyword, weight: entry.value.weight, ...(entry.value.reverse ? { reverse: true } : {}) }, findings: [] };
}

/** track_script / track_file / track_process: each entry names a first-pass definition. */
function trackedObjects(c: KaNode, ctx: ImportContext, track: WrittenTrack): Finding[] {
  const findings: Finding[] = [];
  const block = { track_script: 'vrrp_script', track_file: 'track_file', track_process: 'vrrp_track_process' }[c.keyword]!;
  const defs: ReadonlyMap<string, TrackWeightDef | undefined> =
    c.keyword === 'track_script' ? ctx.scripts : c.keyword === 'track_file' ? ctx.files : ctx.processes;
  for (const t of c.children ?? []) {
    if (!defs.has(t.keyword)) {
      // keepalived logs that it ignores the entry, and runs without it: so does the import.
      findings.push(warning(t, `${t.keyword}: no ${block} of that name; keepalived ignores the entry, and so does the import`));
      continue;
    }
    const def = defs.get(t.keyword);
    if (!def) {
      findings.push(notCarried(t, `its ${block} was refused`));
      continue;
    }
    const entry = trackEntry(t, def);
    findings.push(...entry.findings);
    if (!entry.value) continue;
    const { weight, reverse } = entry.value;
    const name = safeName(t.keyword);
    const weighted = { weight, ...(reverse ? { reverse: true } : {}) };
    if (c.keyword === 'track_script') {
      const { weight: _w, reverse: _r, ...script } = def as ScriptDef;
      (track.scripts ??= []).push(
        ordered({ name, ...script, ...weighted }, [
          'name',
          'command',
          'interval',
          'timeout',
          'rise',
          'fall',
          'initial',
          'weight',
          'reverse',
        ]),
      );
    } else if (c.keyword === 'track_file') {
      (track.files ??= []).push({ path: (def as FileDef).path, ...weighted });
    } else {
      const { weight: _w, reverse: _r, ...process } = def as ProcessDef;
      (track.processes ??= []).push(
        ordered({ name, ...process, ...weighted }, [
          'name',
          'process',
          'args',
          'param_match',
          'full_command',
          'quorum',
          'quorum_max',
          'delay_up',
          'delay_down',
          'weight',
          'reverse',
        ]),
      );
    }
  }
  return findings;
}

/** virtual_ipaddress's entries: ADDRESS[/PREFIX] [dev IFACE] [label LABEL]. */
function convertVip(v: KaNode): Converted<WrittenVip> {
  const [address, ...rest] = [v.keyword, ...v.args];
  if (isIP(address.split('/')[0]!) === 0) return { findings: [notCarried(v, 'not an IP address')] };
  const out: Exclude<WrittenVip, string> = { address };
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i]!;
    if (word === 'dev') out.interface = rest[++i];
    else if (word === 'label') out.label = rest[++i];
    else return { findings: [notCarried(v, `${word}: only dev and label have an equivalent`)] };
  }
  return { value: Object.keys(out).length === 1 ? address : out, findings: [] };
}

const durationOf = (text: string | undefined): string | undefined => {
  const ms = seconds(text);
  return ms === undefined ? undefined : duration(ms);
};

function garpOf(own: OwnGarp, defaults: VrrpDefaults['garp']): WrittenGarp {
  const count = own.count ?? defaults.count;
  const interval = own.interval ?? defaults.intervalMs;
  const refresh = own.refresh ?? defaults.refreshMs;
  const delay = own.delay ?? defaults.delayMs;
  return {
    ...(count !== undefined ? { count } : {}),
    ...(interval !== undefined ? { interval: duration(interval) } : {}),
    ...(refresh !== undefined ? { refresh: duration(refresh) } : {}),
    ...(delay !== undefined ? { delay: duration(delay) } : {}),
  };
}
