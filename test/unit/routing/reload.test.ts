// A reload (SIGHUP) of the routing: section through Routing.update with a FakeClock and
// the fake kernel: only what changed moves, in the order the router would see it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { FakeClock } from '../../../src/clock.js';
import type { RoutingConfig, ServiceConfig } from '../../../src/config/schema.js';
import { EventBus, type AgentEvent } from '../../../src/events.js';
import { Routing } from '../../../src/routing/routing.js';
import { fakeKernel } from './fake-kernel.js';

type Entry = RoutingConfig['announce'][number];
const entry = (name: string, vips: string[], over: Partial<Entry> = {}): Entry => ({
  name,
  vips,
  interface: 'lo',
  converge: 3000,
  adopt_grace: 30_000,
  ...over,
});
const routing = (announce: Entry[], top: Partial<RoutingConfig> = {}): RoutingConfig => ({
  table: 200,
  protocol: 200,
  sloppy: true,
  allow_flow_resets: false,
  ...top,
  announce,
});
const service = (name: string, vip: string) => ({ name, vip, members: [{ vip, port: 80 }] }) as unknown as ServiceConfig;
const SERVICES = [service('a-80', '10.9.9.1'), service('b-80', '10.9.9.2'), service('c-80', '10.9.9.3')];

async function setup(config: RoutingConfig, initial: string[] = []) {
  const clock = new FakeClock();
  const bus = new EventBus('d1', () => clock.wallNow());
  const events: AgentEvent[] = [];
  bus.subscribe('route.*', (e) => events.push(e));
  const kernel = fakeKernel(initial);
  const quorum = new Map<string, boolean>(SERVICES.map((s) => [s.name, true]));
  const r = new Routing(config, SERVICES, {
    ...kernel.io,
    clock,
    bus,
    logger: pino({ level: 'silent' }),
    quorumUp: (s) => quorum.get(s),
  });
  await r.start();
  await r.settled();
  const reload = async (next: RoutingConfig, services = SERVICES): Promise<void> => {
    await r.prepare(next);
    await r.update(next, services);
    await r.settled();
  };
  const eventLines = () => events.map((e) => `${e.type} ${e.object} ${(e.data?.prefixes as string[]).join(',')} (${e.reason})`);
  return { r, clock, kernel, events, eventLines, quorum, reload };
}

const A = entry('a', ['10.9.9.1']);
const B = entry('b', ['10.9.9.2']);

test('a reload with the same routing section changes nothing: no withdraw/announce, no event', async () => {
  const s = await setup(routing([A, B]));
  assert.deepEqual(s.kernel.changes, ['+10.9.9.1', '+10.9.9.2']);
  await s.reload(routing([A, B]));
  await s.reload(routing([{ ...A }, { ...B }], { allow_flow_resets: true }));
  assert.deepEqual(s.kernel.changes, ['+10.9.9.1', '+10.9.9.2']);
  assert.equal(s.events.length, 2);
});

test('an added announcement is announced, a removed one withdrawn; the unchanged one is not touched', async () => {
  const s = await setup(routing([A, B]));
  await s.reload(routing([A, entry('c', ['10.9.9.3'])]));
  assert.deepEqual(s.kernel.changes, ['+10.9.9.1', '+10.9.9.2', '-10.9.9.2', '+10.9.9.3']);
  assert.deepEqual(s.eventLines().slice(2), [
    'route.withdrawn route/b 10.9.9.2/32 (removed from the config (reload))',
    'route.announced route/c 10.9.9.3/32 (quorum: c-80)',
  ]);
  assert.deepEqual(
    s.r.status().map((a) => [a.name, a.announced]),
    [
      ['a', true],
      ['c', true],
    ],
  );
  assert.deepEqual(s.kernel.held, ['10.9.9.1@lo', '10.9.9.2@lo', '10.9.9.3@lo'], 'the new VIP is held on its interface');
});

