// Runs tasks in the order they were queued, in slices of at most `sliceMs` of one
// event-loop turn each, and gives the loop back between slices (setImmediate: the
// timers phase comes next). Work that arrives in bulk, such as the health-check
// thread's backlog of messages after a pause, then cannot hold a due VRRP advert for
// longer than one slice and one task: Node hands a thread every message waiting for
// it in a single turn, however many there are. With a TurnGate, no slice starts
// close to a VRRP deadline.
import { performance } from 'node:perf_hooks';
import type { TurnGate } from './turn-gate.js';

const COMPACT_AFTER = 4096;

export class SlicedQueue {
  private tasks: (() => void)[] = [];
  private next = 0;
  /** The slice that will run next, if one is scheduled. */
  private pending: { immediate: NodeJS.Immediate } | { timeout: NodeJS.Timeout } | undefined;
  private running = false;

  private readonly now: () => number;
  private readonly gate: Pick<TurnGate, 'waitMs'> | undefined;

  /** `onError` hears what a task threw; the tasks after it still run. A slice starts only when `gate` lets it. */
  constructor(
    private readonly sliceMs: number,
    private readonly onError: (err: unknown) => void,
    options: { now?: () => number; gate?: Pick<TurnGate, 'waitMs'> } = {},
  ) {
    this.now = options.now ?? (() => performance.now());
    this.gate = options.gate;
  }

  get size(): number {
    return this.tasks.length - this.next;
  }

  push(task: () => void): void {
    this.tasks.push(task);
    // A task queued by a task: the slice running it schedules the next one when it ends.
    if (this.pending || this.running) return;
    this.pending = { immediate: setImmediate(this.slice) };
  }

  /** Runs every queued task now, in this turn (before something that must see them all done); no slice is left pending. */
  drain(): void {
    while (this.next < this.tasks.length) this.runNext();
    this.reset();
    if (this.pending && 'immediate' in this.pending) clearImmediate(this.pending.immediate);
    else if (this.pending) clearTimeout(this.pending.timeout);
    this.pending = undefined;
  }

  private readonly slice = (): void => {
    const wait = this.gate?.waitMs() ?? 0;
    if (wait > 0) {
      this.pending = { timeout: setTimeout(this.slice, Math.ceil(wait)) };
      return;
    }
    this.pending = undefined;
    const started = this.now();
    this.running = true;
    try {
      while (this.next < this.tasks.length) {
        this.runNext();
        if (this.now() - started >= this.sliceMs || (this.gate?.waitMs() ?? 0) > 0) break;
      }
    } finally {
      this.running = false;
    }
    if (this.next === this.tasks.length) this.reset();
    else {
      // A queue that never empties must not keep every task it ever ran.
      if (this.next >= COMPACT_AFTER) this.compact();
      this.pending = { immediate: setImmediate(this.slice) };
    }
  };

  private runNext(): void {
    const task = this.tasks[this.next]!;
    this.next++;
    try {
      task();
    } catch (err) {
      this.onError(err);
    }
  }

  private compact(): void {
    this.tasks = this.tasks.slice(this.next);
    this.next = 0;
  }

  private reset(): void {
    this.tasks = [];
    this.next = 0;
  }
}
