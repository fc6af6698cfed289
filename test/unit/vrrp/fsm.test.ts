import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  initialState,
  masterDownIntervalMs,
  nextDeadline,
  skewMs,
  step,
  type FsmAction,
  type FsmConfig,
  type FsmEvent,
  type FsmSnapshot,
} from '../../../src/vrrp/fsm.js';

const V2: FsmConfig = {
  version: 2,
  advertIntervalCs: 100,
  preempt: true,
  preemptDelayMs: 0,
  startupDelayMs: 0,
  primaryAddress: '192.0.2.10',
};
const V3: FsmConfig = { ...V2, version: 3 };

/** Drives the reducer like the runner: events at times, ticks at deadlines. */
class Driver {
  s: FsmSnapshot;
  now = 0;
  log: { at: number; action: FsmAction }[] = [];

  constructor(config: FsmConfig, priority: number) {
    this.s = initialState(config, priority);
  }

  send(event: FsmEvent): FsmAction[] {
    const r = step(this.s, event, this.now);
    this.s = r.state;
    for (const action of r.actions) this.log.push({ at: this.now, action });
    return r.actions;
  }

  /** Advances time, firing due deadlines. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (let i = 0; i < 100_000; i++) {
      const d = nextDeadline(this.s);
      if (d === undefined || d > end) break;
      this.now = Math.max(this.now, d);
      this.send({ type: 'tick' });
    }
    this.now = end;
  }

  advert(priority: number, source = '192.0.2.20', intervalCs = 100): FsmAction[] {
    return this.send({ type: 'advert', source, priority, intervalCs });
  }

  transitions(): string[] {
    return this.log
      .filter((l) => l.action.type === 'transition')
      .map((l) => {
        const a = l.action as Extract<FsmAction, { type: 'transition' }>;
        return `${a.from}->${a.to}:${a.reason}`;
      });
  }

  sent(): number[] {
    return this.log.filter((l) => l.action.type === 'send-advert').map((l) => (l.action as { priority: number }).priority);
  }
}

test('Skew_Time and Master_Down_Interval per version (RFC 3768 / RFC 5798)', () => {
  assert.equal(skewMs(2, 100, 100), (156 / 256) * 1000);
  assert.equal(skewMs(2, 100, 500), (156 / 256) * 1000, 'v2 skew does not depend on the interval');
  assert.equal(skewMs(3, 100, 100), (156 * 100 * 10) / 256);
  assert.equal(skewMs(3, 200, 10), (56 * 10 * 10) / 256);
  assert.equal(masterDownIntervalMs(3, 254, 100), 3000 + (2 * 1000) / 256);
  assert.equal(masterDownIntervalMs(2, 1, 100), 3000 + (255 * 1000) / 256);
});

test('Init -> Backup on startup; Master_Down_Timer = Master_Down_Interval', () => {
  const d = new Driver(V2, 100);
  d.send({ type: 'start' });
  assert.equal(d.s.state, 'backup');
  assert.equal(d.s.masterDownAt, masterDownIntervalMs(2, 100, 100));
  assert.deepEqual(d.sent(), []);
});

test('Init -> Master at once for the address owner (priority 255): advert, VIPs, announcement', () => {
  const d = new Driver(V3, 255);
  const actions = d.send({ type: 'start' });
  assert.equal(d.s.state, 'master');
  assert.deepEqual(
    actions.map((a) => a.type),
    ['transition', 'send-advert', 'add-vips', 'announce'],
  );
  assert.deepEqual(d.transitions(), ['init->master:address-owner']);
  assert.equal(d.s.advertAt, 1000);
});

test('Backup -> Master when Master_Down_Timer fires', () => {
  const d = new Driver(V2, 100);
  d.send({ type: 'start' });
  d.advance(masterDownIntervalMs(2, 100, 100) - 1);
  assert.equal(d.s.state, 'backup');
  d.advance(1);
  assert.equal(d.s.state, 'master');
  assert.deepEqual(d.transitions(), ['init->backup:startup', 'backup->master:master-down-timer']);
  assert.deepEqual(d.sent(), [100]);
  d.advance(3000);
  assert.deepEqual(d.sent(), [100, 100, 100, 100], 'then one advert per Advertisement_Interval');
});

test('Backup: a higher-priority advert resets the Master_Down_Timer (and v3 learns Master_Adver_Interval)', () => {
  const d = new Driver(V3, 100);
  d.send({ type: 'start' });
  d.advance(2000);
  d.advert(150, '192.0.2.20', 50);
  assert.equal(d.s.masterAdverIntervalCs, 50);
  assert.equal(d.s.masterDownAt, 2000 + masterDownIntervalMs(3, 100, 50));
  assert.equal(d.s.masterAddress, '192.0.2.20');
  for (let i = 0; i < 10; i++) {
    d.advance(500);
    d.advert(150, '192.0.2.20', 50);
  }
  assert.equal(d.s.state, 'backup');
  d.advance(masterDownIntervalMs(3, 100, 50));
  assert.equal(d.s.state, 'master', 'silence for Master_Down_Interval (learned) makes us master');
});

test('v2 keeps its configured interval (both sides must match)', () => {
  const d = new Driver(V2, 100);
  d.send({ type: 'start' });
  d.advert(150, '192.0.2.20', 200);
  assert.equal(d.s.masterAdverIntervalCs, 100);
});

test('Backup: a priority-0 advert sets the timer to Skew_Time', () => {
  for (const config of [V2, V3]) {
    const d = new Driver(config, 100);
    d.send({ type: 'start' });
    d.advance(1000);
    d.advert(150);
    d.advance(500);
    d.advert(0);
    assert.equal(d.s.masterDownAt, 1500 + skewMs(config.version, 100, 100));
    d.advance(skewMs(config.version, 100, 100));
    assert.equal(d.s.state, 'master');
  }
});

test('Backup with preempt discards a lower-priority advert: it takes over after Master_Down_Interval', () => {
  const d = new Driver(V2, 200);
  d.send({ type: 'start' });
  const down = d.s.masterDownAt!;
  d.advance(1000);
  d.advert(100);
  assert.equal(d.s.masterDownAt, down, 'timer not reset');
  d.advance(down - 1000);
  assert.equal(d.s.state, 'master');
});

test('Backup with preempt accepts an equal-priority advert (no tie-break in Backup)', () => {
  const d = new Driver(V2, 100);
  d.send({ type: 'start' });
  d.advance(1000);
  d.advert(100, '192.0.2.1');
  assert.equal(d.s.masterDownAt, 1000 + masterDownIntervalMs(2, 100, 100));
});

test('Backup without preempt accepts a lower-priority master', () => {
  const d = new Driver({ ...V2, preempt: false }, 200);
  d.send({ type: 'start' });
  for (let i = 0; i < 10; i++) {
    d.advance(1000);
    d.advert(100);
  }
  assert.equal(d.s.state, 'backup');
  assert.equal(d.s.masterPriority, 100);
});

test('the address owner always preempts, even with preempt off', () => {
  const d = new Driver({ ...V2, preempt: false, startupDelayMs: 5000 }, 255);
  d.send({ type: 'start' });
  assert.equal(d.s.state, 'backup', 'held back by the startup delay');
  d.advance(1000);
  d.advert(100);
  d.advance(4000);
  assert.equal(d.s.state, 'master');
  assert.equal(d.now, 5000);
});

test('preempt_delay: a backup defers to a lower-priority master for the delay, then preempts', () => {
  const d = new Driver({ ...V2, preemptDelayMs: 10_000 }, 200);
  d.send({ type: 'start' });
  for (let t = 0; t < 9; t++) {
    d.advance(1000);
    d.advert(100);
  }
  assert.equal(d.s.state, 'backup');
  assert.equal(d.s.preemptAt, 11_000);
  for (let t = 0; t < 10 && d.s.state === 'backup'; t++) {
    d.advance(1000);
    if (d.s.state === 'backup') d.advert(100);
  }
  assert.equal(d.s.state, 'master');
  const becameMaster = d.log.find((l) => l.action.type === 'transition' && (l.action as { to: string }).to === 'master')!.at;
  assert.ok(becameMaster >= 11_000 && becameMaster <= 11_000 + masterDownIntervalMs(2, 200, 100), `took over at ${becameMaster}`);
});

test('Backup: Shutdown -> Init, nothing sent', () => {
  const d = new Driver(V2, 100);
  d.send({ type: 'start' });
  const actions = d.send({ type: 'stop' });
  assert.equal(d.s.state, 'init');
  assert.deepEqual(
    actions.map((a) => a.type),
    ['transition'],
  );
  assert.equal(nextDeadline(d.s), undefined);
});

test('Master: Shutdown -> sends priority 0, removes the VIPs, Init', () => {
  const d = new Driver(V2, 255);
  d.send({ type: 'start' });
  const actions = d.send({ type: 'stop' });
  assert.deepEqual(actions, [
    { type: 'send-advert', priority: 0 },
    { type: 'remove-vips' },
    { type: 'transition', from: 'master', to: 'init', reason: 'shutdown' },
  ]);
});

test('Master: a priority-0 advert makes it send an advert at once', () => {
  const d = new Driver(V2, 255);
  d.send({ type: 'start' });
  d.advance(300);
  const actions = d.advert(0);
  assert.deepEqual(actions, [{ type: 'send-advert', priority: 255 }]);
  assert.equal(d.s.advertAt, 1300);
});

test('Master: a higher-priority advert makes it step down at once, without resigning', () => {
  const d = new Driver(V3, 100);
  d.send({ type: 'start' });
  d.advance(masterDownIntervalMs(3, 100, 100));
  assert.equal(d.s.state, 'master');
  const actions = d.advert(150, '192.0.2.5', 20);
  assert.equal(d.s.state, 'backup');
  assert.deepEqual(
    actions.map((a) => a.type),
    ['remove-vips', 'transition'],
  );
  assert.equal(d.s.masterAdverIntervalCs, 20);
  assert.equal(d.s.masterDownAt, d.now + masterDownIntervalMs(3, 100, 20));
});

test('Master: equal priority, the higher primary address wins', () => {
  const high = new Driver({ ...V2, primaryAddress: '192.0.2.10' }, 255);
  high.send({ type: 'start' });
  high.send({ type: 'priority', priority: 100 });
  high.advert(100, '192.0.2.9');
  assert.equal(high.s.state, 'master', 'a lower address loses');
  high.advert(100, '192.0.2.11');
  assert.equal(high.s.state, 'backup', 'a higher address wins');
  const byteOrder = new Driver({ ...V2, primaryAddress: '192.0.2.9' }, 255);
  byteOrder.send({ type: 'start' });
  byteOrder.send({ type: 'priority', priority: 100 });
  byteOrder.advert(100, '192.0.2.10');
  assert.equal(byteOrder.s.state, 'backup', 'compared as numbers, not strings');
});

test('Master: a lower-priority advert is answered at once with an advert and a gratuitous ARP burst', () => {
  const d = new Driver(V2, 255);
  d.send({ type: 'start' });
  d.advance(400);
  const actions = d.advert(100);
  assert.deepEqual(actions, [
    { type: 'send-advert', priority: 255 },
    { type: 'announce', reason: 'lower-priority-advert' },
  ]);
  assert.equal(d.s.state, 'master');
});

test('FAULT: a master resigns with priority 0 and drops the VIPs; recovery goes through Backup', () => {
  const d = new Driver(V2, 100);
  d.send({ type: 'start' });
  d.advance(5000);
  assert.equal(d.s.state, 'master');
  const actions = d.send({ type: 'fault', fault: true });
  assert.deepEqual(
    actions.map((a) => a.type),
    ['send-advert', 'remove-vips', 'transition'],
  );
  assert.equal((actions[0] as { priority: number }).priority, 0);
  assert.equal(d.s.state, 'fault');
  assert.equal(nextDeadline(d.s), undefined);
  d.advert(150);
  assert.equal(d.s.state, 'fault', 'adverts are ignored in FAULT');
  d.send({ type: 'fault', fault: false });
  assert.equal(d.s.state, 'backup');
  assert.deepEqual(d.transitions().slice(-2), ['master->fault:fault', 'fault->backup:fault-cleared']);
});

test('FAULT at startup and for a backup; the owner goes straight back to Master', () => {
  const d = new Driver(V2, 100);
  d.send({ type: 'fault', fault: true });
  d.send({ type: 'start' });
  assert.equal(d.s.state, 'fault');
  const owner = new Driver(V2, 255);
  owner.send({ type: 'start' });
  owner.send({ type: 'fault', fault: true });
  owner.send({ type: 'fault', fault: false });
  assert.equal(owner.s.state, 'master');
  const backup = new Driver(V2, 100);
  backup.send({ type: 'start' });
  assert.deepEqual(
    backup.send({ type: 'fault', fault: true }).map((a) => a.type),
    ['transition'],
  );
});

test('startup delay: no mastership in the first seconds, whatever the adverts say', () => {
  const d = new Driver({ ...V3, startupDelayMs: 10_000 }, 100);
  d.send({ type: 'start' });
  assert.equal(d.s.masterDownAt, 10_000);
  d.advance(2000);
  d.advert(0);
  assert.equal(d.s.masterDownAt, 10_000, 'even a resignation cannot bring mastership forward');
  d.advance(7999);
  assert.equal(d.s.state, 'backup');
  d.advance(1);
  assert.equal(d.s.state, 'master');
});

test('sync-group commands: master, backup, fault, fault-cleared', () => {
  const d = new Driver(V2, 100);
  d.send({ type: 'start' });
  d.send({ type: 'sync', to: 'master' });
  assert.equal(d.s.state, 'master');
  assert.deepEqual(d.transitions().at(-1), 'backup->master:sync-group');
  d.send({ type: 'sync', to: 'backup' });
  assert.equal(d.s.state, 'backup');
  d.send({ type: 'sync', to: 'fault' });
  assert.equal(d.s.state, 'fault');
  d.send({ type: 'fault', fault: true });
  d.send({ type: 'sync', to: 'fault-cleared' });
  assert.equal(d.s.state, 'fault', 'its own fault still holds');
  d.send({ type: 'fault', fault: false });
  assert.equal(d.s.state, 'backup');
});

test('a lowered priority is carried by the next adverts; reload of the interval reschedules', () => {
  const d = new Driver(V3, 255);
  d.send({ type: 'start' });
  d.send({ type: 'priority', priority: 90 });
  d.advance(1000);
  assert.deepEqual(d.sent(), [255, 90]);
  d.send({ type: 'config', config: { ...V3, advertIntervalCs: 10 } });
  d.advance(100);
  assert.deepEqual(d.sent(), [255, 90, 90]);
  assert.equal(d.s.state, 'master');
});

test('two reducers on one wire: election, crash, graceful stop, return with and without preempt', () => {
  // Each advert a router sends is delivered to the other at the same instant.
  const a = new Driver({ ...V2, primaryAddress: '192.0.2.1' }, 200);
  const b = new Driver({ ...V2, primaryAddress: '192.0.2.2' }, 100);
  let alive = { a: true, b: true };
  const wire = (from: Driver, to: Driver, toAlive: () => boolean, actions: FsmAction[]): void => {
    for (const act of actions) if (act.type === 'send-advert' && toAlive()) deliver(to, from, act.priority);
  };
  const deliver = (to: Driver, from: Driver, priority: number): void => {
    const actions = to.send({ type: 'advert', source: from.s.config.primaryAddress, priority, intervalCs: 100 });
    wire(to, from, () => (from === a ? alive.a : alive.b), actions);
  };
  const run = (ms: number): void => {
    for (let t = 0; t < ms; t += 10) {
      for (const [x, y, xAlive, yAlive] of [
        [a, b, () => alive.a, () => alive.b],
        [b, a, () => alive.b, () => alive.a],
      ] as const) {
        if (!xAlive()) {
          x.now += 10;
          continue;
        }
        const before = x.log.length;
        x.advance(10);
        wire(
          x,
          y,
          yAlive,
          x.log.slice(before).map((l) => l.action),
        );
      }
    }
  };
  a.send({ type: 'start' });
  b.send({ type: 'start' });
  run(5000);
  assert.equal(a.s.state, 'master');
  assert.equal(b.s.state, 'backup');
  // crash: a stops sending; b takes over after Master_Down_Interval
  alive = { a: false, b: true };
  const crashAt = b.now;
  run(5000);
  const takeover = b.log.find((l) => l.action.type === 'transition' && (l.action as { to: string }).to === 'master')!.at;
  assert.ok(takeover - crashAt <= masterDownIntervalMs(2, 100, 100) + 10, `takeover after ${takeover - crashAt} ms`);
  // a returns with a higher priority and preempts
  a.s = initialState(a.s.config, 200);
  alive = { a: true, b: true };
  a.send({ type: 'start' });
  run(6000);
  assert.equal(a.s.state, 'master');
  assert.equal(b.s.state, 'backup');
  // graceful stop: b takes over after Skew_Time
  const stopAt = a.now;
  wire(a, b, () => true, a.send({ type: 'stop' }));
  alive = { a: false, b: true };
  run(2000);
  const graceful = b.log.filter((l) => l.action.type === 'transition' && (l.action as { to: string }).to === 'master').at(-1)!.at;
  assert.ok(graceful - stopAt <= skewMs(2, 100, 100) + 10 && graceful >= stopAt, `took over ${graceful - stopAt} ms after resignation`);
  // a returns with preempt off: b stays master
  a.s = initialState({ ...a.s.config, preempt: false }, 200);
  alive = { a: true, b: true };
  a.send({ type: 'start' });
  run(6000);
  assert.equal(b.s.state, 'master');
  assert.equal(a.s.state, 'backup');
});

test('Master: 1,000 lower-priority adverts in an interval get one answer; a long flood, one advert per interval', () => {
  const d = new Driver({ ...V2, lowerPriorityAnnounceHoldMs: 5000 }, 255);
  d.send({ type: 'start' });
  d.advance(400);
  const start = d.log.length;
  for (let i = 0; i < 1000; i++) {
    d.advance(0.9);
    d.advert(1, '192.0.2.66');
  }
  const inFirstInterval = d.log.slice(start).map((l) => l.action.type);
  assert.equal(inFirstInterval.filter((t) => t === 'send-advert').length, 1, 'one answering advert');
  assert.equal(inFirstInterval.filter((t) => t === 'announce').length, 1, 'one announcement burst');

  // Ten more seconds of flood at 1,000 adverts/s: the scheduled adverts answer it, one per interval;
  // bursts at most once per hold (5 s).
  const floodStart = d.log.length;
  for (let i = 0; i < 10_000; i++) {
    d.advance(1);
    d.advert(1, '192.0.2.66');
  }
  const during = d.log.slice(floodStart).map((l) => l.action.type);
  const adverts = during.filter((t) => t === 'send-advert').length;
  assert.ok(adverts >= 9 && adverts <= 11, `${adverts} adverts in 10 s at a 1 s interval`);
  assert.ok(during.filter((t) => t === 'announce').length <= 2, 'at most one burst per 5 s');
  assert.equal(d.s.state, 'master');
});

test('Master: a flood of priority-0 adverts is answered at most once per interval', () => {
  const d = new Driver(V2, 255);
  d.send({ type: 'start' });
  d.advance(400);
  const start = d.log.length;
  for (let i = 0; i < 3000; i++) {
    d.advance(1);
    d.advert(0, '192.0.2.66');
  }
  const adverts = d.log.slice(start).filter((l) => l.action.type === 'send-advert').length;
  assert.ok(adverts <= 4, `${adverts} adverts in 3 s at a 1 s interval`);
  const announced = d.log.slice(start).some((l) => l.action.type === 'announce');
  assert.ok(!announced, 'priority 0 is not answered with an announcement');
});
