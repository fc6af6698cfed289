// What GET /status returns, as a pure function of the agent's state: the agent
// gathers the parts (VRRP instances, health monitor, drains, last checks, the
// reconciler's view) and this folds them into the stable JSON shape.
import type { AlertsStats } from '../alerts/alerts.js';
import type { InstanceStatus, LastCheck, RealServerStatus, ServiceStatus, StatusSnapshot, TrackStatus } from '../api/status-types.js';
import type { ServiceStatus as HealthServiceStatus } from '../health/monitor.js';
import { kernelSpecsOf, realServerKey } from '../health/types.js';
import type { LastResult } from '../health/worker-messages.js';
import { serviceKeyId, type ActualService } from '../ipvs/types.js';
import type { ScheduleStatus } from '../maintenance/scheduler.js';
import type { DrainStatus, OpsLogEntry } from '../ipvs/reconciler.js';
import type { VrrpStatus } from '../vrrp/instance.js';
import type { TrackedStatus } from '../vrrp/priority.js';
import type { RuntimePlan } from './map-config.js';

export interface AgentState {
  node: string;
  version: string;
  pid: number;
  startedAt: Date;
  config: { file: string; loadedAt: Date; generation: number };
  /** The plan in force: the configured priority, VIPs and real-server weights come from it. */
  plan: Pick<RuntimePlan, 'instances' | 'services'>;
  instances: readonly VrrpStatus[];
  /** Instance name → when its forced BACKUP ends. */
  forcedBackupUntil: ReadonlyMap<string, Date>;
  health: readonly HealthServiceStatus[];
  /** Whether an operator or a maintenance window drains this real server (a lookup, no side effects). */
  isDrained: (service: string, address: string, port: number) => boolean;
  /** Who drains it (admin, maintenance, schedule); absent: not reported. */
  drainedBy?: (service: string, address: string, port: number) => string[];
  /** Service name → when its maintenance began. */
  maintenance?: ReadonlyMap<string, Date>;
  /** Real servers or services removed from the config, waiting for their connections (the reconciler's). */
  draining?: DrainStatus[];
  /** The reconciler's last kernel operations. */
  ipvsOps?: OpsLogEntry[];
  /** "service|address:port" → that real server's last check result. */
  lastChecks: ReadonlyMap<string, LastResult>;
  ipvs: ActualService[];
  schedules: ScheduleStatus[];
  alerts?: AlertsStats;
  /** ECMP routing announcements (docs/ecmp.md), when a `routing:` section is configured. */
  routing?: NonNullable<StatusSnapshot['routing']>;
}

