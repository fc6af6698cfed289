import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AUTO_WORKER_ABOVE_CHECKS_PER_SECOND, checksPerSecond, chooseChecksThread } from '../../../src/health/checks-thread.js';
import { CHECK_DEFAULTS, type HealthCheckConfig, type HealthServiceConfig } from '../../../src/health/types.js';
import { service, tcpKey } from '../ipvs/builders.js';

const check = (intervalMs: number): HealthCheckConfig => ({ ...CHECK_DEFAULTS, type: 'tcp', options: {}, intervalMs });

/** A service whose real servers have the given checks' intervals (ms), one array per real server. */
const healthService = (name: string, realServers: number[][]): HealthServiceConfig => ({
  name,
  spec: service(tcpKey('10.6.2.195', 80)),
  forwarding: 'dr',
  quorum: 1,
  hysteresis: 0,
  onFailure: 'remove',
  realServers: realServers.map((intervals, i) => ({ address: `10.6.2.${i + 1}`, port: 80, weight: 1, checks: intervals.map(check) })),
});

test('checks a second: every check of every real server, once per interval', () => {
  assert.equal(checksPerSecond([]), 0);
  // The seed config: two real servers, a tcp check every 2 s.
  assert.equal(checksPerSecond([healthService('web', [[2000], [2000]])]), 1);
  // Two checks on one server, none on another, a second service.
  assert.equal(checksPerSecond([healthService('a', [[100, 1000], []]), healthService('b', [[500]])]), 10 + 1 + 2);
});

test('auto: the main thread up to the threshold, the worker above it', () => {
  assert.equal(AUTO_WORKER_ABOVE_CHECKS_PER_SECOND, 50);
  const seed = chooseChecksThread('auto', [healthService('web', [[2000], [2000]])]);
  assert.deepEqual(seed, { thread: 'main', checksPerSecond: 1, reason: 'health.checks_thread: auto (1 checks/s, at most 50)' });
  // 50 real servers every second: at the threshold, still the main thread.
  const at = chooseChecksThread('auto', [
    healthService(
      'web',
      Array.from({ length: 50 }, () => [1000]),
    ),
  ]);
  assert.equal(at.thread, 'main');
  assert.equal(at.checksPerSecond, 50);
  // One more check a second (a 51st server) goes over.
  const over = chooseChecksThread('auto', [
    healthService(
      'web',
      Array.from({ length: 51 }, () => [1000]),
    ),
  ]);
  assert.deepEqual(over, { thread: 'worker', checksPerSecond: 51, reason: 'health.checks_thread: auto (51 checks/s, over 50)' });
  // Fractions are shown to one place below 10.
  assert.equal(
    chooseChecksThread('auto', [healthService('web', [[3000]])]).reason,
    'health.checks_thread: auto (0.3 checks/s, at most 50)',
  );
  assert.equal(chooseChecksThread('auto', []).thread, 'main');
});

test('worker and main are obeyed whatever the load', () => {
  const heavy = [
    healthService(
      'web',
      Array.from({ length: 1000 }, () => [100]),
    ),
  ];
  assert.deepEqual(chooseChecksThread('main', heavy), {
    thread: 'main',
    checksPerSecond: 10_000,
    reason: 'health.checks_thread: main (10000 checks/s)',
  });
  assert.equal(chooseChecksThread('worker', []).thread, 'worker');
});
