// The status snapshot as a pure function: every field of GET /status from the agent's
// state, with no agent, socket or clock involved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planOf } from '../../../src/agent/map-config.js';
import { statusLine, statusSnapshot, type AgentState } from '../../../src/agent/status.js';
import type { ServiceStatus as HealthServiceStatus } from '../../../src/health/monitor.js';
import type { VrrpCounters, VrrpStatus } from '../../../src/vrrp/instance.js';
import { BASE, load } from '../config/config-text.js';

const loaded = load(BASE);
assert.ok(loaded.ok);
const plan = planOf(loaded.config, 'testhost');

const counters = {} as VrrpCounters;
const vrrp = (over: Partial<VrrpStatus>): VrrpStatus => ({
  name: 'web',
  state: 'backup',
  basePriority: 150,
  effectivePriority: 150,
  masterAddress: undefined,
  masterPriority: undefined,
  sourceAddress: '192.0.2.1',
  faults: [],
  tracked: [],
  lastTransition: undefined,
  counters,
  ...over,
});

const health: HealthServiceStatus[] = [
  {
    name: 'web-80',
    quorumUp: true,
    liveWeight: 1,
    quorum: 1,
    realServers: [
      { address: '10.6.2.191', port: 80, up: true, weight: 1, reason: 'http ok', since: '2026-01-01T00:00:05.000Z', checks: [] },
      { address: '10.6.2.192', port: 80, up: false, weight: 1, reason: 'tcp refused', since: '2026-01-01T00:00:06.000Z', checks: [] },
    ],
  },
  {
    // Still in the monitor while a reload waits for the health worker; gone from the plan.
    name: 'leaving',
    quorumUp: true,
    liveWeight: 1,
    quorum: 1,
    realServers: [],
  },
];

function state(over: Partial<AgentState> = {}): AgentState {
  return {
    node: 'lvs-a',
    version: '1.2.3',
    pid: 4242,
    startedAt: new Date('2026-01-01T00:00:00Z'),
    config: { file: '/etc/failoverd/failoverd.yaml', loadedAt: new Date('2026-01-01T00:10:00Z'), generation: 3 },
    plan,
    instances: [
      vrrp({
        state: 'master',
        effectivePriority: 100,
        lastTransition: { from: 'backup', to: 'master', reason: 'master-down', at: '2026-01-01T00:00:04.000Z' },
      }),
    ],
    forcedBackupUntil: new Map(),
    health,
    isDrained: () => false,
    lastChecks: new Map(),
    ipvs: [],
    schedules: [],
    ...over,
  };
}

test('instances: configured and effective priority, VIPs from the plan, this node as master while MASTER', () => {
  const s = statusSnapshot(state());
  assert.deepEqual(s.instances, [
    {
      name: 'web',
      state: 'MASTER',
      priority: 150,
      effectivePriority: 100,
      vips: ['10.6.2.195/32'],
      master: '192.0.2.1',
      interface: 'eth0',
      vrid: 51,
      since: '2026-01-01T00:00:04.000Z',
      reason: 'master-down',
    },
  ]);
  assert.deepEqual(
    { node: s.node, version: s.version, pid: s.pid, startedAt: s.startedAt, config: s.config },
    {
      node: 'lvs-a',
      version: '1.2.3',
      pid: 4242,
      startedAt: '2026-01-01T00:00:00.000Z',
      config: { file: '/etc/failoverd/failoverd.yaml', loadedAt: '2026-01-01T00:10:00.000Z', generation: 3 },
    },
  );
});

test('a BACKUP reports the master it last heard, and the end of a forced backup', () => {
  const s = statusSnapshot(
    state({
      instances: [vrrp({ state: 'backup', effectivePriority: 1, masterAddress: '192.0.2.2' })],
      forcedBackupUntil: new Map([['web', new Date('2026-01-01T01:00:00Z')]]),
    }),
  );
  assert.equal(s.instances[0]?.master, '192.0.2.2');
  assert.equal(s.instances[0]?.forcedBackupUntil, '2026-01-01T01:00:00.000Z');
  assert.equal(s.instances[0]?.since, undefined);
  // An instance in INIT, before it heard anything, names no master.
  assert.equal(statusSnapshot(state({ instances: [vrrp({ state: 'init' })] })).instances[0]?.master, undefined);
});

test('real servers: weight 0 when down or drained, the configured weight beside it, the last check; a leaving service is left out', () => {
  const s = statusSnapshot(
    state({
      isDrained: (service, address, port) => service === 'web-80' && address === '10.6.2.191' && port === 80,
      lastChecks: new Map([
        [
          'web-80|10.6.2.192:80',
          { ok: false, reason: 'tcp refused', latencyMs: 1.5, atMs: Date.parse('2026-01-01T00:09:00Z'), type: 'tcp' },
        ],
      ]),
    }),
  );
  assert.deepEqual(s.services, [
    {
      name: 'web-80',
      key: 'tcp:10.6.2.195:80',
      quorum: { required: 1, up: 1, met: true },
      realServers: [
        {
          address: '10.6.2.191',
          port: 80,
          state: 'up',
          weight: 0,
          configuredWeight: 1,
          drained: true,
          reason: 'http ok',
          since: '2026-01-01T00:00:05.000Z',
        },
        {
          address: '10.6.2.192',
          port: 80,
          state: 'down',
          weight: 0,
          configuredWeight: 1,
          checkType: 'tcp',
          lastCheck: { ok: false, reason: 'tcp refused', latencyMs: 1.5, at: '2026-01-01T00:09:00.000Z' },
          reason: 'tcp refused',
          since: '2026-01-01T00:00:06.000Z',
        },
      ],
    },
  ]);
  assert.equal(statusSnapshot(state()).services[0]?.realServers[0]?.weight, 1, 'up and not drained: its weight');
});

test('alerts appear only when the agent has them; the same state gives the same snapshot', () => {
  assert.equal('alerts' in statusSnapshot(state()), false);
  const alerts = { webhooks: [], notify: [] } as unknown as NonNullable<AgentState['alerts']>;
  assert.deepEqual(statusSnapshot(state({ alerts })).alerts, alerts);
  assert.deepEqual(statusSnapshot(state()), statusSnapshot(state()));
});

test('the systemd status line', () => {
  assert.equal(
    statusLine(2, 1, [
      { name: 'web', state: 'master' },
      { name: 'db', state: 'backup' },
    ]),
    'generation 2; 1 services; web=master db=backup',
  );
  assert.equal(statusLine(1, 0, []), 'generation 1; 0 services; no vrrp');
});

test('routing announcements appear only when the agent has a routing section, as the agent reports them', () => {
  assert.equal('routing' in statusSnapshot(state()), false);
  const routing = [
    {
      name: 'echo',
      vips: ['10.9.9.9'],
      announced: true,
      phase: 'running',
      reason: 'services have quorum',
      since: '2026-12-06T06:00:00.000Z',
    },
  ];
  assert.deepEqual(statusSnapshot(state({ routing })).routing, routing);
});
