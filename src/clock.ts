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

export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => new Date(),
  setTimer(delayMs, fn) {
    const t = setTimeout(fn, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(t) };
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
    return { cancel: () => { timer.cancelled = true; } };
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
