import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../../src/clock.js';
import type { CheckResult } from '../../../src/health/check.js';
import fc from 'fast-check';
import { CheckScheduler, nextSlot, phaseOf, type RunInfo, type ScheduledCheck } from '../../../src/health/scheduler.js';

/** Lets promise callbacks (plugin settle → scheduler bookkeeping) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

interface Harness {
  clock: FakeClock;
  scheduler: CheckScheduler;
  results: Array<{ id: string; result: CheckResult; info: RunInfo }>;
}

function harness(maxConcurrent = 100): Harness {
  const clock = new FakeClock(0);
  const results: Harness['results'] = [];
  const scheduler = new CheckScheduler({ clock, maxConcurrent, onResult: (c, result, info) => results.push({ id: c.id, result, info }) });
  return { clock, scheduler, results };
}

function check(id: string, overrides: Partial<ScheduledCheck> = {}): ScheduledCheck {
  return {
    id,
    intervalMs: 1000,
    timeoutMs: 500,
    warmupMs: 0,
    retry: 0,
    delayBeforeRetryMs: 100,
    run: async () => ({ ok: true, reason: 'ok', latencyMs: 1 }),
    ...overrides,
  };
}

/** Advances in steps, letting promises settle between them. */
async function run(clock: FakeClock, ms: number, step = 10): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(Math.min(step, ms - t));
    await settle();
  }
}

test('a check runs once per interval at its deterministic phase', async () => {
  const { clock, scheduler, results } = harness();
  const phase = phaseOf('a', 1000);
  scheduler.add(check('a'));
  await run(clock, 5000);
  const starts = results.map((r) => r.info.startedAt);
  assert.equal(starts.length, 5);
  assert.deepEqual(
    starts,
    [0, 1, 2, 3, 4].map((k) => phase + k * 1000),
  );
  // Same id, same phase: a restart or reload keeps the spread.
  assert.equal(phaseOf('a', 1000), phase);
});

test('10,000 checks spread their phases evenly over the interval', () => {
  const buckets = new Array(10).fill(0);
  for (let i = 0; i < 10_000; i++) buckets[Math.floor(phaseOf(`web-80|10.0.${i >> 8}.${i & 255}:80|{"type":"tcp"}`, 1000) / 100)]++;
  // Each 100 ms tenth of the second gets close to 1,000 of them, none a burst.
  for (const n of buckets) assert.ok(n > 850 && n < 1150, `bucket with ${n} checks: ${buckets.join(',')}`);
});

test('warmup delays the first run', async () => {
  const { clock, scheduler, results } = harness();
  scheduler.add(check('w', { warmupMs: 3000 }));
  await run(clock, 2990);
  assert.equal(results.length, 0);
  await run(clock, 1010);
  assert.equal(results.length, 1);
  assert.equal(results[0]!.info.startedAt, 3000 + phaseOf('w', 1000));
});

test('a slow check never overlaps itself: slots are skipped while it runs', async () => {
  const { clock, scheduler, results } = harness();
  let concurrent = 0;
  let maxConcurrent = 0;
  let release: (() => void) | undefined;
  scheduler.add(
    check('slow', {
      timeoutMs: 10_000,
      run: () =>
        new Promise<CheckResult>((resolve) => {
          concurrent++;
          maxConcurrent = Math.max(maxConcurrent, concurrent);
          release = () => {
            concurrent--;
            resolve({ ok: true, reason: 'slow ok', latencyMs: 3500 });
          };
        }),
    }),
  );
  await run(clock, 1000 + phaseOf('slow', 1000) + 3500);
  assert.equal(maxConcurrent, 1);
  assert.ok(scheduler.stats().overlapsSkipped >= 3, `skipped ${scheduler.stats().overlapsSkipped}`);
  release!();
  await settle();
  assert.equal(results.length, 1);
  await run(clock, 1000);
  assert.equal(concurrent, 1, 'the next slot starts a new run after the slow one finished');
});

