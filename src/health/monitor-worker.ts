// The health-check thread: a HealthMonitor with the check plugins on this thread's
// own event loop, so that thousands of connect()s a second and their garbage never
// hold up the VRRP timers on the main thread (docs/reliability.md, advert
// lateness). WorkerHealthMonitor (worker-monitor.ts) is the other side; the
// messages are in worker-messages.ts.
//
// What is sent is shaped for its cost on the main thread, where each message is
// deserialized: events and log lines as they happen (transitions are rare), status
// only for what an event says changed, pools only for the services that changed and
// as JSON (coalesced over poolDelayMs), check results as periodic tallies.
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { loadCheckPlugins, loadCheckPluginsOfTypes } from '../../checks/index.js';
import type { CheckPlugin } from './check.js';
import { EventBus, type AgentEvent } from '../events.js';
import { destinationId, serviceKeyId, type DesiredService } from '../ipvs/types.js';
import { CheckTallies } from '../metrics/check-tally.js';
import { HealthConfigError, HealthMonitor } from './monitor.js';
import type { HealthServiceConfig } from './types.js';
import {
  WAKE_UP,
  type FromWorker,
  type LastResults,
  type MonitorWorkerData,
  type OutboxItem,
  type StatusChange,
  type ToWorker,
} from './worker-messages.js';

const port = parentPort!;
const settings = workerData as MonitorWorkerData;
const post = (m: FromWorker, transfer: ArrayBuffer[] = []): void => {
  settings.messages.postMessage(m, transfer);
  port.postMessage(WAKE_UP);
};

// ---- events, logs and the status they change ------------------------------

let outbox: OutboxItem[] = [];
let fullStatus = false;
const heads = new Set<string>();
const realServers = new Map<string, Set<string>>();
let outboxQueued = false;

function queueOutbox(): void {
  if (outboxQueued) return;
  outboxQueued = true;
  // Everything one burst of results produced (a switch port dies: 100 servers fail
  // in the same tick) leaves in one message.
  setImmediate(flushOutbox);
}

function markChanged(event: AgentEvent): void {
  const data = event.data ?? {};
  const service = typeof data['service'] === 'string' ? data['service'] : undefined;
  if (service === undefined) return;
  heads.add(service);
  if (typeof data['address'] === 'string' && typeof data['port'] === 'number') {
    const ids = realServers.get(service) ?? new Set<string>();
    ids.add(destinationId({ address: data['address'], port: data['port'] }));
    realServers.set(service, ids);
  }
}

function flushOutbox(): void {
  outboxQueued = false;
  if (outbox.length === 0 && !fullStatus && heads.size === 0) return;
  const status: StatusChange = {};
  if (fullStatus) {
    status.full = monitor.status();
  } else {
    status.heads = [...heads].flatMap((name) => monitor.serviceHead(name) ?? []);
    status.realServers = [...realServers].flatMap(([service, ids]) =>
      [...ids].flatMap((id) => {
        const s = monitor.realServerStatus(service, id);
        return s ? [{ service, status: s }] : [];
      }),
    );
  }
  const items = outbox;
  outbox = [];
  fullStatus = false;
  heads.clear();
  realServers.clear();
  post({ kind: 'changes', status, items });
}

const bus = new EventBus('health-worker');
bus.subscribe('*', (event) => {
  outbox.push({ event });
  markChanged(event);
  queueOutbox();
});

// Log lines travel to the main thread's logger rather than being written here: one
// stream keeps its order and its sink (JSON on stderr, pino-pretty's transport
// thread, or whatever logger a test or the lab gave the agent, which a worker cannot
// be handed), the agent's --log-level applies unchanged, and a line and the event it
// describes arrive in the order they happened. The cost is one small string per
// transition, which is rare next to checks.
const logger = pino(
  { level: settings.logLevel, base: null, timestamp: false },
  {
    write(line: string) {
      outbox.push({ log: line });
      queueOutbox();
    },
  },
);

// ---- pools: only the services that changed ---------------------------------

const sentPool = new Map<string, DesiredService>();
const sentPoolJson = new Map<string, string>();
let sentKeys: string | undefined;
let pendingPools: DesiredService[] | undefined;
let poolTimer: NodeJS.Timeout | undefined;

function queuePools(desired: DesiredService[]): void {
  pendingPools = desired;
  poolTimer ??= setTimeout(flushPools, settings.poolDelayMs);
}

function flushPools(): void {
  clearTimeout(poolTimer);
  poolTimer = undefined;
  const desired = pendingPools;
  pendingPools = undefined;
  if (!desired) return;
  // The events and status behind this change go first.
  flushOutbox();
  const keys = desired.map((d) => serviceKeyId(d.service.key));
  const changed: string[] = [];
  desired.forEach((d, i) => {
    const key = keys[i]!;
    // The monitor keeps a service's pool object until that pool changes, so an
    // unchanged object needs no comparison; a new one (every pool after a reload) is
    // compared by content.
    if (sentPool.get(key) === d) return;
    sentPool.set(key, d);
    const json = JSON.stringify(d);
    if (sentPoolJson.get(key) === json) return;
    sentPoolJson.set(key, json);
    changed.push(json);
  });
  const keyList = keys.join('\n');
  if (keyList !== sentKeys) {
    const present = new Set(keys);
    for (const key of [...sentPool.keys()]) {
      if (present.has(key)) continue;
      sentPool.delete(key);
      sentPoolJson.delete(key);
    }
  }
  if (changed.length === 0 && keyList === sentKeys) return;
  sentKeys = keyList;
  post({ kind: 'pools', keys, changed });
}

// ---- check results: tallies and the last result per real server -------------

const tallies = new CheckTallies();

