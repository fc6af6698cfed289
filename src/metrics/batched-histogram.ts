// A Prometheus histogram that also takes observations already bucketed. prom-client's
// Histogram takes one value per observe() call; check results come from the health
// worker as per-type tallies (check-tally.ts), and replaying 10,000 observations a
// second on the main thread is the cost the worker exists to avoid. The exposition
// is the same as prom-client's Histogram (le first, then the series' labels).
import type { Metric, Registry } from 'prom-client';
import { bucketOf } from './check-tally.js';

interface Series {
  labels: Record<string, string>;
  /** Per bucket, not cumulative; the last one is +Inf. */
  counts: number[];
  sum: number;
  count: number;
}

export interface BatchedHistogramConfig {
  name: string;
  help: string;
  labelNames: readonly string[];
  buckets: readonly number[];
  registers: Registry[];
}

export class BatchedHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  private readonly buckets: readonly number[];
  private readonly labelNames: readonly string[];
  private series = new Map<string, Series>();

  constructor(config: BatchedHistogramConfig) {
    this.name = config.name;
    this.help = config.help;
    this.buckets = config.buckets;
    this.labelNames = config.labelNames;
    // The registry only calls get() and reset() on what it holds.
    for (const r of config.registers) r.registerMetric(this as unknown as Metric);
  }

  observe(labels: Record<string, string>, value: number): void {
    if (!Number.isFinite(value)) return;
    const s = this.seriesOf(labels);
    s.counts[bucketOf(value, this.buckets)]!++;
    s.sum += value;
    s.count++;
  }

  /** Adds a batch: `counts` per bucket (length buckets + 1, the last +Inf), their sum. */
  add(labels: Record<string, string>, counts: readonly number[], sum: number): void {
    if (counts.length !== this.buckets.length + 1)
      throw new Error(`${this.name}: ${counts.length} bucket counts for ${this.buckets.length + 1} buckets`);
    const s = this.seriesOf(labels);
    let n = 0;
    for (let i = 0; i < counts.length; i++) {
      s.counts[i]! += counts[i]!;
      n += counts[i]!;
    }
    s.sum += sum;
    s.count += n;
  }

  reset(): void {
    this.series = new Map();
  }

  async get(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    aggregator: 'sum';
    values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }>;
  }> {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const s of this.series.values()) {
      let acc = 0;
      this.buckets.forEach((le, i) => {
        acc += s.counts[i]!;
        values.push({ labels: { le, ...s.labels }, value: acc, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  private seriesOf(labels: Record<string, string>): Series {
    const key = this.labelNames.map((n) => labels[n] ?? '').join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      const own: Record<string, string> = {};
      for (const n of this.labelNames) if (labels[n] !== undefined) own[n] = labels[n]!;
      s = { labels: own, counts: new Array<number>(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    return s;
  }
}