test('a timeout is delivered at the timeout, aborts the signal and holds the slot until the run settles', async () => {
  const { clock, scheduler, results } = harness();
  let signalSeen: AbortSignal | undefined;
  let finish: (() => void) | undefined;
  let runs = 0;
  scheduler.add(
    check('hang', {
      timeoutMs: 300,
      run: (signal) => {
        runs++;
        signalSeen = signal;
        // A plugin that ignores its signal for a while.
        return new Promise<CheckResult>((resolve) => {
          finish = () => resolve({ ok: true, reason: 'late', latencyMs: 5000 });
        });
      },
    }),
  );
  const phase = phaseOf('hang', 1000);
  await run(clock, phase + 300, 1);
  assert.equal(results.length, 1);
  assert.equal(results[0]!.result.ok, false);
  assert.equal(results[0]!.result.reason, 'timeout after 300ms');
  assert.equal(results[0]!.info.timedOut, true);
  assert.equal(signalSeen!.aborted, true);
  await run(clock, 2000);
  assert.equal(runs, 1, 'no second run while the first has not settled');
  finish!();
  await settle();
  assert.equal(results.length, 1, 'the late result is dropped');
  await run(clock, 1000);
  assert.equal(runs, 2);
});

test('a run gets a signal no earlier run aborted or left a listener on', async () => {
  const { clock, scheduler, results } = harness();
  const signals: AbortSignal[] = [];
  const leftBehind: string[] = [];
  let outcome: 'clean' | 'leave a listener' | 'hang' = 'clean';
  scheduler.add(
    check('s', {
      timeoutMs: 300,
      run: (signal) => {
        signals.push(signal);
        assert.equal(signal.aborted, false, 'a run never starts with an aborted signal');
        const n = signals.length;
        if (outcome === 'hang') return new Promise<CheckResult>(() => {});
        if (outcome === 'leave a listener') signal.addEventListener('abort', () => leftBehind.push(`run ${n}`));
        else {
          const onAbort = (): void => {};
          signal.addEventListener('abort', onAbort, { once: true });
          signal.removeEventListener('abort', onAbort);
        }
        return Promise.resolve({ ok: true, reason: 'ok', latencyMs: 1 });
      },
    }),
  );
  const phase = phaseOf('s', 1000);
  await run(clock, phase + 1, 1);
  await run(clock, 1000);
  assert.equal(signals.length, 2);
  assert.equal(signals[1], signals[0], 'a clean run passes its signal on');
  outcome = 'leave a listener';
  await run(clock, 1000);
  outcome = 'hang';
  await run(clock, 1000);
  assert.notEqual(signals[3], signals[2], 'after a run that left a listener, a fresh signal');
  await run(clock, 300);
  assert.equal(results.at(-1)!.info.timedOut, true);
  assert.equal(signals[3]!.aborted, true);
  assert.deepEqual(leftBehind, [], "a later run's timeout never reaches an earlier run's listener");
});

test('the global concurrency bound queues runs in FIFO order', async () => {
  const { clock, scheduler, results } = harness(3);
  let inFlight = 0;
  let peak = 0;
  for (let i = 0; i < 10; i++) {
    scheduler.add(
      check(`c${i}`, {
        intervalMs: 10_000,
        timeoutMs: 5000,
        run: () => {
          inFlight++;
          peak = Math.max(peak, inFlight);
          return new Promise<CheckResult>((resolve) =>
            clock.setTimer(400, () => {
              inFlight--;
              resolve({ ok: true, reason: 'ok', latencyMs: 400 });
            }),
          );
        },
      }),
    );
  }
  await run(clock, 10_000 + 2000, 5);
  assert.equal(peak, 3);
  assert.ok(results.length >= 10);
  const queuedSome = results.some((r) => r.info.startedAt > r.info.dueAt);
  assert.ok(queuedSome, 'some runs waited in the queue');
  // Within the first round, runs start in the order they were due.
  const first = results.slice(0, 10).map((r) => r.info.dueAt);
  const startedOrder = [...results.slice(0, 10)].sort((a, b) => a.info.startedAt - b.info.startedAt).map((r) => r.info.dueAt);
  assert.deepEqual(
    startedOrder,
    [...first].sort((a, b) => a - b),
  );
  assert.equal(scheduler.stats().running, inFlight);
});

