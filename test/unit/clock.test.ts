// The deadline timer, driven by the fake clock: it never fires before its deadline,
// fires once, and a cancel stops it at either stage (the coarse timer or the spin).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock, setDeadlineTimer } from '../../src/clock.js';

/** A spin whose every yield moves the fake clock by stepMs; bounded in count. */
function steppingYield(clock: FakeClock, stepMs: number) {
  const queue: (() => void)[] = [];
  return {
    yieldTo: (next: () => void) => {
      queue.push(next);
    },
    yields: () => queue.length,
    drain(limit = 10_000): number {
      let n = 0;
      for (; queue.length > 0 && n < limit; n++) {
        clock.advance(stepMs);
        queue.shift()!();
      }
      return n;
    },
  };
}

describe('setDeadlineTimer', () => {
  it('without a spin: a fractional delay is rounded up, so the timer never fires before the deadline', () => {
    const clock = new FakeClock(1000);
    const fired: number[] = [];
    setDeadlineTimer(clock, 1609.375, (now) => fired.push(now));
    clock.advance(609);
    assert.deepEqual(fired, [], 'not at 1609, before the deadline');
    clock.advance(1);
    assert.deepEqual(fired, [1610]);
    clock.advance(10_000);
    assert.equal(fired.length, 1, 'once');
  });

  it("a timer that fires less than a millisecond early (the event loop's cached time) acts at the deadline", () => {
    /** Fires every timer 0.9 ms before its delay, as setTimeout can from a stale loop time. */
    class EarlyClock extends FakeClock {
      override setTimer(delayMs: number, fn: () => void) {
        return super.setTimer(Math.max(0, delayMs - 0.9), fn);
      }
    }
    const clock = new EarlyClock(1000);
    const fired: number[] = [];
    setDeadlineTimer(clock, 1609.375, (now) => fired.push(now));
    clock.advance(609.1);
    assert.deepEqual(fired, [1609.375], 'woken at 1609.1 (ceil(609.375) - 0.9): the deadline counts as reached');
  });

  it('a timer that fires a whole millisecond early or more passes the time it is', () => {
    class VeryEarlyClock extends FakeClock {
      override setTimer(delayMs: number, fn: () => void) {
        return super.setTimer(Math.max(0, delayMs - 5), fn);
      }
    }
    const clock = new VeryEarlyClock(0);
    const fired: number[] = [];
    setDeadlineTimer(clock, 100, (now) => fired.push(now));
    clock.advance(95);
    assert.deepEqual(fired, [95], 'the caller sees the deadline is not reached');
  });

  it('a deadline in the past fires at once (on the next timer turn) with the time now', () => {
    const clock = new FakeClock(500);
    const fired: number[] = [];
    setDeadlineTimer(clock, 100, (now) => fired.push(now));
    clock.advance(0);
    assert.deepEqual(fired, [500]);
  });

  it('with a spin: the coarse timer wakes spinMs early, then it yields until the clock reaches the deadline', () => {
    const clock = new FakeClock(0);
    const spin = steppingYield(clock, 0.25);
    const fired: number[] = [];
    setDeadlineTimer(clock, 100.5, (now) => fired.push(now), { spinMs: 2, yieldTo: spin.yieldTo });
    clock.advance(98);
    assert.deepEqual(fired, [], 'awake at floor(100.5 - 2) = 98, deadline not reached');
    assert.equal(spin.yields(), 1, 'and yielding');
    const steps = spin.drain();
    assert.equal(fired.length, 1);
    assert.ok(fired[0]! >= 100.5, `fired at ${fired[0]}, not before the deadline`);
    assert.equal(fired[0], clock.now(), 'with the time it saw');
    assert.equal(steps, 10, 'one look per yield until 100.5');
    assert.equal(spin.yields(), 0, 'and then stops yielding');
  });

  it('a deadline closer than the spin is a plain timer', () => {
    const clock = new FakeClock(0);
    const spin = steppingYield(clock, 0.25);
    const fired: number[] = [];
    setDeadlineTimer(clock, 1.5, (now) => fired.push(now), { spinMs: 2, yieldTo: spin.yieldTo });
    clock.advance(2);
    assert.deepEqual(fired, [2], 'rounded up to 2 ms');
    assert.equal(spin.yields(), 0);
  });

  it('cancelled before the coarse timer: never fires', () => {
    const clock = new FakeClock(0);
    const spin = steppingYield(clock, 0.25);
    const fired: number[] = [];
    const timer = setDeadlineTimer(clock, 100, (now) => fired.push(now), { spinMs: 2, yieldTo: spin.yieldTo });
    clock.advance(50);
    timer.cancel();
    clock.advance(100);
    spin.drain();
    assert.deepEqual(fired, []);
    assert.equal(clock.pendingTimers(), 0);
  });

  it('cancelled during the spin: stops at the next look and never fires', () => {
    const clock = new FakeClock(0);
    const spin = steppingYield(clock, 0.25);
    const fired: number[] = [];
    const timer = setDeadlineTimer(clock, 100, (now) => fired.push(now), { spinMs: 2, yieldTo: spin.yieldTo });
    clock.advance(98);
    assert.equal(spin.yields(), 1);
    timer.cancel();
    assert.equal(spin.drain(), 1, 'the pending look runs once and yields no more');
    assert.deepEqual(fired, []);
  });
});
