// A stand-in for the agent behind the status API: a StatusSource, AdminActions and
// MetricsSources over one small mutable state. Used by the unit and netns API tests.
import { AdminError, type AdminActions, type StatusSnapshot, type StatusSource } from '../../../src/api/status-types.js';
import type { MetricsSources } from '../../../src/metrics/metrics.js';
import type { ActualService } from '../../../src/ipvs/types.js';

const stats = (connections: number) => ({
  connections,
  packetsIn: connections * 10,
  packetsOut: 0,
  bytesIn: connections * 1000,
  bytesOut: 0,
  cps: 0,
  ppsIn: 0,
  ppsOut: 0,
  bpsIn: 0,
  bpsOut: 0,
});

export function fakeAgent() {
  const ipvs: ActualService[] = [
    {
      service: {
        key: { kind: 'address', family: 'inet', protocol: 'tcp', address: '10.6.2.195', port: 80 },
        scheduler: 'wlc',
        flags: {},
        persistenceTimeoutSec: 0,
        netmask: '255.255.255.255',
      },
      stats: stats(30),
      destinations: [
        {
          address: '10.6.2.191',
          port: 80,
          weight: 1,
          forwarding: 'dr',
          upperThreshold: 0,
          lowerThreshold: 0,
          activeConnections: 2,
          inactiveConnections: 5,
          persistentConnections: 0,
          stats: stats(20),
        },
        {
          address: '10.6.2.192',
          port: 80,
          weight: 1,
          forwarding: 'dr',
          upperThreshold: 0,
          lowerThreshold: 0,
          activeConnections: 1,
          inactiveConnections: 3,
          persistentConnections: 0,
          stats: stats(10),
        },
      ],
    },
  ];
  const snapshot: StatusSnapshot = {
    node: 'lvs-a',
    version: '0.1.0',
    pid: 4242,
    startedAt: '2026-05-01T12:00:00.000Z',
    config: { file: '/etc/failoverd/failoverd.yaml', loadedAt: '2026-05-01T12:00:00.000Z', generation: 1 },
    instances: [
      {
        name: 'web',
        state: 'MASTER',
        priority: 150,
        effectivePriority: 150,
        master: '10.6.2.1',
        interface: 'eth0',
        vrid: 51,
        vips: ['10.6.2.195/32'],
        since: '2026-05-01T12:00:03.000Z',
        reason: 'master down timer expired',
      },
    ],
    services: [
      {
        name: 'web-80',
        key: 'tcp:10.6.2.195:80',
        quorum: { required: 1, up: 2, met: true },
        realServers: [
          {
            address: '10.6.2.191',
            port: 80,
            state: 'up',
            weight: 1,
            configuredWeight: 1,
            checkType: 'http',
            lastCheck: { ok: true, reason: 'status 200', latencyMs: 1.8, at: '2026-05-01T12:05:00.000Z' },
          },
          {
            address: '10.6.2.192',
            port: 80,
            state: 'up',
            weight: 1,
            configuredWeight: 1,
            checkType: 'tcp',
            lastCheck: { ok: true, reason: 'connected', latencyMs: 0.4, at: '2026-05-01T12:05:00.000Z' },
          },
        ],
      },
    ],
    ipvs,
    schedules: [
      {
        name: 'sunday',
        cron: '0 3 * * 0',
        timezone: 'UTC',
        forMs: 1_800_000,
        action: 'drain',
        target: 'service/web-80/10.6.2.191',
        active: false,
        nextStart: '2026-05-03T03:00:00.000Z',
      },
    ],
    alerts: {
      webhooks: [
        {
          name: 'https://hooks.example/lvs',
          url: 'https://hooks.example/lvs',
          queueDepth: 0,
          inFlight: false,
          delivered: 7,
          failed: 1,
          attemptFailures: 3,
          dropped: 0,
          lastError: 'HTTP 500',
        },
      ],
      notify: [],
    },
  };
  const calls: string[] = [];
  const status: StatusSource = { snapshot: () => structuredClone(snapshot) };
  const admin: AdminActions = {
    drain(service, realServer, on) {
      calls.push(`drain ${service} ${realServer} ${on}`);
      const rs = snapshot.services
        .find((s) => s.name === service)
        ?.realServers.find((r) => r.address === realServer || `${r.address}:${r.port}` === realServer);
      if (!rs) throw new AdminError(404, `no real server ${realServer} in service ${service}`);
      rs.drained = on;
      rs.weight = on ? 0 : rs.configuredWeight;
    },
    forceBackup(instance, forMs) {
      calls.push(`forceBackup ${instance} ${forMs}`);
      const i = snapshot.instances.find((x) => x.name === instance);
      if (!i) throw new AdminError(404, `no VRRP instance ${instance}`);
      i.state = forMs > 0 ? 'BACKUP' : 'MASTER';
      if (forMs > 0) i.forcedBackupUntil = new Date(Date.UTC(2026, 4, 1, 13) + forMs).toISOString();
      else delete i.forcedBackupUntil;
    },
    maintenance(service, on) {
      calls.push(`maintenance ${service} ${on}`);
      const svc = snapshot.services.find((s) => s.name === service);
      if (!svc) throw new AdminError(404, `no service ${service}`);
      if (on) svc.maintenanceSince = '2026-05-01T13:00:00.000Z';
      else delete svc.maintenanceSince;
      for (const rs of svc.realServers) {
        rs.drained = on;
        rs.weight = on ? 0 : rs.configuredWeight;
      }
    },
    resign(instance) {
      calls.push(`resign ${instance}`);
      const i = snapshot.instances.find((x) => x.name === instance);
      if (!i) throw new AdminError(404, `no VRRP instance ${instance}`);
      const wasMaster = i.state === 'MASTER';
      i.state = 'BACKUP';
      return wasMaster;
    },
    auditIpvs() {
      calls.push('auditIpvs');
      return { drift: 1, ops: 1, failed: 0, converged: true };
    },
  };
  const sources: MetricsSources = {
    vrrp: () =>
      snapshot.instances.map((i) => ({
        instance: i.name,
        state: i.state,
        effectivePriority: i.effectivePriority,
        advertsSent: 120,
        advertsReceived: 3,
        advertsDropped: { bad_checksum: 2, wrong_vrid: 1 },
      })),
    realServers: () =>
      snapshot.services.flatMap((s) =>
        s.realServers.map((r) => ({ service: s.name, address: r.address, port: r.port, up: r.state === 'up', weight: r.weight })),
      ),
    ipvs: async () => ({ services: ipvs, names: { 'tcp:10.6.2.195:80': 'web-80' } }),
    alerts: () => snapshot.alerts!,
    schedules: () => snapshot.schedules!,
  };
  return { snapshot, status, admin, sources, calls };
}
