// Rules that span keys or sections, run once the shape is valid: names are unique,
// services point at VIPs some instance carries, families agree, quorum is reachable.
// Addresses arrive canonical from the schema (net/address.ts), so comparing their text
// compares the addresses.
import { isIP } from 'node:net';
import { endpointMatches } from '../net/address.js';
import type { ConfigPathSegment } from './errors.js';
import type { FailoverdConfig } from './schema.js';
import { MAX_GROUP_ADDRESSES } from './vip-range.js';
import { gatingServices, serviceVips } from '../routing/gating.js';

export interface CrossProblem {
  severity: 'error' | 'warning';
  segments: ConfigPathSegment[];
  message: string;
}

// The document as written, before validation: any shape. Read only to tell a missing key from a default.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
type Raw = Record<string, any>;

const familyOf = (address: string): 'inet' | 'inet6' => (isIP(address) === 6 ? 'inet6' : 'inet');
const familyText = (f: 'inet' | 'inet6') => (f === 'inet6' ? 'IPv6' : 'IPv4');

/** `raw` is the document as written (to tell a missing key from a default). */
export function crossCheck(config: FailoverdConfig, raw: Raw): CrossProblem[] {
  const problems: CrossProblem[] = [];
  const error = (segments: ConfigPathSegment[], message: string) => problems.push({ severity: 'error', segments, message });
  const warn = (segments: ConfigPathSegment[], message: string) => problems.push({ severity: 'warning', segments, message });

  const uniqueNames = (section: string, items: Array<{ name?: string | undefined }>) => {
    const seen = new Map<string, number>();
    items.forEach((item, i) => {
      if (!item.name) return;
      const first = seen.get(item.name);
      if (first === undefined) seen.set(item.name, i);
      else error([section, i, 'name'], `duplicate name "${item.name}" (also ${section}[${first}])`);
    });
  };
  uniqueNames('vrrp', config.vrrp);
  uniqueNames('services', config.services);
  uniqueNames('schedules', config.schedules);

  const serviceNames = config.services.map((s) => s.name);
  const instanceNames = config.vrrp.map((v) => v.name);

  // ---- vrrp ----
  const vridOwner = new Map<string, number>();
  const vipOwner = new Map<string, number>();
  const syncGroups = new Map<string, number[]>();
  let syncDaemon: { index: number; text: string } | undefined;
  config.vrrp.forEach((v, i) => {
    const at = (...rest: ConfigPathSegment[]) => ['vrrp', i, ...rest];
    const family = familyOf(v.vips[0]!.address);
    v.vips.forEach((vip, j) => {
      const owner = vipOwner.get(vip.address);
      if (owner !== undefined && owner !== i)
        error(at('vips', j), `${vip.address} is already a VIP of vrrp[${owner}] ("${config.vrrp[owner]!.name}")`);
      else vipOwner.set(vip.address, i);
    });
    const vridKey = `${v.interface}/${family}/${v.vrid}`;
    const other = vridOwner.get(vridKey);
    if (other !== undefined)
      error(
        at('vrid'),
        `VRID ${v.vrid} is already used on ${v.interface} by vrrp[${other}] ("${config.vrrp[other]!.name}"); VRIDs must be unique per interface and address family`,
      );
    else vridOwner.set(vridKey, i);

    // One instance's own rules (versions, families, peers, weights) are the VRRP module's:
    // vrrp/config.ts, run by config/validate.ts. Here: what spans instances or sections.
    if (v.checksum !== 'standard' && (v.version !== 3 || family !== 'inet'))
      error(at('checksum'), 'checksum applies only to VRRP version 3 over IPv4');
    v.track.services.forEach((t, j) => {
      if (!serviceNames.includes(t.name))
        error(at('track', 'services', j, 'name'), `no service named "${t.name}" (services: ${serviceNames.join(', ') || 'none'})`);
    });
    if (v.sync_group) syncGroups.set(v.sync_group, [...(syncGroups.get(v.sync_group) ?? []), i]);
    if (v.sync_daemon) {
      // The kernel runs one sync daemon per role, so every instance must describe the same one.
      const text = JSON.stringify({ ...v.sync_daemon, sync_id: v.sync_daemon.sync_id ?? v.vrid });
      if (!syncDaemon) syncDaemon = { index: i, text };
      else if (syncDaemon.text !== text)
        error(
          at('sync_daemon'),
          `differs from vrrp[${syncDaemon.index}].sync_daemon; the kernel runs one sync daemon, so every instance that names it must give the same interface, sync_id, group and port`,
        );
    }
    if (v.priority === 255 && v.preempt === false) warn(at('preempt'), 'an address owner (priority 255) always preempts');
  });
  for (const [group, members] of syncGroups) {
    if (members.length === 1)
      warn(['vrrp', members[0]!, 'sync_group'], `sync group "${group}" has only this instance, so it has no effect`);
  }

  // ---- services ----
  const allVips = new Set(config.vrrp.flatMap((v) => v.vips.map((x) => x.address)));
  // An announced VIP (routing mode) is carried like a VRRP one.
  for (const a of config.routing.announce) for (const vip of a.vips) allVips.add(vip);
  const serviceKeys = new Map<string, number>();
  config.services.forEach((s, i) => {
    const at = (...rest: ConfigPathSegment[]) => ['services', i, ...rest];
    // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access -- Raw, as written
    const r: Raw = raw?.services?.[i] ?? {};
    const group = s.vips !== undefined || s.fwmarks !== undefined;
    const forms = [s.vip !== undefined, s.fwmark !== undefined, group].filter(Boolean).length;
    if (forms === 0) error(at('vip'), 'missing required key: a service needs vip and port, fwmark, or a group (vips, fwmarks)');
    else if (s.vip !== undefined && s.fwmark !== undefined) error(at('fwmark'), 'give either vip (with port) or fwmark, not both');
    else if (forms > 1)
      error(
        at(s.vips !== undefined ? 'vips' : 'fwmarks'),
        `a group (vips, fwmarks) replaces ${s.vip !== undefined ? 'vip' : 'fwmark'}; give one of them`,
      );
    if (s.vip !== undefined) {
      if (r.port === undefined) error(at('port'), 'missing required key (expected a port number 0-65535; 0 = all ports, with persistence)');
      else if (s.port === 0 && s.persistence === 0) error(at('port'), 'port 0 (all ports) needs persistence');
      if (r.family !== undefined) error(at('family'), 'family is only for fwmark services (a vip service takes its family from the vip)');
      if (!s.vip_standalone && !allVips.has(s.vip)) {
        error(
          at('vip'),
          `${s.vip} is not a VIP of any vrrp instance (${allVips.size ? `VIPs: ${[...allVips].join(', ')}` : 'there are none'}); add it to an instance's vips or set vip_standalone: true`,
        );
      }
    } else if (s.fwmark !== undefined || (s.fwmarks !== undefined && s.vips === undefined)) {
      if (r.port !== undefined) error(at('port'), 'a fwmark service has no port (the mark selects the traffic)');
      if (r.protocol !== undefined) error(at('protocol'), 'a fwmark service has no protocol (the mark selects the traffic)');
    }
    if (s.vips !== undefined && forms === 1) groupVipRules(s, r, at);

    s.members.forEach((m, j) => {
      const key = 'fwmark' in m ? `fwmark ${m.fwmark} ${s.family}` : `${s.protocol} ${m.vip}:${m.port}`;
      const dup = serviceKeys.get(key);
      if (dup === undefined) serviceKeys.set(key, i);
      else if (forms === 1 || !group) {
        const place = memberPlace(s, j);
        error(
          at(...place),
          dup === i
            ? `the group lists the virtual service ${key} twice`
            : `the same virtual service (${key}) as services[${dup}] ("${config.services[dup]!.name}")`,
        );
      }
    });

    if (s.tunnel && s.forwarding !== 'tun' && !s.real_servers.some((rs) => rs.forwarding === 'tun'))
      error(at('tunnel'), 'tunnel applies only with forwarding: tun');
    // What IPVS itself refuses (scheduler flags, one_packet, netmasks, destinations) is
    // ipvs/rules.ts's, run by config/validate.ts.
    if (s.persistence_netmask !== undefined && s.persistence === 0) warn(at('persistence_netmask'), 'has no effect without persistence');

    let totalWeight = 0;
    const memberPorts = [...new Set(s.members.flatMap((m) => ('vip' in m ? [m.port] : [])))];
    s.real_servers.forEach((rs, k) => {
      const rsAt = (...rest: ConfigPathSegment[]) => at('real_servers', k, ...rest);
      const otherPorts = memberPorts.filter((p) => p !== rs.port);
      if (rs.forwarding === 'dr' && otherPorts.length > 0)
        warn(rsAt('port'), `direct routing cannot change the port: packets reach the real server on port ${otherPorts.join(', ')}`);
      // eslint-disable-next-line @typescript-eslint/no-unsafe-member-access -- Raw, as written
      if (r.real_servers?.[k]?.check !== undefined) checkTimeouts(rs.checks, rsAt('check'), r.real_servers[k].check, true);
      totalWeight += rs.weight;
    });
    if (r.check !== undefined) checkTimeouts(s.checks, at('check'), r.check);
    if (s.sorry_server && familyOf(s.sorry_server.address) !== s.family)
      error(at('sorry_server', 'address'), `expected an ${familyText(s.family)} address like the service's, got ${s.sorry_server.address}`);
    if (s.quorum > totalWeight)
      error(
        at('quorum'),
        `quorum ${s.quorum} is more than the total weight of the real servers (${totalWeight}), so the service could never be up`,
      );
    else if (s.hysteresis > 0 && s.quorum + s.hysteresis > totalWeight)
      error(
        at('hysteresis'),
        `quorum + hysteresis (${s.quorum + s.hysteresis}) is more than the total weight of the real servers (${totalWeight}), so quorum could never come back once lost`,
      );
    if (s.checks.length === 0 && s.real_servers.length > 0 && s.real_servers.every((rs) => rs.checks.length === 0))
      warn(at('real_servers'), 'no check on any real server: they are always considered up');
  });

  /** A group's addresses: one family, within the size cap, carried by a vrrp instance (or vip_standalone), with a port. */
  function groupVipRules(s: FailoverdConfig['services'][number], r: Raw, at: (...rest: ConfigPathSegment[]) => ConfigPathSegment[]): void {
    const entries = s.vips ?? [];
    const family = s.family;
    let total = 0;
    const missing: string[] = [];
    entries.forEach((entry, j) => {
      total += entry.addresses.length;
      const first = entry.addresses[0];
      if (first !== undefined && familyOf(first) !== family)
        error(
          at('vips', j),
          `${entry.range} is ${familyText(familyOf(first))}, but the group's first entry is ${familyText(family)}; a group has one address family`,
        );
      if (entry.port === undefined && r.port === undefined)
        error(at('vips', j), 'no port: give the service a port, or this entry as {address, port}');
      else if ((entry.port ?? s.port) === 0 && s.persistence === 0) error(at('vips', j), 'port 0 (all ports) needs persistence');
      if (!s.vip_standalone) missing.push(...entry.addresses.filter((a) => !allVips.has(a)));
    });
    if (total > MAX_GROUP_ADDRESSES)
      error(
        at('vips'),
        `the group has ${total} addresses, more than ${MAX_GROUP_ADDRESSES} (each is a kernel service with every real server)`,
      );
    if (r.family !== undefined)
      error(at('family'), 'family is only for fwmark services (a group of vips takes its family from its addresses)');
    if (missing.length > 0) {
      const shown = missing.length > 5 ? `${missing.slice(0, 5).join(', ')} and ${missing.length - 5} more` : missing.join(', ');
      error(
        at('vips'),
        `${shown} ${missing.length === 1 ? 'is' : 'are'} not a VIP of any vrrp instance; add ${missing.length === 1 ? 'it' : 'them'} to an instance's vips or set vip_standalone: true`,
      );
    }
  }

  function checkTimeouts(
    checks: Array<{ timeout: number; interval: number }>,
    base: ConfigPathSegment[],
    written: unknown,
    inherits = false,
  ): void {
    checks.forEach((c, j) => {
      if (c.timeout <= c.interval) return;
      const path = Array.isArray(written) ? [...base, j] : base;
      const own = (Array.isArray(written) ? written[j] : written) as Raw | undefined;
      // Timing a server's check inherited from the service's was already reported there.
      if (inherits && own?.timeout === undefined && own?.interval === undefined) return;
      warn(
        own?.timeout !== undefined ? [...path, 'timeout'] : path,
        `timeout (${c.timeout}ms) is longer than interval (${c.interval}ms): the next run waits for it`,
      );
    });
  }

  routingRules(config, error);

  // ---- schedules ----
  config.schedules.forEach((sc, i) => {
    const at = (...rest: ConfigPathSegment[]) => ['schedules', i, ...rest];
    if (sc.action === 'drain') {
      if (sc.service === undefined) error(at('service'), 'missing required key: drain needs service and real_server');
      if (sc.real_server === undefined) error(at('real_server'), 'missing required key: drain needs service and real_server');
      if (sc.instance !== undefined) error(at('instance'), 'instance is for demote, not drain');
      if (sc.by !== undefined) error(at('by'), 'by is for demote, not drain');
      const service = config.services.find((s) => s.name === sc.service);
      if (sc.service !== undefined && !service)
        error(at('service'), `no service named "${sc.service}" (services: ${serviceNames.join(', ') || 'none'})`);
      if (service && sc.real_server !== undefined) {
        const match = service.real_servers.some((rs) => endpointMatches(sc.real_server!, rs));
        if (!match)
          error(
            at('real_server'),
            `service "${service.name}" has no real server ${sc.real_server} (it has ${service.real_servers.map((rs) => `${rs.address}:${rs.port}`).join(', ') || 'none'})`,
          );
      }
    } else {
      if (sc.instance === undefined) error(at('instance'), 'missing required key: demote needs instance');
      else if (!instanceNames.includes(sc.instance))
        error(at('instance'), `no vrrp instance named "${sc.instance}" (instances: ${instanceNames.join(', ') || 'none'})`);
      if (sc.service !== undefined) error(at('service'), 'service is for drain, not demote');
      if (sc.real_server !== undefined) error(at('real_server'), 'real_server is for drain, not demote');
    }
  });

  return problems;
}

