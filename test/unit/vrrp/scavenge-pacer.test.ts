// ScavengePacer (src/vrrp/scavenge-pacer.ts): the VRRP thread's young generation is
// scavenged right after an event's wire work, once it is mostly full, never near a
// backup's Master_Down deadline and never in the turn of a takeover.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../../src/clock.js';
import { EventBus } from '../../../src/events.js';
import { TurnGate } from '../../../src/turn-gate.js';
import { masterDownIntervalMs } from '../../../src/vrrp/fsm.js';
import type { VrrpInstance } from '../../../src/vrrp/instance.js';
import type { YoungGeneration } from '../../../src/vrrp/ports.js';
import { SCAVENGE_AT_FILL, ScavengePacer } from '../../../src/vrrp/scavenge-pacer.js';
import { FakeChannel, FakeSegment } from './fake-io.js';
import { startRouter } from './router.js';

/** A young generation at a set fill, which records when it is scavenged. */
function fakeYoung(fill: number, now: () => number) {
  const scavengedAt: number[] = [];
  const young: YoungGeneration & { level: number } = {
    level: fill,
    fill: () => young.level,
    scavenge: () => {
      scavengedAt.push(now());
      young.level = 0;
    },
  };
  return { young, scavengedAt };
}

test('a quiet moment scavenges a young generation past the threshold, and only one', () => {
  const now = 0;
  const gate = new TurnGate(() => now, 15, 2);
  const { young, scavengedAt } = fakeYoung(SCAVENGE_AT_FILL - 0.01, () => now);
  const pacer = new ScavengePacer(young, gate);
  assert.equal(pacer.quietMoment(), false);
  young.level = SCAVENGE_AT_FILL;
  assert.equal(pacer.quietMoment(), true);
  assert.equal(young.level, 0);
  assert.equal(pacer.quietMoment(), false, 'just scavenged');
  assert.deepEqual(scavengedAt, [0]);
});

test('no scavenge while a deadline is near, however full', () => {
  let now = 0;
  const gate = new TurnGate(() => now, 15, 2);
  const { young, scavengedAt } = fakeYoung(1, () => now);
  const pacer = new ScavengePacer(young, gate);
  gate.post({}, 100);
  for (const t of [85, 90, 101]) {
    now = t;
    assert.equal(pacer.quietMoment(), false, `at ${t}`);
  }
  now = 102;
  assert.equal(pacer.quietMoment(), true);
  assert.deepEqual(scavengedAt, [102]);
});

/** Router n with its own pacer, over a young generation that is always full and records each scavenge. */
async function router(segment: FakeSegment, bus: EventBus, gate: TurnGate, n: number, priority: number) {
  const scavenges: { at: number; wireLength: number; state: string }[] = [];
  const holder: { instance?: VrrpInstance } = {};
  const young: YoungGeneration = {
    fill: () => 1,
    scavenge: () =>
      scavenges.push({ at: segment.clock.now(), wireLength: segment.wire.length, state: holder.instance?.status().state ?? 'starting' }),
  };
  const started = await startRouter(segment, bus, n, priority, (o) => new FakeChannel(segment, o), {
    turnGate: gate,
    scavengePacer: new ScavengePacer(young, gate),
  });
  holder.instance = started.instance;
  return { ...started, scavenges };
}

test('a pair: the master scavenges after each advert it sends, the backup after each it reads, and the takeover turn has none', async () => {
  const clock = new FakeClock();
  const segment = new FakeSegment(clock);
  const bus = new EventBus('lvs', () => clock.wallNow());
  // One gate per director, as each agent has its own.
  const master = await router(segment, bus, new TurnGate(() => clock.now(), 15, 2), 1, 200);
  const backup = await router(segment, bus, new TurnGate(() => clock.now(), 15, 2), 2, 100);
  const run = async (ms: number) => {
    for (let t = 0; t < ms; t++) {
      clock.advance(1);
      await new Promise((r) => setImmediate(r));
    }
  };
  await run(1000);
  assert.equal(master.instance.status().state, 'master');
  master.scavenges.length = 0;
  backup.scavenges.length = 0;
  const wireBefore = segment.wire.length;
  await run(200);
  const sent = segment.wire.slice(wireBefore).filter((w) => w.from === '192.0.2.1');
  assert.ok(sent.length >= 9, `${sent.length} adverts in 200 ms`);
  // Each advert is on the wire before the scavenge that follows it.
  assert.deepEqual(
    master.scavenges.map((s) => s.at),
    sent.map((w) => w.at),
  );
  for (const s of master.scavenges) assert.equal(segment.wire[s.wireLength - 1]!.from, '192.0.2.1');
  assert.deepEqual(
    backup.scavenges.map((s) => s.at),
    sent.map((w) => w.at),
    'the backup reads each advert the moment it is sent here, and scavenges then',
  );

  master.channel().dead = true;
  const lastAdvert = sent.at(-1)!.at;
  backup.scavenges.length = 0;
  await run(150);
  assert.equal(backup.instance.status().state, 'master');
  const takeover = segment.wire.find((w) => w.from === '192.0.2.2')!.at;
  const bound = masterDownIntervalMs(3, 100, 2);
  assert.ok(
    takeover - lastAdvert >= bound && takeover - lastAdvert < bound + 1,
    `took over ${takeover - lastAdvert} ms after the last advert`,
  );
  assert.ok(
    backup.scavenges.every((s) => s.at < lastAdvert + bound - 15 || s.at > takeover),
    `scavenges at ${backup.scavenges.map((s) => s.at - lastAdvert).join(', ')} ms after the last advert (bound ${bound})`,
  );
  assert.ok(
    backup.scavenges.some((s) => s.at > takeover && s.state === 'master'),
    'it scavenges again after its first adverts as master',
  );
  assert.ok(!backup.scavenges.some((s) => s.at === takeover), 'not in the takeover turn');
  await backup.instance.stop();
  await master.instance.stop();
});
