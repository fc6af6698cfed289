import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../../src/clock.js';
import type { Logger } from '../../../src/log.js';
import { EventBus, type AgentEvent } from '../../../src/events.js';
import { vrrpInstanceConfig, type VrrpInstanceInput } from '../../../src/vrrp/config.js';
import { VrrpInstance, type SyncDaemonRole } from '../../../src/vrrp/instance.js';
import { AUTH_NONE, decodeAdvert, encodeAdvert } from '../../../src/vrrp/packet.js';
import { masterDownIntervalMs, skewMs } from '../../../src/vrrp/fsm.js';
import { VrrpSyncGroup } from '../../../src/vrrp/sync-group.js';
import { FakeHost, FakeSegment, fakeIo } from './fake-io.js';

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Advances the fake clock in small steps, letting VIP promises settle between. */
async function run(clock: FakeClock, ms: number, stepMs = 10): Promise<void> {
  for (let t = 0; t < ms; t += stepMs) {
    clock.advance(Math.min(stepMs, ms - t));
    await flush();
  }
}

function router(segment: FakeSegment, clock: FakeClock, bus: EventBus, n: number, over: Partial<VrrpInstanceInput> = {}) {
  const host = new FakeHost();
  host.addLink('eth0', 2, `02:00:00:00:00:0${n}`, [{ address: `192.0.2.${n}`, prefixLength: 24 }]);
  const io = fakeIo(segment, host);
  const roles: SyncDaemonRole[] = [];
  const config = vrrpInstanceConfig({
    name: 'web',
    interface: 'eth0',
    vrid: 51,
    priority: 100,
    version: 2,
    vips: ['192.0.2.195/32'],
    garp: { count: 3, intervalMs: 100, refreshMs: 0 },
    syncDaemon: { interface: 'eth0', syncId: 51 },
    ...over,
  });
  const instance = new VrrpInstance(config, {
    io,
    clock,
    events: bus,
    onSyncDaemon: (role) => {
      roles.push(role);
    },
  });
  return { host, io, instance, roles, config };
}

function wirePriorities(segment: FakeSegment, from: string): number[] {
  return segment.wire
    .filter((w) => w.from === from)
    .map((w) => {
      const d = decodeAdvert(w.payload, { family: 4, source: w.from, destination: w.destination });
      assert.ok(d.ok);
      return d.value.priority;
    });
}

test('two instances elect the higher priority, which takes the VIP and announces it', async () => {
  const clock = new FakeClock();
  const segment = new FakeSegment(clock);
  const bus = new EventBus('lvs-a', () => clock.wallNow());
  const events: AgentEvent[] = [];
  bus.subscribe('vrrp.*', (e) => events.push(e));
  const a = router(segment, clock, bus, 1, { priority: 200 });
  const b = router(segment, clock, bus, 2, { priority: 100 });
  await a.instance.start();
  await b.instance.start();
  await run(clock, 5000);
  assert.equal(a.instance.status().state, 'master');
  assert.equal(b.instance.status().state, 'backup');
  assert.ok(a.host.has('eth0', '192.0.2.195'));
  assert.ok(!b.host.has('eth0', '192.0.2.195'));
  assert.equal(b.instance.status().masterAddress, '192.0.2.1');
  assert.deepEqual(
    segment.announcements.map((x) => x.mac),
    ['020000000001', '020000000001', '020000000001'],
  );
  assert.deepEqual(a.roles, ['backup', 'master']);
  assert.deepEqual(b.roles, ['backup']);
  const toMaster = events.find((e) => e.to === 'master')!;
  assert.equal(toMaster.object, 'vrrp/web');
  assert.equal(toMaster.from, 'backup');
  assert.equal(toMaster.reason, 'master-down-timer');
  const sa = a.instance.status().counters;
  assert.ok(sa.advertsSent >= 2);
  assert.equal(b.instance.status().counters.advertsReceived, sa.advertsSent);
  assert.equal(sa.becameMaster, 1);
});

