import { destinationId, serviceKeyId } from '../ipvs/types.js';
import { formatTable } from '../table.js';
import type { StatusSnapshot } from './status-types.js';

function ago(iso: string | undefined, now: number): string {
  if (!iso) return '';
  const s = Math.round((now - Date.parse(iso)) / 1000);
  if (!Number.isFinite(s)) return '';
  if (s < 0) return `in ${fmtSeconds(-s)}`;
  return `${fmtSeconds(s)} ago`;
}

function fmtSeconds(s: number): string {
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

/** The human form of `failoverd status`. */
export function formatStatus(snapshot: StatusSnapshot, now = Date.now()): string {
  const out: string[] = [];
  const version = snapshot.version ? ` ${snapshot.version}` : '';
  const config = snapshot.config?.file
    ? `, config ${snapshot.config.file}${snapshot.config.loadedAt ? ` (loaded ${ago(snapshot.config.loadedAt, now)})` : ''}`
    : '';
  out.push(`node ${snapshot.node} — failoverd${version}${snapshot.pid ? `, pid ${snapshot.pid}` : ''}${config}`);

  out.push('', 'VRRP instances');
  out.push(
    snapshot.instances.length
      ? formatTable(
          ['NAME', 'STATE', 'PRIO', 'MASTER', 'VIPS', 'SINCE', 'REASON'],
          snapshot.instances.map((i) => [
            i.name,
            i.state,
            i.effectivePriority === i.priority ? String(i.priority) : `${i.effectivePriority} (${i.priority})`,
            i.master ?? '',
            i.vips.join(','),
            ago(i.since, now),
            i.forcedBackupUntil ? `forced backup until ${i.forcedBackupUntil}` : (i.reason ?? ''),
          ]),
        )
      : '  (none)',
  );

  out.push('', 'Services');
  out.push(
    snapshot.services.length
      ? formatTable(
          ['SERVICE', 'ADDRESS', 'QUORUM', 'REAL SERVER', 'STATE', 'WEIGHT', 'CHECK', 'LATENCY', 'REASON'],
          snapshot.services.flatMap((s) => {
            const quorum = `${s.quorum.up}/${s.quorum.required}${s.quorum.met ? '' : ' LOST'}${s.maintenanceSince ? ' MAINT' : ''}`;
            const rows = s.realServers.map((r, idx) => [
              idx === 0 ? s.name : '',
              idx === 0 ? s.key : '',
              idx === 0 ? quorum : '',
              destinationId(r),
              r.drained ? `${r.state},drained${r.drainedBy?.length ? ` (${r.drainedBy.join(',')})` : ''}` : r.state,
              r.weight === r.configuredWeight ? String(r.weight) : `${r.weight} (${r.configuredWeight})`,
              r.lastCheck
                ? `${r.checkType ?? ''}${r.checkType ? ' ' : ''}${r.lastCheck.ok ? 'ok' : 'fail'} ${ago(r.lastCheck.at, now)}`
                : (r.checkType ?? ''),
              r.lastCheck ? `${r.lastCheck.latencyMs.toFixed(1)}ms` : '',
              r.reason ?? r.lastCheck?.reason ?? '',
            ]);
            return rows.length ? rows : [[s.name, s.key, quorum, '(no real servers)', '', '', '', '', '']];
          }),
        )
      : '  (none)',
  );

  const tracks = snapshot.instances.flatMap((i) =>
    (i.track ?? []).map((t) => [i.name, `${t.kind}/${t.name}`, String(t.weight), t.fault ? `${t.state} FAULT` : t.state]),
  );
  if (tracks.length) {
    out.push('', 'Tracking');
    out.push(formatTable(['INSTANCE', 'TRACKS', 'WEIGHT', 'STATE'], tracks));
  }

  // A drain is in progress while a drained real server still has connections, or a removed one waits for them.
  const drains = snapshot.services.flatMap((s) =>
    s.realServers
      .filter((r) => r.drained)
      .map((r) => [
        s.name,
        destinationId(r),
        (r.drainedBy ?? []).join(','),
        r.connections ? String(r.connections.active) : '',
        r.connections ? String(r.connections.inactive) : '',
        r.connections ? (r.connections.active === 0 ? 'done' : 'draining') : 'not in IPVS',
      ]),
  );
  for (const d of snapshot.draining ?? []) {
    drains.push([
      d.service,
      d.destination ?? '(whole service)',
      'removed',
      String(d.connections),
      '',
      `deleted in ${fmtSeconds(Math.ceil(d.remainingMs / 1000))}`,
    ]);
  }
  const maint = snapshot.services.filter((s) => s.maintenanceSince);
  if (drains.length || maint.length) {
    out.push('', 'Drains');
    if (maint.length)
      out.push(...maint.map((s) => `  ${s.name}: maintenance since ${s.maintenanceSince} (${ago(s.maintenanceSince, now)})`));
    if (drains.length) out.push(formatTable(['SERVICE', 'REAL SERVER', 'BY', 'ACTIVE', 'INACT', 'STATE'], drains));
  }

  if (snapshot.ipvs) {
    out.push('', 'IPVS table');
    const rows: string[][] = [];
    for (const s of snapshot.ipvs) {
      rows.push([
        serviceKeyId(s.service.key),
        s.service.scheduler,
        '',
        '',
        '',
        '',
        String(s.stats?.connections ?? ''),
        String(s.stats?.packetsIn ?? ''),
        String(s.stats?.bytesIn ?? ''),
      ]);
      for (const d of s.destinations) {
        rows.push([
          `  -> ${destinationId(d)}`,
          '',
          d.forwarding,
          String(d.weight),
          String(d.activeConnections),
          String(d.inactiveConnections),
          String(d.stats?.connections ?? ''),
          String(d.stats?.packetsIn ?? ''),
          String(d.stats?.bytesIn ?? ''),
        ]);
      }
    }
    out.push(
      rows.length
        ? formatTable(['SERVICE / DESTINATION', 'SCHED', 'FWD', 'WEIGHT', 'ACTIVE', 'INACT', 'CONNS', 'PKTS IN', 'BYTES IN'], rows)
        : '  (empty)',
    );
  }

  if (snapshot.ipvsOps?.length) {
    out.push('', 'Recent IPVS changes');
    out.push(
      formatTable(
        ['AT', 'OP', 'SERVICE', 'REAL SERVER', 'RESULT', 'WHY'],
        snapshot.ipvsOps.map((o) => [o.at, o.op, o.service, o.destination ?? '', o.result, o.reason]),
      ),
    );
  }

  if (snapshot.routing?.length) {
    out.push('', 'Routing announcements');
    out.push(
      formatTable(
        ['NAME', 'VIPS', 'STATE', 'SINCE', 'REASON'],
        snapshot.routing.map((r) => [
          r.name,
          r.vips.join(','),
          r.announced ? 'ANNOUNCED' : r.phase === 'stopping' ? 'WITHDRAWN (stopping)' : 'WITHDRAWN',
          r.since,
          r.reason,
        ]),
      ),
    );
  }

  if (snapshot.schedules?.length) {
    out.push('', 'Maintenance schedules');
    out.push(
      formatTable(
        ['NAME', 'ACTION', 'TARGET', 'CRON', 'ZONE', 'STATE'],
        snapshot.schedules.map((s) => [
          s.name,
          s.action,
          s.target,
          s.cron,
          s.timezone,
          s.active ? `ACTIVE until ${s.until ?? '?'}` : s.nextStart ? `next ${s.nextStart}` : 'idle',
        ]),
      ),
    );
  }

  const hooks = snapshot.alerts?.webhooks ?? [];
  if (hooks.length) {
    out.push('', 'Webhooks');
    out.push(
      formatTable(
        ['ENDPOINT', 'QUEUED', 'DELIVERED', 'FAILED', 'DROPPED', 'LAST ERROR'],
        hooks.map((w) => [w.name, String(w.queueDepth), String(w.delivered), String(w.failed), String(w.dropped), w.lastError ?? '']),
      ),
    );
  }
  return `${out.join('\n')}\n`;
}
