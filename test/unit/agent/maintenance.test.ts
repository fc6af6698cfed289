// A service in maintenance: every real server drained (weight 0 in IPVS, still there so
// its connections finish), also those a reload adds; off puts back the configured
// weights but keeps drains others hold. Status shows the drains with their connections
// and each instance's tracked objects with their weights.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatStatus } from '../../../src/api/format.js';
import { AdminError } from '../../../src/api/status-types.js';
import type { MemoryIpvsTable } from '../../../src/ipvs/memory-table.js';
import { configText, startAgent } from './harness.js';

const service = (realServers: string[]): string => `services:
  - name: web-80
    vip: 10.6.2.195
    port: 80
    check: { type: tcp, interval: 1s, timeout: 500ms }
    real_servers: [${realServers.map((a) => `{ address: ${a}, weight: 3 }`).join(', ')}]
  - name: web-443
    vip: 10.6.2.195
    port: 443
    check: { type: tcp, interval: 1s, timeout: 500ms }
    real_servers: [{ address: 10.6.2.191, weight: 2 }]
`;

const KEY80 = { kind: 'address', family: 'inet', protocol: 'tcp', address: '10.6.2.195', port: 80 } as const;

/** "service address:port weight" of every destination in the table. */
const weights = async (table: MemoryIpvsTable): Promise<string[]> =>
  (await table.listServices())
    .flatMap((s) =>
      s.destinations.map((d) => `${s.service.key.kind === 'address' ? s.service.key.port : '?'} ${d.address}:${d.port} ${d.weight}`),
    )
    .sort();

test('maintenance on drains every real server of the service (and no other service); off restores their weights', async (t) => {
  const rig = await startAgent(t, configText({ rest: service(['10.6.2.191', '10.6.2.192']) }));
  await rig.run(3000);
  assert.deepEqual(await weights(rig.table), ['443 10.6.2.191:443 2', '80 10.6.2.191:80 3', '80 10.6.2.192:80 3']);

  rig.agent.maintenance('web-80', true);
  await rig.run(500);
  assert.deepEqual(
    await weights(rig.table),
    ['443 10.6.2.191:443 2', '80 10.6.2.191:80 0', '80 10.6.2.192:80 0'],
    'still in IPVS, at weight 0',
  );
  const svc = rig.agent.snapshot().services.find((s) => s.name === 'web-80')!;
  assert.equal(svc.maintenanceSince, new Date(Date.UTC(2026, 0, 1) + 3000).toISOString());
  assert.deepEqual(
    svc.realServers.map((r) => [r.address, r.weight, r.configuredWeight, r.drained, r.drainedBy]),
    [
      ['10.6.2.191', 0, 3, true, ['maintenance']],
      ['10.6.2.192', 0, 3, true, ['maintenance']],
    ],
  );
  assert.equal(rig.agent.snapshot().services.find((s) => s.name === 'web-443')?.maintenanceSince, undefined);

  // The checks keep running: a maintenance window is not a failure, and weights stay 0 across check results.
  await rig.run(5000);
  assert.deepEqual(await weights(rig.table), ['443 10.6.2.191:443 2', '80 10.6.2.191:80 0', '80 10.6.2.192:80 0']);

  rig.agent.maintenance('web-80', false);
  await rig.run(500);
  assert.deepEqual(await weights(rig.table), ['443 10.6.2.191:443 2', '80 10.6.2.191:80 3', '80 10.6.2.192:80 3']);
  const after = rig.agent.snapshot().services.find((s) => s.name === 'web-80')!;
  assert.equal(after.maintenanceSince, undefined);
  assert.ok(after.realServers.every((r) => r.drained === undefined && r.drainedBy === undefined));
});

test("maintenance off keeps an operator's own drain; an unknown service is a 404", async (t) => {
  const rig = await startAgent(t, configText({ rest: service(['10.6.2.191', '10.6.2.192']) }));
  await rig.run(3000);
  rig.agent.drain('web-80', '10.6.2.192', true);
  rig.agent.maintenance('web-80', true);
  await rig.run(500);
  assert.deepEqual(
    rig.agent.snapshot().services[0]?.realServers.map((r) => r.drainedBy),
    [['maintenance'], ['admin', 'maintenance']],
  );
  rig.agent.maintenance('web-80', false);
  await rig.run(500);
  assert.deepEqual(await weights(rig.table), ['443 10.6.2.191:443 2', '80 10.6.2.191:80 3', '80 10.6.2.192:80 0']);
  assert.throws(
    () => rig.agent.maintenance('nope', true),
    (err: unknown) => err instanceof AdminError && err.status === 404,
  );
});