test('crash of the master: the backup takes over after Master_Down_Interval; graceful stop: after Skew_Time with priority 0', async () => {
  const clock = new FakeClock();
  const segment = new FakeSegment(clock);
  const bus = new EventBus('n');
  const a = router(segment, clock, bus, 1, { priority: 200 });
  const b = router(segment, clock, bus, 2, { priority: 100 });
  await a.instance.start();
  await b.instance.start();
  await run(clock, 5000);
  // crash: a's wire goes silent (kill -9)
  a.io.channels[0]!.dead = true;
  const crashAt = clock.now();
  await run(clock, 4000, 1);
  const takeover = segment.announcements.find((x) => x.mac === '020000000002')!.at;
  assert.ok(takeover - crashAt <= masterDownIntervalMs(2, 100, 100) + 1, `crash takeover after ${takeover - crashAt} ms`);
  assert.equal(b.instance.status().state, 'master');
  assert.ok(b.host.has('eth0', '192.0.2.195'));

  // a comes back (restart) and preempts; then stops gracefully
  await a.instance.stop();
  const a2 = router(segment, clock, bus, 1, { priority: 200 });
  await a2.instance.start();
  await run(clock, 5000);
  assert.equal(a2.instance.status().state, 'master');
  assert.equal(b.instance.status().state, 'backup');
  assert.ok(!b.host.has('eth0', '192.0.2.195'), 'the backup dropped the VIP');
  const stopAt = clock.now();
  const before = segment.announcements.length;
  await a2.instance.stop();
  assert.equal(wirePriorities(segment, '192.0.2.1').at(-1), 0, 'priority 0 on the wire');
  assert.ok(!a2.host.has('eth0', '192.0.2.195'), 'VIP removed on stop');
  assert.deepEqual(a2.roles, ['backup', 'master', 'none']);
  await run(clock, 1000, 1);
  const graceful = segment.announcements.slice(before).find((x) => x.mac === '020000000002')!.at;
  assert.ok(
    graceful - stopAt <= skewMs(2, 100, 100) + 1 && graceful - stopAt >= skewMs(2, 100, 100) - 1,
    `graceful takeover after ${graceful - stopAt} ms`,
  );
});

test('a second GARP burst follows garp.delay after becoming master; none with delay 0; none once no longer master', async () => {
  const burstTimes = (segment: FakeSegment, mac: string): number[] => segment.announcements.filter((x) => x.mac === mac).map((x) => x.at);
  for (const delayMs of [5000, 0]) {
    const clock = new FakeClock();
    const segment = new FakeSegment(clock);
    const a = router(segment, clock, new EventBus('n'), 1, { priority: 200, garp: { count: 3, intervalMs: 100, refreshMs: 0, delayMs } });
    await a.instance.start();
    await run(clock, 4000);
    assert.equal(a.instance.status().state, 'master');
    const first = burstTimes(segment, '020000000001');
    assert.equal(first.length, 3, 'the takeover burst');
    await run(clock, 10_000);
    const all = burstTimes(segment, '020000000001');
    if (delayMs === 0) {
      assert.deepEqual(all, first, 'no second burst with delay 0');
    } else {
      assert.equal(all.length, 6, `one second burst of 3: ${all.join(', ')}`);
      assert.deepEqual(
        all.slice(3).map((t) => t - first[0]!),
        [5000, 5100, 5200],
        'delay after the first, then interval apart',
      );
    }
    await a.instance.stop();
  }

  // Pre-empted before the delay runs out: the new backup stays silent.
  const clock = new FakeClock();
  const segment = new FakeSegment(clock);
  const bus = new EventBus('n');
  const b = router(segment, clock, bus, 2, { priority: 100, garp: { count: 3, intervalMs: 100, refreshMs: 0, delayMs: 5000 } });
  await b.instance.start();
  await run(clock, 4000);
  assert.equal(b.instance.status().state, 'master');
  const a = router(segment, clock, bus, 1, { priority: 200 });
  const becameMasterAt = burstTimes(segment, '020000000002')[0]!;
  await a.instance.start();
  await run(clock, 4000);
  assert.equal(b.instance.status().state, 'backup', 'pre-empted by the higher priority');
  assert.ok(clock.now() < becameMasterAt + 5000, 'stepped down before its delayed burst was due');
  await run(clock, 8000);
  assert.equal(burstTimes(segment, '020000000002').length, 3, 'no delayed burst after stepping down');
  await a.instance.stop();
  await b.instance.stop();
});