test('an added announcement whose route the kernel already holds is adopted, not flapped', async () => {
  const s = await setup(routing([A]), ['10.9.9.3']);
  s.quorum.set('c-80', false);
  await s.reload(routing([A, entry('c', ['10.9.9.3'])]));
  assert.equal(s.r.status()[1]!.phase, 'adopting');
  s.quorum.set('c-80', true);
  s.r.evaluate();
  await s.r.settled();
  assert.deepEqual(s.kernel.changes, ['+10.9.9.1'], 'the adopted route is never withdrawn');
});

test('a VIP added to or removed from an announced entry moves alone; the other VIPs stay announced', async () => {
  const s = await setup(routing([entry('ab', ['10.9.9.1', '10.9.9.2'], { services: ['a-80'] })]));
  await s.reload(routing([entry('ab', ['10.9.9.2', '10.9.9.3'], { services: ['a-80'] })]));
  assert.deepEqual(s.kernel.changes, ['+10.9.9.1', '+10.9.9.2', '+10.9.9.3', '-10.9.9.1']);
  assert.deepEqual(s.eventLines().slice(1), [
    'route.announced route/ab 10.9.9.3/32 (added to the announcement on reload)',
    'route.withdrawn route/ab 10.9.9.1/32 (removed from the announcement on reload)',
  ]);
  assert.deepEqual(s.r.status()[0]!.vips, ['10.9.9.2', '10.9.9.3']);
});

test('a changed gating list is applied: a gating service without quorum withdraws, with quorum announces', async () => {
  const s = await setup(routing([A]));
  s.quorum.set('b-80', false);
  await s.reload(routing([{ ...A, services: ['a-80', 'b-80'] }]));
  assert.deepEqual(s.kernel.changes, ['+10.9.9.1', '-10.9.9.1']);
  assert.equal(s.events.at(-1)!.reason, 'no quorum: b-80');
  await s.reload(routing([{ ...A, services: ['a-80'] }]));
  assert.deepEqual(s.kernel.changes, ['+10.9.9.1', '-10.9.9.1', '+10.9.9.1']);
});

test('a new table or protocol moves the announced routes: the new route goes in before the old one goes, no event', async () => {
  const s = await setup(routing([A, B]));
  s.quorum.set('b-80', false);
  s.r.evaluate();
  await s.r.settled();
  await s.reload(routing([A, B], { table: 201 }));
  assert.deepEqual(s.kernel.changes, ['+10.9.9.1', '+10.9.9.2', '-10.9.9.2', '+10.9.9.1 table 201/200', '-10.9.9.1']);
  assert.equal(s.events.length, 3, 'only the quorum withdraw is an event');
  assert.deepEqual(s.kernel.closed, ['200/200']);
  s.quorum.set('b-80', true);
  s.r.evaluate();
  await s.r.settled();
  assert.equal(s.kernel.changes.at(-1), '+10.9.9.2 table 201/200', 'later changes go to the new table');
});

test('a maintenance_file set on reload is read at once, and polled from then on', async () => {
  const s = await setup(routing([A]));
  s.kernel.files.add('/run/maint');
  await s.reload(routing([A], { maintenance_file: '/run/maint' }));
  assert.deepEqual(s.kernel.changes, ['+10.9.9.1', '-10.9.9.1']);
  assert.equal(s.events.at(-1)!.reason, 'maintenance');
  s.kernel.files.delete('/run/maint');
  s.clock.advance(1000);
  await s.r.settled();
  assert.deepEqual(s.kernel.changes, ['+10.9.9.1', '-10.9.9.1', '+10.9.9.1']);
  await s.reload(routing([A]));
  s.kernel.files.add('/run/maint');
  s.clock.advance(5000);
  await s.r.settled();
  assert.equal(s.kernel.changes.length, 3, 'no file, no poll');
});

