// The IPVS connection-sync daemon follows the instance's VRRP state: the master
// daemon while MASTER, the backup daemon otherwise, none once stopped. Observed on
// the in-memory IPVS table's daemon list, with a real VrrpInstance as the peer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MemoryIpvsTable } from '../../../src/ipvs/memory-table.js';
import { configText, startAgent } from './harness.js';

const withSyncDaemon = configText({
  priority: 150,
  vrrpExtra: '    sync_daemon: { interface: eth0, sync_id: 7 }\n',
  rest: `services:
  - name: web-80
    vip: 10.6.2.195
    port: 80
    real_servers: [{ address: 10.6.2.191 }]
`,
});

const daemons = async (table: MemoryIpvsTable): Promise<string[]> =>
  (await table.listDaemons()).map((d) => `${d.state} ${d.interface}/${d.syncId}`).sort();

test('the sync daemon follows the VRRP state: master while MASTER, backup while BACKUP, none after stop', async (t) => {
  const rig = await startAgent(t, withSyncDaemon);
  await rig.run(3000);
  assert.equal(rig.agent.snapshot().instances[0]?.state, 'MASTER');
  assert.deepEqual(await daemons(rig.table), ['master eth0/7']);

  // A higher-priority director appears: this one steps down to BACKUP.
  const peer = await rig.peer({ priority: 200 });
  await rig.run(3000);
  assert.equal(rig.agent.snapshot().instances[0]?.state, 'BACKUP');
  assert.deepEqual(await daemons(rig.table), ['backup eth0/7']);

  // The peer leaves gracefully (priority 0): MASTER again after Skew_Time.
  await peer.instance.stop();
  await rig.run(3000);
  assert.equal(rig.agent.snapshot().instances[0]?.state, 'MASTER');
  assert.deepEqual(await daemons(rig.table), ['master eth0/7']);

  await rig.agent.stop();
  assert.deepEqual(await daemons(rig.table), []);
  // The states the daemon followed, in order.
  const roles = rig.events.filter((e) => e.type === 'vrrp.state').map((e) => e.to);
  assert.deepEqual(roles, ['backup', 'master', 'backup', 'master', 'init']);
});

test('a daemon a previous agent left running is adopted rather than started twice, and switched like its own', async (t) => {
  const rig = await startAgent(t, withSyncDaemon, async ({ table }) => {
    await table.startDaemon({ state: 'backup', interface: 'eth0', syncId: 7 });
  });
  await rig.peer({ priority: 200 });
  await rig.run(3000);
  assert.equal(rig.agent.snapshot().instances[0]?.state, 'BACKUP');
  assert.deepEqual(await daemons(rig.table), ['backup eth0/7']);
  assert.ok(!rig.logs.some((l) => /IPVS sync daemon/.test(l.msg)), 'EEXIST is not an error');

  await rig.agent.stop();
  assert.deepEqual(await daemons(rig.table), [], 'the adopted daemon is stopped like one of its own');
});

const withSettings = (o: string): string =>
  configText({
    priority: 150,
    vrrpExtra: `    sync_daemon: { interface: eth0, sync_id: 7${o} }\n`,
    rest: 'services:\n  - name: web-80\n    vip: 10.6.2.195\n    port: 80\n    real_servers: [{ address: 10.6.2.191 }]\n',
  });

const settings = async (table: MemoryIpvsTable): Promise<unknown[]> =>
  (await table.listDaemons()).map((d) => [d.state, d.group, d.port, d.maxLength, d.ttl]);

test('sync_daemon group, port, maxlen and ttl reach the kernel; a reload that changes one restarts the daemon with it', async (t) => {
  const rig = await startAgent(t, withSettings(', group: 224.0.0.99, port: 8900, maxlen: 1200, ttl: 3'));
  await rig.run(3000);
  assert.equal(rig.agent.snapshot().instances[0]?.state, 'MASTER');
  assert.deepEqual(await settings(rig.table), [['master', '224.0.0.99', 8900, 1200, 3]]);

  rig.rewrite(withSettings(', group: 224.0.0.99, port: 8900, maxlen: 1200, ttl: 5'));
  assert.equal(await rig.agent.reload(), true);
  await rig.run(3000);
  assert.deepEqual(await settings(rig.table), [['master', '224.0.0.99', 8900, 1200, 5]]);

  // Left out: the kernel's defaults (the memory table's are the same).
  rig.rewrite(withSettings(''));
  assert.equal(await rig.agent.reload(), true);
  await rig.run(3000);
  assert.deepEqual(await settings(rig.table), [['master', '224.0.0.81', 8848, 1472, 1]]);
});

test('a daemon a previous agent left with other settings is restarted with the configured ones', async (t) => {
  const rig = await startAgent(t, withSettings(', port: 8900'), async ({ table }) => {
    await table.startDaemon({ state: 'master', interface: 'eth0', syncId: 7, port: 8848 });
  });
  await rig.run(3000);
  assert.equal(rig.agent.snapshot().instances[0]?.state, 'MASTER');
  assert.deepEqual(await settings(rig.table), [['master', '224.0.0.81', 8900, 1472, 1]]);
});