test('a VIP on another interface (keepalived dev) is added, announced from that interface and removed there', async () => {
  const clock = new FakeClock();
  const segment = new FakeSegment(clock);
  const bus = new EventBus('n');
  const inside = '10.9.0.1/24';
  const a = router(segment, clock, bus, 1, {
    priority: 200,
    vips: ['192.0.2.195/32', inside],
    vipInterfaces: { [inside]: 'eth1' },
    vipLabel: 'eth0:web',
  });
  a.host.addLink('eth1', 3, '02:00:00:00:01:01', [{ address: '10.9.0.2', prefixLength: 24 }]);
  const b = router(segment, clock, bus, 2, { priority: 100, vips: ['192.0.2.195/32', inside], vipInterfaces: { [inside]: 'eth1' } });
  b.host.addLink('eth1', 3, '02:00:00:00:01:02', [{ address: '10.9.0.3', prefixLength: 24 }]);
  await a.instance.start();
  await b.instance.start();
  await run(clock, 5000);
  assert.equal(a.instance.status().state, 'master');
  assert.ok(a.host.has('eth0', '192.0.2.195') && !a.host.has('eth0', '10.9.0.1'), 'the outside VIP on eth0 only');
  assert.ok(a.host.has('eth1', '10.9.0.1') && !a.host.has('eth1', '192.0.2.195'), 'the inside VIP on eth1 only');
  assert.ok(
    a.host.ops.includes('add 192.0.2.195/32 eth0:web') && a.host.ops.includes('add 10.9.0.1/24'),
    `the label only on the instance's interface: ${a.host.ops.join(', ')}`,
  );
  const fromA = segment.announcements.filter((x) => x.mac.startsWith('0200000000') || x.mac.startsWith('0200000001'));
  assert.deepEqual(
    fromA.filter((x) => x.mac === '020000000001').map((x) => x.addresses),
    [['192.0.2.195'], ['192.0.2.195'], ['192.0.2.195']],
  );
  assert.deepEqual(
    fromA.filter((x) => x.mac === '020000000101').map((x) => x.addresses),
    [['10.9.0.1'], ['10.9.0.1'], ['10.9.0.1']],
    "announced from eth1's MAC",
  );
  assert.ok(!b.host.has('eth1', '10.9.0.1'));

  // The master stops: both addresses leave their interfaces, the backup takes both and announces each on its own interface.
  await a.instance.stop();
  assert.ok(!a.host.has('eth0', '192.0.2.195') && !a.host.has('eth1', '10.9.0.1'));
  await run(clock, 1000);
  assert.equal(b.instance.status().state, 'master');
  assert.ok(b.host.has('eth0', '192.0.2.195') && b.host.has('eth1', '10.9.0.1'));
  assert.ok(segment.announcements.some((x) => x.mac === '020000000102' && x.addresses.includes('10.9.0.1')));

  // A reload moving the inside VIP back to eth0 removes it from eth1 and adds it on eth0, in place.
  await b.instance.update({ ...b.config, vipInterfaces: {} });
  await run(clock, 100);
  assert.equal(b.instance.status().state, 'master', 'no restart');
  assert.ok(!b.host.has('eth1', '10.9.0.1') && b.host.has('eth0', '10.9.0.1'));
  await b.instance.stop();
});

