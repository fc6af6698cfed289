// Check results tallied in the health worker must scrape exactly as if each had
// been recorded on its own, and as prom-client's own Histogram prints them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, Registry } from 'prom-client';
import { EventBus } from '../../../src/events.js';
import { BatchedHistogram } from '../../../src/metrics/batched-histogram.js';
import { CHECK_LATENCY_BUCKETS, CheckTallies, bucketOf } from '../../../src/metrics/check-tally.js';
import { Metrics } from '../../../src/metrics/metrics.js';

// Latencies on and around the bucket bounds, and past the last one.
const samples: Array<[string, boolean, number]> = [
  ['tcp', true, 0.3],
  ['tcp', true, 0.5],
  ['tcp', false, 500],
  ['tcp', true, 1],
  ['tcp', true, 2.5],
  ['http', true, 1.8],
  ['http', false, 1000],
  ['http', true, 12_000],
  ['http', false, 10_000],
  ['exec', true, 25],
];

test('a bucket is the first bound at or above the value (Prometheus le)', () => {
  assert.equal(bucketOf(0), 0);
  assert.equal(bucketOf(0.0005), 0);
  assert.equal(bucketOf(0.00051), 1);
  assert.equal(bucketOf(10), CHECK_LATENCY_BUCKETS.length - 1);
  assert.equal(bucketOf(10.5), CHECK_LATENCY_BUCKETS.length);
});

test('tallied results scrape the same as results recorded one by one', async () => {
  const one = new Metrics(new EventBus('a'), {}, { defaultMetrics: false });
  const batched = new Metrics(new EventBus('a'), {}, { defaultMetrics: false });
  const tallies = new CheckTallies();
  for (const [type, ok, ms] of samples) {
    one.recordCheck(type, ok, ms);
    tallies.record(type, ok, ms);
  }
  // Two batches, as the worker sends them over time.
  const first = tallies.take();
  assert.equal(tallies.empty, true);
  tallies.record('tcp', true, 0.7);
  one.recordCheck('tcp', true, 0.7);
  batched.recordChecks(first);
  batched.recordChecks(tallies.take());
  const families = (text: string): string[] =>
    text
      .split('\n')
      .filter((l) => l.startsWith('failoverd_check_'))
      .sort();
  assert.deepEqual(families(await batched.metrics()), families(await one.metrics()));
  one.close();
  batched.close();
});

test("the exposition matches prom-client's Histogram line for line", async () => {
  const theirs = new Registry();
  const ours = new Registry();
  const h = new Histogram({ name: 'lat', help: 'latency', labelNames: ['type'], buckets: [...CHECK_LATENCY_BUCKETS], registers: [theirs] });
  const b = new BatchedHistogram({ name: 'lat', help: 'latency', labelNames: ['type'], buckets: CHECK_LATENCY_BUCKETS, registers: [ours] });
  for (const [type, , ms] of samples) {
    h.observe({ type }, ms / 1000);
    b.observe({ type }, ms / 1000);
  }
  assert.equal(await ours.metrics(), await theirs.metrics());
  // prom-client adds exemplar: null to its buckets; exemplars are off for this family.
  const json = async (r: Registry) =>
    (await r.getMetricsAsJSON()).map((m) => ({
      ...m,
      values: m.values.map((v) => {
        const { exemplar: _e, ...rest } = v as typeof v & { exemplar?: unknown };
        return rest;
      }),
    }));
  assert.deepEqual(await json(ours), await json(theirs));
  ours.resetMetrics();
  assert.equal((await ours.getMetricsAsJSON())[0]!.values.length, 0);
  assert.throws(() => b.add({ type: 'tcp' }, [1, 2], 0.1), /2 bucket counts for 15 buckets/);
});
