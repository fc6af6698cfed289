// Counts the fuzz inputs a target saw and, when a stopwatch is installed, keeps the
// slowest one. The unit tier installs none: it asserts outcomes, never times.
// bench/robustness/fuzz-slowest.ts installs performance.now and runs the same fuzz
// tests, reporting each target's slowest input against the 500 ms hang bound.

/** An input taking this long is treated as a hang (typical: well under 1 ms). */
export const HANG_MS = 500;

let stopwatch: (() => number) | undefined;

/** For the bench only: time every input from now on. */
export function installStopwatch(now: () => number): void {
  stopwatch = now;
}

/** Every Budget's summary, in order, for the bench's report. */
export const budgets: Budget[] = [];

export class Budget {
  tried = 0;
  maxMs = 0;
  slowest = '';

  constructor(readonly target: string) {
    budgets.push(this);
  }

  run<T>(fn: () => T, describe: () => string = () => ''): T {
    const now = stopwatch;
    const start = now?.() ?? 0;
    try {
      return fn();
    } finally {
      this.tried++;
      if (now) {
        const ms = now() - start;
        if (ms > this.maxMs) {
          this.maxMs = ms;
          this.slowest = describe().slice(0, 200);
        }
      }
    }
  }

  /** One line for the test log. */
  summary(): string {
    return `${this.target}: ${this.tried} inputs${stopwatch ? `, slowest ${this.maxMs.toFixed(2)} ms` : ''}`;
  }
}
