// A backup whose event loop stalled (GC, a busy CPU) must not take over from a live
// master: after the stall libuv runs due timers before it reads sockets, so the
// Master_Down_Timer fired with the master's adverts still queued on the socket, and
// the backup became master for a moment (docs/vrrp.md, short advert intervals). The
// backup now reads what is queued first (AdvertChannel.receivePending).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { FakeClock, type Clock } from '../../../src/clock.js';
import { EventBus } from '../../../src/events.js';
import type { ReceivedPacket } from '../../../src/vrrp/accept.js';
import { masterDownIntervalMs } from '../../../src/vrrp/fsm.js';
import { encodeAdvert } from '../../../src/vrrp/packet.js';
import { TurnGate } from '../../../src/turn-gate.js';
import { FakeChannel, FakeSegment } from './fake-io.js';
import { startRouter, type ChannelOptions } from './router.js';

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A channel whose owner's loop can stall: what arrives meanwhile waits on the socket. */
class StallableChannel extends FakeChannel {
  stalled = false;
  protected queued: ReceivedPacket[] = [];
  override deliver(p: ReceivedPacket): void {
    if (this.stalled) this.queued.push(p);
    else super.deliver(p);
  }
  /** The event loop polls again: what waited is read. */
  resume(): void {
    this.stalled = false;
    this.readQueued();
  }
  protected readQueued(): void {
    const queued = this.queued;
    this.queued = [];
    for (const p of queued) super.deliver(p);
  }
}

/** The same, and its owner can read what is queued at once (the real channels can). */
class DrainableChannel extends StallableChannel {
  receivePending(): void {
    this.readQueued();
  }
}

async function stalledBackup(drains: boolean) {
  const clock = new FakeClock();
  const segment = new FakeSegment(clock);
  const bus = new EventBus('lvs', () => clock.wallNow());
  const transitions: string[] = [];
  bus.subscribe('vrrp.state', (e) => transitions.push(`${e.object} ${String(e.to)}`));
  const master = await startRouter(segment, bus, 1, 200, (o) => new FakeChannel(segment, o));
  const backup = await startRouter(segment, bus, 2, 100, (o) =>
    drains ? new DrainableChannel(segment, o) : new StallableChannel(segment, o),
  );
  for (let t = 0; t < 2000; t += 5) {
    clock.advance(5);
    await flush();
  }
  assert.equal(master.instance.status().state, 'master');
  assert.equal(backup.instance.status().state, 'backup');
  // The backup's loop stalls for twice its Master_Down_Interval while the master keeps
  // advertising; its timer is due when it wakes, with the adverts queued.
  backup.channel().stalled = true;
  const stallMs = 2 * masterDownIntervalMs(3, 100, 2);
  for (let t = 0; t < stallMs; t += 5) {
    clock.advance(5);
    await flush();
  }
  backup.channel().resume();
  for (let t = 0; t < 500; t += 5) {
    clock.advance(5);
    await flush();
  }
  return { backupState: backup.instance.status().state, masterState: master.instance.status().state, transitions };
}

test('a stalled backup reads the queued adverts before its Master_Down_Timer acts: no takeover', async () => {
  const r = await stalledBackup(true);
  assert.equal(r.backupState, 'backup');
  assert.equal(r.masterState, 'master');
  assert.ok(!r.transitions.includes('vrrp/r2 master'), r.transitions.join(', '));
});

test('the same stall without reading first (a channel that cannot) is a false takeover: what the test guards', async () => {
  const r = await stalledBackup(false);
  assert.ok(r.transitions.includes('vrrp/r2 master'), r.transitions.join(', '));
});

/** Whenever its owner reads at once, a lower-priority advert is waiting (a flood on the segment). */
class FloodedChannel extends DrainableChannel {
  override receivePending(): void {
    const payload = encodeAdvert(
      { version: 3, vrid: 51, priority: 50, intervalCs: 2, addresses: ['192.0.2.195'] },
      { family: 4, source: '192.0.2.9', destination: '224.0.0.18' },
    );
    this.queued.push({ payload, source: '192.0.2.9', destination: '224.0.0.18', ttl: 255 });
    super.receivePending();
  }
}

test('a backup whose socket always holds a lower-priority advert still takes over from a dead master', async () => {
  const clock = new FakeClock();
  const segment = new FakeSegment(clock);
  const bus = new EventBus('lvs', () => clock.wallNow());
  const run = async (ms: number) => {
    for (let t = 0; t < ms; t += 5) {
      clock.advance(5);
      await flush();
    }
  };
  const master = await startRouter(segment, bus, 1, 200, (o) => new FakeChannel(segment, o));
  const backup = await startRouter(segment, bus, 2, 100, (o) => new FloodedChannel(segment, o));
  await run(2000);
  assert.equal(backup.instance.status().state, 'backup');
  master.channel().dead = true;
  await run(10 * masterDownIntervalMs(3, 100, 2));
  assert.equal(backup.instance.status().state, 'master');
});

/** A backup that reads each advert `lateMs` after it arrived (its loop busy), with or without the kernel's receive stamp. */
class LateChannel extends FakeChannel {
  constructor(
    private readonly seg: FakeSegment,
    o: ChannelOptions,
    private readonly lateMs: number,
    private readonly stamped: boolean,
  ) {
    super(seg, o);
  }
  override deliver(p: ReceivedPacket): void {
    this.seg.clock.setTimer(this.lateMs, () => super.deliver({ ...p, ...(this.stamped ? { ageMs: this.lateMs } : {}) }));
  }
}

