// SIGHUP's reload, driven below the netns tier: the agent on an in-memory IPVS table,
// a fake VRRP segment and a fake clock. A valid reload applies only the differences;
// an invalid one changes nothing; one that fails part-way undoes what it had changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatStatus } from '../../../src/api/format.js';
import { configText, startAgent, type TestRig } from './harness.js';

const SOCKET_A = '/run/failoverd-test/a.sock';
const SOCKET_B = '/run/failoverd-test/b.sock';

const service = (name: string, port: number): string => `  - name: ${name}
    vip: 10.6.2.195
    port: ${port}
    check: { type: tcp, interval: 1s, timeout: 500ms, rise: 1, initial: up }
    real_servers:
      - { address: 10.6.2.191, weight: 1 }
`;

/** The agent has become MASTER of `web` and the IPVS table holds every configured service. */
async function settled(rig: TestRig, services: number): Promise<void> {
  await rig.run(3000);
  assert.equal(rig.agent.snapshot().instances[0]?.state, 'MASTER');
  assert.equal((await rig.table.listServices()).length, services);
}

/** Consecutive duplicates folded: [150, 150, 140] → [150, 140]. */
const changes = (xs: number[]): number[] => xs.filter((x, i) => i === 0 || xs[i - 1] !== x);

test('a valid reload applies only the differences: the priority in place, the new service into IPVS, RELOADING then READY', async (t) => {
  const rig = await startAgent(t, configText({ priority: 150, socket: SOCKET_A }));
  await settled(rig, 0);

  rig.rewrite(configText({ priority: 140, socket: SOCKET_A, rest: `services:\n${service('web-80', 80)}` }));
  assert.equal(await rig.agent.reload(), true);
  await rig.run(3000);

  const status = rig.agent.snapshot();
  assert.equal(status.config?.generation, 2);
  assert.deepEqual(
    status.instances.map((i) => [i.name, i.state, i.priority, i.effectivePriority]),
    [['web', 'MASTER', 140, 140]],
  );
  assert.deepEqual(changes(rig.advertPriorities()), [150, 140], 'adverts carry the new priority, no resign in between');
  assert.deepEqual(
    rig.events.filter((e) => e.type === 'vrrp.state').map((e) => `${e.from}->${e.to}`),
    ['init->backup', 'backup->master'],
    'no state change on reload',
  );
  const [svc] = await rig.table.listServices();
  assert.equal(svc?.service.key.kind === 'address' && svc.service.key.port, 80);
  assert.deepEqual(
    svc?.destinations.map((d) => [d.address, d.weight]),
    [['10.6.2.191', 1]],
  );
  assert.deepEqual(rig.notes, [
    'READY generation 1; 0 services; web=backup',
    'RELOADING reloading configuration',
    'READY generation 2; 1 services; web=master',
  ]);
  assert.deepEqual([...rig.api.listening], [SOCKET_A], 'an unchanged api: section keeps its listeners');
  assert.equal(rig.api.opened.length, 1);
});

test('an invalid config on reload is rejected with file, line and key; nothing changes', async (t) => {
  const rig = await startAgent(t, configText({ priority: 150, socket: SOCKET_A }));
  await settled(rig, 0);

  rig.rewrite(configText({ priority: 140, socket: SOCKET_A }).replace('vrid: 51', 'vrid: 510'));
  assert.equal(await rig.agent.reload(), false);
  await rig.run(1000);

  const rejected = rig.events.filter((e) => e.type === 'config.rejected');
  assert.equal(rejected.length, 1);
  assert.match(rejected[0]!.reason ?? '', /failoverd\.yaml:5:\d+ vrrp\[0\]\.vrid/);
  const status = rig.agent.snapshot();
  assert.equal(status.config?.generation, 1);
  assert.deepEqual(
    status.instances.map((i) => [i.state, i.priority]),
    [['MASTER', 150]],
  );
  assert.deepEqual(changes(rig.advertPriorities()), [150]);
  assert.equal(rig.notes.at(-1), 'READY config rejected, running generation 1');
});

test('a reload that fails part-way (a new instance on a missing interface) is undone: priority, IPVS table and API as before', async (t) => {
  const rig = await startAgent(t, configText({ priority: 150, socket: SOCKET_A, rest: `services:\n${service('web-80', 80)}` }));
  await settled(rig, 1);
  const tableBefore = await rig.table.listServices();
  const callsBefore = rig.table.calls.length;

  // In plan order: web is updated to 140 first, then db cannot start (no eth1 on this host).
  rig.rewrite(
    configText({
      priority: 140,
      socket: SOCKET_B,
      vrrpExtra: '  - { name: db, interface: eth1, vrid: 52, priority: 150, vips: [10.6.2.196/32] }\n',
      rest: `services:\n${service('web-80', 80)}${service('web-443', 443)}`,
    }),
  );
  assert.equal(await rig.agent.reload(), false, 'refused, not thrown');
  await rig.run(3000);

  const rejected = rig.events.filter((e) => e.type === 'config.rejected');
  assert.equal(rejected.length, 1);
  assert.match(rejected[0]!.reason ?? '', /failoverd\.yaml: .*eth1/);
  const status = rig.agent.snapshot();
  assert.equal(status.config?.generation, 1);
  assert.deepEqual(
    status.instances.map((i) => [i.name, i.state, i.priority, i.effectivePriority]),
    [['web', 'MASTER', 150, 150]],
  );
  assert.deepEqual(
    status.services.map((s) => s.name),
    ['web-80'],
  );
  assert.equal(changes(rig.advertPriorities()).at(-1), 150, 'web is back at its running priority');
  assert.deepEqual(await rig.table.listServices(), tableBefore, 'the IPVS table is as before');
  assert.deepEqual(rig.table.calls.slice(callsBefore), [], 'not one IPVS mutation');
  assert.deepEqual([...rig.api.listening], [SOCKET_A], 'the API never moved');
  assert.equal(rig.notes.at(-1), 'READY config rejected, running generation 1');

  // The same agent still takes a good config afterwards.
  rig.rewrite(configText({ priority: 140, socket: SOCKET_A, rest: `services:\n${service('web-80', 80)}${service('web-443', 443)}` }));
  assert.equal(await rig.agent.reload(), true);
  await rig.run(3000);
  assert.equal((await rig.table.listServices()).length, 2);
  assert.equal(rig.agent.snapshot().instances[0]?.priority, 140);
});

