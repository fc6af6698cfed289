// The pure diff: minimal ops with reasons, drains, ownership.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findDrift, normalizeDesired, opServiceKey, reconcile, type DrainEntry, type ReconcileInput } from '../../../src/ipvs/diff.js';
import { applyOpsToView, refreshDestinations, viewOf } from '../../../src/ipvs/view.js';
import { destinationId, serviceKeyId, type ActualService, type DesiredService } from '../../../src/ipvs/types.js';
import { actual, actualDest, dest, service, tcpKey } from './builders.js';

const VIP = tcpKey('10.6.2.195', 80);
const FOREIGN = tcpKey('10.9.9.9', 443);

function run(desired: DesiredService[], table: ActualService[], extra: Partial<ReconcileInput> = {}) {
  return reconcile({
    desired: normalizeDesired(desired),
    actual: viewOf(table),
    retired: new Set(),
    drains: new Map(),
    now: 1000,
    drainTimeoutMs: () => 30_000,
    ...extra,
  });
}
const kinds = (ops: { kind: string }[]) => ops.map((o) => o.kind);

test('a declared service missing from the kernel is added with its real servers', () => {
  const { ops } = run([{ service: service(VIP), destinations: [dest('10.6.2.191'), dest('10.6.2.192')] }], []);
  assert.deepEqual(kinds(ops), ['addService', 'addDest', 'addDest']);
});

test('a table that already matches needs no ops (no flush, no re-add)', () => {
  const s = service(VIP);
  const { ops } = run([{ service: s, destinations: [dest('10.6.2.191')] }], [actual(s, [actualDest(dest('10.6.2.191'), 5)])]);
  assert.deepEqual(ops, []);
});

test('weight, forwarding and threshold changes are edits of the destination, never delete+add', () => {
  const s = service(VIP);
  const have = [actual(s, [actualDest(dest('10.6.2.191'), 3), actualDest(dest('10.6.2.192')), actualDest(dest('10.6.2.193'))])];
  const { ops } = run(
    [
      {
        service: s,
        destinations: [
          dest('10.6.2.191', 80, { weight: 5 }),
          dest('10.6.2.192', 80, { forwarding: 'nat' }),
          dest('10.6.2.193', 80, { upperThreshold: 10, lowerThreshold: 2 }),
        ],
      },
    ],
    have,
  );
  assert.deepEqual(kinds(ops), ['editDest', 'editDest', 'editDest']);
  assert.match(ops[0]!.reason, /weight 1 → 5/);
  assert.match(ops[1]!.reason, /forwarding dr → nat/);
  assert.match(ops[2]!.reason, /upper threshold 0 → 10, lower threshold 0 → 2/);
});

test('a scheduler or persistence change is an edit of the service', () => {
  const have = [actual(service(VIP, 'wlc'), [])];
  const { ops } = run(
    [{ service: service(VIP, 'rr', { flags: { persistent: true }, persistenceTimeoutSec: 300 }), destinations: [] }],
    have,
  );
  assert.deepEqual(kinds(ops), ['editService']);
  assert.match(ops[0]!.reason, /scheduler wlc → rr/);
  assert.match(ops[0]!.reason, /persistence timeout 0s → 300s/);
});

test('a real server removed from the config with connections is drained (weight 0), not deleted', () => {
  const s = service(VIP);
  const { ops, drains } = run(
    [{ service: s, destinations: [dest('10.6.2.191')] }],
    [actual(s, [actualDest(dest('10.6.2.191')), actualDest(dest('10.6.2.192', 80, { weight: 4 }), 3, 1)])],
  );
  assert.deepEqual(kinds(ops), ['editDest']);
  assert.equal(ops[0]!.kind === 'editDest' && ops[0]!.destination.weight, 0);
  assert.equal(ops[0]!.purpose, 'drain');
  assert.deepEqual(
    [...drains.values()],
    [{ service: 'tcp:10.6.2.195:80', destination: '10.6.2.192:80', startedAt: 1000, deadline: 31_000 }],
  );
});

