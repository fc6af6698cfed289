// Runs health checks on time: each check at its own interval with a fixed,
// deterministic phase (a hash of its id) so 10,000 checks spread over the interval
// instead of firing together; one run of a check at a time; at most
// `maxConcurrent` runs in flight overall (the rest wait in a FIFO queue); a
// timeout per run through AbortSignal; `warmup` before the first run; and after a
// failure up to `retry` quick re-runs `delayBeforeRetryMs` apart (keepalived's
// retry / delay_before_retry).
import { getEventListeners } from 'node:events';
import type { Clock, TimerHandle } from '../clock.js';
import type { CheckResult } from './check.js';

export interface ScheduledCheck {
  /** Stable id; also seeds the phase, so the same id always lands on the same phase. */
  id: string;
  intervalMs: number;
  timeoutMs: number;
  /** Delay before the first run (on top of the phase). */
  warmupMs: number;
  /** Quick re-runs after a failure that followed a success. */
  retry: number;
  delayBeforeRetryMs: number;
  run(signal: AbortSignal): Promise<CheckResult>;
}

export interface RunInfo {
  /** 'interval' for a regular run, 'retry' for a quick re-run after a failure. */
  kind: 'interval' | 'retry';
  /** When the run was due (clock ms); started later when it had to queue. */
  dueAt: number;
  startedAt: number;
  finishedAt: number;
  timedOut: boolean;
}

/** Gets the very check object that was added, so a caller can keep what a result needs on it instead of looking it up. */
export type ResultHandler<C extends ScheduledCheck = ScheduledCheck> = (check: C, result: CheckResult, info: RunInfo) => void;

export interface SchedulerOptions<C extends ScheduledCheck = ScheduledCheck> {
  clock: Clock;
  /** Global bound on checks in flight. */
  maxConcurrent: number;
  onResult: ResultHandler<C>;
}

export interface SchedulerStats {
  checks: number;
  running: number;
  queued: number;
  runs: number;
  timeouts: number;
  /** Slots skipped because the previous run of that check had not finished. */
  overlapsSkipped: number;
}

/** FNV-1a, 32 bits: a cheap stable hash so phases do not depend on insertion order. */
export function stableHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The check's offset inside its interval, in [0, intervalMs). */
export function phaseOf(id: string, intervalMs: number): number {
  return intervalMs > 0 ? Math.floor((stableHash(id) / 0x1_0000_0000) * intervalMs) : 0;
}

/** The first slot anchor + k × interval (k ≥ 0) strictly after t (or the anchor itself when t is before it). */
export function nextSlot(anchor: number, intervalMs: number, t: number): number {
  if (t < anchor) return anchor;
  const slot = anchor + (Math.floor((t - anchor) / intervalMs) + 1) * intervalMs;
  // Fractional clock values: (anchor + k·interval − anchor) / interval can come out
  // a hair under k, which would hand back t itself and spin.
  return slot > t ? slot : slot + intervalMs;
}

class TimeoutError extends Error {
  constructor(ms: number) {
    super(`timeout after ${ms}ms`);
    this.name = 'TimeoutError';
  }
}

// Entry and Run are classes with every field set in the constructor, so each keeps one
// shape for life: thousands are touched a second, and a field added later or changing
// its kind of value (a number that starts as 0, a handle that starts undefined)
// deprecates the shape, after which objects are migrated one by one on access.
class Entry<C extends ScheduledCheck> {
  timer: TimerHandle | undefined = undefined;
  state: 'idle' | 'queued' | 'running' = 'idle';
  pendingKind: 'interval' | 'retry' = 'interval';
  dueAt: number;
  removed = false;
  /**
   * Kept across runs until it is aborted or a run leaves a listener on its signal.
   * Making an AbortController costs about as much as the rest of the scheduler's work
   * for a run (2.5 µs here, two internal maps per signal), and a signal that was never
   * aborted and holds no listener gives a later run nothing of an earlier one's.
   */
  controller: AbortController | undefined = undefined;

  constructor(
    readonly check: C,
    /** First regular slot; slot k is at anchor + k × interval. */
    readonly anchor: number,
    public retriesLeft: number,
  ) {
    this.dueAt = anchor;
  }
}

/** One run in flight. */
class Run {
  delivered = false;
  timeout: TimerHandle | undefined = undefined;

  constructor(
    readonly kind: 'interval' | 'retry',
    readonly dueAt: number,
    readonly startedAt: number,
  ) {}
}

export class CheckScheduler<C extends ScheduledCheck = ScheduledCheck> {
  private readonly entries = new Map<string, Entry<C>>();
  private queue: Array<Entry<C>> = [];
  private queueHead = 0;
  private running = 0;
  private counters = { runs: 0, timeouts: 0, overlapsSkipped: 0 };
  private stopped = false;

