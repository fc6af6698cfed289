import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock, systemClock } from '../../../src/clock.js';
import { EventBus, type AgentEvent } from '../../../src/events.js';
import { MaintenanceScheduler, type MaintenanceActions } from '../../../src/maintenance/scheduler.js';
import { waitFor } from '../../helpers/wait.js';

function recorder() {
  const calls: string[] = [];
  const actions: MaintenanceActions = {
    drain: (service, rs, on) => {
      calls.push(`drain ${service} ${rs} ${on}`);
    },
    demote: (instance, by, on) => {
      calls.push(`demote ${instance} ${by} ${on}`);
    },
  };
  return { calls, actions };
}

const MIN = 60_000;

test('a drain window opens and closes on the fake clock, with schedule.started/ended events', async () => {
  // 2026-03-01 02:58 UTC, a Sunday.
  const clock = new FakeClock(0, Date.UTC(2026, 2, 1, 2, 58));
  const bus = new EventBus('lvs-a', () => clock.wallNow());
  const events: AgentEvent[] = [];
  bus.subscribe('schedule.*', (e) => events.push(e));
  const { calls, actions } = recorder();
  const scheduler = new MaintenanceScheduler(
    [{ cron: '0 3 * * 0', timezone: 'UTC', forMs: 30 * MIN, action: 'drain', service: 'web-80', realServer: '10.6.2.191' }],
    { clock, bus, actions },
  );
  scheduler.start();
  assert.deepEqual(calls, []);
  assert.deepEqual(scheduler.status()[0], {
    name: 'drain web-80/10.6.2.191',
    cron: '0 3 * * 0',
    timezone: 'UTC',
    forMs: 30 * MIN,
    action: 'drain',
    target: 'service/web-80/10.6.2.191',
    active: false,
    nextStart: '2026-03-01T03:00:00.000Z',
  });
  clock.advance(2 * MIN - 1);
  assert.deepEqual(calls, []);
  clock.advance(1);
  assert.deepEqual(calls, ['drain web-80 10.6.2.191 true']);
  assert.equal(scheduler.status()[0]!.active, true);
  assert.equal(scheduler.status()[0]!.until, '2026-03-01T03:30:00.000Z');
  assert.equal(events[0]!.type, 'schedule.started');
  assert.equal(events[0]!.object, 'schedule/drain web-80/10.6.2.191');
  assert.equal(events[0]!.data!.until, '2026-03-01T03:30:00.000Z');
  clock.advance(30 * MIN - 1);
  assert.equal(calls.length, 1);
  clock.advance(1);
  assert.deepEqual(calls, ['drain web-80 10.6.2.191 true', 'drain web-80 10.6.2.191 false']);
  assert.deepEqual(
    events.map((e) => `${e.type} ${e.from}→${e.to} ${e.time}`),
    ['schedule.started idle→active 2026-03-01T03:00:00.000Z', 'schedule.ended active→idle 2026-03-01T03:30:00.000Z'],
  );
  assert.equal(scheduler.status()[0]!.nextStart, '2026-03-08T03:00:00.000Z');
  // A week later it happens again; the long wait is split into bounded timers.
  clock.advance(7 * 24 * 60 * MIN - 1);
  assert.equal(calls.length, 3);
  clock.advance(1);
  assert.equal(calls.length, 4);
  await scheduler.stop();
  assert.equal(clock.pendingTimers(), 0);
});

test('a window already open at start is applied at once; stop keeps it applied unless asked to end it', async () => {
  const clock = new FakeClock(0, Date.UTC(2026, 2, 1, 3, 10));
  const bus = new EventBus('lvs-a', () => clock.wallNow());
  const { calls, actions } = recorder();
  const scheduler = new MaintenanceScheduler(
    [{ cron: '0 3 * * 0', timezone: 'UTC', forMs: 30 * MIN, action: 'demote', instance: 'web', by: 100 }],
    { clock, bus, actions },
  );
  scheduler.start();
  assert.deepEqual(calls, ['demote web 100 true']);
  await scheduler.stop();
  assert.deepEqual(calls, ['demote web 100 true']);
  const again = new MaintenanceScheduler([{ cron: '0 3 * * 0', timezone: 'UTC', forMs: 30 * MIN, action: 'demote', instance: 'web' }], {
    clock,
    bus,
    actions,
  });
  again.start();
  await again.stop({ endActive: true });
  assert.deepEqual(calls.slice(1), ['demote web 50 true', 'demote web 50 false']);
});

test('DST with the fake clock: a Berlin 02:30 window runs once on both switch days', () => {
  const clock = new FakeClock(0, Date.UTC(2026, 2, 28, 12, 0));
  const bus = new EventBus('lvs-a', () => clock.wallNow());
  const { calls, actions } = recorder();
  const started: string[] = [];
  bus.subscribe('schedule.started', (e) => started.push(e.time));
  const scheduler = new MaintenanceScheduler(
    [{ cron: '30 2 * * *', timezone: 'Europe/Berlin', forMs: 20 * MIN, action: 'demote', instance: 'web', by: 10 }],
    { clock, bus, actions },
  );
  scheduler.start();
  clock.advance(2 * 24 * 60 * MIN); // through 2026-03-29 and 03-30
  assert.deepEqual(started, ['2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']);
  void scheduler.stop();

  const fall = new FakeClock(0, Date.UTC(2026, 9, 24, 12, 0));
  const bus2 = new EventBus('lvs-a', () => fall.wallNow());
  const started2: string[] = [];
  bus2.subscribe('schedule.started', (e) => started2.push(e.time));
  const s2 = new MaintenanceScheduler(
    [{ cron: '30 2 * * *', timezone: 'Europe/Berlin', forMs: 20 * MIN, action: 'demote', instance: 'web', by: 10 }],
    { clock: fall, bus: bus2, actions },
  );
  s2.start();
  fall.advance(2 * 24 * 60 * MIN); // 10-25 (fall back) and 10-26
  assert.deepEqual(started2, ['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
  void s2.stop();
  assert.equal(calls.filter((c) => c.endsWith('true')).length, 4);
  assert.equal(calls.filter((c) => c.endsWith('false')).length, 4);
});

test('real time: a window every 3 s lasting 1500 ms opens and closes on the system clock', async () => {
  const bus = new EventBus('lvs-a');
  const seen: string[] = [];
  const { calls, actions } = recorder();
  bus.subscribe('schedule.*', (e) => seen.push(e.type));
  const scheduler = new MaintenanceScheduler(
    [{ cron: '*/3 * * * * *', forMs: 1500, action: 'drain', service: 's', realServer: '192.0.2.1' }],
    { clock: systemClock, bus, actions },
  );
  scheduler.start();
  // How long each window lasted and how close to the 3 s boundary it opened: bench/maintenance/real-clock.ts.
  const count = (type: string): number => seen.filter((t) => t === type).length;
  await waitFor(() => count('schedule.started') >= 2 && count('schedule.ended') >= 2, {
    what: 'two windows opened and closed',
    timeoutMs: 9000,
    stepMs: 50,
    detail: () => `saw ${seen.join(',')}`,
  });
  await scheduler.stop({ endActive: true });
  // Each window opens, then closes, before the next opens; the actions follow the events.
  seen.forEach((type, k) => assert.equal(type, k % 2 === 0 ? 'schedule.started' : 'schedule.ended', seen.join(',')));
  calls.forEach((call, k) => assert.equal(call, `drain s 192.0.2.1 ${k % 2 === 0}`, calls.join(',')));
  assert.ok(calls.length >= 4, calls.join(','));
});
