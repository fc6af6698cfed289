// Two failoverd VRRP routers on a bridge, an observer running tcpdump.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canRunNetns, Lab, longestDualMasterMs, Observer, VipMonitor, type RouterProcess } from './lab.js';
import { sh } from '../../helpers/shell.js';

const skip = canRunNetns();
const VIP = '192.0.2.195';

function instance(priority: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'web',
    vrid: 51,
    priority,
    version: 3,
    advertIntervalMs: 100,
    vips: [`${VIP}/32`],
    garp: { count: 3, intervalMs: 50, refreshMs: 0 },
    ...over,
  };
}

test(
  'failoverd pair, VRRPv3 100 ms: election, kill -9, preemption, graceful stop, no dual master',
  { skip, timeout: 90_000 },
  async (t) => {
    const lab = new Lab('e');
    const vips = new VipMonitor();
    try {
      lab.setup([
        { name: 'a', ipv4: '192.0.2.1' },
        { name: 'b', ipv4: '192.0.2.2' },
      ]);
      const observer = await lab.observe();
      vips.watch(lab.node('a'));
      vips.watch(lab.node('b'));
      const macA = lab.node('a').mac,
        macB = lab.node('b').mac;

      let a: RouterProcess = lab.failoverd('a', instance(200));
      const b = lab.failoverd('b', instance(100));
      await a.waitForState('master', 10_000);
      await b.waitForState('backup', 10_000);
      await a.waitFor(() => lab.addresses('a').includes(VIP) && !lab.addresses('b').includes(VIP), 5000, 'the VIP on the master only');
      await a.waitFor(
        () => observer.announcements().some((e) => e.srcMac === macA && e.address === VIP),
        5000,
        "gratuitous ARP from the master's MAC",
      );
      // Both start at once; whichever process is up first may win briefly before a preempts.
      // Once the master's adverts stand alone, the next ones (counted, not timed) are its only.
      const fromA = (e: { source?: string; priority?: number }): boolean => e.source === '192.0.2.1' && e.priority === 200;
      await a.waitFor(
        () => observer.adverts(51).slice(-3).length === 3 && observer.adverts(51).slice(-3).every(fromA),
        5000,
        'three adverts in a row from the master',
      );
      const settled = observer.adverts(51).length;
      await a.waitFor(() => observer.adverts(51).length >= settled + 5, 5000, 'five more adverts');
      assert.ok(observer.adverts(51).slice(settled).every(fromA), 'only the master advertises');
      // How long both advertised, and both held the VIP, as the pair came up: reported, not asserted.
      t.diagnostic(
        `start-up: two masters on the wire for ${longestDualMasterMs(observer.adverts(51), 100)} ms; both held the VIP for ${vips.longestDoubleHoldMs(VIP, 0, Number.MAX_SAFE_INTEGER)} ms`,
      );

      // kill -9: the backup takes the VIP and announces it (how fast: bench/failover/failover.ts)
      const announcedBefore = observer.announcements().length;
      a.kill('SIGKILL');
      await b.waitForState('master', 10_000);
      const garpFromB = () =>
        observer
          .announcements()
          .slice(announcedBefore)
          .find((e) => e.srcMac === macB);
      await b.waitFor(() => garpFromB() !== undefined, 10_000, 'GARP from b');
      assert.equal(garpFromB()!.address, VIP);
      assert.ok(lab.addresses('b').includes(VIP));

      // the old master returns with a higher priority: it preempts; b drops the VIP
      const timelineAtRestart = vips.timeline.length;
      a = lab.failoverd('a', instance(200));
      await a.waitForState('master', 10_000);
      await b.waitForState('backup', 10_000);
      await a.waitFor(() => lab.addresses('a').includes(VIP) && !lab.addresses('b').includes(VIP), 5000, 'the VIP on a only');
      // Never both at once after b let go: b's removal is the last change, a's add comes first or after.
      const preemption = vips.timeline
        .slice(timelineAtRestart)
        .filter((e) => e.address === VIP)
        .map((e) => `${e.node} ${e.action}`);
      assert.equal(preemption.filter((e) => e === 'b del').length, 1, `b gave up the VIP once: ${preemption.join(', ')}`);
      assert.ok(!preemption.slice(preemption.indexOf('b del') + 1).includes('b add'), `b did not take it back: ${preemption.join(', ')}`);
      t.diagnostic(
        `preemption: both held the VIP for ${vips.longestDoubleHoldMs(VIP, 0, Number.MAX_SAFE_INTEGER)} ms at most (reported, not asserted)`,
      );

      // graceful stop: priority 0 on the wire, b takes over after Skew_Time (how fast: bench/failover/failover.ts)
      const advertsAtStop = observer.adverts(51).length;
      const timelineAtStop = vips.timeline.length;
      a.kill('SIGTERM');
      assert.equal(await a.exited, 0);
      await b.waitForState('master', 10_000);
      const findResign = () =>
        observer
          .adverts(51)
          .slice(advertsAtStop)
          .find((e) => e.source === '192.0.2.1' && e.priority === 0);
      await b.waitFor(() => findResign() !== undefined, 10_000, 'priority 0 seen by the observer');
      const resign = findResign()!;
      assert.ok(!lab.addresses('a').includes(VIP), 'the stopped master removed its VIP');
      await b.waitFor(() => observer.announcements().some((e) => e.srcMac === macB && e.t >= resign.t), 10_000, 'GARP after resign');
      // After the resign only b advertises, and a took no advert back.
      const afterResign = observer.adverts(51).slice(observer.adverts(51).indexOf(resign) + 1);
      assert.ok(
        afterResign.every((e) => e.source === '192.0.2.2'),
        `only b after a's priority 0: ${afterResign.map((e) => `${e.source}/${e.priority}`).join(' ')}`,
      );
      // a let go of the VIP before b took it: never both.
      const handover = vips.timeline
        .slice(timelineAtStop)
        .filter((e) => e.address === VIP)
        .map((e) => `${e.node} ${e.action}`);
      assert.deepEqual(handover, ['a del', 'b add'], 'a removed the VIP, then b added it');
      t.diagnostic(
        `two masters on the wire for ${longestDualMasterMs(observer.adverts(51), 100)} ms at most over the whole test (reported, not asserted)`,
      );
    } finally {
      vips.close();
      await lab.cleanup();
    }
  },
);

