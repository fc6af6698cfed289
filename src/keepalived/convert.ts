// keepalived.conf (parsed) → a failoverd config document. Everything with an
// equivalent is carried over with keepalived's defaults made explicit (VRRP version 2,
// NAT forwarding, delay_loop 60s, connect_timeout 5s, real servers up until a check
// fails unless alpha); everything else becomes a warning with the keepalived file:line.
import { isIP } from 'node:net';
import { formatDuration } from '../config/duration.js';
import type { KaNode, KaProblem } from './parse.js';

export interface ConvertResult {
  /** Plain data in failoverd.yaml's shape (durations as text). */
  config: Record<string, unknown>;
  warnings: KaProblem[];
}

type Obj = Record<string, unknown>;

const SCHEDULERS = new Set(['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'fo', 'ovf', 'mh', 'twos']);

/** keepalived timers are seconds, possibly fractional ("5.5"). */
function seconds(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+(\.\d+)?$/.test(text)) return undefined;
  return Math.round(Number(text) * 1000);
}

const duration = (ms: number) => formatDuration(ms);
const int = (text: string | undefined) => (text !== undefined && /^-?\d+$/.test(text) ? Number(text) : undefined);
const safeName = (text: string) => text.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[^A-Za-z0-9]/, 'x$&');
const literal = (text: string) => text.replace(/\$\{/g, '$${');

interface CheckDefaults {
  interval?: number;
  timeout?: number;
  retry?: number;
  delayBeforeRetry?: number;
  warmup?: number;
  alpha?: boolean;
  virtualhost?: string;
}

export function convertKeepalived(nodes: KaNode[]): ConvertResult {
  const warnings: KaProblem[] = [];
  const warn = (node: KaNode, message: string) => warnings.push({ file: node.file, line: node.line, message });
  const notCarried = (node: KaNode, why = '') => warn(node, `${node.keyword}${node.args.length ? ` ${node.args.join(' ')}` : ''}: not carried over${why ? ` (${why})` : ''}`);

  const config: Obj = {};
  const instances: Obj[] = [];
  const services: Obj[] = [];
  const notify: Obj[] = [];
  const syncGroupOf = new Map<string, string>();
  let defaultVersion: number | undefined;
  let startupDelay: number | undefined;
  const garpDefaults: Obj = {};
  let globalSync: { node: KaNode; interface: string; instance?: string; id?: number; port?: number; group?: string } | undefined;

  const addNotify = (node: KaNode, events: string[], what: string) => {
    const [program, ...args] = node.args;
    if (!program || !program.startsWith('/')) { notCarried(node, 'a notify program must be an absolute path'); return; }
    const words = program.split(/\s+/);
    notify.push({ program: literal(words[0]!), events });
    warn(node, `${node.keyword}: carried over as alerts.notify for ${events.join(', ')}; failoverd runs ${words[0]} on ${what} with FAILOVERD_* variables${events.includes('vrrp.state') ? ' and arguments INSTANCE NAME STATE PRIORITY' : ''}${words.length > 1 || args.length ? `; its arguments "${[...words.slice(1), ...args].join(' ')}" are dropped` : ''}`);
  };

  // ---- first pass: global_defs and sync groups, which other blocks depend on ----
  for (const node of nodes) {
    if (node.keyword === 'global_defs') {
      for (const g of node.children ?? []) {
        switch (g.keyword) {
          case 'router_id': if (g.args[0]) config['node'] = { name: g.args[0] }; break;
          case 'vrrp_version': defaultVersion = int(g.args[0]); break;
          case 'vrrp_startup_delay': startupDelay = seconds(g.args[0]); break;
          case 'vrrp_garp_master_repeat': garpDefaults['count'] = int(g.args[0]); break;
          case 'vrrp_garp_master_refresh': garpDefaults['refresh'] = seconds(g.args[0]); break;
          case 'vrrp_garp_interval': garpDefaults['interval'] = seconds(g.args[0]); break;
          case 'vrrp_garp_master_delay': garpDefaults['delay'] = seconds(g.args[0]); break;
          case 'lvs_sync_daemon': {
            const [ifname, ...rest] = g.args;
            const s: NonNullable<typeof globalSync> = { node: g, interface: ifname ?? '' };
            for (let i = 0; i < rest.length; i++) {
              const word = rest[i]!;
              if (word === 'inst') s.instance = rest[++i];
              else if (word === 'id') s.id = int(rest[++i]);
              else if (word === 'port') s.port = int(rest[++i]);
              else if (word === 'group') s.group = rest[++i];
              else if (word === 'maxlen' || word === 'ttl') { warn(g, `lvs_sync_daemon ${word}: not carried over`); i++; }
              else if (s.instance === undefined) s.instance = word;
            }
            globalSync = s;
            break;
          }
          case 'notification_email': case 'notification_email_from': case 'smtp_server': case 'smtp_connect_timeout': case 'smtp_alert':
            notCarried(g, 'failoverd sends no email; use alerts.webhooks or alerts.notify'); break;
          default: notCarried(g);
        }
      }
    } else if (node.keyword === 'vrrp_sync_group') {
      const group = safeName(node.args[0] ?? 'group');
      for (const c of node.children ?? []) {
        if (c.keyword === 'group') for (const member of (c.children ?? [])) syncGroupOf.set(member.keyword, group);
        else if (c.keyword === 'notify' || c.keyword.startsWith('notify_')) addNotify(c, ['vrrp.state'], 'every VRRP state change of any instance');
        else notCarried(c);
      }
    }
  }

  // ---- instances and services ----
  for (const node of nodes) {
    switch (node.keyword) {
      case 'global_defs': case 'vrrp_sync_group': break;
      case 'vrrp_instance': instances.push(convertInstance(node)); break;
      case 'virtual_server': {
        const s = convertService(node);
        if (s) services.push(s);
        break;
      }
      case 'vrrp_script': notCarried(node, 'failoverd has no VRRP track scripts; track a service (track.services) or use an exec check'); break;
      case 'virtual_server_group': notCarried(node, 'define one service per address, or a fwmark service'); break;
      default: notCarried(node);
    }
  }

  if (globalSync) {
    const target = instances.find((i) => i['name'] === globalSync!.instance) ?? (globalSync.instance === undefined && instances.length === 1 ? instances[0] : undefined);
    if (!target) warn(globalSync.node, `lvs_sync_daemon: no vrrp_instance "${globalSync.instance ?? ''}" to attach it to; not carried over`);
    else target['sync_daemon'] = { interface: globalSync.interface, sync_id: globalSync.id ?? target['vrid'], ...(globalSync.port ? { port: globalSync.port } : {}), ...(globalSync.group ? { group: globalSync.group } : {}) };
  }

  // A service whose VIP no instance carries is managed elsewhere (or by hand).
  const vips = new Set(instances.flatMap((i) => (i['vips'] as Array<string | Obj>).map((v) => String(typeof v === 'string' ? v : v['address']).split('/')[0])));
  for (const s of services) {
    if (typeof s['vip'] === 'string' && !vips.has(s['vip'])) s['vip_standalone'] = true;
  }

  if (instances.length) config['vrrp'] = instances;
  if (services.length) config['services'] = services;
  if (notify.length) config['alerts'] = { notify };
  return { config, warnings };

  // ---------------------------------------------------------------------------
  function convertInstance(node: KaNode): Obj {
    const name = safeName(node.args[0] ?? 'instance');
    const out: Obj = { name };
    const vips: Array<string | Obj> = [];
    const track: { interfaces: Obj[] } = { interfaces: [] };
    const garp: Obj = { ...garpDefaults };
    let version: number | undefined;
    let password: string | undefined;
    let authNode: KaNode | undefined;
    for (const c of node.children ?? []) {
      const a = c.args;
      switch (c.keyword) {
        case 'state':
          if (a[0] === 'MASTER') warn(c, 'state MASTER: failoverd starts every instance as BACKUP and the highest priority becomes MASTER (give this director the higher priority)');
          break;
        case 'interface': out['interface'] = a[0]; break;
        case 'virtual_router_id': out['vrid'] = int(a[0]); break;
        case 'priority': out['priority'] = int(a[0]); break;
        case 'advert_int': { const ms = seconds(a[0]); if (ms !== undefined) out['advert_interval'] = duration(ms); break; }
        case 'version': version = int(a[0]); break;
        case 'nopreempt': out['preempt'] = false; break;
        case 'preempt_delay': { const ms = seconds(a[0]); if (ms !== undefined) out['preempt_delay'] = duration(ms); break; }
        case 'authentication':
          authNode = c;
          for (const x of c.children ?? []) {
            if (x.keyword === 'auth_pass') password = x.args[0];
            else if (x.keyword === 'auth_type' && x.args[0] !== 'PASS') warn(x, `auth_type ${x.args[0] ?? ''}: only PASS authentication is carried over`);
          }
          break;
        case 'virtual_ipaddress': case 'virtual_ipaddress_excluded':
          if (c.keyword === 'virtual_ipaddress_excluded') warn(c, 'virtual_ipaddress_excluded: carried over as ordinary VIPs (failoverd lists every VIP in its adverts)');
          for (const v of c.children ?? []) {
            const vip = convertVip(v);
            if (vip) vips.push(vip);
          }
          break;
        case 'unicast_src_ip': out['unicast_source'] = a[0]; break;
        case 'unicast_peer':
          out['unicast_peers'] = (c.children ?? []).map((p) => {
            if (p.args.length) warn(p, `unicast_peer ${p.keyword} ${p.args.join(' ')}: options after the address are not carried over`);
            return p.keyword;
          });
          break;
        case 'track_interface':
          for (const t of c.children ?? []) {
            const weight = t.args[0] === 'weight' ? int(t.args[1]) : undefined;
            if (weight !== undefined && (weight < -254 || weight > 254)) warn(t, `weight ${weight} out of range, clamped`);
            track.interfaces.push({ name: t.keyword, weight: weight === undefined ? 0 : Math.max(-254, Math.min(254, weight)) });
          }
          break;
        case 'garp_master_repeat': garp['count'] = int(a[0]); break;
        case 'garp_master_refresh': garp['refresh'] = seconds(a[0]); break;
        case 'garp_interval': garp['interval'] = seconds(a[0]); break;
        case 'garp_master_delay': garp['delay'] = seconds(a[0]); break;
        case 'lvs_sync_daemon_interface': out['sync_daemon'] = { interface: a[0] }; break;
        case 'old_unicast_checksum': out['checksum'] = 'without_pseudo_header'; break;
        case 'notify_master': case 'notify_backup': case 'notify_fault': case 'notify_stop': case 'notify':
          addNotify(c, ['vrrp.state'], c.keyword === 'notify' ? 'every VRRP state change' : `every VRRP state change (not only ${c.keyword.slice(7).toUpperCase()}; the third argument is the new state)`);
          break;
        case 'track_script': notCarried(c, 'failoverd has no VRRP track scripts; track a service (track.services) or use an exec check'); break;
        default: notCarried(c);
      }
    }
    const family = vips.length && isIP(String(typeof vips[0] === 'string' ? vips[0] : (vips[0] as Obj)['address']).split('/')[0]!) === 6 ? 6 : 4;
    out['version'] = version ?? defaultVersion ?? (family === 6 ? 3 : 2);
    if (password !== undefined) {
      if (out['version'] === 2) out['auth'] = { password: password.slice(0, 8) };
      else warn(authNode!, 'authentication: VRRP version 3 has none; not carried over');
      if (password.length > 8) warn(authNode!, 'auth_pass: longer than 8 characters; VRRP carries the first 8, as keepalived does');
    }
    if (vips.length) out['vips'] = vips;
    if (startupDelay) out['startup_delay'] = duration(startupDelay);
    if (track.interfaces.length) out['track'] = track;
    const garpOut: Obj = {};
    if (garp['count'] !== undefined) garpOut['count'] = garp['count'];
    if (garp['interval'] !== undefined) garpOut['interval'] = duration(garp['interval'] as number);
    if (garp['refresh'] !== undefined) garpOut['refresh'] = duration(garp['refresh'] as number);
    if (garp['delay'] !== undefined) garpOut['delay'] = duration(garp['delay'] as number);
    if (Object.keys(garpOut).length) out['garp'] = garpOut;
    if (out['sync_daemon'] && (out['sync_daemon'] as Obj)['sync_id'] === undefined) (out['sync_daemon'] as Obj)['sync_id'] = out['vrid'];
    const group = syncGroupOf.get(node.args[0] ?? '');
    if (group) out['sync_group'] = group;
    return order(out, ['name', 'interface', 'vrid', 'priority', 'version', 'advert_interval', 'preempt', 'preempt_delay', 'startup_delay', 'unicast_source', 'unicast_peers', 'vips', 'garp', 'track', 'sync_daemon', 'sync_group', 'auth', 'checksum']);
  }

  function convertVip(v: KaNode): string | Obj | undefined {
    const [address, ...rest] = [v.keyword, ...v.args];
    const bare = address!.split('/')[0]!;
    if (isIP(bare) === 0) { notCarried(v, 'not an IP address'); return undefined; }
    const out: Obj = { address: address! };
    for (let i = 0; i < rest.length; i++) {
      const word = rest[i]!;
      if (word === 'dev') out['interface'] = rest[++i];
      else if (word === 'label') out['label'] = rest[++i];
      else { warn(v, `virtual_ipaddress ${address} ${word}: only dev and label are carried over`); if (['brd', 'broadcast', 'scope', 'preferred_lft'].includes(word)) i++; }
    }
    return Object.keys(out).length === 1 ? address! : out;
  }

  function forwardingOf(c: KaNode): { forwarding: string; tunnel?: Obj } | undefined {
    const [method, ...rest] = c.args;
    const m = method?.toUpperCase();
    if (m === 'DR' || m === 'NAT') return { forwarding: m.toLowerCase() };
    if (m === 'TUN') {
      const tunnel: Obj = {};
      for (let i = 0; i < rest.length; i++) {
        const word = rest[i]!;
        if (word === 'type') tunnel['type'] = rest[++i];
        else if (word === 'port') tunnel['port'] = int(rest[++i]);
        else if (word === 'nocsum') tunnel['checksum'] = 'none';
        else if (word === 'csum' || word === 'remcsum') tunnel['checksum'] = word;
      }
      return { forwarding: 'tun', ...(Object.keys(tunnel).length ? { tunnel } : {}) };
    }
    notCarried(c, 'expected NAT, DR or TUN');
    return undefined;
  }

  function checkDefaultsFrom(c: KaNode, d: CheckDefaults): boolean {
    switch (c.keyword) {
      case 'delay_loop': d.interval = seconds(c.args[0]); return true;
      case 'connect_timeout': d.timeout = seconds(c.args[0]); return true;
      case 'retry': case 'nb_get_retry': d.retry = int(c.args[0]); return true;
      case 'delay_before_retry': d.delayBeforeRetry = seconds(c.args[0]); return true;
      case 'warmup': d.warmup = seconds(c.args[0]); return true;
      case 'alpha': d.alpha = c.args[0] === undefined || /^(on|yes|true)$/i.test(c.args[0]); return true;
      case 'virtualhost': d.virtualhost = c.args[0]; return true;
      default: return false;
    }
  }

  function convertService(node: KaNode): Obj | undefined {
    const out: Obj = {};
    if (node.args[0] === 'group') { notCarried(node, 'virtual_server group: define one service per address, or a fwmark service'); return undefined; }
    const fwmark = node.args[0] === 'fwmark';
    if (fwmark) out['fwmark'] = int(node.args[1]);
    else { out['vip'] = node.args[0]; out['port'] = int(node.args[1]) ?? 0; }
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
          else notCarried(c, 'unknown scheduler');
          break;
        case 'lb_kind': case 'lvs_method': { const f = forwardingOf(c); if (f) forwarding = f; break; }
        case 'protocol': protocol = (a[0] ?? 'TCP').toLowerCase(); break;
        case 'persistence_timeout': out['persistence'] = duration(seconds(a[0]) ?? 360_000); break;
        case 'persistence_granularity': out['persistence_netmask'] = a[0] && /^\d+$/.test(a[0]) ? Number(a[0]) : a[0]; break;
        case 'persistence_engine': out['persistence_engine'] = a[0]; break;
        case 'quorum': out['quorum'] = int(a[0]); break;
        case 'hysteresis': out['hysteresis'] = int(a[0]); break;
        case 'inhibit_on_failure': inhibit = a[0] === undefined || /^(on|yes|true)$/i.test(a[0]); break;
        case 'sorry_server': out['sorry_server'] = { address: a[0], ...(a[1] ? { port: int(a[1]) } : {}) }; break;
        case 'sorry_server_lvs_method': { const f = forwardingOf(c); if (f && out['sorry_server']) (out['sorry_server'] as Obj)['forwarding'] = f.forwarding; break; }
        case 'ops': out['one_packet'] = true; break;
        case 'sh-port': case 'mh-port': flags.push('port'); break;
        case 'sh-fallback': case 'mh-fallback': flags.push('fallback'); break;
        case 'ip_family': if (fwmark) out['family'] = a[0]; break;
        case 'real_server': realServerNodes.push(c); break;
        case 'quorum_up': case 'quorum_down':
          notCarried(c, 'use alerts.notify with events [quorum.*]'); break;
        default: notCarried(c);
      }
    }
    if (!fwmark) out['protocol'] = protocol;
    out['forwarding'] = forwarding.forwarding;
    if (forwarding.tunnel) out['tunnel'] = forwarding.tunnel;
    if (flags.length) out['scheduler_flags'] = [...new Set(flags)];
    if (inhibit) out['on_failure'] = 'inhibit';
    const vipText = fwmark ? `fwmark-${String(out['fwmark'])}` : `${safeName(String(out['vip']))}-${String(out['port'])}`;
    out['name'] = fwmark || protocol === 'tcp' ? vipText : `${vipText}-${protocol}`;
    if (out['sorry_server'] && !(out['sorry_server'] as Obj)['port'] && !fwmark) (out['sorry_server'] as Obj)['port'] = out['port'];

    const servers = realServerNodes.map((rs) => convertRealServer(rs, defaults, forwarding.forwarding, Boolean(inhibit)));
    const inhibitServers = servers.filter((s) => s.inhibit).length;
    if (inhibitServers > 0 && inhibitServers === servers.length) out['on_failure'] = 'inhibit';
    else if (inhibitServers > 0) warn(node, `inhibit_on_failure on only some real servers: failoverd sets it per service; left as on_failure: ${inhibit ? 'inhibit' : 'remove'}`);

    // Identical checks on every server are written once, on the service.
    const checkTexts = servers.map((s) => JSON.stringify(s.checks));
    const realServers = servers.map((s) => s.out);
    if (servers.length > 0 && checkTexts.every((t) => t === checkTexts[0]) && servers[0]!.checks.length > 0) {
      out['check'] = servers[0]!.checks.length === 1 ? servers[0]!.checks[0] : servers[0]!.checks;
    } else {
      servers.forEach((s, i) => { if (s.checks.length) realServers[i]!['check'] = s.checks.length === 1 ? s.checks[0] : s.checks; });
    }
    out['real_servers'] = realServers;
    const total = realServers.reduce((n, rs) => n + Number(rs['weight'] ?? 1), 0);
    const quorum = (out['quorum'] as number | undefined) ?? 1;
    if (quorum > total) {
      warn(node, `quorum ${quorum} is more than the real servers' total weight ${total}; set to ${total} so the configuration is valid`);
      out['quorum'] = total;
    }
    const hysteresis = (out['hysteresis'] as number | undefined) ?? 0;
    if (hysteresis > 0 && Math.min(quorum, total) + hysteresis > total) {
      warn(node, `hysteresis ${hysteresis} would keep quorum from ever coming back (total weight ${total}); set to ${Math.max(0, total - Math.min(quorum, total))}`);
      out['hysteresis'] = Math.max(0, total - Math.min(quorum, total));
    }
    return order(out, ['name', 'vip', 'port', 'protocol', 'fwmark', 'family', 'vip_standalone', 'scheduler', 'scheduler_flags', 'one_packet', 'forwarding', 'tunnel', 'persistence', 'persistence_netmask', 'persistence_engine', 'quorum', 'hysteresis', 'on_failure', 'sorry_server', 'check', 'real_servers']);
  }

  function convertRealServer(node: KaNode, serviceDefaults: CheckDefaults, serviceForwarding: string, serviceInhibit: boolean): { out: Obj; checks: Obj[]; inhibit: boolean } {
    const out: Obj = { address: node.args[0] };
    if (node.args[1] !== undefined) out['port'] = int(node.args[1]);
    const defaults: CheckDefaults = { ...serviceDefaults };
    let inhibit = serviceInhibit;
    const checkers: KaNode[] = [];
    for (const c of node.children ?? []) {
      if (checkDefaultsFrom(c, defaults)) continue;
      switch (c.keyword) {
        case 'weight': out['weight'] = int(c.args[0]); break;
        case 'lvs_method': case 'lb_kind': { const f = forwardingOf(c); if (f && f.forwarding !== serviceForwarding) out['forwarding'] = f.forwarding; if (f?.tunnel) out['tunnel'] = f.tunnel; break; }
        case 'uthreshold': out['upper_threshold'] = int(c.args[0]); break;
        case 'lthreshold': out['lower_threshold'] = int(c.args[0]); break;
        case 'inhibit_on_failure': inhibit = c.args[0] === undefined || /^(on|yes|true)$/i.test(c.args[0]); break;
        case 'notify_up': case 'notify_down': addNotify(c, ['realserver.*'], 'every real server transition'); break;
        case 'TCP_CHECK': case 'HTTP_GET': case 'SSL_GET': case 'MISC_CHECK': checkers.push(c); break;
        case 'DNS_CHECK': case 'SMTP_CHECK': case 'BFD_CHECK': case 'FILE_CHECK': case 'PING_CHECK': case 'UDP_CHECK':
          notCarried(c, 'no such check type in failoverd; an exec check can run an equivalent program'); break;
        default: notCarried(c);
      }
    }
    if (out['weight'] === undefined) out['weight'] = 1;
    const checks = checkers.flatMap((c) => convertChecker(c, defaults));
    return { out, checks, inhibit };
  }

  function convertChecker(node: KaNode, inherited: CheckDefaults): Obj[] {
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
        case 'url': if (http) urls.push(c); else notCarried(c); break;
        case 'misc_path': if (node.keyword === 'MISC_CHECK') options['command'] = literal(c.args.join(' ')); else notCarried(c); break;
        case 'misc_timeout': miscTimeout = seconds(c.args[0]); break;
        case 'misc_dynamic': options['misc_dynamic'] = true; break;
        default: notCarried(c);
      }
    }
    const type = node.keyword === 'TCP_CHECK' ? 'tcp' : node.keyword === 'HTTP_GET' ? 'http' : node.keyword === 'SSL_GET' ? 'https' : 'exec';
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
      if (!options['command']) { warn(node, 'MISC_CHECK without misc_path: not carried over'); return []; }
      return [{ ...common, ...options }];
    }
    if (!http) return [{ ...common, ...options }];
    if (type === 'https') {
      options['tls_verify'] = false;
      warn(node, 'SSL_GET: keepalived does not verify the server certificate, so tls_verify is false; set it to true once the real servers have valid certificates');
    }
    if (urls.length === 0) {
      warn(node, `${node.keyword} without url: checking path / for a 2xx status`);
      return [{ ...common, path: '/', ...(d.virtualhost ? { host: d.virtualhost } : {}), ...options }];
    }
    return urls.map((u) => {
      const check: Obj = { ...common };
      let host = d.virtualhost;
      for (const x of u.children ?? []) {
        switch (x.keyword) {
          case 'path': check['path'] = x.args[0]; break;
          case 'status_code': check['expect_status'] = x.args.map((s) => (/^\d+$/.test(s) ? Number(s) : s)); break;
          case 'virtualhost': host = x.args[0]; break;
          case 'regex': check['expect_body'] = literal(x.args[0] ?? ''); break;
          case 'digest': notCarried(x, 'keepalived digests are MD5; failoverd\'s digest is SHA-256 of the body, so compute it anew (sha256sum)'); break;
          default: notCarried(x);
        }
      }
      if (host) check['host'] = host;
      return { ...check, ...options };
    });
  }
}

function order(o: Obj, keys: string[]): Obj {
  const out: Obj = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  for (const [k, v] of Object.entries(o)) if (!(k in out) && v !== undefined) out[k] = v;
  return out;
}
