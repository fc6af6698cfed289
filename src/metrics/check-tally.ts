// Check results counted where they happen, handed over in bulk. The health worker
// runs ~10,000 checks a second; one message or one histogram observe() per check
// on the main thread would cost the VRRP timers there. It tallies per check type
// instead and sends the tallies every few hundred milliseconds.

/** Upper bounds (seconds) of the check latency histogram; one more bucket for +Inf. */
export const CHECK_LATENCY_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface CheckTally {
  type: string;
  ok: number;
  fail: number;
  /** Per bucket, not cumulative: counts[i] = results in (bound[i-1], bound[i]]; the last is +Inf. */
  counts: number[];
  sumSeconds: number;
}

/** Index of the bucket a latency falls in (Prometheus `le`: the first bound ≥ value). */
export function bucketOf(seconds: number, bounds: readonly number[] = CHECK_LATENCY_BUCKETS): number {
  for (let i = 0; i < bounds.length; i++) if (seconds <= bounds[i]!) return i;
  return bounds.length;
}

export class CheckTallies {
  private byType = new Map<string, CheckTally>();

  record(type: string, ok: boolean, latencyMs: number): void {
    let t = this.byType.get(type);
    if (!t) {
      t = { type, ok: 0, fail: 0, counts: new Array<number>(CHECK_LATENCY_BUCKETS.length + 1).fill(0), sumSeconds: 0 };
      this.byType.set(type, t);
    }
    if (ok) t.ok++;
    else t.fail++;
    const seconds = latencyMs / 1000;
    t.counts[bucketOf(seconds)]!++;
    t.sumSeconds += seconds;
  }

  get empty(): boolean {
    return this.byType.size === 0;
  }

  /** The tallies since the last take(), and a fresh start. */
  take(): CheckTally[] {
    const out = [...this.byType.values()];
    this.byType = new Map();
    return out;
  }
}