test('adverts carrying other addresses than our VIPs are counted and logged once per mismatch, and still followed', async () => {
  const clock = new FakeClock();
  const segment = new FakeSegment(clock);
  const bus = new EventBus('n');
  const a = router(segment, clock, bus, 1, { priority: 200, vips: ['192.0.2.195/32', '192.0.2.196/32'] });
  const host = new FakeHost();
  host.addLink('eth0', 2, '02:00:00:00:00:02', [{ address: '192.0.2.2', prefixLength: 24 }]);
  const warnings: string[] = [];
  const log = {
    warn: (_o: unknown, msg: string) => {
      warnings.push(msg);
    },
    info: () => undefined,
    error: () => undefined,
    debug: () => undefined,
  } as unknown as Logger;
  const b = new VrrpInstance(
    vrrpInstanceConfig({ name: 'web', interface: 'eth0', vrid: 51, priority: 100, version: 2, vips: ['192.0.2.195/32'] }),
    { io: fakeIo(segment, host), clock, events: bus, log },
  );
  await a.instance.start();
  await b.start();
  await run(clock, 6000);
  assert.equal(a.instance.status().state, 'master');
  assert.equal(b.status().state, 'backup', 'the backup still follows the master whose list differs (no dual master)');
  const received = b.status().counters.advertsReceived;
  assert.ok(received >= 2);
  assert.equal(b.status().counters.addressMismatches, received, 'every accepted advert with the other list is counted');
  const mismatchLogs = warnings.filter((w) => w.includes('VIP lists differ'));
  assert.equal(mismatchLogs.length, 1, `logged once: ${warnings.join(' | ')}`);
  assert.match(mismatchLogs[0]!, /from 192\.0\.2\.1 carry addresses \[192\.0\.2\.195, 192\.0\.2\.196\], ours are \[192\.0\.2\.195\]/);
  assert.equal(a.instance.status().counters.addressMismatches, 0, 'the master hears nothing from the backup');

  // The configs agree again (reload): no more counting, and a new mismatch would be logged again.
  await b.update(
    vrrpInstanceConfig({ name: 'web', interface: 'eth0', vrid: 51, priority: 100, version: 2, vips: ['192.0.2.196/32', '192.0.2.195/32'] }),
  );
  const counted = b.status().counters.addressMismatches;
  await run(clock, 3000);
  assert.ok(b.status().counters.advertsReceived > received);
  assert.equal(b.status().counters.addressMismatches, counted, 'the same set in another order matches');
  await a.instance.stop();
  await b.stop();
});

test('a tracked service losing quorum lowers the priority and the other router preempts', async () => {
  const clock = new FakeClock();
  const segment = new FakeSegment(clock);
  const bus = new EventBus('n');
  const a = router(segment, clock, bus, 1, {
    priority: 150,
    track: { interfaces: [], services: [{ name: 'web-80', weight: -60 }], scripts: [], files: [], processes: [] },
  });
  const b = router(segment, clock, bus, 2, { priority: 120 });
  await a.instance.start();
  await b.instance.start();
  await run(clock, 5000);
  assert.equal(a.instance.status().state, 'master');
  a.instance.setTracked('service', 'web-80', false);
  assert.equal(a.instance.status().effectivePriority, 90);
  await run(clock, 5000);
  assert.equal(b.instance.status().state, 'master');
  assert.equal(a.instance.status().state, 'backup');
  a.instance.setTracked('service', 'web-80', true);
  await run(clock, 5000);
  assert.equal(a.instance.status().state, 'master', 'quorum back: preempts again');
});

test('interface down means FAULT at once; up must persist for the debounce before it counts', async () => {
  const clock = new FakeClock();
  const segment = new FakeSegment(clock);
  const bus = new EventBus('n');
  const a = router(segment, clock, bus, 1, { priority: 200, linkDebounce: { upMs: 500, downMs: 0 } });
  await a.instance.start();
  await run(clock, 4000);
  assert.equal(a.instance.status().state, 'master');
  a.host.setUp('eth0', false);
  await flush();
  assert.equal(a.instance.status().state, 'fault');
  assert.deepEqual(a.instance.status().faults, ['interface/eth0']);
  assert.equal(wirePriorities(segment, '192.0.2.1').at(-1), 0, 'a master going to FAULT resigns');
  assert.ok(!a.host.has('eth0', '192.0.2.195'));
  // flapping: up for 200 ms, down, up again
  a.host.setUp('eth0', true);
  await run(clock, 200);
  a.host.setUp('eth0', false);
  await run(clock, 100);
  a.host.setUp('eth0', true);
  await run(clock, 400);
  assert.equal(a.instance.status().state, 'fault', 'still damped');
  await run(clock, 200);
  assert.equal(a.instance.status().state, 'backup');
  assert.deepEqual(a.roles, ['backup', 'master', 'backup', 'backup'], 'sync daemon: backup in BACKUP and FAULT');
});