/** A real server's latest result, updated in place. */
interface LastSlot {
  key: string;
  ok: boolean;
  reason: string;
  latencyMs: number;
  atMs: number;
  type: string;
  /** Has a result the main thread has not had yet. */
  fresh: boolean;
}
// Slots live as long as their real server: a new object per result, kept until the
// next batch, would outlive the young generation and fill the old one with garbage
// at thousands of results a second (major collections on this thread and its helpers).
const lastSlots = new Map<string, LastSlot>();
let freshSlots: LastSlot[] = [];

function recordLast(key: string, ok: boolean, reason: string, latencyMs: number, type: string): void {
  let slot = lastSlots.get(key);
  if (!slot) {
    slot = { key, ok, reason, latencyMs, atMs: 0, type, fresh: false };
    lastSlots.set(key, slot);
  }
  slot.ok = ok;
  slot.reason = reason;
  slot.latencyMs = latencyMs;
  slot.atMs = Date.now();
  slot.type = type;
  if (!slot.fresh) {
    slot.fresh = true;
    freshSlots.push(slot);
  }
}

function flushResults(): void {
  if (tallies.empty && freshSlots.length === 0) return;
  const fresh = freshSlots;
  freshSlots = [];
  const n = fresh.length;
  const last: LastResults = {
    keys: new Array<string>(n),
    ok: new Uint8Array(n),
    latencyMs: new Float64Array(n),
    atMs: new Float64Array(n),
    reason: new Uint32Array(n),
    reasons: [],
    type: new Uint32Array(n),
    types: [],
  };
  const reasonIndex = new Map<string, number>();
  const typeIndex = new Map<string, number>();
  const indexOf = (table: string[], index: Map<string, number>, text: string): number => {
    let i = index.get(text);
    if (i === undefined) {
      i = table.push(text) - 1;
      index.set(text, i);
    }
    return i;
  };
  for (let i = 0; i < n; i++) {
    const r = fresh[i]!;
    r.fresh = false;
    last.keys[i] = r.key;
    last.ok[i] = r.ok ? 1 : 0;
    last.latencyMs[i] = r.latencyMs;
    last.atMs[i] = r.atMs;
    last.reason[i] = indexOf(last.reasons, reasonIndex, r.reason);
    last.type[i] = indexOf(last.types, typeIndex, r.type);
  }
  const transfer = [last.ok, last.latencyMs, last.atMs, last.reason, last.type].map((a) => a.buffer as ArrayBuffer);
  post({ kind: 'results', batch: { tallies: tallies.take(), last, heapUsedBytes: getHeapStatistics().used_heap_size } }, transfer);
}

// ---- the monitor -------------------------------------------------------------

// The check types are imported as the services name them: a thread with TCP checks only
// never loads the HTTP client. A type without its own file brings every plugin in, so
// that the monitor's "unknown check type" names them all.
const plugins = new Map<string, CheckPlugin>();
const directory = settings.checksDirectory ? [settings.checksDirectory] : [];

async function loadPluginsFor(services: readonly HealthServiceConfig[]): Promise<void> {
  const missing = new Set(
    services.flatMap((s) => s.realServers.flatMap((rs) => rs.checks.map((c) => c.type))).filter((t) => !plugins.has(t)),
  );
  if (missing.size === 0) return;
  for (const [type, plugin] of await loadCheckPluginsOfTypes(missing, ...directory)) plugins.set(type, plugin);
  if ([...missing].every((t) => plugins.has(t))) return;
  for (const [type, plugin] of await loadCheckPlugins(...directory)) plugins.set(type, plugin);
}

const monitor = new HealthMonitor({
  bus,
  logger,
  plugins,
  ...(settings.maxConcurrentChecks ? { maxConcurrentChecks: settings.maxConcurrentChecks } : {}),
  onPoolChange: queuePools,
  onCheckResult: ({ key, type, result }) => {
    tallies.record(type, result.ok, result.latencyMs);
    recordLast(key, result.ok, result.reason, result.latencyMs, type);
  },
});
const resultsTimer = setInterval(flushResults, settings.resultsIntervalMs);
let stopping = false;

// One message at a time: an update may wait for its plugins to load.
let handling: Promise<void> = Promise.resolve();
port.on('message', (m: ToWorker) => {
  handling = handling.then(
    () => handle(m),
    () => undefined,
  );
  handling.catch((err: Error) => logger.error({ err }, `health-check worker: handling a ${m.kind} message failed: ${err.message}`));
});

async function handle(m: ToWorker): Promise<void> {
  if (stopping) return;
  if (m.kind === 'update') {
    try {
      await loadPluginsFor(m.services);
      monitor.update(m.services, m.seed);
      // Real servers a reload removed leave their slots (the fresh ones still go out once).
      lastSlots.clear();
    } catch (err) {
      flushOutbox();
      const problems = err instanceof HealthConfigError ? err.problems : undefined;
      post({ kind: 'updated', seq: m.seq, error: { message: (err as Error).message, ...(problems ? { problems } : {}) } });
      return;
    }
    // What the update changed reaches the main thread before the update settles,
    // as HealthMonitor.update() hands over its pools before it returns.
    fullStatus = true;
    flushOutbox();
    flushPools();
    post({ kind: 'updated', seq: m.seq });
  } else if (m.kind === 'stop') {
    stopping = true;
    clearInterval(resultsTimer);
    clearTimeout(poolTimer);
    monitor.stop();
    // The keep-alive clients of the HTTP(S) checks, if this thread ever loaded them.
    const http =
      plugins.has('http') || plugins.has('https') ? (await import('../../checks/lib/http-probe.js')).closeHttpAgents() : undefined;
    void Promise.resolve(http).finally(() => post({ kind: 'stopped' }));
  }
}
post({ kind: 'ready' });