test('nopreempt: a returning higher-priority router stays backup', { skip, timeout: 30_000 }, async () => {
  const lab = new Lab('n');
  try {
    lab.setup([
      { name: 'a', ipv4: '192.0.2.1' },
      { name: 'b', ipv4: '192.0.2.2' },
    ]);
    const b = lab.failoverd('b', instance(100, { preempt: false }));
    await b.waitForState('master', 10_000);
    const a = lab.failoverd('a', instance(200, { preempt: false }));
    await a.waitForState('backup', 10_000);
    // Fifteen of b's adverts (1.5 s at 100 ms) heard by a, counted on the wire.
    const observer = await lab.observe();
    await b.waitFor(
      () => observer.adverts(51).filter((e) => e.source === '192.0.2.2' && e.priority === 100).length >= 15,
      10_000,
      'fifteen adverts from b',
    );
    assert.equal(a.state, 'backup');
    assert.equal(b.state, 'master');
    assert.ok(lab.addresses('b').includes(VIP));
    assert.ok(!lab.addresses('a').includes(VIP));
  } finally {
    await lab.cleanup();
  }
});

test('VRRPv2 with a password, 1 s adverts: election and graceful handover', { skip, timeout: 60_000 }, async () => {
  const lab = new Lab('2');
  try {
    lab.setup([
      { name: 'a', ipv4: '192.0.2.1' },
      { name: 'b', ipv4: '192.0.2.2' },
    ]);
    const observer = await lab.observe();
    const v2 = { version: 2, advertIntervalMs: 1000, authPassword: 'pw' };
    const a = lab.failoverd('a', instance(200, v2));
    const b = lab.failoverd('b', instance(100, v2));
    await a.waitForState('master', 20_000);
    await b.waitForState('backup', 10_000);
    a.kill('SIGTERM');
    await b.waitForState('master', 10_000);
    assert.ok(observer.adverts(51).some((e) => e.version === 2 && e.priority === 0));
    assert.ok(lab.addresses('b').includes(VIP));
  } finally {
    await lab.cleanup();
  }
});

