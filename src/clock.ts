// Time is injected everywhere so state machines and schedulers are tested by
// driving a fake clock, never by sleeping.
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds on a monotonic scale (not wall time). */
  now(): number;
  /** Wall-clock time, for timestamps in events and logs. */
  wallNow(): Date;
  setTimer(delayMs: number, fn: () => void): TimerHandle;
}

/**
 * The longest delay Node's setTimeout honours: it keeps delays in a signed 32-bit
 * integer and fires a longer one (about 24.8 days and up) after 1 ms instead.
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => new Date(),
  // A delay above MAX_TIMER_DELAY_MS is waited out in steps rather than clamped:
  // clamping would fire early, and early is the failure (a forced backup released, a
  // window closed). Steps are counted, not measured, so a timer never fires before its
  // delay has elapsed. NaN and negative delays mean "at once", Infinity never fires.
  setTimer(delayMs, fn) {
    let remaining = Number.isNaN(delayMs) ? 0 : Math.max(0, delayMs);
    let timer: ReturnType<typeof setTimeout>;
    const arm = (): void => {
      const step = Math.min(remaining, MAX_TIMER_DELAY_MS);
      remaining -= step;
      timer = setTimeout(remaining > 0 ? arm : fn, step);
    };
    arm();
    return { cancel: () => clearTimeout(timer) };
  },
};

interface PendingTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A clock whose time moves only when a test calls advance(). */
export class FakeClock implements Clock {
  private current: number;
  private wallBase: number;
  private seq = 0;
  private timers: PendingTimer[] = [];

  constructor(startMs = 0, wallStart = Date.UTC(2026, 0, 1)) {
    this.current = startMs;
    this.wallBase = wallStart - startMs;
  }

  now(): number {
    return this.current;
  }

  wallNow(): Date {
    return new Date(this.wallBase + this.current);
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const timer: PendingTimer = { at: this.current + Math.max(0, delayMs), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward, firing due timers in order (timers they set fire too if due). */
  advance(ms: number): void {
    const target = this.current + ms;
    for (let fired = 0; fired < 1_000_000; fired++) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      let next: PendingTimer | undefined;
      for (const t of this.timers) {
        if (t.at <= target && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      }
      if (!next) break;
      this.current = next.at;
      next.cancelled = true;
      next.fn();
    }
    this.current = target;
  }
}

/** How finely setTimer fires: whole milliseconds, measured from the event loop's cached time. */
export const TIMER_GRANULARITY_MS = 1;

export interface DeadlineTimerOptions {
  /**
   * Wake this long before the deadline and yield until the clock reaches it: a plain timer
   * can fire a millisecond or two late, and where the deadline is a failover time that
   * matters. 0 (the default) is a plain timer.
   */
  spinMs?: number;
  /** How the spin yields to the event loop between looks at the clock (default setImmediate). */
  yieldTo?: (next: () => void) => void;
}

/**
 * Calls fire once the clock reaches `at` (a clock.now() value), with the time the caller
 * should act at. Timers have whole-millisecond granularity and start from the event
 * loop's cached time: a fractional delay would fire early, find the deadline not reached
 * and need re-arming for another 1-2 ms. So the delay is rounded up, and a deadline less
 * than TIMER_GRANULARITY_MS away counts as reached (fire gets `at`, never earlier).
 */
export function setDeadlineTimer(clock: Clock, at: number, fire: (now: number) => void, options: DeadlineTimerOptions = {}): TimerHandle {
  const spinMs = options.spinMs ?? 0;
  const delay = Math.max(0, at - clock.now());
  if (spinMs > 0 && delay > spinMs) {
    const yieldTo =
      options.yieldTo ??
      ((next: () => void) => {
        setImmediate(next);
      });
    let cancelled = false;
    const wait = (): void => {
      if (cancelled) return;
      if (clock.now() >= at) fireAt();
      else yieldTo(wait);
    };
    const coarse = clock.setTimer(Math.floor(delay - spinMs), wait);
    return {
      cancel: () => {
        cancelled = true;
        coarse.cancel();
      },
    };
  }
  return clock.setTimer(Math.ceil(delay), fireAt);

  function fireAt(): void {
    const now = clock.now();
    fire(now >= at - TIMER_GRANULARITY_MS ? Math.max(now, at) : now);
  }
}