test('sh/mh without fallback: a real server leaving is deleted at once (weight 0 would send its hash share nowhere); with fallback it drains', () => {
  const table = (scheduler: string, schedFallback: boolean) => {
    const s = service(VIP, scheduler, { flags: { schedFallback, schedPort: true } });
    return run(
      [{ service: s, destinations: [dest('10.6.2.191')] }],
      [actual(s, [actualDest(dest('10.6.2.191')), actualDest(dest('10.6.2.192', 80, { weight: 4 }), 3, 1)])],
    );
  };
  for (const scheduler of ['mh', 'sh']) {
    const cut = table(scheduler, false);
    assert.deepEqual(kinds(cut.ops), ['deleteDest'], scheduler);
    assert.match(cut.ops[0]!.reason, /deleted at once .*its 4 connections stay/);
    assert.equal(cut.drains.size, 0);
    const drained = table(scheduler, true);
    assert.deepEqual(kinds(drained.ops), ['editDest'], `${scheduler} with fallback drains`);
    assert.equal(drained.drains.size, 1);
  }
});

test('a draining real server is deleted once its connections reach zero', () => {
  const s = service(VIP);
  const drains = new Map<string, DrainEntry>([
    ['tcp:10.6.2.195:80 10.6.2.192:80', { service: 'tcp:10.6.2.195:80', destination: '10.6.2.192:80', startedAt: 0, deadline: 30_000 }],
  ]);
  const still = run([{ service: s, destinations: [] }], [actual(s, [actualDest(dest('10.6.2.192', 80, { weight: 0 }), 0, 2)])], {
    drains,
    now: 5000,
  });
  assert.deepEqual(still.ops, [], 'weight already 0, InActConn still 2: wait');
  assert.equal(still.drains.size, 1);
  const done = run([{ service: s, destinations: [] }], [actual(s, [actualDest(dest('10.6.2.192', 80, { weight: 0 }))])], {
    drains,
    now: 6000,
  });
  assert.deepEqual(kinds(done.ops), ['deleteDest']);
  assert.match(done.ops[0]!.reason, /drained/);
  assert.equal(done.drains.size, 0);
});

test('a draining real server is deleted when the drain timeout passes, connections or not', () => {
  const s = service(VIP);
  const drains = new Map<string, DrainEntry>([
    ['tcp:10.6.2.195:80 10.6.2.192:80', { service: 'tcp:10.6.2.195:80', destination: '10.6.2.192:80', startedAt: 0, deadline: 30_000 }],
  ]);
  const { ops } = run([{ service: s, destinations: [] }], [actual(s, [actualDest(dest('10.6.2.192', 80, { weight: 0 }), 7)])], {
    drains,
    now: 30_000,
  });
  assert.deepEqual(kinds(ops), ['deleteDest']);
  assert.match(ops[0]!.reason, /drain timeout: 7 connections left after 30 s/);
});

test('a real server back in the config while draining gets its weight back by an edit', () => {
  const s = service(VIP);
  const drains = new Map<string, DrainEntry>([
    ['tcp:10.6.2.195:80 10.6.2.192:80', { service: 'tcp:10.6.2.195:80', destination: '10.6.2.192:80', startedAt: 0, deadline: 30_000 }],
  ]);
  const { ops, drains: after } = run(
    [{ service: s, destinations: [dest('10.6.2.192', 80, { weight: 2 })] }],
    [actual(s, [actualDest(dest('10.6.2.192', 80, { weight: 0 }), 7)])],
    { drains },
  );
  assert.deepEqual(kinds(ops), ['editDest']);
  assert.match(ops[0]!.reason, /drain cancelled: weight 0 → 2/);
  assert.equal(after.size, 0);
});

