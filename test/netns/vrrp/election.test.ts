// Two failoverd VRRP routers on a bridge, an observer running tcpdump.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canRunNetns, Lab, longestDualMasterMs, VipMonitor, type RouterProcess } from './lab.js';
import { sh } from '../../helpers/shell.js';

const skip = canRunNetns();
const VIP = '192.0.2.195';

function instance(priority: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'web', vrid: 51, priority, version: 3, advertIntervalMs: 100, vips: [`${VIP}/32`],
    garp: { count: 3, intervalMs: 50, refreshMs: 0 }, ...over,
  };
}

test('failoverd pair, VRRPv3 100 ms: election, kill -9, preemption, graceful stop, no dual master', { skip, timeout: 60_000 }, async () => {
  const lab = new Lab('e');
  const vips = new VipMonitor();
  try {
    lab.setup([{ name: 'a', ipv4: '192.0.2.1' }, { name: 'b', ipv4: '192.0.2.2' }]);
    const observer = await lab.observe();
    vips.watch(lab.node('a'));
    vips.watch(lab.node('b'));
    const macA = lab.node('a').mac, macB = lab.node('b').mac;

    let a: RouterProcess = lab.failoverd('a', instance(200));
    const b = lab.failoverd('b', instance(100));
    await a.waitForState('master', 5000);
    await b.waitForState('backup', 5000);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(lab.addresses('a').includes(VIP), 'the master holds the VIP');
    assert.ok(!lab.addresses('b').includes(VIP), 'the backup does not');
    assert.ok(observer.announcements().some((e) => e.srcMac === macA && e.address === VIP), 'gratuitous ARP from the master\'s MAC');
    // Both start at once; whichever process is up first may win briefly before a preempts.
    const settled = Date.now() - 150;
    assert.ok(observer.adverts(51).filter((e) => e.t >= settled).every((e) => e.source === '192.0.2.1' && e.priority === 200), 'only the master advertises');
    assert.ok(longestDualMasterMs(observer.adverts(51), 100) <= 100);
    assert.ok(vips.longestDoubleHoldMs(VIP, 0, Date.now()) <= 100);

    // kill -9: the backup takes the VIP and announces it
    const killAt = Date.now();
    a.kill('SIGKILL');
    await b.waitForState('master', 3000);
    await b.waitFor(() => observer.announcements().some((e) => e.srcMac === macB && e.t >= killAt), 2000, 'GARP from b');
    const firstGarp = observer.announcements().find((e) => e.srcMac === macB && e.t >= killAt)!;
    assert.equal(firstGarp.address, VIP);
    assert.ok(lab.addresses('b').includes(VIP));
    const takeoverMs = firstGarp.t - killAt;
    assert.ok(takeoverMs < 2000, `takeover took ${takeoverMs} ms`);

    // the old master returns with a higher priority: it preempts; b drops the VIP
    const restartAt = Date.now();
    a = lab.failoverd('a', instance(200));
    await a.waitForState('master', 5000);
    await b.waitForState('backup', 2000);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(lab.addresses('a').includes(VIP));
    assert.ok(!lab.addresses('b').includes(VIP));
    // a's stale VIP from before the kill is removed at its start; measure from then.
    const staleRemoved = vips.timeline.find((e) => e.node === 'a' && e.action === 'del' && e.t >= restartAt)?.t ?? restartAt;
    const phase2Hold = vips.longestDoubleHoldMs(VIP, staleRemoved, Date.now());
    assert.ok(phase2Hold <= 100, `both held the VIP for ${phase2Hold} ms during preemption`);

    // graceful stop: priority 0 on the wire, b takes over after Skew_Time
    const stopAt = Date.now();
    a.kill('SIGTERM');
    assert.equal(await a.exited, 0);
    await b.waitForState('master', 2000);
    const findResign = () => observer.adverts(51).find((e) => e.source === '192.0.2.1' && e.priority === 0 && e.t >= stopAt - 5);
    await b.waitFor(() => findResign() !== undefined, 2000, 'priority 0 seen by the observer');
    const resign = findResign()!;
    assert.ok(!lab.addresses('a').includes(VIP), 'the stopped master removed its VIP');
    await b.waitFor(() => observer.announcements().some((e) => e.srcMac === macB && e.t >= resign.t), 2000, 'GARP after resign');
    const graceful = observer.announcements().find((e) => e.srcMac === macB && e.t >= resign.t)!.t - resign.t;
    assert.ok(graceful < 300, `took over ${graceful} ms after priority 0 (skew ≈ 61 ms)`);

    // wire-level: never two masters for longer than one advert interval
    const dual = longestDualMasterMs(observer.adverts(51), 100);
    assert.ok(dual <= 100, `two masters advertised together for ${dual} ms`);
    const phase3Hold = vips.longestDoubleHoldMs(VIP, stopAt, Date.now());
    assert.equal(phase3Hold, 0);
  } finally {
    vips.close();
    await lab.cleanup();
  }
});

