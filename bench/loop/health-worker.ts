// The worker side of WorkerHealthMonitor: failoverd's HealthMonitor with the real
// check plugins, on this thread's own event loop. Messages in: {kind:'update',
// services} | {kind:'stop'}. Out: {kind:'pool', desired} (the changed services), {kind:'event', event},
// {kind:'results', results, timeouts} (batched), {kind:'stopped'}.
import { parentPort } from 'node:worker_threads';
import { loadCheckPlugins } from '../../checks/index.js';
import { closeHttpAgents } from '../../checks/lib/http-probe.js';
import { EventBus } from '../../src/events.js';
import { HealthMonitor } from '../../src/health/monitor.js';
import type { HealthServiceConfig } from '../../src/health/types.js';
import type { DesiredService } from '../../src/ipvs/types.js';
import { silentLogger } from '../../src/log.js';

const port = parentPort!;
const bus = new EventBus('worker');
const changedOnly = process.env['FAILOVERD_POOL_MESSAGES'] !== 'full';
const sent = new Map<string, string>();
let pending: DesiredService[] | undefined;
function queuePools(desired: DesiredService[]): void {
  if (pending === undefined) setTimeout(() => {
    const changed = pending!.filter((d) => {
      const key = JSON.stringify(d.service.key);
      const value = JSON.stringify(d.destinations);
      if (sent.get(key) === value) return false;
      sent.set(key, value);
      return true;
    });
    pending = undefined;
    if (changed.length) port.postMessage({ kind: 'pool', desired: changed });
  }, 50);
  pending = desired;
}
bus.subscribe('*', (event) => port.postMessage({ kind: 'event', event }));
let results = 0;
let timeouts = 0;
const monitor = new HealthMonitor({
  bus, logger: silentLogger(), plugins: await loadCheckPlugins(),
  // Only the services whose pool changed since the last message, coalesced over 50 ms; FAILOVERD_POOL_MESSAGES=full
  // sends every pool on every change (what a naive port of onPoolChange does: it costs the main thread dearly).
  onPoolChange: (desired) => (changedOnly ? queuePools(desired) : port.postMessage({ kind: 'pool', desired })),
  onCheckResult: ({ result }) => { results++; if (/timeout/.test(result.reason)) timeouts++; },
});
const flush = setInterval(() => {
  if (results === 0) return;
  port.postMessage({ kind: 'results', results, timeouts });
  results = 0;
  timeouts = 0;
}, 250);
port.on('message', (m: { kind: 'update'; services: HealthServiceConfig[] } | { kind: 'stop' }) => {
  if (m.kind === 'update') monitor.update(m.services);
  if (m.kind === 'stop') {
    clearInterval(flush);
    monitor.stop();
    void closeHttpAgents().then(() => { port.postMessage({ kind: 'stopped' }); port.close(); });
  }
});
port.postMessage({ kind: 'ready' });
