// The one retry-delay formula: webhook deliveries and health-worker restarts both wait
// "initial, doubled per attempt, capped".

export interface BackoffPolicy {
  /** Delay before the first retry, before jitter. */
  initialMs: number;
  /** Upper bound of any delay. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 60_000 };

/** The delay before retry number `retry` (1-based): initialMs doubled per retry, capped at maxMs. */
export function exponentialDelay(retry: number, policy: BackoffPolicy): number {
  return Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, retry - 1));
}

/**
 * exponentialDelay with "equal jitter" — half fixed, half random — so many directors
 * retrying one receiver spread out, yet a retry never comes sooner than half the
 * nominal delay. `random` returns [0, 1) and is injected so tests are exact.
 */
export function backoffDelay(retry: number, policy: BackoffPolicy, random: () => number): number {
  const half = exponentialDelay(retry, policy) / 2;
  return Math.round(half + random() * half);
}
