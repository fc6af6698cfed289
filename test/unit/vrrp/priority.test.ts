import { test } from 'node:test';
import assert from 'node:assert/strict';
import { effectivePriority } from '../../../src/vrrp/priority.js';
import { syncCommands } from '../../../src/vrrp/sync-group.js';
import { parseTrackFile } from '../../../src/vrrp/track-file.js';

test('effective priority: keepalived weights (positive while up, negative while down, 0 = FAULT)', () => {
  assert.deepEqual(effectivePriority(100, []), { priority: 100, fault: false, faultedBy: [] });
  const tracked = [
    { kind: 'interface' as const, name: 'eth1', weight: 20, value: true },
    { kind: 'service' as const, name: 'web-80', weight: -60, value: false },
    { kind: 'script' as const, name: 'chk', weight: 10, value: false },
  ];
  assert.equal(effectivePriority(100, tracked).priority, 60);
  assert.equal(effectivePriority(100, [{ kind: 'service', name: 'web', weight: -60, value: true }]).priority, 100);
  const faulted = effectivePriority(100, [{ kind: 'interface', name: 'eth0', weight: 0, value: false }]);
  assert.equal(faulted.fault, true);
  assert.deepEqual(faulted.faultedBy, ['interface/eth0']);
});

test('effective priority is clamped to 1..254 for non-owners; the owner keeps 255', () => {
  assert.equal(effectivePriority(200, [{ kind: 'script', name: 's', weight: 100, value: true }]).priority, 254);
  assert.equal(effectivePriority(20, [{ kind: 'script', name: 's', weight: -100, value: false }]).priority, 1);
  assert.equal(effectivePriority(255, [{ kind: 'script', name: 's', weight: -100, value: false }]).priority, 255);
});

test('tracked files: value × weight, and weight 0 means FAULT on a non-zero value', () => {
  assert.equal(effectivePriority(100, [{ kind: 'file', name: '/f', weight: -5, value: 3 }]).priority, 85);
  assert.equal(effectivePriority(100, [{ kind: 'file', name: '/f', weight: 0, value: 1 }]).fault, true);
  assert.equal(effectivePriority(100, [{ kind: 'file', name: '/f', weight: 0, value: 0 }]).fault, false);
  assert.equal(effectivePriority(100, [{ kind: 'file', name: '/f', weight: -1, value: 300 }]).fault, true);
  assert.equal(parseTrackFile(' -12\n'), -12);
  assert.equal(parseTrackFile('garbage'), 0);
});

test('sync groups: the others follow MASTER, BACKUP and FAULT, and leave FAULT when no one is faulted', () => {
  const members = [
    { name: 'a', state: 'master' as const, ownFault: false },
    { name: 'b', state: 'master' as const, ownFault: false },
    { name: 'c', state: 'master' as const, ownFault: false },
  ];
  assert.deepEqual(syncCommands(members, 'a', 'backup', 'master'), [
    { name: 'b', command: 'master' },
    { name: 'c', command: 'master' },
  ]);
  assert.deepEqual(
    syncCommands(members, 'a', 'master', 'backup').map((c) => c.command),
    ['backup', 'backup'],
  );
  assert.deepEqual(
    syncCommands(members, 'a', 'master', 'backup', true).map((c) => c.command),
    ['resign', 'resign'],
    'a member that resigned makes the others resign',
  );
  assert.deepEqual(
    syncCommands(members, 'a', 'master', 'fault').map((c) => c.command),
    ['fault', 'fault'],
  );
  assert.deepEqual(
    syncCommands(members, 'a', 'fault', 'backup').map((c) => c.command),
    ['fault-cleared', 'fault-cleared'],
  );
  assert.deepEqual(syncCommands([...members, { name: 'd', state: 'fault', ownFault: true }], 'a', 'fault', 'backup'), []);
  assert.deepEqual(syncCommands(members, 'a', 'master', 'init'), []);
});
