// An agent restarted over the table its predecessor left (kill -9, OOM, upgrade): the
// real servers in service in the kernel begin up (src/agent/kernel-seed.ts), so none is
// removed or drained before one of its checks fails, and the service's quorum holds from
// the start. Observed on the in-memory IPVS table (harness.ts): every mutation is in
// table.calls; the UML tier (test/uml/ecmp/ecmp.test.ts) counts the connections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MemoryIpvsTable } from '../../../src/ipvs/memory-table.js';
import type { ServiceSpec } from '../../../src/ipvs/types.js';
import { dest, service, tcpKey } from '../ipvs/builders.js';
import { configText, startAgent } from './harness.js';

const VIP = '10.9.9.9';
const RS = ['10.9.1.21', '10.9.1.22', '10.9.1.23'];

/** One mh service on the VIP; `own` gives a real server its own check (by index). */
const services = (o: { scheduler?: string; flags?: string; own?: Record<number, string>; onFailure?: string } = {}): string => `services:
  - name: echo
    vip: ${VIP}
    vip_standalone: true
    port: 7000
    scheduler: ${o.scheduler ?? 'mh'}
${o.flags ?? '    scheduler_flags: [port]\n'}    forwarding: dr
${o.onFailure ? `    on_failure: ${o.onFailure}\n` : ''}    check: { type: tcp, interval: 1s, timeout: 500ms, rise: 2, fall: 2 }
    real_servers:
${RS.map((a, i) => `      - { address: ${a}${o.own?.[i] ? `, check: ${o.own[i]}` : ''} }`).join('\n')}
`;

const config = (o: Parameters<typeof services>[0] = {}): string => `node: { name: d1 }
${services(o)}api: { listen: /run/failoverd-test/api.sock, metrics: false }
health: { checks_thread: main }
`;

const mhPort = (): ServiceSpec =>
  service(tcpKey(VIP, 7000), 'mh', { flags: { persistent: false, onePacket: false, schedFallback: false, schedPort: true } });

/** What the previous agent left: the service with the given real servers at the given weights. */
function leftBehind(spec: ServiceSpec, weights: Record<string, number>) {
  return async (rig: { table: MemoryIpvsTable }): Promise<void> => {
    await rig.table.addService(spec);
    for (const [address, weight] of Object.entries(weights)) await rig.table.addDestination(spec.key, dest(address, 7000, { weight }));
    rig.table.calls = [];
  };
}

const weights = async (table: MemoryIpvsTable): Promise<Record<string, number>> =>
  Object.fromEntries((await table.listDestinations(tcpKey(VIP, 7000))).map((d) => [d.address, d.weight]));