test('track scripts: fall failures lower the priority, rise successes restore it', async () => {
  const clock = new FakeClock();
  const segment = new FakeSegment(clock);
  const results: boolean[] = [true, false, false, true, true];
  let i = 0;
  const host = new FakeHost();
  host.addLink('eth0', 2, '02:00:00:00:00:01', [{ address: '192.0.2.1', prefixLength: 24 }]);
  const instance = new VrrpInstance(
    vrrpInstanceConfig({
      name: 'web',
      interface: 'eth0',
      vrid: 51,
      priority: 100,
      vips: ['192.0.2.195/32'],
      track: {
        interfaces: [],
        services: [],
        files: [],
        processes: [],
        scripts: [{ name: 'chk', command: ['true'], intervalMs: 1000, timeoutMs: 500, rise: 2, fall: 2, weight: -30 }],
      },
    }),
    { io: fakeIo(segment, host), clock, runScript: async () => results[Math.min(i++, results.length - 1)]! },
  );
  await instance.start();
  const seen: number[] = [];
  for (let t = 0; t < 6; t++) {
    await run(clock, 1000, 100);
    seen.push(instance.status().effectivePriority);
  }
  assert.deepEqual(seen.slice(0, 5), [100, 100, 70, 70, 100]);
  await instance.stop();
});

test('update(): priority and interval changes keep the state; a new VRID restarts', async () => {
  const clock = new FakeClock();
  const segment = new FakeSegment(clock);
  const bus = new EventBus('n');
  const a = router(segment, clock, bus, 1, { priority: 200 });
  await a.instance.start();
  await run(clock, 4000);
  const transitions = a.instance.status().counters.transitions;
  await a.instance.update({ ...a.config, priority: 180, vips: ['192.0.2.195/32', '192.0.2.196/32'] });
  await run(clock, 1000);
  assert.equal(a.instance.status().state, 'master');
  assert.equal(a.instance.status().counters.transitions, transitions, 'no transition on reload');
  assert.equal(a.instance.status().effectivePriority, 180);
  assert.ok(a.host.has('eth0', '192.0.2.196'), 'a new VIP is added while master');
  await a.instance.update({ ...a.config, priority: 180, vips: ['192.0.2.196/32'] });
  await flush();
  assert.ok(!a.host.has('eth0', '192.0.2.195'), 'a VIP dropped from the config is removed');
  a.instance.setTracked('service', 'web-80', false);
  assert.equal(a.instance.status().effectivePriority, 180, 'an untracked service is ignored');
  await a.instance.update({
    ...a.config,
    priority: 180,
    vips: ['192.0.2.196/32'],
    track: { interfaces: [], services: [{ name: 'web-80', weight: -50 }], scripts: [], files: [], processes: [] },
  });
  a.instance.setTracked('service', 'web-80', false);
  await a.instance.update({
    ...a.config,
    priority: 180,
    vips: ['192.0.2.196/32'],
    track: { interfaces: [], services: [{ name: 'web-80', weight: -60 }], scripts: [], files: [], processes: [] },
  });
  assert.equal(a.instance.status().effectivePriority, 120, 'the reported quorum survives a reload of the tracking');
  await a.instance.update({ ...a.config, vrid: 52, vips: ['192.0.2.196/32'] });
  assert.equal(a.instance.status().state, 'backup', 'restarted as a new router');
  await a.instance.stop();
});

test('sync group: when one member becomes master the other follows, and FAULT spreads', async () => {
  const clock = new FakeClock();
  const segment = new FakeSegment(clock);
  const host = new FakeHost();
  host.addLink('eth0', 2, '02:00:00:00:00:01', [{ address: '192.0.2.1', prefixLength: 24 }]);
  host.addLink('eth1', 3, '02:00:00:00:01:01', [{ address: '198.51.100.1', prefixLength: 24 }]);
  const group = new VrrpSyncGroup('g');
  const io = fakeIo(segment, host);
  const x = new VrrpInstance(
    vrrpInstanceConfig({ name: 'x', interface: 'eth0', vrid: 1, priority: 100, advertIntervalMs: 1000, vips: ['192.0.2.195/32'] }),
    { io, clock, syncGroup: group },
  );
  const y = new VrrpInstance(
    vrrpInstanceConfig({ name: 'y', interface: 'eth1', vrid: 2, priority: 100, advertIntervalMs: 3000, vips: ['198.51.100.195/32'] }),
    { io, clock, syncGroup: group },
  );
  await x.start();
  await y.start();
  await run(clock, 3700);
  assert.equal(x.status().state, 'master');
  assert.equal(y.status().state, 'master', 'pulled to MASTER with x, long before its own timer');
  assert.equal(y.status().lastTransition?.reason, 'sync-group');
  host.setUp('eth0', false);
  await flush();
  assert.equal(x.status().state, 'fault');
  assert.equal(y.status().state, 'fault');
  host.setUp('eth0', true);
  await run(clock, 600);
  assert.equal(x.status().state, 'backup');
  assert.equal(y.status().state, 'backup');
  await x.stop();
  await y.stop();
});