test('the config owns sloppy in routing mode: on and off by reloads, off when a reload ends routing mode; prepare fails on a missing interface before anything moves', async () => {
  const s = await setup(routing([A], { sloppy: false, allow_flow_resets: true }));
  const sloppy = () => [s.kernel.sysctls.get('net.ipv4.vs.sloppy_tcp'), s.kernel.sysctls.get('net.ipv4.vs.sloppy_sctp')];
  assert.deepEqual(sloppy(), ['0', '0'], 'sloppy: false at start');
  await s.reload(routing([A]));
  assert.deepEqual(sloppy(), ['1', '1']);
  await s.reload(routing([A], { sloppy: false, allow_flow_resets: true }));
  assert.deepEqual(sloppy(), ['0', '0'], 'sloppy: false after true');
  await s.reload(routing([A]));
  await s.reload(routing([]));
  assert.deepEqual(sloppy(), ['0', '0'], 'routing mode ended: nothing asks for sloppy any more');
  s.kernel.sysctls.set('net.ipv4.vs.sloppy_tcp', '1'); // the operator's, outside routing mode
  await s.reload(routing([]));
  assert.deepEqual(sloppy(), ['1', '0'], 'outside routing mode the sysctls are not touched');
  await s.reload(routing([A]));
  assert.deepEqual(s.kernel.changes, ['+10.9.9.1', '-10.9.9.1', '+10.9.9.1']);
  s.kernel.missing.add('dummy9');
  await assert.rejects(s.r.prepare(routing([A, entry('c', ['10.9.9.3'], { interface: 'dummy9' })])), /no interface "dummy9"/);
  assert.deepEqual(s.kernel.changes, ['+10.9.9.1', '-10.9.9.1', '+10.9.9.1'], 'nothing moved');
});

test('SIGTERM after a reload removed an announcement: its withdraw and the others are all in before stop resolves', async () => {
  const s = await setup(routing([A, B]));
  await s.reload(routing([A]));
  const stopping = s.r.stop();
  await s.r.settled();
  s.clock.advance(3000);
  await stopping;
  assert.deepEqual(s.kernel.changes, ['+10.9.9.1', '+10.9.9.2', '-10.9.9.2', '-10.9.9.1']);
});

test('a VIP a reload takes out of routing leaves its interface once withdrawn and the router had its converge time', async () => {
  const s = await setup(routing([A, entry('b', ['10.9.9.2', '10.9.9.4'], { converge: 5000 })]));
  assert.deepEqual(s.kernel.held, ['10.9.9.1@lo', '10.9.9.2@lo', '10.9.9.4@lo']);
  await s.reload(routing([A, entry('b', ['10.9.9.2'], { converge: 5000 })]));
  assert.deepEqual(s.kernel.changes.slice(3), ['-10.9.9.4']);
  s.clock.advance(4999);
  assert.deepEqual(s.kernel.held, ['10.9.9.1@lo', '10.9.9.2@lo', '10.9.9.4@lo'], 'held while the router converges');
  s.clock.advance(1);
  await s.r.settled();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(s.kernel.held, ['10.9.9.1@lo', '10.9.9.2@lo'], 'a VIP removed from an announcement');

  await s.reload(routing([A]));
  assert.deepEqual(s.kernel.changes.slice(4), ['-10.9.9.2']);
  s.clock.advance(5000);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(s.kernel.held, ['10.9.9.1@lo'], 'the VIP of a removed announcement');
});

test('a VIP a reload brings back before its release stays held; stopping keeps the VIPs', async () => {
  const s = await setup(routing([A, B]));
  await s.reload(routing([A]));
  s.clock.advance(1000);
  await s.reload(routing([A, B]));
  s.clock.advance(5000);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(s.kernel.held, ['10.9.9.1@lo', '10.9.9.2@lo'], 'brought back: kept');
  await s.reload(routing([A]));
  const stopping = s.r.stop();
  await s.r.settled();
  s.clock.advance(3000);
  await stopping;
  s.clock.advance(3000);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(s.kernel.held, ['10.9.9.1@lo', '10.9.9.2@lo'], 'SIGTERM leaves the VIPs as they are');
});