test('restart over a populated table: no real server is removed or drained, the checks keep them, quorum holds throughout', async (t) => {
  const rig = await startAgent(t, config(), leftBehind(mhPort(), { [RS[0]!]: 1, [RS[1]!]: 1, [RS[2]!]: 1 }));
  await rig.run(10);
  assert.deepEqual(rig.table.calls, [], 'the table is left as the previous agent left it');
  assert.deepEqual(
    rig.agent.snapshot().services.map((s) => [s.name, s.quorum.met, s.realServers.map((rs) => rs.state)]),
    [['echo', true, ['up', 'up', 'up']]],
  );
  // Several check rounds (interval 1 s, rise 2): the passing checks change nothing.
  await rig.run(5000, 50);
  assert.deepEqual(rig.table.calls, []);
  assert.deepEqual(await weights(rig.table), { [RS[0]!]: 1, [RS[1]!]: 1, [RS[2]!]: 1 });
  assert.deepEqual(
    rig.events.filter((e) => e.type.startsWith('realserver.') || e.type.startsWith('quorum.')).map((e) => e.type),
    [],
    'no real server or quorum transition: nothing went down and came back',
  );
  assert.match(rig.agent.snapshot().services[0]!.realServers[0]!.reason ?? '', /adopted from the kernel's IPVS table at start/);
});

test('restart: a seeded real server whose check fails leaves after `fall` failures, not before', async (t) => {
  const rig = await startAgent(
    t,
    config({ own: { 1: '{ type: down, interval: 1s, timeout: 500ms, fall: 2 }' } }),
    leftBehind(mhPort(), { [RS[0]!]: 1, [RS[1]!]: 1, [RS[2]!]: 1 }),
  );
  await rig.run(10_000, 50);
  const down = rig.events.findIndex((e) => e.type === 'realserver.down');
  assert.ok(down >= 0, 'rs2 went down');
  assert.equal(rig.events[down]!.object, `service/echo/${RS[1]}:7000`);
  assert.match(rig.events[down]!.reason ?? '', /2 failures in a row/);
  // mh without fallback: a server that leaves is deleted at once (ipvs.md); nothing else moved.
  assert.deepEqual(
    rig.table.calls.map((c) => `${c.operation} ${c.target}`),
    [`deleteDestination tcp:${VIP}:7000 ${RS[1]}:7000`],
  );
  assert.deepEqual(await weights(rig.table), { [RS[0]!]: 1, [RS[2]!]: 1 });
});

test('restart: only the kernel`s weight > 0 is evidence; weight 0, absent and unknown real servers go as the config says', async (t) => {
  // rs1 up, rs2 at weight 0 (inhibited or drained), rs3 absent, 10.9.1.99 not in the config.
  const spec = service(tcpKey(VIP, 7000), 'wlc');
  const rig = await startAgent(
    t,
    config({ scheduler: 'wlc', flags: '', onFailure: 'inhibit' }),
    leftBehind(spec, { [RS[0]!]: 1, [RS[1]!]: 0, '10.9.1.99': 1 }),
  );
  await rig.run(10);
  assert.deepEqual(
    rig.agent.snapshot().services[0]!.realServers.map((rs) => [rs.address, rs.state]),
    [
      [RS[0], 'up'],
      [RS[1], 'down'],
      [RS[2], 'down'],
    ],
  );
  // rs3 inhibited at weight 0 while its checks prove it; the unknown server drains: it
  // has no connection, so it may be gone already (the reconciler's tests cover drains).
  const { '10.9.1.99': unknown, ...configured } = await weights(rig.table);
  assert.deepEqual(configured, { [RS[0]!]: 1, [RS[1]!]: 0, [RS[2]!]: 0 });
  assert.ok(unknown === undefined || unknown === 0, `the unknown server is drained or gone (weight ${unknown})`);
  assert.ok(!rig.table.calls.some((c) => c.target.endsWith(`${RS[0]}:7000`)), 'rs1 was not touched');
  await rig.run(5000, 50);
  assert.deepEqual(
    await weights(rig.table),
    { [RS[0]!]: 1, [RS[1]!]: 1, [RS[2]!]: 1 },
    'the other two joined once their checks passed; 10.9.1.99 is gone',
  );
});

test('restart after the config changed the scheduler: the old table is no evidence, every real server waits for its checks', async (t) => {
  const rig = await startAgent(t, config(), leftBehind(service(tcpKey(VIP, 7000), 'wlc'), { [RS[0]!]: 1, [RS[1]!]: 1, [RS[2]!]: 1 }));
  await rig.run(10);
  assert.deepEqual(
    rig.agent.snapshot().services[0]!.realServers.map((rs) => rs.state),
    ['down', 'down', 'down'],
  );
  assert.equal(rig.agent.snapshot().services[0]!.quorum.met, false);
});

test('restart in a VRRP pair: a tracked service seeded from the kernel keeps the instance out of FAULT', async (t) => {
  const rig = await startAgent(
    t,
    configText({ vrrpExtra: '    track: { services: [{ name: echo, weight: 0 }] }\n', rest: services() }),
    leftBehind(mhPort(), { [RS[0]!]: 1, [RS[1]!]: 1, [RS[2]!]: 1 }),
  );
  await rig.run(2000);
  const states = rig.events.filter((e) => e.type === 'vrrp.state').map((e) => e.to?.toLowerCase());
  assert.ok(!states.includes('fault'), `no FAULT while the checks run for the first time (states: ${states.join(', ')})`);
  assert.equal(rig.agent.snapshot().instances[0]!.state, 'MASTER');
  assert.deepEqual(rig.table.calls, []);
});

test('a new service (nothing in the kernel): added empty, each real server added once its checks pass, none drained', async (t) => {
  const rig = await startAgent(t, config());
  await rig.run(5000, 50);
  assert.deepEqual(
    rig.table.calls.map((c) => `${c.operation} ${c.target}`),
    [`addService tcp:${VIP}:7000`, ...RS.map((a) => `addDestination tcp:${VIP}:7000 ${a}:7000`)],
  );
  const added = rig.events.findIndex((e) => e.type === 'realserver.up');
  assert.ok(added >= 0, 'the real servers came up through their checks (rise 2)');
});
