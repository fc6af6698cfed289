// The last-resort path with its I/O injected: a fake process emitter, a fake resign,
// a fake exit and timers the test fires.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { installLastResort, LAST_RESORT_EXIT_CODE } from '../../../src/agent/last-resort.js';

function setup(resign: () => Promise<void>) {
  const events = new EventEmitter();
  const lines: Array<{ level: number; msg: string; err?: { stack?: string }; origin?: string }> = [];
  const logger = pino(
    { level: 'info' },
    {
      write: (line: string) => {
        lines.push(JSON.parse(line) as (typeof lines)[number]);
      },
    },
  );
  const exits: number[] = [];
  const timers: Array<{ fn: () => void; ms: number }> = [];
  let resigned = 0;
  const uninstall = installLastResort({
    events,
    logger: () => logger,
    exit: (code) => exits.push(code),
    resign: () => {
      resigned++;
      return resign();
    },
    resignTimeoutMs: 3000,
    setTimer: (fn, ms) => {
      timers.push({ fn, ms });
    },
  });
  const fire = (ms: number): void => {
    for (const t of timers.filter((x) => x.ms === ms)) t.fn();
  };
  return { events, lines, exits, timers, fire, uninstall, resigns: () => resigned };
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('an uncaught exception: logged with its stack, every instance resigned, then exit 70', async () => {
  let finishResign!: () => void;
  const s = setup(
    () =>
      new Promise<void>((resolve) => {
        finishResign = resolve;
      }),
  );
  s.events.emit('uncaughtException', new Error('a bug in a subscriber'));
  const fatal = s.lines.find((l) => l.level === 60)!;
  assert.match(fatal.msg, /^uncaughtException: a bug in a subscriber; resigning every VRRP instance, keeping the IPVS table, exiting 70$/);
  assert.match(fatal.err?.stack ?? '', /Error: a bug in a subscriber\n\s+at /);
  assert.equal(s.resigns(), 1);
  await settle();
  assert.deepEqual(s.exits, [], 'no exit before the resign finished');

  finishResign();
  await settle();
  s.fire(200); // the log flush's bound, in case the flush callback is slower
  assert.deepEqual(s.exits, [LAST_RESORT_EXIT_CODE]);
  s.fire(3000);
  assert.deepEqual(s.exits, [LAST_RESORT_EXIT_CODE], 'exits once');
});

test('an unhandled rejection takes the same path; a second fault while resigning does not resign twice', async () => {
  const s = setup(() => new Promise<void>(() => undefined));
  s.events.emit('unhandledRejection', 'not even an Error');
  s.events.emit('uncaughtException', new Error('and another'));
  assert.equal(s.resigns(), 1);
  assert.equal(s.lines.filter((l) => l.level === 60).length, 1);
  assert.ok(s.lines.some((l) => l.level === 50 && l.msg === 'uncaughtException while resigning after an earlier fault'));
  // The resign hangs: the bound ends it.
  s.fire(3000);
  await settle();
  s.fire(200);
  assert.deepEqual(s.exits, [LAST_RESORT_EXIT_CODE]);
  assert.ok(s.lines.some((l) => /resigning did not finish within 3000 ms; exiting anyway/.test(l.msg)));
});

test('a resign that throws or rejects still exits non-zero', async () => {
  const s = setup(() => {
    throw new Error('instances in a bad state');
  });
  s.events.emit('uncaughtException', new Error('bug'));
  await settle();
  s.fire(200);
  assert.deepEqual(s.exits, [LAST_RESORT_EXIT_CODE]);
  assert.ok(s.lines.some((l) => /resigning after the fault failed: instances in a bad state/.test(l.msg)));
});

test('uninstalled, it no longer listens', () => {
  const s = setup(async () => undefined);
  s.uninstall();
  assert.equal(s.events.listenerCount('uncaughtException'), 0);
  assert.equal(s.events.listenerCount('unhandledRejection'), 0);
});
