// Where the health checks run (health.checks_thread). The worker thread keeps the
// checks' socket work off the event loop that times the VRRP adverts, which matters
// at thousands of checks a second (docs/reliability.md); it costs an isolate of its
// own, about 10 MB of RSS, whatever it runs. `auto` pays that only for a check load
// worth moving: at the measured cost of a check on the main thread (150–240 µs for an
// HTTP check with a fresh connection, docs/health.md), 50 checks a second take about
// 1% of a core.
import type { HealthServiceConfig } from './types.js';

export type ChecksThreadSetting = 'auto' | 'worker' | 'main';
export type ChecksThread = 'worker' | 'main';

/** With `auto`, the checks move to the worker thread above this many checks a second. */
export const AUTO_WORKER_ABOVE_CHECKS_PER_SECOND = 50;

/** The checks a second the services ask for: every real server's checks, each once per interval. */
export function checksPerSecond(services: readonly HealthServiceConfig[]): number {
  let perSecond = 0;
  for (const svc of services) for (const rs of svc.realServers) for (const check of rs.checks) perSecond += 1000 / check.intervalMs;
  return perSecond;
}

export interface ChecksThreadChoice {
  thread: ChecksThread;
  checksPerSecond: number;
  /** Why, for the log: the setting, and for `auto` the load against its threshold. */
  reason: string;
}

export function chooseChecksThread(setting: ChecksThreadSetting, services: readonly HealthServiceConfig[]): ChecksThreadChoice {
  const perSecond = checksPerSecond(services);
  const load = `${formatRate(perSecond)} checks/s`;
  if (setting !== 'auto') return { thread: setting, checksPerSecond: perSecond, reason: `health.checks_thread: ${setting} (${load})` };
  const thread = perSecond > AUTO_WORKER_ABOVE_CHECKS_PER_SECOND ? 'worker' : 'main';
  const side = thread === 'worker' ? 'over' : 'at most';
  return {
    thread,
    checksPerSecond: perSecond,
    reason: `health.checks_thread: auto (${load}, ${side} ${AUTO_WORKER_ABOVE_CHECKS_PER_SECOND})`,
  };
}

const formatRate = (perSecond: number): string =>
  perSecond >= 10 || Number.isInteger(perSecond) ? String(Math.round(perSecond)) : perSecond.toFixed(1);
