// Admin actions on one member of a sync group act on the whole group: the members change
// state together anyway, and a member left at its own priority would preempt back and
// pull the forced one with it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PEER_ADDRESS, startAgent } from './harness.js';

const config = `node: { name: lvs-a }
vrrp:
  - { name: web, interface: eth0, vrid: 51, priority: 150, advert_interval: 100ms, vips: [10.6.2.195/32], garp: { count: 1, delay: 0s }, sync_group: pair }
  - { name: db, interface: eth0, vrid: 52, priority: 150, advert_interval: 100ms, vips: [10.6.2.196/32], garp: { count: 1, delay: 0s }, sync_group: pair }
services: []
api: { listen: /run/failoverd-test/api.sock, metrics: false }
health: { checks_thread: main }
`;

async function pairWithPeers(t: Parameters<typeof startAgent>[0], preempt: boolean) {
  const rig = await startAgent(t, config);
  await rig.run(3000);
  const web = await rig.peer({ name: 'web', vrid: 51, priority: 100, preempt, vips: ['10.6.2.195/32'] });
  const db = await rig.peer({ name: 'db', vrid: 52, priority: 100, preempt, vips: ['10.6.2.196/32'] });
  await rig.run(3000);
  assert.deepEqual(
    rig.agent.snapshot().instances.map((i) => i.state),
    ['MASTER', 'MASTER'],
  );
  return { rig, web, db };
}

const states = (rig: Awaited<ReturnType<typeof startAgent>>) => rig.agent.snapshot().instances.map((i) => `${i.name}:${i.state}`);

test('force-backup of one member against preempting peers: the whole group moves and stays moved until released', async (t) => {
  const { rig, web, db } = await pairWithPeers(t, true);
  await rig.agent.forceBackup('web', 10_000);
  // Sampled through the forced period: no member may come back (a flap would show as MASTER here).
  for (let i = 0; i < 8; i++) {
    await rig.run(1000);
    assert.deepEqual(states(rig), ['web:BACKUP', 'db:BACKUP'], `at ${i + 1} s of the forced period`);
    assert.deepEqual([web.instance.status().state, db.instance.status().state], ['master', 'master']);
  }
  assert.ok(web.host.has('eth0', '10.6.2.195') && db.host.has('eth0', '10.6.2.196'), 'both VIPs on the peer');
  assert.deepEqual(
    rig.agent.snapshot().instances.map((i) => i.effectivePriority),
    [1, 1],
    'every member held at the lowest priority',
  );
  await rig.run(5000);
  assert.deepEqual(states(rig), ['web:MASTER', 'db:MASTER'], 'released: the group preempts back');
});

test('resign of one member against nopreempt peers: every member sends priority 0 and both VIPs move at once', async (t) => {
  const { rig, web, db } = await pairWithPeers(t, false);
  const before = rig.segment.wire.length;
  assert.equal(rig.agent.resign('web'), true);
  await rig.run(300); // less than a master-down interval (3 × 100 ms + skew): only a priority-0 advert moves a peer this fast
  const zeroes = rig.segment.wire.slice(before).filter((w) => w.from !== PEER_ADDRESS && w.payload[2] === 0);
  assert.equal(zeroes.length, 2, 'one priority-0 advert per member');
  assert.deepEqual([web.instance.status().state, db.instance.status().state], ['master', 'master']);
  assert.deepEqual(states(rig), ['web:BACKUP', 'db:BACKUP']);
});