test('a service removed from the config is drained like a destination, then deleted', () => {
  const s = service(VIP);
  const retired = new Set(['tcp:10.6.2.195:80']);
  const table = [actual(s, [actualDest(dest('10.6.2.191', 80, { weight: 3 }), 2), actualDest(dest('10.6.2.192'))])];
  const first = run([], table, { retired });
  assert.deepEqual(kinds(first.ops), ['editDest', 'editDest'], 'every real server to weight 0');
  assert.ok(first.retired.has('tcp:10.6.2.195:80'), 'still owned while draining');
  assert.ok(first.drains.has('tcp:10.6.2.195:80'));
  const drained = run(
    [],
    [actual(s, [actualDest(dest('10.6.2.191', 80, { weight: 0 })), actualDest(dest('10.6.2.192', 80, { weight: 0 }))])],
    { retired: first.retired, drains: first.drains, now: 2000 },
  );
  assert.deepEqual(kinds(drained.ops), ['deleteService']);
  assert.match(drained.ops[0]!.reason, /removed from the config: drained/);
  const timedOut = run([], table, { retired: first.retired, drains: first.drains, now: 31_000 });
  assert.deepEqual(kinds(timedOut.ops), ['deleteService']);
  const gone = run([], [], { retired: first.retired, drains: first.drains, now: 40_000 });
  assert.equal(gone.retired.size, 0, 'a retired service no longer in the kernel is forgotten');
});

test('services neither declared nor retired are never touched', () => {
  const foreign = actual(service(FOREIGN, 'rr'), [actualDest(dest('10.9.9.10', 443))]);
  const { ops } = run([{ service: service(VIP), destinations: [] }], [foreign]);
  assert.deepEqual(kinds(ops), ['addService']);
});

test('ops come in a safe order: adds, edits, drains, deletes', () => {
  const s = service(VIP);
  const { ops } = run(
    [
      { service: service(VIP, 'rr'), destinations: [dest('10.6.2.191', 80, { weight: 2 }), dest('10.6.2.193')] },
      { service: service(tcpKey('10.6.2.196', 80)), destinations: [] },
    ],
    [actual(s, [actualDest(dest('10.6.2.191')), actualDest(dest('10.6.2.192'), 1), actualDest(dest('10.6.2.194'))])],
  );
  assert.deepEqual(kinds(ops), ['addService', 'editService', 'addDest', 'editDest', 'editDest', 'deleteDest']);
});

test('normalizeDesired refuses a service or real server declared twice', () => {
  assert.throws(
    () =>
      normalizeDesired([
        { service: service(VIP), destinations: [] },
        { service: service(VIP), destinations: [] },
      ]),
    /declared twice/,
  );
  assert.throws(
    () => normalizeDesired([{ service: service(VIP), destinations: [dest('10.6.2.191'), dest('10.6.2.191')] }]),
    /10\.6\.2\.191:80 is declared twice/,
  );
});

test('normalizeDesired takes a service given as the same object as last time at its old result, and normalizes a new object afresh', () => {
  const web = { service: service(VIP), destinations: [dest('10.6.2.191'), dest('10.6.2.192')] };
  const other = { service: service(FOREIGN), destinations: [dest('10.9.9.1')] };
  const first = normalizeDesired([web, other]);
  const again = normalizeDesired([web, other], first, [web, other]);
  assert.equal(again.get(serviceKeyId(VIP)), first.get(serviceKeyId(VIP)));
  assert.equal(again.get(serviceKeyId(FOREIGN)), first.get(serviceKeyId(FOREIGN)));
  // A new object for one service: that one is what normalizing afresh gives, the other keeps its object.
  const heavier = { ...web, destinations: [dest('10.6.2.191', 80, { weight: 5 }), dest('10.6.2.192')] };
  const next = normalizeDesired([heavier, other], again, [web, other]);
  assert.deepEqual(next.get(serviceKeyId(VIP)), normalizeDesired([heavier]).get(serviceKeyId(VIP)));
  assert.equal(next.get(serviceKeyId(FOREIGN)), first.get(serviceKeyId(FOREIGN)));
  // The same object at another position is looked at, not taken: the previous ids are by position.
  const swapped = normalizeDesired([other, web], first, [web, other]);
  assert.deepEqual([...swapped.keys()], [serviceKeyId(FOREIGN), serviceKeyId(VIP)]);
  assert.throws(() => normalizeDesired([web, web], first, [web, other]), /declared twice/);
});

