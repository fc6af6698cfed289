// The announcements alone, on the fake clock: a burst is garp.count announcements
// garp.interval apart on every interface that carries a VIP, only while master; a new
// burst replaces one under way; the refresh and the delayed burst; stop cancels all.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../../src/clock.js';
import { Announcements } from '../../../src/vrrp/announcements.js';
import { vrrpInstanceConfig, type VrrpInstanceConfig, type VrrpInstanceInput } from '../../../src/vrrp/config.js';
import { FakeHost, FakeSegment, fakeIo } from './fake-io.js';

async function setup(over: Partial<VrrpInstanceInput> = {}) {
  const clock = new FakeClock();
  const segment = new FakeSegment(clock);
  const host = new FakeHost();
  host.addLink('eth0', 2, '02:00:00:00:00:01', [{ address: '192.0.2.1', prefixLength: 24 }]);
  host.addLink('eth1', 3, '02:00:00:00:01:01', [{ address: '198.51.100.1', prefixLength: 24 }]);
  let config: VrrpInstanceConfig = vrrpInstanceConfig({
    name: 'web',
    interface: 'eth0',
    vrid: 51,
    priority: 100,
    version: 2,
    vips: ['192.0.2.195/32'],
    garp: { count: 3, intervalMs: 100, refreshMs: 0, delayMs: 0 },
    ...over,
  });
  const state = { master: true, sent: 0, errors: [] as string[] };
  const announcements = new Announcements({
    io: fakeIo(segment, host),
    clock,
    config: () => config,
    isMaster: () => state.master,
    onSent: (n) => {
      state.sent += n;
    },
    onSendError: (err, iface) => state.errors.push(`${iface}: ${String(err)}`),
  });
  await announcements.open(await host.link('eth0'));
  const seen = () => segment.announcements.map((a) => `${a.at} ${a.mac} ${a.addresses.join(',')}`);
  return {
    clock,
    segment,
    announcements,
    state,
    seen,
    setConfig: (c: VrrpInstanceConfig) => {
      config = c;
    },
  };
}

describe('Announcements', () => {
  it('a burst: count announcements interval apart, each VIP from the MAC of the interface it is on', async () => {
    const { clock, announcements, state, seen } = await setup({
      vips: ['192.0.2.195/32', '198.51.100.7/32', '192.0.2.196/32'],
      vipInterfaces: { '198.51.100.7/32': 'eth1' },
    });
    announcements.burst();
    clock.advance(1000);
    assert.deepEqual(seen(), [
      '0 020000000001 192.0.2.195,192.0.2.196',
      '0 020000000101 198.51.100.7',
      '100 020000000001 192.0.2.195,192.0.2.196',
      '100 020000000101 198.51.100.7',
      '200 020000000001 192.0.2.195,192.0.2.196',
      '200 020000000101 198.51.100.7',
    ]);
    assert.equal(state.sent, 9, 'counted per address');
    assert.equal(clock.pendingTimers(), 0);
  });

  it('nothing while not master, and a burst under way stops when mastership ends', async () => {
    const { clock, announcements, state, seen } = await setup();
    state.master = false;
    announcements.burst();
    clock.advance(1000);
    assert.deepEqual(seen(), []);
    state.master = true;
    announcements.burst();
    clock.advance(150);
    state.master = false;
    clock.advance(1000);
    assert.deepEqual(seen(), ['1000 020000000001 192.0.2.195', '1100 020000000001 192.0.2.195'], 'the third, at 1200, is not sent');
  });

  it('a new burst replaces the one under way instead of adding to it', async () => {
    const { clock, announcements, seen } = await setup();
    announcements.burst();
    clock.advance(150);
    announcements.burst();
    clock.advance(1000);
    assert.deepEqual(
      seen().map((s) => Number(s.split(' ')[0])),
      [0, 100, 150, 250, 350],
    );
  });

  it('the delayed burst comes garp.delay later; the refresh repeats every garp.refresh while master', async () => {
    const { clock, announcements, state, seen } = await setup({ garp: { count: 1, intervalMs: 100, refreshMs: 10_000, delayMs: 2000 } });
    announcements.burst();
    announcements.scheduleRefresh();
    announcements.scheduleDelayedBurst();
    clock.advance(25_000);
    assert.deepEqual(
      seen().map((s) => Number(s.split(' ')[0])),
      [0, 2000, 10_000, 20_000],
    );
    state.master = false;
    clock.advance(30_000);
    assert.equal(seen().length, 4, 'the refresh ends with mastership');
    assert.equal(clock.pendingTimers(), 0);
  });

  it('stop cancels the burst, the refresh and the delayed burst', async () => {
    const { clock, announcements, seen } = await setup({ garp: { count: 5, intervalMs: 100, refreshMs: 10_000, delayMs: 2000 } });
    announcements.burst();
    announcements.scheduleRefresh();
    announcements.scheduleDelayedBurst();
    clock.advance(50);
    announcements.stop();
    assert.equal(clock.pendingTimers(), 0);
    clock.advance(60_000);
    assert.equal(seen().length, 1);
  });

  it("a reload that moves a VIP to another interface opens that interface's announcer; the config is read when a burst starts", async () => {
    const { clock, announcements, seen, setConfig } = await setup();
    const moved = vrrpInstanceConfig({
      name: 'web',
      interface: 'eth0',
      vrid: 51,
      priority: 100,
      version: 2,
      vips: ['192.0.2.195/32'],
      vipInterfaces: { '192.0.2.195/32': 'eth1' },
      garp: { count: 1, intervalMs: 100, refreshMs: 0, delayMs: 0 },
    });
    await announcements.openVipAnnouncers(moved);
    setConfig(moved);
    announcements.burst();
    clock.advance(1);
    assert.deepEqual(seen(), ['0 020000000101 192.0.2.195']);
  });

  it('a failing announcer is reported and the other interfaces still announce', async () => {
    const { clock, announcements, state, segment } = await setup({
      vips: ['192.0.2.195/32', '198.51.100.7/32'],
      vipInterfaces: { '198.51.100.7/32': 'eth1' },
      garp: { count: 1, intervalMs: 100, refreshMs: 0, delayMs: 0 },
    });
    const original = segment.announcements.push.bind(segment.announcements);
    segment.announcements.push = (...items) => {
      if (items[0]!.mac === '020000000001') throw new Error('ENETDOWN');
      return original(...items);
    };
    announcements.burst();
    clock.advance(1);
    assert.deepEqual(state.errors, ['eth0: Error: ENETDOWN']);
    assert.deepEqual(
      segment.announcements.map((a) => a.addresses),
      [['198.51.100.7']],
    );
    assert.equal(state.sent, 1);
  });
});