export function statusSnapshot(state: AgentState): StatusSnapshot {
  const instances: InstanceStatus[] = state.instances.map((s) => {
    const config = state.plan.instances.find((c) => c.name === s.name);
    const forcedUntil = state.forcedBackupUntil.get(s.name);
    const out: InstanceStatus = {
      name: s.name,
      state: s.state.toUpperCase(),
      priority: config?.priority ?? s.basePriority,
      effectivePriority: s.effectivePriority,
      vips: config?.vips ?? [],
    };
    const master = s.state === 'master' ? s.sourceAddress : s.masterAddress;
    if (master) out.master = master;
    if (config) {
      out.interface = config.interface;
      out.vrid = config.vrid;
    }
    if (s.lastTransition) {
      out.since = s.lastTransition.at;
      out.reason = s.lastTransition.reason;
    }
    if (forcedUntil) out.forcedBackupUntil = forcedUntil.toISOString();
    if (s.tracked?.length) out.track = s.tracked.map((t) => trackStatus(t, s.faults));
    return out;
  });
  // While a reload waits for the health worker, the plan is already the new one and
  // the monitor's status still the old: a service on its way out is left out.
  const services: ServiceStatus[] = state.health.flatMap((svc) => {
    const spec = state.plan.services.find((s) => s.name === svc.name);
    if (!spec) return [];
    const keys = kernelSpecsOf(spec).map((k) => serviceKeyId(k.key));
    const key = groupKeyText(keys);
    const inIpvs = state.ipvs.filter((a) => keys.includes(serviceKeyId(a.service.key)));
    const maintenanceSince = state.maintenance?.get(svc.name);
    return {
      name: svc.name,
      key,
      ...(spec.groupKeys ? { keys } : {}),
      quorum: { required: svc.quorum, up: svc.liveWeight, met: svc.quorumUp },
      ...(maintenanceSince ? { maintenanceSince: maintenanceSince.toISOString() } : {}),
      realServers: svc.realServers.map((rs): RealServerStatus => {
        const drained = state.isDrained(svc.name, rs.address, rs.port);
        const by = drained ? state.drainedBy?.(svc.name, rs.address, rs.port) : undefined;
        // A group's real server serves every kernel service of it: its connections are the sum.
        const inKernel = drained ? inIpvs.flatMap((a) => a.destinations.filter((d) => d.address === rs.address && d.port === rs.port)) : [];
        const kernel = inKernel.length
          ? {
              activeConnections: inKernel.reduce((n, d) => n + d.activeConnections, 0),
              inactiveConnections: inKernel.reduce((n, d) => n + d.inactiveConnections, 0),
            }
          : undefined;
        const last = state.lastChecks.get(realServerKey(svc.name, rs));
        const configured = spec.realServers.find((r) => r.address === rs.address && r.port === rs.port)?.weight ?? rs.weight;
        return {
          address: rs.address,
          port: rs.port,
          state: rs.up ? 'up' : 'down',
          weight: drained || !rs.up ? 0 : rs.weight,
          configuredWeight: configured,
          ...(drained ? { drained: true } : {}),
          ...(by?.length ? { drainedBy: by } : {}),
          ...(kernel ? { connections: { active: kernel.activeConnections, inactive: kernel.inactiveConnections } } : {}),
          ...(last ? { checkType: last.type, lastCheck: lastCheckOf(last) } : {}),
          reason: rs.reason,
          since: rs.since,
        };
      }),
    };
  });
  return {
    node: state.node,
    version: state.version,
    pid: state.pid,
    startedAt: state.startedAt.toISOString(),
    config: {
      file: state.config.file,
      loadedAt: state.config.loadedAt.toISOString(),
      generation: state.config.generation,
    },
    instances,
    services,
    ipvs: state.ipvs,
    ...(state.draining?.length ? { draining: state.draining } : {}),
    ...(state.ipvsOps?.length ? { ipvsOps: state.ipvsOps } : {}),
    schedules: state.schedules,
    ...(state.alerts ? { alerts: state.alerts } : {}),
    ...(state.routing ? { routing: state.routing } : {}),
  };
}

function trackStatus(t: TrackedStatus, faults: readonly string[]): TrackStatus {
  const out: TrackStatus = {
    kind: t.kind,
    name: t.name,
    weight: t.weight,
    state: typeof t.value === 'number' ? String(t.value) : t.value ? 'up' : 'down',
  };
  if (faults.includes(`${t.kind}/${t.name}`)) out.fault = true;
  return out;
}

function lastCheckOf(last: LastResult): LastCheck {
  return { ok: last.ok, reason: last.reason, latencyMs: last.latencyMs, at: new Date(last.atMs).toISOString() };
}

/** The one-line summary systemd shows (STATUS=) after start and each reload. */
export function statusLine(generation: number, services: number, instances: readonly Pick<VrrpStatus, 'name' | 'state'>[]): string {
  const states = instances.map((i) => `${i.name}=${i.state}`).join(' ');
  return `generation ${generation}; ${services} services; ${states || 'no vrrp'}`;
}

/** One service's address for the status table: its key, or a group's first and last keys and how many. */
export function groupKeyText(keys: readonly string[]): string {
  if (keys.length <= 2) return keys.join(', ');
  return `${keys[0]} … ${keys[keys.length - 1]} (${keys.length} services)`;
}
