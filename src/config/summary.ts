// A human summary of a valid config, for `failoverd check`.
import { chooseChecksThread } from '../health/checks-thread.js';
import type { HealthServiceConfig } from '../health/types.js';
import { formatDuration } from './duration.js';
import type { CheckConfig, FailoverdConfig, ServiceConfig } from './schema.js';

const hostPort = (address: string, port: number) => (address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`);

const text = (value: unknown, fallback: string): string =>
  typeof value === 'string' || typeof value === 'number' ? String(value) : fallback;

function describeCheck(c: CheckConfig): string {
  const o = c.options;
  const what =
    c.type === 'http' || c.type === 'https'
      ? `${c.type} ${text(o['method'], 'GET')} ${text(o['path'], '/')}`
      : c.type === 'exec'
        ? `exec ${Array.isArray(o['command']) ? (o['command'] as string[]).join(' ') : String(o['command'])}`
        : c.type === 'tcp' && o['connect_port']
          ? `tcp port ${text(o['connect_port'], '')}`
          : c.type;
  return `${what} every ${formatDuration(c.interval)} (timeout ${formatDuration(c.timeout)}, rise ${c.rise}, fall ${c.fall}, starts ${c.initial})`;
}

/** `services`: the config's services as the agent runs them (the plan's), for where their checks run. */
export function summarizeConfig(config: FailoverdConfig, services: readonly HealthServiceConfig[]): string {
  const out: string[] = [];
  out.push(`node ${config.node.name ?? '(host name)'}`);
  out.push(`vrrp instances: ${config.vrrp.length}`);
  for (const v of config.vrrp) {
    const extras = [
      v.unicast_peers.length ? `unicast to ${v.unicast_peers.join(', ')}` : 'multicast',
      v.preempt ? (v.preempt_delay ? `preempt after ${formatDuration(v.preempt_delay)}` : 'preempt') : 'no preempt',
      ...(v.sync_group ? [`sync group ${v.sync_group}`] : []),
      ...(v.sync_daemon ? [`sync daemon on ${v.sync_daemon.interface} id ${v.sync_daemon.sync_id ?? v.vrid}`] : []),
    ];
    out.push(
      `  ${v.name}: ${v.interface} vrid ${v.vrid} VRRPv${v.version} priority ${v.priority} advert ${formatDuration(v.advert_interval)}; VIPs ${v.vips.map((x) => `${x.address}/${x.prefix}${x.interface ? ` dev ${x.interface}` : ''}`).join(', ')}; ${extras.join(', ')}`,
    );
    const weight = (t: { weight: number; reverse: boolean }) => `(${t.weight || 'fault'}${t.reverse ? ' reverse' : ''})`;
    const tracked = [
      ...v.track.interfaces.map((t) => `interface ${t.name} ${weight(t)}`),
      ...v.track.services.map((t) => `service ${t.name} ${weight(t)}`),
      ...v.track.scripts.map((t) => `script ${t.name} ${weight(t)}`),
      ...v.track.files.map((t) => `file ${t.path} ${weight(t)}`),
      ...v.track.processes.map((t) => `process ${t.name} ${weight(t)}`),
    ];
    if (tracked.length) out.push(`    tracks ${tracked.join(', ')}`);
    const notify = Object.keys(v.notify ?? {}).filter((k) => k.startsWith('on_'));
    if (notify.length) out.push(`    notify ${notify.join(', ')}`);
  }
  const realServers = config.services.reduce((n, s) => n + s.real_servers.length, 0);
  const checks = config.services.reduce((n, s) => n + s.real_servers.reduce((m, rs) => m + rs.checks.length, 0), 0);
  out.push(`services: ${config.services.length}, real servers: ${realServers}, checks: ${checks}`);
  if (checks > 0) {
    const where = chooseChecksThread(config.health.checks_thread, services);
    out.push(`  the checks run on the ${where.thread} thread (${where.reason})`);
  }
  for (const s of config.services) {
    const memberText = (m: ServiceConfig['members'][number]) =>
      'fwmark' in m ? `fwmark ${m.fwmark}` : `${s.protocol} ${hostPort(m.vip, m.port)}`;
    const key =
      s.vips !== undefined || s.fwmarks !== undefined
        ? `group of ${s.members.length} (${s.family}): ${s.members.length > 3 ? `${memberText(s.members[0]!)} … ${memberText(s.members.at(-1)!)}` : s.members.map(memberText).join(', ')}`
        : s.fwmark !== undefined
          ? `fwmark ${s.fwmark} (${s.family})`
          : `${s.protocol} ${hostPort(s.vip!, s.port)}`;
    const extras = [
      ...(s.persistence ? [`persistence ${formatDuration(s.persistence)}`] : []),
      `quorum ${s.quorum}${s.hysteresis ? `±${s.hysteresis}` : ''}`,
      `on failure ${s.on_failure}`,
      ...(s.sorry_server
        ? [`sorry server ${hostPort(s.sorry_server.address, s.sorry_server.port)}${s.sorry_server.inhibit ? ' (inhibit)' : ''}`]
        : []),
    ];
    out.push(
      `  ${s.name}: ${key} ${s.scheduler}${s.scheduler_flags.length ? `(${s.scheduler_flags.join(',')})` : ''} ${s.forwarding}; ${extras.join(', ')}`,
    );
    for (const rs of s.real_servers) {
      out.push(
        `    ${hostPort(rs.address, rs.port)} weight ${rs.weight}${rs.forwarding !== s.forwarding ? ` ${rs.forwarding}` : ''}${rs.on_failure !== s.on_failure ? ` on failure ${rs.on_failure}` : ''}: ${rs.checks.length ? rs.checks.map(describeCheck).join('; ') : 'no check (always up)'}`,
      );
    }
  }
  out.push(`alerts: ${config.alerts.webhooks.length} webhook(s), ${config.alerts.notify.length} notify program(s)`);
  for (const sc of config.schedules) {
    out.push(
      `schedule ${sc.name ?? ''}${sc.name ? ': ' : ''}${sc.action} ${sc.action === 'drain' ? `${sc.service}/${sc.real_server}` : `${sc.instance}${sc.by ? ` by ${sc.by}` : ''}`} at "${sc.cron}" ${sc.timezone} for ${formatDuration(sc.for)}`,
    );
  }
  out.push(
    `api: ${config.api.listen}; metrics: ${config.api.metrics === false ? 'off' : config.api.metrics}; on stop: ${config.on_stop} the IPVS table and addresses`,
  );
  return `${out.join('\n')}\n`;
}
