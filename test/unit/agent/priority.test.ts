// The instance's priority as the agent adjusts it: maintenance demotions lower it while
// their window is open, a forced BACKUP takes it to the lowest, and each is undone when
// it ends. Observed in the adverts on the fake wire and in the status snapshot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdminError } from '../../../src/api/status-types.js';
import { configText, PEER_ADDRESS, startAgent } from './harness.js';

/** Consecutive duplicates folded: [150, 150, 100] → [150, 100]. */
const changes = (xs: number[]): number[] => xs.filter((x, i) => i === 0 || xs[i - 1] !== x);

// The fake clock's wall time starts at 2026-01-01T00:00:00Z: this window is 00:01–00:02.
const demoteWindow = 'schedules:\n  - { cron: "1 0 * * *", action: demote, instance: web, by: 50, for: 1m }\n';

test('a maintenance window demotes the instance by `by` while open, and restores it after', async (t) => {
  const rig = await startAgent(t, configText({ priority: 150, rest: `services: []\n${demoteWindow}` }));
  await rig.run(30_000, 50);
  assert.deepEqual(
    rig.agent.snapshot().instances.map((i) => [i.state, i.priority, i.effectivePriority]),
    [['MASTER', 150, 150]],
  );

  await rig.run(60_000, 50);
  assert.deepEqual(
    rig.agent.snapshot().instances.map((i) => [i.state, i.priority, i.effectivePriority]),
    [['MASTER', 150, 100]],
    'the configured priority is reported unchanged, the effective one lowered',
  );
  assert.equal(rig.agent.snapshot().schedules?.[0]?.active, true);

  await rig.run(60_000, 50);
  assert.equal(rig.agent.snapshot().instances[0]?.effectivePriority, 150);
  assert.deepEqual(changes(rig.advertPriorities()), [150, 100, 150]);
});

test('an address owner (255) under a demotion gives up ownership: 254 − by', async (t) => {
  const rig = await startAgent(t, configText({ priority: 255, rest: `services: []\n${demoteWindow}` }));
  await rig.run(90_000, 50);
  assert.equal(rig.agent.snapshot().instances[0]?.effectivePriority, 204);
  await rig.run(60_000, 50);
  assert.deepEqual(changes(rig.advertPriorities()), [255, 204, 255]);
});

test('force-backup against a preempting peer: the peer takes the VIP; on release this node preempts it back', async (t) => {
  const rig = await startAgent(t, configText({ priority: 150 }));
  await rig.run(3000);
  const peer = await rig.peer({ priority: 100, preempt: true });
  await rig.run(3000);
  assert.equal(rig.agent.snapshot().instances[0]?.state, 'MASTER');
  assert.equal(peer.instance.status().state, 'backup');

  await rig.agent.forceBackup('web', 10_000);
  await rig.run(3000);
  const forced = rig.agent.snapshot().instances[0]!;
  assert.deepEqual([forced.state, forced.priority, forced.effectivePriority], ['BACKUP', 150, 1]);
  assert.equal(forced.forcedBackupUntil, new Date(Date.UTC(2026, 0, 1) + 6000 + 10_000).toISOString());
  assert.equal(forced.master, PEER_ADDRESS);
  assert.equal(peer.instance.status().state, 'master');
  assert.ok(peer.host.has('eth0', '10.6.2.195') && !rig.host.has('eth0', '10.6.2.195'), 'the VIP moved to the peer');

  await rig.run(10_000);
  const released = rig.agent.snapshot().instances[0]!;
  assert.deepEqual([released.state, released.effectivePriority, released.forcedBackupUntil], ['MASTER', 150, undefined]);
  assert.equal(peer.instance.status().state, 'backup');
  assert.ok(rig.host.has('eth0', '10.6.2.195') && !peer.host.has('eth0', '10.6.2.195'), 'the VIP is back');
  assert.deepEqual(
    changes(rig.advertPriorities()),
    [150, 0, 150],
    'forced: one resignation advert (priority 0), silence as BACKUP, then master again',
  );
});

test('force-backup for 0 releases at once; an unknown instance is a 404', async (t) => {
  const rig = await startAgent(t, configText({ priority: 150 }));
  await rig.run(3000);
  await rig.agent.forceBackup('web', 60_000);
  assert.equal(rig.agent.snapshot().instances[0]?.effectivePriority, 1);
  await rig.agent.forceBackup('web', 0);
  assert.equal(rig.agent.snapshot().instances[0]?.effectivePriority, 150);
  assert.equal(rig.agent.snapshot().instances[0]?.forcedBackupUntil, undefined);
  await assert.rejects(rig.agent.forceBackup('nope', 1000), (err: unknown) => err instanceof AdminError && err.status === 404);
});

