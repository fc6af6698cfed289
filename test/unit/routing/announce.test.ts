// Routing mode's announce/withdraw decision, through the Routing component with a
// FakeClock and a fake kernel (fake-kernel.ts), so the test checks the sequence the
// router would see.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { FakeClock } from '../../../src/clock.js';
import { EventBus, type AgentEvent } from '../../../src/events.js';
import { reduceAnnounce, initialAnnounceState, gateVerdict } from '../../../src/routing/announce-state.js';
import { fakeKernel } from './fake-kernel.js';
import { Routing } from '../../../src/routing/routing.js';
import type { RoutingConfig, ServiceConfig } from '../../../src/config/schema.js';

const VIP = '10.9.9.9';

const routing = (over: Partial<RoutingConfig['announce'][number]> = {}, top: Partial<RoutingConfig> = {}): RoutingConfig => ({
  table: 200,
  protocol: 200,
  sloppy: true,
  allow_flow_resets: false,
  maintenance_file: '/run/maint',
  ...top,
  announce: [{ name: 'web', vips: [VIP], interface: 'lo', converge: 3000, adopt_grace: 30_000, ...over }],
});
const services = [{ name: 'web-80', vip: VIP, members: [{ vip: VIP, port: 80 }] }] as unknown as ServiceConfig[];
const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

async function setup(opts: { initial?: string[]; quorum?: boolean | undefined; config?: RoutingConfig } = {}) {
  const clock = new FakeClock();
  const bus = new EventBus('d1', () => clock.wallNow());
  const events: AgentEvent[] = [];
  bus.subscribe('route.*', (e) => events.push(e));
  const kernel = fakeKernel(opts.initial);
  const state = { quorum: opts.quorum, maintenance: false };
  const r = new Routing(opts.config ?? routing(), services, {
    clock,
    bus,
    logger: pino({ level: 'silent' }),
    openRoutes: () => kernel.routes,
    host: kernel.host,
    quorumUp: () => state.quorum,
    fileExists: () => state.maintenance,
  });
  await r.start();
  await settle();
  const setQuorum = async (up: boolean) => {
    state.quorum = up;
    r.evaluate();
    await settle();
  };
  const advance = async (ms: number) => {
    clock.advance(ms);
    await settle();
  };
  return { r, clock, kernel, events, state, setQuorum, advance };
}

test('announced only while the gating service has quorum; withdrawn on quorum loss; each change is an event', async () => {
  const s = await setup({ quorum: false });
  assert.deepEqual(s.kernel.changes, [], 'nothing announced before quorum');
  await s.setQuorum(true);
  await s.setQuorum(true);
  await s.setQuorum(false);
  await s.setQuorum(true);
  assert.deepEqual(s.kernel.changes, [`+${VIP}`, `-${VIP}`, `+${VIP}`]);
  assert.deepEqual(
    s.events.map((e) => `${e.type} ${e.object}`),
    ['route.announced route/web', 'route.withdrawn route/web', 'route.announced route/web'],
  );
  assert.equal(s.events[1]!.reason, 'no quorum: web-80');
  assert.deepEqual(s.events[0]!.data, { prefixes: [`${VIP}/32`] });
  assert.equal(s.r.status()[0]!.announced, true);
});

test('the host is prepared: VIP held on lo, ARP and sloppy sysctls set', async () => {
  const s = await setup({ quorum: true });
  assert.deepEqual(s.kernel.held, [`${VIP}@lo`]);
  assert.equal(s.kernel.sysctls.get('net.ipv4.vs.sloppy_tcp'), '1');
  assert.equal(s.kernel.sysctls.get('net.ipv4.vs.sloppy_sctp'), '1');
  assert.equal(s.kernel.sysctls.get('net.ipv4.conf.all.arp_ignore'), '1');
  const off = await setup({ quorum: true, config: routing({}, { sloppy: false, allow_flow_resets: true }) });
  assert.equal(off.kernel.sysctls.get('net.ipv4.vs.sloppy_tcp'), '0', 'the config owns it: sloppy: false sets 0');
});

test('the maintenance file withdraws at the next poll and its removal announces again', async () => {
  const s = await setup({ quorum: true });
  assert.deepEqual(s.kernel.changes, [`+${VIP}`]);
  s.state.maintenance = true;
  await s.advance(999);
  assert.deepEqual(s.kernel.changes, [`+${VIP}`], 'not before the poll');
  await s.advance(1);
  assert.deepEqual(s.kernel.changes, [`+${VIP}`, `-${VIP}`]);
  assert.equal(s.events.at(-1)!.reason, 'maintenance');
  await s.setQuorum(true);
  assert.equal(s.kernel.changes.length, 2, 'quorum does not override maintenance');
  s.state.maintenance = false;
  await s.advance(1000);
  assert.deepEqual(s.kernel.changes, [`+${VIP}`, `-${VIP}`, `+${VIP}`]);
});

