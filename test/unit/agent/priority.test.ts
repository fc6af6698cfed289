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
  assert.deepEqual(rig.agent.snapshot().instances.map((i) => [i.state, i.priority, i.effectivePriority]), [['MASTER', 150, 150]]);

  await rig.run(60_000, 50);
  assert.deepEqual(rig.agent.snapshot().instances.map((i) => [i.state, i.priority, i.effectivePriority]), [['MASTER', 150, 100]],
    'the configured priority is reported unchanged, the effective one lowered');
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
  assert.deepEqual(changes(rig.advertPriorities()), [150, 1, 150], 'forced: adverts at the lowest priority, until this node stopped sending as BACKUP');
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

// KNOWN BUG (issue 13), documented rather than fixed here: force-backup only lowers the
// priority, and a master never steps down because its own priority dropped. Against a
// peer with preempt: false nothing makes it let go, so the VIP stays on this node for
// the whole forced period. When the resign-with-priority-0 fix lands, this test must
// change to expect the peer to take over.
test('force-backup against a nopreempt peer (issue 13, known bug): this node stays MASTER at priority 1 and keeps the VIP', async (t) => {
  const rig = await startAgent(t, configText({ priority: 150 }));
  await rig.run(3000);
  const peer = await rig.peer({ priority: 100, preempt: false });
  await rig.run(3000);

  await rig.agent.forceBackup('web', 10_000);
  await rig.run(5000);
  const forced = rig.agent.snapshot().instances[0]!;
  assert.deepEqual([forced.state, forced.effectivePriority], ['MASTER', 1], 'today: still MASTER, advertising priority 1');
  assert.ok(forced.forcedBackupUntil !== undefined, 'while status claims a forced backup');
  assert.equal(peer.instance.status().state, 'backup', 'the nopreempt peer does not take over');
  assert.ok(rig.host.has('eth0', '10.6.2.195') && !peer.host.has('eth0', '10.6.2.195'), 'the VIP stays here');
  assert.deepEqual(changes(rig.advertPriorities()), [150, 1]);
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