test('retry: after a failure that followed a success, re-runs delayBeforeRetry apart, then back to the interval', async () => {
  const { clock, scheduler, results } = harness();
  let healthy = true;
  scheduler.add(
    check('r', {
      intervalMs: 5000,
      retry: 2,
      delayBeforeRetryMs: 200,
      run: async () => ({ ok: healthy, reason: healthy ? 'ok' : 'refused', latencyMs: 1 }),
    }),
  );
  const phase = phaseOf('r', 5000);
  await run(clock, phase + 1, 1);
  assert.equal(results.length, 1);
  healthy = false;
  await run(clock, 5000, 1);
  // The failing interval run, then two quick retries 200 ms apart.
  const fails = results.slice(1).map((r) => [r.info.kind, r.info.startedAt - phase]);
  assert.deepEqual(fails, [['interval', 5000]]);
  await run(clock, 500, 1);
  const after = results.slice(1).map((r) => [r.info.kind, r.info.startedAt - phase]);
  assert.deepEqual(after, [
    ['interval', 5000],
    ['retry', 5200],
    ['retry', 5400],
  ]);
  // Retries exhausted: the next run is the regular slot, not another retry.
  await run(clock, 5000, 5);
  assert.deepEqual(
    results.slice(4).map((r) => [r.info.kind, r.info.startedAt - phase]),
    [['interval', 10_000]],
  );
});

test('a thrown or rejected run is a failure with the error message', async () => {
  const { clock, scheduler, results } = harness();
  scheduler.add(
    check('boom', {
      run: () => {
        throw new Error('plugin bug');
      },
    }),
  );
  scheduler.add(check('rej', { run: () => Promise.reject(new Error('went wrong')) }));
  await run(clock, 1000);
  assert.deepEqual(results.map((r) => r.result.reason).sort(), ['check error: plugin bug', 'check error: went wrong']);
});

test('remove aborts a run in flight, drops its result and stops the schedule', async () => {
  const { clock, scheduler, results } = harness();
  let signal: AbortSignal | undefined;
  scheduler.add(
    check('x', {
      timeoutMs: 5000,
      run: (s) => {
        signal = s;
        return new Promise<CheckResult>((resolve) =>
          s.addEventListener('abort', () => resolve({ ok: false, reason: 'aborted', latencyMs: 0 })),
        );
      },
    }),
  );
  await run(clock, 1000);
  assert.ok(signal && !signal.aborted);
  scheduler.remove('x');
  await settle();
  assert.equal(signal.aborted, true);
  await run(clock, 5000);
  assert.equal(results.length, 0);
  assert.equal(scheduler.stats().running, 0);
  assert.equal(clock.pendingTimers(), 0);
});

test('nextSlot is strictly after t and at most one interval later, even with fractional clocks', () => {
  fc.assert(
    fc.property(
      fc.double({ min: 0, max: 1e7, noNaN: true }),
      fc.integer({ min: 1, max: 60_000 }),
      fc.integer({ min: 0, max: 10_000 }),
      fc.double({ min: -1, max: 1, noNaN: true }),
      (anchor, interval, k, nudge) => {
        const t = anchor + k * interval + nudge;
        const slot = nextSlot(anchor, interval, t);
        if (t < anchor) return slot === anchor;
        return slot > t && slot - t <= interval + 1e-6;
      },
    ),
  );
  // A case real clocks hit: anchor + k·interval − anchor lands a hair under k·interval.
  for (let i = 0; i < 50; i++) {
    const anchor = 1234.5678901 + i * 13.37;
    for (let k = 0; k < 10; k++) assert.ok(nextSlot(anchor, 1000, anchor + k * 1000) > anchor + k * 1000);
  }
});