// Issue 13: a lowered priority alone never makes a master step down, so against a
// nopreempt peer the VIP used to stay here for the whole forced period. The master now
// resigns (priority 0, RFC 5798 6.4.3) and holds the lowest priority until released.
test('force-backup against a nopreempt peer: this node resigns with priority 0, the peer takes the VIP; on release this node preempts it back', async (t) => {
  const rig = await startAgent(t, configText({ priority: 150 }));
  await rig.run(3000);
  const peer = await rig.peer({ priority: 100, preempt: false });
  await rig.run(3000);
  assert.equal(rig.agent.snapshot().instances[0]?.state, 'MASTER');

  await rig.agent.forceBackup('web', 10_000);
  await rig.run(5000);
  const forced = rig.agent.snapshot().instances[0]!;
  assert.deepEqual([forced.state, forced.effectivePriority, forced.reason], ['BACKUP', 1, 'resigned']);
  assert.equal(forced.master, PEER_ADDRESS);
  assert.equal(peer.instance.status().state, 'master', 'the nopreempt peer took over');
  assert.ok(peer.host.has('eth0', '10.6.2.195') && !rig.host.has('eth0', '10.6.2.195'), 'the VIP moved to the peer');
  assert.deepEqual(changes(rig.advertPriorities()), [150, 0], 'one resignation advert, then silence as BACKUP');

  // Released: the priority is back, and this node (preempt: true) takes the VIP back.
  await rig.run(10_000);
  const released = rig.agent.snapshot().instances[0]!;
  assert.deepEqual([released.state, released.effectivePriority, released.forcedBackupUntil], ['MASTER', 150, undefined]);
  assert.ok(rig.host.has('eth0', '10.6.2.195') && !peer.host.has('eth0', '10.6.2.195'), 'the VIP is back');
});

test('force-backup of an instance that is already BACKUP sends nothing and holds it at the lowest priority', async (t) => {
  const rig = await startAgent(t, configText({ priority: 100 }));
  const peer = await rig.peer({ priority: 200, preempt: true });
  await rig.run(3000);
  assert.equal(rig.agent.snapshot().instances[0]?.state, 'BACKUP');
  await rig.agent.forceBackup('web', 10_000);
  await peer.instance.stop();
  // The peer resigned: with nobody else on the segment a forced BACKUP still takes the VIP (at priority 1), as keepalived would.
  await rig.run(3000);
  assert.deepEqual(
    rig.agent.snapshot().instances.map((i) => [i.state, i.effectivePriority]),
    [['MASTER', 1]],
  );
  assert.deepEqual(changes(rig.advertPriorities()), [1]);
});

test('resign: the master steps down with one priority-0 advert; a nopreempt peer takes the VIP and this nopreempt node stays BACKUP', async (t) => {
  const rig = await startAgent(t, configText({ priority: 150, preempt: false }));
  await rig.run(3000);
  const peer = await rig.peer({ priority: 100, preempt: false });
  await rig.run(3000);
  assert.equal(rig.agent.snapshot().instances[0]?.state, 'MASTER');

  assert.equal(rig.agent.resign('web'), true);
  await rig.run(10_000);
  const after = rig.agent.snapshot().instances[0]!;
  assert.deepEqual(
    [after.state, after.effectivePriority, after.reason, after.forcedBackupUntil],
    ['BACKUP', 150, 'resigned', undefined],
    'a one-shot step down: the priority is not held low',
  );
  assert.equal(peer.instance.status().state, 'master');
  assert.ok(peer.host.has('eth0', '10.6.2.195') && !rig.host.has('eth0', '10.6.2.195'), 'the VIP moved to the peer');
  assert.deepEqual(changes(rig.advertPriorities()), [150, 0]);
  assert.equal(rig.agent.resign('web'), false, 'a BACKUP has nothing to resign');
  assert.deepEqual(changes(rig.advertPriorities()), [150, 0], 'and sends nothing');
  assert.throws(
    () => rig.agent.resign('nope'),
    (err: unknown) => err instanceof AdminError && err.status === 404,
  );
});

test('resign with preempt: the peer takes over, then this node preempts back by the normal rules', async (t) => {
  const rig = await startAgent(t, configText({ priority: 150, preempt: true }));
  await rig.run(3000);
  const peer = await rig.peer({ priority: 100, preempt: false });
  await rig.run(3000);
  assert.equal(rig.agent.resign('web'), true);
  const masters: string[] = [];
  for (let i = 0; i < 100; i++) {
    await rig.run(100);
    const who =
      peer.instance.status().state === 'master' ? 'peer' : rig.agent.snapshot().instances[0]?.state === 'MASTER' ? 'agent' : 'none';
    if (masters.at(-1) !== who) masters.push(who);
  }
  assert.deepEqual(
    masters.filter((m) => m !== 'none'),
    ['peer', 'agent'],
    'the peer held it for a while, then this node preempted back',
  );
  assert.ok(rig.host.has('eth0', '10.6.2.195') && !peer.host.has('eth0', '10.6.2.195'));
});

test('a reload that makes an instance track a service already out of quorum lowers its priority at once', async (t) => {
  const deadService = `services:
  - name: web-80
    vip: 10.6.2.195
    port: 80
    check: { type: down, interval: 1s, timeout: 500ms }
    real_servers: [{ address: 10.6.2.191 }]
`;
  const rig = await startAgent(t, configText({ priority: 150, rest: deadService }));
  await rig.run(3000);
  assert.equal(rig.agent.snapshot().services[0]?.quorum.met, false);
  assert.equal(rig.agent.snapshot().instances[0]?.effectivePriority, 150);

  rig.rewrite(configText({ priority: 150, rest: deadService, vrrpExtra: '    track: { services: [{ name: web-80, weight: -100 }] }\n' }));
  assert.equal(await rig.agent.reload(), true);
  // No quorum event comes (the quorum did not change): the instance learns it from the reload.
  assert.equal(rig.agent.snapshot().instances[0]?.effectivePriority, 50);
  await rig.run(1000);
  assert.deepEqual(changes(rig.advertPriorities()), [150, 50]);
});