test('VRRPv3 over IPv6: election on ff02::12 and unsolicited NA from the master', { skip, timeout: 30_000 }, async () => {
  const lab = new Lab('6');
  try {
    lab.setup([
      { name: 'a', ipv4: '192.0.2.1' },
      { name: 'b', ipv4: '192.0.2.2' },
    ]);
    const observer = await lab.observe();
    const v6 = { vips: ['2001:db8::195/64'] };
    const a = lab.failoverd('a', instance(200, v6));
    const b = lab.failoverd('b', instance(100, v6));
    await a.waitForState('master', 10_000);
    await b.waitForState('backup', 10_000);
    await a.waitFor(() => lab.addresses('a').includes('2001:db8::195'), 5000, 'the IPv6 VIP on a');
    await a.waitFor(
      () => observer.announcements().some((e) => e.kind === 'na' && e.address === '2001:db8::195' && e.srcMac === lab.node('a').mac),
      5000,
      'an unsolicited NA from a',
    );
    assert.ok(observer.adverts(51).length > 0 && observer.adverts(51).every((e) => e.source!.startsWith('fe80:')));
    assert.ok(observer.announcements().some((e) => e.kind === 'na' && e.address === '2001:db8::195' && e.srcMac === lab.node('a').mac));
    a.kill('SIGKILL');
    await b.waitForState('master', 10_000);
  } finally {
    await lab.cleanup();
  }
});

test('unicast peers: adverts go only to the peer, and the pair elects without multicast', { skip, timeout: 30_000 }, async () => {
  const lab = new Lab('u');
  try {
    lab.setup([
      { name: 'a', ipv4: '192.0.2.1' },
      { name: 'b', ipv4: '192.0.2.2' },
    ]);
    const a = lab.failoverd('a', instance(200, { unicastPeers: ['192.0.2.2'] }));
    await a.waitForState('master', 10_000);
    const b = lab.failoverd('b', instance(100, { unicastPeers: ['192.0.2.1'] }));
    await b.waitForState('backup', 10_000);
    // Five of a's adverts reach b's interface (tcpdump there) while b stays backup.
    const atB = await Observer.start(lab.node('b').ns);
    try {
      await b.waitFor(
        () => atB.adverts(51).filter((e) => e.source === '192.0.2.1' && e.priority === 200).length >= 5,
        10_000,
        'five unicast adverts from a at b',
      );
    } finally {
      atB.stop();
    }
    assert.equal(b.state, 'backup', 'b hears a over unicast');
    a.kill('SIGKILL');
    await b.waitForState('master', 10_000);
    assert.ok(lab.addresses('b').includes(VIP));
  } finally {
    await lab.cleanup();
  }
});

test(
  'the real link watcher: interface down puts the instance in FAULT, up brings it back after the debounce',
  { skip, timeout: 30_000 },
  async () => {
    const lab = new Lab('l');
    try {
      lab.setup([{ name: 'a', ipv4: '192.0.2.1' }]);
      const a = lab.failoverd('a', instance(200, { linkDebounce: { upMs: 300, downMs: 0 } }));
      await a.waitForState('master', 10_000);
      sh(['ip', '-n', lab.node('a').ns, 'link', 'set', 'eth0', 'down']);
      await a.waitForState('fault', 10_000);
      sh(['ip', '-n', lab.node('a').ns, 'link', 'set', 'eth0', 'up']);
      // (That the up must persist for the debounce is unit-tested on a FakeClock, test/unit/vrrp/instance.test.ts.)
      await a.waitFor(() => a.state !== 'fault', 5000, 'leaving FAULT');
      await a.waitForState('master', 10_000);
    } finally {
      await lab.cleanup();
    }
  },
);