test('nopreempt: a returning higher-priority router stays backup', { skip, timeout: 30_000 }, async () => {
  const lab = new Lab('n');
  try {
    lab.setup([{ name: 'a', ipv4: '192.0.2.1' }, { name: 'b', ipv4: '192.0.2.2' }]);
    const b = lab.failoverd('b', instance(100, { preempt: false }));
    await b.waitForState('master', 5000);
    const a = lab.failoverd('a', instance(200, { preempt: false }));
    await a.waitForState('backup', 5000);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(a.state, 'backup');
    assert.equal(b.state, 'master');
    assert.ok(lab.addresses('b').includes(VIP));
    assert.ok(!lab.addresses('a').includes(VIP));
  } finally {
    await lab.cleanup();
  }
});

test('VRRPv2 with a password, 1 s adverts: election and graceful handover', { skip, timeout: 30_000 }, async () => {
  const lab = new Lab('2');
  try {
    lab.setup([{ name: 'a', ipv4: '192.0.2.1' }, { name: 'b', ipv4: '192.0.2.2' }]);
    const observer = await lab.observe();
    const v2 = { version: 2, advertIntervalMs: 1000, authPassword: 'pw' };
    const a = lab.failoverd('a', instance(200, v2));
    const b = lab.failoverd('b', instance(100, v2));
    await a.waitForState('master', 6000);
    await b.waitForState('backup', 1000);
    a.kill('SIGTERM');
    await b.waitForState('master', 2000);
    assert.ok(observer.adverts(51).some((e) => e.version === 2 && e.priority === 0));
    assert.ok(lab.addresses('b').includes(VIP));
  } finally {
    await lab.cleanup();
  }
});

test('VRRPv3 over IPv6: election on ff02::12 and unsolicited NA from the master', { skip, timeout: 30_000 }, async () => {
  const lab = new Lab('6');
  try {
    lab.setup([{ name: 'a', ipv4: '192.0.2.1' }, { name: 'b', ipv4: '192.0.2.2' }]);
    const observer = await lab.observe();
    const v6 = { vips: ['2001:db8::195/64'] };
    const a = lab.failoverd('a', instance(200, v6));
    const b = lab.failoverd('b', instance(100, v6));
    await a.waitForState('master', 5000);
    await b.waitForState('backup', 1000);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(lab.addresses('a').includes('2001:db8::195'));
    assert.ok(observer.adverts(51).length > 0 && observer.adverts(51).every((e) => e.source!.startsWith('fe80:')));
    assert.ok(observer.announcements().some((e) => e.kind === 'na' && e.address === '2001:db8::195' && e.srcMac === lab.node('a').mac));
    a.kill('SIGKILL');
    await b.waitForState('master', 3000);
  } finally {
    await lab.cleanup();
  }
});

test('unicast peers: adverts go only to the peer, and the pair elects without multicast', { skip, timeout: 30_000 }, async () => {
  const lab = new Lab('u');
  try {
    lab.setup([{ name: 'a', ipv4: '192.0.2.1' }, { name: 'b', ipv4: '192.0.2.2' }]);
    const a = lab.failoverd('a', instance(200, { unicastPeers: ['192.0.2.2'] }));
    await a.waitForState('master', 5000);
    const b = lab.failoverd('b', instance(100, { unicastPeers: ['192.0.2.1'] }));
    await b.waitForState('backup', 5000);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(b.state, 'backup', 'b hears a over unicast');
    a.kill('SIGKILL');
    await b.waitForState('master', 3000);
    assert.ok(lab.addresses('b').includes(VIP));
  } finally {
    await lab.cleanup();
  }
});

test('the real link watcher: interface down puts the instance in FAULT, up brings it back after the debounce', { skip, timeout: 30_000 }, async () => {
  const lab = new Lab('l');
  try {
    lab.setup([{ name: 'a', ipv4: '192.0.2.1' }]);
    const a = lab.failoverd('a', instance(200, { linkDebounce: { upMs: 300, downMs: 0 } }));
    await a.waitForState('master', 5000);
    sh(['ip', '-n', lab.node('a').ns, 'link', 'set', 'eth0', 'down']);
    await a.waitForState('fault', 2000);
    const upAt = Date.now();
    sh(['ip', '-n', lab.node('a').ns, 'link', 'set', 'eth0', 'up']);
    await a.waitFor(() => a.state !== 'fault', 3000, 'leaving FAULT');
    assert.ok(Date.now() - upAt >= 300, 'not before the up-debounce');
    await a.waitForState('master', 3000);
  } finally {
    await lab.cleanup();
  }
});