test('normalizeDesired keeps the objects of the real servers after one that left or joined', () => {
  const many = Array.from({ length: 40 }, (_, i) => dest(`10.6.3.${i + 1}`));
  const first = normalizeDesired([{ service: service(VIP), destinations: many }]);
  const before = first.get(serviceKeyId(VIP))!.destinations;
  const without = normalizeDesired([{ service: service(VIP), destinations: many.filter((_, i) => i !== 3) }], first);
  const after = without.get(serviceKeyId(VIP))!.destinations;
  assert.equal(after.length, 39);
  after.forEach((d, i) => assert.equal(d, before[i < 3 ? i : i + 1], `real server ${destinationId(d)} keeps its object`));
  const joined = normalizeDesired([{ service: service(VIP), destinations: [dest('10.6.3.200'), ...many] }], first);
  const withNew = joined.get(serviceKeyId(VIP))!.destinations;
  withNew.slice(1).forEach((d, i) => assert.equal(d, before[i]));
  assert.deepEqual(
    withNew[0],
    normalizeDesired([{ service: service(VIP), destinations: [dest('10.6.3.200')] }]).get(serviceKeyId(VIP))!.destinations[0],
  );
});

test('IPv6 addresses compare in canonical form', () => {
  const key = tcpKey('2001:db8::1', 80);
  const s = service(key);
  const { ops } = run(
    [{ service: service(tcpKey('2001:db8:0:0::1', 80)), destinations: [dest('2001:0db8::0010')] }],
    [actual(s, [actualDest(dest('2001:db8::10'))])],
  );
  assert.deepEqual(ops, []);
});

test('applyOpsToView keeps counters of edited destinations, copies what it touches, and findDrift names changes', () => {
  const s = service(VIP);
  const entry = actual(s, [actualDest(dest('10.6.2.191'), 4, 2)]);
  const other = actual(service(FOREIGN), []);
  const view = viewOf([entry, other]);
  applyOpsToView(view, [
    { kind: 'editDest', key: VIP, destination: dest('10.6.2.191', 80, { weight: 9 }), reason: '', purpose: 'converge' },
  ]);
  const after = view.get('tcp:10.6.2.195:80')!;
  assert.equal(after.destinations[0]!.weight, 9);
  assert.equal(after.destinations[0]!.activeConnections, 4);
  assert.equal(entry.destinations[0]!.weight, 1, 'the old entry is not mutated');
  assert.equal(view.get('tcp:10.9.9.9:443'), other, 'an untouched service stays the same object');
  const drift = findDrift(view, viewOf([actual(service(VIP, 'rr'), [])]), new Set(['tcp:10.6.2.195:80']));
  assert.deepEqual(
    drift.map((d) => d.what),
    ['service changed: scheduler wlc → rr', 'real server deleted'],
  );
  assert.deepEqual(findDrift(view, viewOf([actual(service(VIP, 'rr'), [])]), new Set()), [], "unowned services are nobody's drift");
});

