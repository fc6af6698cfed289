// One retry-delay formula for webhook deliveries and health-worker restarts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay, DEFAULT_BACKOFF, exponentialDelay } from '../../src/backoff.js';

test('exponential: the initial delay doubled per retry, capped', () => {
  const policy = { initialMs: 250, maxMs: 30_000 };
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => exponentialDelay(n, policy)),
    [250, 500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000],
  );
  assert.equal(exponentialDelay(0, policy), 250);
  assert.equal(exponentialDelay(10_000, policy), 30_000);
});

test('with equal jitter: between half and all of the exponential delay', () => {
  for (const retry of [1, 2, 5, 7, 20]) {
    const nominal = exponentialDelay(retry, DEFAULT_BACKOFF);
    assert.equal(
      backoffDelay(retry, DEFAULT_BACKOFF, () => 0),
      nominal / 2,
    );
    assert.equal(
      backoffDelay(retry, DEFAULT_BACKOFF, () => 0.5),
      Math.round(nominal * 0.75),
    );
    assert.ok(backoffDelay(retry, DEFAULT_BACKOFF, () => 0.999_999) <= nominal);
  }
});