test('a reload adds a real server to a service in maintenance: it comes in drained; a reload that removes the service ends the maintenance', async (t) => {
  const rig = await startAgent(t, configText({ rest: service(['10.6.2.191']) }));
  await rig.run(3000);
  rig.agent.maintenance('web-80', true);
  rig.rewrite(configText({ rest: service(['10.6.2.191', '10.6.2.193']) }));
  assert.equal(await rig.agent.reload(), true);
  await rig.run(3000);
  assert.deepEqual(await weights(rig.table), ['443 10.6.2.191:443 2', '80 10.6.2.191:80 0', '80 10.6.2.193:80 0']);

  rig.rewrite(
    configText({
      rest: 'services:\n  - name: web-443\n    vip: 10.6.2.195\n    port: 443\n    check: { type: tcp, interval: 1s, timeout: 500ms }\n    real_servers: [{ address: 10.6.2.191, weight: 2 }]\n',
    }),
  );
  assert.equal(await rig.agent.reload(), true);
  // Back with the same name: it is a new service, not in maintenance.
  rig.rewrite(configText({ rest: service(['10.6.2.191']) }));
  assert.equal(await rig.agent.reload(), true);
  await rig.run(3000);
  assert.equal(rig.agent.snapshot().services.find((s) => s.name === 'web-80')?.maintenanceSince, undefined);
  assert.ok((await weights(rig.table)).includes('80 10.6.2.191:80 3'));
});

test('status: a drain in progress shows its connections until they finish; the printed status lists drains and tracking with weights', async (t) => {
  const rig = await startAgent(
    t,
    configText({
      rest: service(['10.6.2.191', '10.6.2.192']),
      vrrpExtra: '    track: { services: [{ name: web-80, weight: -50 }] }\n',
    }),
  );
  await rig.run(3000);
  rig.table.setConnections(KEY80, { address: '10.6.2.191', port: 80 }, 4, 2);
  rig.agent.maintenance('web-80', true);
  // The connection counts are the reconciler's last read of the kernel: its audit.
  await rig.run(61_000, 100);
  const during = rig.agent.snapshot();
  assert.deepEqual(
    during.services[0]?.realServers.map((r) => r.connections),
    [
      { active: 4, inactive: 2 },
      { active: 0, inactive: 0 },
    ],
  );
  assert.deepEqual(during.instances[0]?.track, [
    { kind: 'interface', name: 'eth0', weight: 0, state: 'up' },
    { kind: 'service', name: 'web-80', weight: -50, state: 'up' },
  ]);
  const text = formatStatus(during, Date.UTC(2026, 0, 1, 0, 2));
  assert.match(text, /web-80 +tcp:10\.6\.2\.195:80 +6\/1 MAINT/);
  assert.match(text, /Tracking\nINSTANCE +TRACKS +WEIGHT +STATE\nweb +interface\/eth0 +0 +up\nweb +service\/web-80 +-50 +up\n/);
  assert.match(text, /Drains\n {2}web-80: maintenance since 2026-01-01T00:00:03\.000Z/);
  assert.match(text, /web-80 +10\.6\.2\.191:80 +maintenance +4 +2 +draining/);
  assert.match(text, /web-80 +10\.6\.2\.192:80 +maintenance +0 +0 +done/);

  rig.table.setConnections(KEY80, { address: '10.6.2.191', port: 80 }, 0, 0);
  await rig.run(61_000, 100);
  assert.match(formatStatus(rig.agent.snapshot()), /web-80 +10\.6\.2\.191:80 +maintenance +0 +0 +done/);
});

test('status: a tracked object that fails moves its weight into the priority and says so', async (t) => {
  const dead = `services:
  - name: web-80
    vip: 10.6.2.195
    port: 80
    check: { type: down, interval: 1s, timeout: 500ms }
    real_servers: [{ address: 10.6.2.191 }]
`;
  const rig = await startAgent(
    t,
    configText({ priority: 150, rest: dead, vrrpExtra: '    track: { services: [{ name: web-80, weight: 0 }] }\n' }),
  );
  await rig.run(5000);
  const i = rig.agent.snapshot().instances[0]!;
  assert.equal(i.state, 'FAULT');
  assert.deepEqual(
    i.track?.find((x) => x.kind === 'service'),
    { kind: 'service', name: 'web-80', weight: 0, state: 'down', fault: true },
  );
  assert.match(formatStatus(rig.agent.snapshot()), /web +service\/web-80 +0 +down FAULT/);
});