test("refreshDestinations: the same real servers with the same settings keep the view's objects and take the fresh counters; any other change replaces the entry", () => {
  const id = 'tcp:10.6.2.195:80';
  const stats = (connections: number) => ({
    connections,
    packetsIn: 1,
    packetsOut: 2,
    bytesIn: 3,
    bytesOut: 4,
    cps: 5,
    ppsIn: 6,
    ppsOut: 7,
    bpsIn: 8,
    bpsOut: 9,
  });
  const held = [
    { ...actualDest(dest('10.6.2.191'), 4, 2), stats: stats(6) },
    { ...actualDest(dest('10.6.2.192'), 1, 0), stats: stats(1) },
  ];
  const entry = actual(service(VIP), held);
  const view = viewOf([entry]);
  const [a, b] = held;
  const fresh = [
    { ...actualDest(dest('10.6.2.191'), 0, 1), stats: stats(1) },
    { ...actualDest(dest('10.6.2.192'), 3, 5), stats: stats(8) },
  ];
  refreshDestinations(view, id, fresh);
  assert.equal(view.get(id), entry, 'the same entry');
  assert.equal(entry.destinations, held, 'the same real servers');
  assert.equal(entry.destinations[0], a);
  assert.equal(entry.destinations[1], b);
  assert.deepEqual(
    entry.destinations.map((d) => [d.activeConnections, d.inactiveConnections, d.stats?.connections]),
    [
      [0, 1, 1],
      [3, 5, 8],
    ],
    'with the fresh counters',
  );
  assert.notEqual(a!.stats, fresh[0]!.stats, 'copied into the objects held, not the fresh ones kept');

  // The kernel's order need not be the view's: each real server is found by its address and port.
  const entryNow = view.get(id)!;
  const [x, y] = entryNow.destinations;
  refreshDestinations(view, id, [actualDest(dest('10.6.2.191'), 7), actualDest(dest('10.6.2.192'), 8)].reverse());
  assert.equal(view.get(id), entryNow, 'another order: the same entry');
  assert.deepEqual([x!.activeConnections, y!.activeConnections], [7, 8], 'another order: each object with its own counters');

  for (const [what, changed] of [
    ['a weight', [actualDest(dest('10.6.2.191', 80, { weight: 0 }), 9), actualDest(dest('10.6.2.192'))]],
    ['one more', [actualDest(dest('10.6.2.191')), actualDest(dest('10.6.2.192')), actualDest(dest('10.6.2.193'))]],
    ['one fewer', [actualDest(dest('10.6.2.191'))]],
  ] as const) {
    const before = view.get(id)!;
    const counters = before.destinations.map((d) => d.activeConnections);
    refreshDestinations(view, id, [...changed]);
    const after = view.get(id)!;
    assert.notEqual(after, before, `${what}: a new entry`);
    assert.deepEqual(after.destinations, [...changed], `${what}: with the fresh real servers`);
    assert.deepEqual(
      before.destinations.map((d) => d.activeConnections),
      counters,
      `${what}: the old entry as it was`,
    );
  }
  refreshDestinations(view, 'tcp:10.9.9.9:443', []);
  assert.equal(view.has('tcp:10.9.9.9:443'), false, 'a service the view does not have is not added');
});

test("findDrift reads the same whether the kernel lists real servers in the view's order or another", () => {
  const id = 'tcp:10.6.2.195:80';
  const view = viewOf([
    actual(service(VIP), [actualDest(dest('10.6.2.191')), actualDest(dest('10.6.2.192')), actualDest(dest('10.6.2.193'))]),
  ]);
  const changed = [actualDest(dest('10.6.2.191')), actualDest(dest('10.6.2.192', 80, { weight: 5 }), 3), actualDest(dest('10.6.2.193'))];
  const expected = [{ service: id, destination: '10.6.2.192:80', what: 'real server changed: weight 1 → 5' }];
  assert.deepEqual(findDrift(view, viewOf([actual(service(VIP), changed)]), new Set([id])), expected, 'same order');
  assert.deepEqual(findDrift(view, viewOf([actual(service(VIP), [...changed].reverse())]), new Set([id])), expected, 'reversed');
  // Connection counters are not drift.
  const busy = [actualDest(dest('10.6.2.191'), 7, 9), actualDest(dest('10.6.2.192')), actualDest(dest('10.6.2.193'))];
  assert.deepEqual(findDrift(view, viewOf([actual(service(VIP), busy)]), new Set([id])), []);
  const swapped = [actualDest(dest('10.6.2.191')), actualDest(dest('10.6.2.194')), actualDest(dest('10.6.2.193'))];
  assert.deepEqual(
    findDrift(view, viewOf([actual(service(VIP), swapped)]), new Set([id])).map((d) => `${d.destination} ${d.what}`),
    ['10.6.2.192:80 real server deleted', '10.6.2.194:80 real server added'],
  );
});