/** Where member j of a service was written: its vips entry, its fwmarks entry, or vip / fwmark. */
function memberPlace(s: FailoverdConfig['services'][number], j: number): ConfigPathSegment[] {
  const m = s.members[j]!;
  if ('fwmark' in m) {
    const k = s.fwmarks?.indexOf(m.fwmark) ?? -1;
    return k >= 0 ? ['fwmarks', k] : ['fwmark'];
  }
  if (!s.vips) return ['port'];
  let seen = s.vip !== undefined ? 1 : 0;
  for (const [k, entry] of s.vips.entries()) {
    seen += entry.addresses.length;
    if (j < seen) return ['vips', k];
  }
  return ['vips'];
}

/** Routing mode (docs/ecmp.md): announced VIPs are not VRRP VIPs, and ECMP must not reset flows. */
function routingRules(config: FailoverdConfig, error: (segments: ConfigPathSegment[], message: string) => void): void {
  const routing = config.routing;
  const vrrpVip = new Map(config.vrrp.flatMap((v) => v.vips.map((x) => [x.address, v.name] as const)));
  const announcedBy = new Map<string, number>();
  const names = new Map<string, number>();
  const serviceNames = config.services.map((s) => s.name);
  routing.announce.forEach((a, i) => {
    const at = (...rest: ConfigPathSegment[]) => ['routing', 'announce', i, ...rest];
    const first = names.get(a.name);
    if (first !== undefined) error(at('name'), `duplicate name "${a.name}" (also routing.announce[${first}])`);
    else names.set(a.name, i);
    a.vips.forEach((vip, j) => {
      const instance = vrrpVip.get(vip);
      if (instance !== undefined)
        error(
          at('vips', j),
          `${vip} is a VIP of vrrp instance "${instance}": a VIP is either held by VRRP or announced by routing, not both`,
        );
      const other = announcedBy.get(vip);
      if (other !== undefined && other !== i) error(at('vips', j), `${vip} is already announced by routing.announce[${other}]`);
      else announcedBy.set(vip, i);
    });
    a.services?.forEach((name, j) => {
      if (!serviceNames.includes(name))
        error(at('services', j), `no service named "${name}" (services: ${serviceNames.join(', ') || 'none'})`);
    });
    const gating = gatingServices(a, config.services);
    if (gating.length === 0)
      error(
        at('services'),
        `no service serves ${a.vips.join(', ')}, so nothing could gate the announcement; add a service on these VIPs or list services`,
      );
  });
  if (routing.allow_flow_resets) return;
  if (routing.announce.length > 0 && !routing.sloppy) {
    error(
      ['routing', 'sloppy'],
      'without sloppy, a director that receives a flow moved by ECMP resets it; set sloppy: true or routing.allow_flow_resets: true',
    );
  }
  config.services.forEach((s, i) => {
    const vip = serviceVips(s).find((v) => announcedBy.has(v));
    if (vip === undefined) return;
    const announced = `${vip} is announced by routing.announce[${announcedBy.get(vip)}]`;
    if (s.scheduler !== 'mh' && s.scheduler !== 'sh') {
      error(
        ['services', i, 'scheduler'],
        `${announced}: scheduler ${s.scheduler} picks a different real server on each director, so a flow that ECMP moves is reset; use mh (scheduler_flags: [port]) or set routing.allow_flow_resets: true`,
      );
    }
    // NAT's replies return through the real server's gateway, one director, which has no
    // entry for the flows the other directors scheduled: they break even without a move.
    const nat = `NAT sends the replies through the real server's gateway, one director, which does not know the flows the other directors scheduled; use dr or tun, or set routing.allow_flow_resets: true`;
    if (s.forwarding === 'nat') error(['services', i, 'forwarding'], `${announced}: ${nat}`);
    else
      s.real_servers.forEach((rs, j) => {
        if (rs.forwarding === 'nat') error(['services', i, 'real_servers', j, 'forwarding'], `${announced}: ${nat}`);
      });
  });
}