test('a reload whose API cannot listen is undone: the VRRP change reverted, the old listeners back', async (t) => {
  const rig = await startAgent(t, configText({ priority: 150, socket: SOCKET_A }));
  await settled(rig, 0);
  rig.api.failing.add(SOCKET_B);

  rig.rewrite(configText({ priority: 140, socket: SOCKET_B }));
  assert.equal(await rig.agent.reload(), false);
  await rig.run(1000);

  assert.match(rig.events.find((e) => e.type === 'config.rejected')?.reason ?? '', /: api: listen EACCES/);
  assert.deepEqual([...rig.api.listening], [SOCKET_A]);
  assert.deepEqual(
    rig.api.opened.map((c) => c.socket),
    [SOCKET_A, SOCKET_B, SOCKET_A],
    'closed, tried the new one, reopened the old',
  );
  assert.deepEqual(
    rig.agent.snapshot().instances.map((i) => [i.state, i.priority, i.effectivePriority]),
    [['MASTER', 150, 150]],
  );
  // Applied and undone between two adverts: not one went out at 140.
  assert.deepEqual(changes(rig.advertPriorities()), [150]);
});

test('a reload that drops an instance resigns it; one that adds an instance starts it', async (t) => {
  const rig = await startAgent(t, configText({ priority: 150, socket: SOCKET_A }));
  await settled(rig, 0);
  rig.host.addLink('eth1', 3, '02:00:00:00:01:01', [{ address: '198.51.100.1', prefixLength: 24 }]);

  rig.rewrite(
    configText({ priority: 150, socket: SOCKET_A }).replace(
      / {2}- name: web[\s\S]*?delay: 0s \}\n/,
      '  - { name: db, interface: eth1, vrid: 52, priority: 150, advert_interval: 100ms, vips: [198.51.100.196/32] }\n',
    ),
  );
  assert.equal(await rig.agent.reload(), true);
  await rig.run(3000);

  assert.deepEqual(
    rig.agent.snapshot().instances.map((i) => [i.name, i.state]),
    [['db', 'MASTER']],
  );
  assert.equal(rig.advertPriorities().at(-1), 0, 'web resigned with priority 0');
  assert.ok(!rig.host.has('eth0', '10.6.2.195'), "web's VIP is gone");
  assert.ok(rig.host.has('eth1', '198.51.100.196'), 'db holds its VIP');
});

test("the status shows the agent's last IPVS changes with why: a reload's new service and real server", async (t) => {
  const rig = await startAgent(t, configText({ priority: 150, socket: SOCKET_A }));
  await settled(rig, 0);
  assert.equal(rig.agent.snapshot().ipvsOps, undefined, 'no change made, none shown');

  rig.rewrite(configText({ priority: 150, socket: SOCKET_A, rest: `services:\n${service('web-80', 80)}` }));
  assert.equal(await rig.agent.reload(), true);
  await rig.run(3000);

  const ops = rig.agent.snapshot().ipvsOps ?? [];
  assert.deepEqual(
    ops.map((o) => [o.op, o.service, o.destination, o.result]),
    [
      ['addService', 'tcp:10.6.2.195:80', undefined, 'ok'],
      ['addDest', 'tcp:10.6.2.195:80', '10.6.2.191:80', 'ok'],
    ],
  );
  const text = formatStatus(rig.agent.snapshot());
  assert.match(text, /Recent IPVS changes/);
  assert.match(text, new RegExp(`addDest +tcp:10\\.6\\.2\\.195:80 +10\\.6\\.2\\.191:80 +ok +${escape(ops[1]!.reason)}`));
});

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('an admin audit repairs a change made behind the agent (a real server deleted by hand) at once', async (t) => {
  const rig = await startAgent(t, configText({ priority: 150, socket: SOCKET_A, rest: `services:\n${service('web-80', 80)}` }));
  await settled(rig, 1);
  const [svc] = await rig.table.listServices();
  await rig.table.deleteDestination(svc!.service.key, { address: '10.6.2.191', port: 80 });
  assert.deepEqual((await rig.table.listServices())[0]?.destinations, [], 'deleted by hand');

  assert.deepEqual(await rig.agent.auditIpvs(), { drift: 1, ops: 1, failed: 0, converged: true });
  assert.deepEqual(
    (await rig.table.listServices())[0]?.destinations.map((d) => [d.address, d.weight]),
    [['10.6.2.191', 1]],
  );
  assert.equal(rig.events.filter((e) => e.type === 'ipvs.drift').length, 1);
});

test('an admin audit on an agent without services is refused with 409', async (t) => {
  const rig = await startAgent(t, configText({ priority: 150, socket: SOCKET_A }));
  await settled(rig, 0);
  await assert.rejects(
    Promise.resolve().then(() => rig.agent.auditIpvs()),
    /manages no IPVS table \(no services configured\)/,
  );
});