test('applyOpsToView follows adds, deletes and a service deleted then added again, as the kernel would', () => {
  const view = viewOf([actual(service(VIP), [actualDest(dest('10.6.2.191'), 1), actualDest(dest('10.6.2.192'))])]);
  applyOpsToView(view, [
    { kind: 'addDest', key: VIP, destination: dest('10.6.2.193'), reason: '', purpose: 'converge' },
    { kind: 'deleteDest', key: VIP, destination: { address: '10.6.2.192', port: 80 }, reason: '', purpose: 'drain' },
    { kind: 'addService', service: service(FOREIGN), reason: '', purpose: 'converge' },
    { kind: 'addDest', key: FOREIGN, destination: dest('10.9.9.10', 443), reason: '', purpose: 'converge' },
    { kind: 'deleteService', key: FOREIGN, reason: '', purpose: 'drain' },
    { kind: 'addService', service: service(FOREIGN, 'rr'), reason: '', purpose: 'converge' },
  ]);
  assert.deepEqual(
    view.get('tcp:10.6.2.195:80')!.destinations.map((d) => `${destinationId(d)} ${d.activeConnections}`),
    ['10.6.2.191:80 1', '10.6.2.193:80 0'],
  );
  assert.deepEqual(view.get('tcp:10.9.9.9:443'), { service: service(FOREIGN, 'rr'), destinations: [] });
});

test("a scoped diff looks only at its services and carries the others' drains and retirement over", () => {
  const a = tcpKey('10.6.2.1', 80),
    b = tcpKey('10.6.2.2', 80),
    c = tcpKey('10.6.2.3', 80);
  const desired = normalizeDesired([
    { service: service(a), destinations: [dest('10.6.2.191', 80, { weight: 5 })] },
    { service: service(b), destinations: [dest('10.6.2.191', 80, { weight: 5 })] },
  ]);
  const table = viewOf([
    actual(service(a), [actualDest(dest('10.6.2.191'))]),
    actual(service(b), [actualDest(dest('10.6.2.191')), actualDest(dest('10.6.2.199', 80, { weight: 0 }), 2)]),
    actual(service(c), [actualDest(dest('10.6.2.191', 80, { weight: 0 }), 1)]),
  ]);
  const drains = new Map<string, DrainEntry>([
    ['tcp:10.6.2.2:80 10.6.2.199:80', { service: 'tcp:10.6.2.2:80', destination: '10.6.2.199:80', startedAt: 0, deadline: 30_000 }],
    ['tcp:10.6.2.3:80', { service: 'tcp:10.6.2.3:80', startedAt: 0, deadline: 30_000 }],
  ]);
  const input = { desired, actual: table, retired: new Set(['tcp:10.6.2.3:80']), drains, now: 1000, drainTimeoutMs: () => 30_000 };
  const scoped = reconcile({ ...input, scope: new Set(['tcp:10.6.2.1:80']) });
  assert.deepEqual(
    scoped.ops.map((o) => `${o.kind} ${serviceKeyId(opServiceKey(o))}`),
    ['editDest tcp:10.6.2.1:80'],
    'b needs an edit too, but b is out of scope',
  );
  assert.deepEqual([...scoped.drains.keys()].sort(), [...drains.keys()].sort());
  assert.deepEqual([...scoped.retired], ['tcp:10.6.2.3:80']);
  // Over every scope, the scoped diffs add up to the full one.
  const full = reconcile(input);
  const union = ['tcp:10.6.2.1:80', 'tcp:10.6.2.2:80', 'tcp:10.6.2.3:80'].flatMap(
    (id) => reconcile({ ...input, scope: new Set([id]) }).ops,
  );
  const describe = (ops: { kind: string }[]) => ops.map((o) => JSON.stringify(o)).sort();
  assert.deepEqual(describe(union), describe(full.ops));
});