test('a config that cannot work is refused with every problem named', () => {
  const io = fakeIo(new FakeSegment(new FakeClock()), new FakeHost());
  assert.throws(
    () =>
      new VrrpInstance(
        vrrpInstanceConfig({
          name: 'w',
          interface: 'eth0',
          vrid: 300,
          priority: 0,
          version: 2,
          vips: ['2001:db8::1/64'],
          advertIntervalMs: 1500,
        }),
        { io },
      ),
    /vrid: an integer 1\.\.255.*priority.*advert_interval.*version: VRRPv2 is IPv4 only/,
  );
});

test('unicast IPv6 peers in other spellings (FE80::2, fe80:0:0:0:0:0:0:1) hear each other: one master', async () => {
  const clock = new FakeClock();
  const segment = new FakeSegment(clock);
  const bus = new EventBus('n');
  const v6router = (n: number, priority: number, peer: string) => {
    const host = new FakeHost();
    host.addLink('eth0', 2, `02:00:00:00:00:0${n}`, [{ address: `fe80::${n}`, prefixLength: 64 }]);
    const config = vrrpInstanceConfig({
      name: 'v6',
      interface: 'eth0',
      vrid: 61,
      priority,
      version: 3,
      advertIntervalMs: 1000,
      vips: ['2001:DB8::0100/128'],
      unicastPeers: [peer],
      garp: { count: 1, intervalMs: 100, refreshMs: 0, delayMs: 0 },
    });
    return { host, instance: new VrrpInstance(config, { io: fakeIo(segment, host), clock, events: bus }) };
  };
  const a = v6router(1, 200, 'FE80::2');
  const b = v6router(2, 100, 'fe80:0:0:0:0:0:0:1');
  await a.instance.start();
  await b.instance.start();
  await run(clock, 8000);
  assert.deepEqual([a.instance.status().state, b.instance.status().state], ['master', 'backup']);
  assert.equal(b.instance.status().counters.dropped.not_a_peer, 0);
  assert.equal(b.instance.status().masterAddress, 'fe80::1');
  assert.ok(a.host.has('eth0', '2001:db8::100') && !b.host.has('eth0', '2001:db8::100'));
  await a.instance.stop();
  await b.instance.stop();
});

test('1,000 forged priority-1 adverts in an interval: the master answers once; burst timers stay few', async () => {
  const clock = new FakeClock();
  const segment = new FakeSegment(clock);
  const bus = new EventBus('n');
  const garp = { count: 5, intervalMs: 100, refreshMs: 0, delayMs: 0 };
  const a = router(segment, clock, bus, 1, { priority: 200, garp });
  await a.instance.start();
  await run(clock, 5000);
  assert.equal(a.instance.status().state, 'master');
  const channel = a.io.channels[0]!;
  const forged = encodeAdvert(
    { version: 2, vrid: 51, priority: 1, intervalCs: 100, addresses: ['192.0.2.195'], authType: AUTH_NONE },
    { family: 4, source: '192.0.2.66', destination: '224.0.0.18' },
  );
  const burstTimers = (): number => {
    const timers = (a.instance as unknown as { announcements: { burstTimers: Set<unknown> } }).announcements.burstTimers;
    return timers.size;
  };
  const advertsBefore = a.instance.status().counters.advertsSent;
  const announcementsBefore = segment.announcements.length;
  let largest = 0;
  for (let i = 0; i < 1000; i++) {
    channel.deliver({ payload: forged, source: '192.0.2.66', destination: '224.0.0.18', ttl: 255 });
    largest = Math.max(largest, burstTimers());
    clock.advance(0.9);
  }
  assert.equal(a.instance.status().counters.advertsReceived, 1000);
  const answers = a.instance.status().counters.advertsSent - advertsBefore;
  assert.ok(answers <= 2, `${answers} adverts sent in one interval (one answer, at most one scheduled)`);
  await run(clock, 1000);
  const announcements = segment.announcements.length - announcementsBefore;
  assert.ok(announcements <= 5, `${announcements} announcements: at most one burst of garp.count`);
  assert.ok(largest <= 4, `burst timers peaked at ${largest}`);
  assert.equal(burstTimers(), 0, 'fired burst timers leave the collection');
  assert.ok(clock.pendingTimers() <= 3, `${clock.pendingTimers()} timers pending`);
  assert.equal(a.instance.status().state, 'master');
  await a.instance.stop();
});