test('SIGTERM: withdraw first, keep going for the converge time, then stop', async () => {
  const s = await setup({ quorum: true });
  let stopped = false;
  const stopping = s.r.stop().then(() => {
    stopped = true;
  });
  await settle();
  assert.deepEqual(s.kernel.changes, [`+${VIP}`, `-${VIP}`], 'withdrawn at once');
  assert.equal(s.r.status()[0]!.phase, 'stopping');
  await s.advance(2999);
  assert.equal(stopped, false, 'still serving while the router converges');
  await s.setQuorum(false);
  await s.setQuorum(true);
  assert.equal(s.kernel.changes.length, 2, 'no re-announce while stopping');
  await s.advance(1);
  await stopping;
  assert.equal(stopped, true);
});

test('SIGTERM while not announced stops at once, with no route change', async () => {
  const s = await setup({ quorum: false });
  await s.r.stop();
  assert.deepEqual(s.kernel.changes, []);
});

test('agent restart: a route left by the previous agent is adopted without a withdraw/announce flap', async () => {
  // The checks start down until proven up; quorum comes after a few intervals.
  const s = await setup({ initial: [VIP], quorum: false });
  await s.advance(5000);
  await s.setQuorum(true);
  await s.advance(60_000);
  assert.deepEqual(s.kernel.changes, [], 'the kernel route was never touched');
  assert.deepEqual(s.events, []);
  assert.ok(s.kernel.table.has(`${VIP}/32`));
  assert.equal(s.r.status()[0]!.phase, 'running');
});

test('an adopted route the gate never confirms is withdrawn when the adopt grace ends', async () => {
  const s = await setup({ initial: [VIP], quorum: false });
  await s.advance(29_999);
  assert.deepEqual(s.kernel.changes, []);
  await s.advance(1);
  assert.deepEqual(s.kernel.changes, [`-${VIP}`]);
  assert.match(s.events[0]!.reason!, /not confirmed by the health gate: .*/);
});

test('an adopted route is withdrawn at once when the director is in maintenance', async () => {
  const clock = new FakeClock();
  const kernel = fakeKernel([VIP]);
  const r = new Routing(routing(), services, {
    clock,
    bus: new EventBus('d1'),
    logger: pino({ level: 'silent' }),
    openRoutes: () => kernel.routes,
    host: kernel.host,
    quorumUp: () => undefined,
    fileExists: () => true,
  });
  await r.start();
  await settle();
  assert.deepEqual(kernel.changes, [`-${VIP}`]);
});

test('last resort: withdrawAll removes the route at once, without the converge wait', async () => {
  const s = await setup({ quorum: true });
  await s.r.withdrawAll();
  assert.deepEqual(s.kernel.changes, [`+${VIP}`, `-${VIP}`]);
  assert.equal(s.events.at(-1)!.reason, 'agent fault (last resort)');
});

test('reducer: every input in stopped/stopping is inert, and the gate names what is down', () => {
  let st = reduceAnnounce(initialAnnounceState, { kind: 'start', present: false }).state;
  st = reduceAnnounce(st, { kind: 'stop' }).state;
  assert.equal(st.phase, 'stopped');
  for (const input of [
    { kind: 'gate', verdict: { healthy: true, reason: 'x' } },
    { kind: 'adopt-expired' },
    { kind: 'converged' },
    { kind: 'stop' },
  ] as const) {
    assert.deepEqual(reduceAnnounce(st, input).actions, []);
  }
  assert.deepEqual(
    gateVerdict({
      services: [
        { name: 'a', quorumUp: true },
        { name: 'b', quorumUp: undefined },
      ],
      maintenance: false,
    }),
    { healthy: false, reason: 'no quorum: b' },
  );
  assert.equal(gateVerdict({ services: [{ name: 'a', quorumUp: true }], maintenance: true }).final, true);
});

test('reducer: retire (removed by a reload) withdraws at once, disarming the adopt timer; a retired one ignores the gate', () => {
  const adopting = reduceAnnounce(initialAnnounceState, { kind: 'start', present: true }).state;
  const retired = reduceAnnounce(adopting, { kind: 'retire', reason: 'removed' });
  assert.deepEqual(retired.actions, [
    { kind: 'disarm', timer: 'adopt' },
    { kind: 'withdraw', reason: 'removed' },
  ]);
  assert.deepEqual([retired.state.phase, retired.state.announced], ['stopped', false]);
  assert.deepEqual(reduceAnnounce(retired.state, { kind: 'gate', verdict: { healthy: true, reason: 'x' } }).actions, []);
  const idle = reduceAnnounce(initialAnnounceState, { kind: 'start', present: false }).state;
  assert.deepEqual(reduceAnnounce(idle, { kind: 'retire', reason: 'removed' }).actions, [], 'nothing announced, nothing to withdraw');
});
