// The worker side of WorkerHealthMonitor: failoverd's HealthMonitor with the real
// check plugins, on this thread's own event loop. Messages in: {kind:'update',
// services} | {kind:'stop'}. Out: {kind:'pool', desired}, {kind:'event', event},
// {kind:'results', results, timeouts} (batched), {kind:'stopped'}.
import { parentPort } from 'node:worker_threads';
import { loadCheckPlugins } from '../../checks/index.js';
import { closeHttpAgents } from '../../checks/lib/http-probe.js';
import { EventBus } from '../../src/events.js';
import { HealthMonitor } from '../../src/health/monitor.js';
import type { HealthServiceConfig } from '../../src/health/types.js';
import { silentLogger } from '../../src/log.js';

const port = parentPort!;
const bus = new EventBus('worker');
bus.subscribe('*', (event) => port.postMessage({ kind: 'event', event }));
let results = 0;
let timeouts = 0;
const monitor = new HealthMonitor({
  bus, logger: silentLogger(), plugins: await loadCheckPlugins(),
  onPoolChange: (desired) => port.postMessage({ kind: 'pool', desired }),
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