test('adverts alternating between address sets, or cycling through many, log few mismatch lines', async () => {
  const clock = new FakeClock();
  const segment = new FakeSegment(clock);
  const bus = new EventBus('n');
  const warnings: string[] = [];
  const quiet = (): undefined => undefined;
  const warn = (_o: unknown, msg: string): void => {
    warnings.push(msg);
  };
  const log = { warn, info: quiet, error: quiet, debug: quiet } as unknown as Logger;
  const host = new FakeHost();
  host.addLink('eth0', 2, '02:00:00:00:00:01', [{ address: '192.0.2.1', prefixLength: 24 }]);
  const io = fakeIo(segment, host);
  const config = vrrpInstanceConfig({
    name: 'web',
    interface: 'eth0',
    vrid: 51,
    priority: 200,
    version: 2,
    vips: ['192.0.2.195/32'],
  });
  const instance = new VrrpInstance(config, { io, clock, events: bus, log });
  await instance.start();
  await run(clock, 5000);
  const advert = (addresses: string[]): Buffer =>
    encodeAdvert(
      { version: 2, vrid: 51, priority: 100, intervalCs: 100, addresses, authType: AUTH_NONE },
      { family: 4, source: '192.0.2.2', destination: '224.0.0.18' },
    );
  const deliver = (payload: Buffer): void => {
    io.channels[0]!.deliver({ payload, source: '192.0.2.2', destination: '224.0.0.18', ttl: 255 });
  };
  const mismatchLines = (): number => warnings.filter((w) => w.includes('VIP lists differ')).length;

  const a = advert(['192.0.2.195', '192.0.2.196']),
    b = advert(['192.0.2.197']),
    ours = advert(['192.0.2.195']);
  for (let i = 0; i < 500; i++) {
    deliver(i % 3 === 0 ? a : i % 3 === 1 ? b : ours);
    clock.advance(10);
  }
  assert.equal(mismatchLines(), 2, 'two alternating sets (with matching adverts between): one line each');

  // A thousand distinct sets within a minute: at most ten lines a minute.
  for (let i = 0; i < 1000; i++) {
    deliver(advert([`198.51.100.${i % 250}`, `203.0.113.${Math.floor(i / 250)}`]));
    clock.advance(10);
  }
  assert.ok(mismatchLines() <= 12, `${mismatchLines()} lines after 1,000 distinct sets in 10 s`);
  assert.equal(instance.status().counters.addressMismatches, 167 + 167 + 1000, 'every mismatch is counted');
  await instance.stop();
});

test('update() with a new VRID forgets the tracked objects the new config no longer has', async () => {
  const clock = new FakeClock();
  const segment = new FakeSegment(clock);
  const bus = new EventBus('n');
  const track = {
    interfaces: [],
    services: [
      { name: 'db', weight: 0 },
      { name: 'web-80', weight: -50 },
    ],
    scripts: [],
    files: [],
    processes: [],
  };
  const a = router(segment, clock, bus, 1, { priority: 200, track });
  await a.instance.start();
  a.instance.setTracked('service', 'db', false);
  a.instance.setTracked('service', 'web-80', false);
  await run(clock, 1000);
  assert.equal(a.instance.status().state, 'fault');
  assert.deepEqual(a.instance.status().faults, ['service/db']);
  await a.instance.update({ ...a.config, vrid: 52, track: { interfaces: [], services: [], scripts: [], files: [], processes: [] } });
  await run(clock, 5000);
  assert.deepEqual(a.instance.status().faults, [], 'service/db is no longer tracked');
  assert.equal(a.instance.status().effectivePriority, 200, 'nor is web-80');
  assert.equal(a.instance.status().state, 'master');
  await a.instance.stop();
});
