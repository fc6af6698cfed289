// Runs each fuzz input under a stopwatch: counts the inputs tried and keeps the
// slowest one, so a test can fail on a hang (an input that takes seconds) and
// report how many inputs a target saw. Not a performance assertion: the bound
// is two orders of magnitude above the typical time.
import { performance } from 'node:perf_hooks';

/** An input taking this long is treated as a hang (typical: well under 1 ms). */
export const HANG_MS = 500;

export class Budget {
  tried = 0;
  maxMs = 0;
  slowest = '';

  constructor(readonly target: string) {}

  run<T>(fn: () => T, describe: () => string = () => ''): T {
    const start = performance.now();
    try {
      return fn();
    } finally {
      const ms = performance.now() - start;
      this.tried++;
      if (ms > this.maxMs) {
        this.maxMs = ms;
        this.slowest = describe().slice(0, 200);
      }
    }
  }

  /** One line for the test log and docs/reliability.md. */
  summary(): string {
    return `${this.target}: ${this.tried} inputs, slowest ${this.maxMs.toFixed(2)} ms`;
  }

  withinBound(): boolean {
    return this.maxMs < HANG_MS;
  }
}