  constructor(private readonly options: SchedulerOptions<C>) {
    if (!(options.maxConcurrent >= 1)) throw new Error('maxConcurrent must be at least 1');
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  ids(): string[] {
    return [...this.entries.keys()];
  }

  add(check: C): void {
    if (this.stopped) throw new Error('scheduler is stopped');
    if (this.entries.has(check.id)) throw new Error(`check ${check.id} is already scheduled`);
    if (!(check.intervalMs > 0) || !(check.timeoutMs > 0)) throw new Error(`check ${check.id}: interval and timeout must be positive`);
    const now = this.options.clock.now();
    const entry = new Entry(check, now + Math.max(0, check.warmupMs) + phaseOf(check.id, check.intervalMs), check.retry);
    this.entries.set(check.id, entry);
    this.arm(entry, entry.anchor, 'interval');
  }

  /** Stops a check; a run in flight is aborted and its result dropped. */
  remove(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    entry.removed = true;
    entry.timer?.cancel();
    entry.timer = undefined;
    if (entry.state === 'running') entry.controller?.abort(new Error('check removed'));
    entry.controller = undefined;
  }

  stop(): void {
    this.stopped = true;
    for (const id of [...this.entries.keys()]) this.remove(id);
    this.queue = [];
    this.queueHead = 0;
  }

  stats(): SchedulerStats {
    return { checks: this.entries.size, running: this.running, queued: this.queue.length - this.queueHead, ...this.counters };
  }

  private arm(entry: Entry<C>, at: number, kind: 'interval' | 'retry'): void {
    entry.timer?.cancel();
    entry.timer = this.options.clock.setTimer(at - this.options.clock.now(), () => {
      entry.timer = undefined;
      this.due(entry, at, kind);
    });
  }

  private nextSlotAfter(entry: Entry<C>, t: number): number {
    return nextSlot(entry.anchor, entry.check.intervalMs, t);
  }

  private due(entry: Entry<C>, at: number, kind: 'interval' | 'retry'): void {
    if (entry.removed) return;
    // Regular slots keep their rhythm whatever happens to the run.
    if (kind === 'interval') this.arm(entry, this.nextSlotAfter(entry, at), 'interval');
    if (entry.state !== 'idle') {
      this.counters.overlapsSkipped++;
      return;
    }
    entry.state = 'queued';
    entry.pendingKind = kind;
    entry.dueAt = at;
    this.queue.push(entry);
    this.pump();
  }

  private pump(): void {
    while (this.running < this.options.maxConcurrent && this.queueHead < this.queue.length) {
      const entry = this.queue[this.queueHead++]!;
      if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.queueHead);
        this.queueHead = 0;
      }
      if (entry.removed) continue;
      this.start(entry);
    }
  }

  private start(entry: Entry<C>): void {
    const { clock } = this.options;
    const check = entry.check;
    entry.state = 'running';
    this.running++;
    this.counters.runs++;
    const controller = (entry.controller ??= new AbortController());
    const run = new Run(entry.pendingKind, entry.dueAt, clock.now());
    // The timeout result is delivered at once, so a check that ignores its signal
    // cannot delay detection; the run still holds its slot until it settles, so a
    // stuck check never runs twice at once.
    run.timeout = clock.setTimer(check.timeoutMs, () => {
      this.counters.timeouts++;
      if (entry.controller === controller) entry.controller = undefined;
      controller.abort(new TimeoutError(check.timeoutMs));
      this.deliver(entry, run, { ok: false, reason: `timeout after ${check.timeoutMs}ms`, latencyMs: check.timeoutMs }, true);
    });
    let promise: Promise<CheckResult>;
    try {
      promise = check.run(controller.signal);
    } catch (err) {
      promise = Promise.reject(err);
    }
    // One reaction per run, not then + finally: a run is thousands a second. The slot is
    // given back even when a result handler throws (that throw still surfaces, unhandled).
    promise.then(
      (result) => {
        try {
          this.deliver(entry, run, result, false);
        } finally {
          this.settle(entry, run);
        }
      },
      (err: unknown) => {
        try {
          const reason = `check error: ${err instanceof Error ? err.message : String(err)}`;
          this.deliver(entry, run, { ok: false, reason, latencyMs: clock.now() - run.startedAt }, false);
        } finally {
          this.settle(entry, run);
        }
      },
    );
  }

  private deliver(entry: Entry<C>, run: Run, result: CheckResult, timedOut: boolean): void {
    if (run.delivered || entry.removed) return;
    run.delivered = true;
    this.afterResult(entry, result);
    const { kind, dueAt, startedAt } = run;
    this.options.onResult(entry.check, result, { kind, dueAt, startedAt, finishedAt: this.options.clock.now(), timedOut });
  }

  private settle(entry: Entry<C>, run: Run): void {
    run.timeout?.cancel();
    entry.state = 'idle';
    this.running--;
    const controller = entry.controller;
    if (controller && getEventListeners(controller.signal, 'abort').length > 0) entry.controller = undefined;
    if (!entry.removed && !entry.timer) this.arm(entry, this.nextSlotAfter(entry, this.options.clock.now()), 'interval');
    this.pump();
  }

  private afterResult(entry: Entry<C>, result: CheckResult): void {
    const check = entry.check;
    if (result.ok) {
      entry.retriesLeft = check.retry;
      return;
    }
    if (entry.retriesLeft <= 0) return;
    entry.retriesLeft--;
    // The quick re-run replaces the next regular slot when it comes first.
    const now = this.options.clock.now();
    const retryAt = now + check.delayBeforeRetryMs;
    const nextSlot = this.nextSlotAfter(entry, now);
    if (retryAt < nextSlot) this.arm(entry, retryAt, 'retry');
  }
}