/** How long after the dead master's last advert left the backup's first one did. */
async function takeoverAfterLateReads(stamped: boolean, lateMs: number): Promise<number> {
  const clock = new FakeClock();
  const segment = new FakeSegment(clock);
  const bus = new EventBus('lvs', () => clock.wallNow());
  const run = async (ms: number) => {
    for (let t = 0; t < ms; t++) {
      clock.advance(1);
      await flush();
    }
  };
  const master = await startRouter(segment, bus, 1, 200, (o) => new FakeChannel(segment, o));
  const backup = await startRouter(segment, bus, 2, 100, (o) => new LateChannel(segment, o, lateMs, stamped));
  await run(1000);
  assert.equal(master.instance.status().state, 'master');
  assert.equal(backup.instance.status().state, 'backup');
  master.channel().dead = true;
  const lastMaster = segment.wire.filter((w) => w.from === '192.0.2.1').at(-1)!.at;
  await run(300);
  assert.equal(backup.instance.status().state, 'master');
  const firstBackup = segment.wire.find((w) => w.from === '192.0.2.2' && w.at > lastMaster)!.at;
  return firstBackup - lastMaster;
}

test('an advert read late is dated by its arrival (the kernel stamp): the takeover comes a Master_Down_Interval after the last one arrived', async () => {
  const bound = masterDownIntervalMs(3, 100, 2);
  const took = await takeoverAfterLateReads(true, 10);
  assert.ok(took >= bound && took < bound + 1, `took ${took} ms, bound ${bound}`);
});

test('the same late reads without a stamp push the takeover back by the delay: what the stamp is for', async () => {
  const bound = masterDownIntervalMs(3, 100, 2);
  const took = await takeoverAfterLateReads(false, 10);
  assert.ok(took >= bound + 10 && took < bound + 11, `took ${took} ms, bound ${bound} + 10`);
});

test("a backup posts its Master_Down deadline to the turn gate, which holds the agent's bulk work just before it; a master posts none", async () => {
  const clock = new FakeClock();
  const segment = new FakeSegment(clock);
  const bus = new EventBus('lvs', () => clock.wallNow());
  const gate = new TurnGate(() => clock.now(), 15, 2);
  const run = async (ms: number) => {
    for (let t = 0; t < ms; t++) {
      clock.advance(1);
      await flush();
    }
  };
  const master = await startRouter(segment, bus, 1, 200, (o) => new FakeChannel(segment, o), { turnGate: gate });
  const backup = await startRouter(segment, bus, 2, 100, (o) => new FakeChannel(segment, o), { turnGate: gate });
  await run(1000);
  assert.equal(master.instance.status().state, 'master');
  // A live master's adverts keep the backup's deadline more than 15 ms away.
  let held = 0;
  for (let t = 0; t < 200; t++) {
    if (gate.waitMs() > 0) held++;
    await run(1);
  }
  assert.equal(held, 0, 'no hold while the master advertises');
  master.channel().dead = true;
  const lastMaster = segment.wire.filter((w) => w.from === '192.0.2.1').at(-1)!.at;
  const heldAt: number[] = [];
  for (let t = 0; t < 150; t++) {
    if (gate.waitMs() > 0) heldAt.push(clock.now() - lastMaster);
    await run(1);
  }
  assert.equal(backup.instance.status().state, 'master');
  const bound = masterDownIntervalMs(3, 100, 2);
  assert.ok(
    heldAt.length > 0 && heldAt[0]! >= bound - 15 - 1 && heldAt.at(-1)! <= bound + 2,
    `held from ${heldAt[0]} to ${heldAt.at(-1)} ms after the last advert`,
  );
  await run(50);
  assert.equal(gate.waitMs(), 0, 'as master it posts nothing');
  await backup.instance.stop();
  await master.instance.stop();
});

test('a takeover logs how long after its deadline the Master_Down_Timer ran', async () => {
  const clock = new FakeClock();
  const segment = new FakeSegment(clock);
  const bus = new EventBus('lvs', () => clock.wallNow());
  const lines: { reason?: string; masterDownLateMs?: number }[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as (typeof lines)[number]) });
  // The backup's thread is held `stallMs` when its timer comes due: it reads the clock that much later.
  let stallMs = 0;
  const backupClock: Clock = {
    now: () => clock.now() + stallMs,
    wallNow: () => clock.wallNow(),
    setTimer: (ms, fn) => clock.setTimer(ms, fn),
  };
  const master = await startRouter(segment, bus, 1, 200, (o) => new FakeChannel(segment, o));
  const backup = await startRouter(segment, bus, 2, 100, (o) => new FakeChannel(segment, o), { log, clock: backupClock });
  const run = async (ms: number) => {
    for (let t = 0; t < ms; t++) {
      clock.advance(1);
      await flush();
    }
  };
  await run(1000);
  master.channel().dead = true;
  await run(30);
  stallMs = 7;
  await run(100);
  assert.equal(backup.instance.status().state, 'master');
  const takeovers = lines.filter((l) => l.reason === 'master-down-timer');
  assert.equal(takeovers.length, 1, JSON.stringify(lines));
  // 7 ms held, plus up to the whole millisecond a timer rounds up to.
  const late = takeovers[0]!.masterDownLateMs!;
  assert.ok(late >= 7 && late <= 8, `logged ${late} ms late`);
  assert.equal(lines.filter((l) => l.masterDownLateMs !== undefined).length, 1, 'only a takeover by the timer carries it');
  await backup.instance.stop();
  await master.instance.stop();
});
