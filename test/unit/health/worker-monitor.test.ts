// The health monitor in its worker thread, against real TCP servers on 127.0.0.1
// that the test starts and stops. Real sockets and a real thread: no fake clock
// can cross into the worker, so the test waits by bounded polling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { receiveMessageOnPort } from 'node:worker_threads';
import { pino } from 'pino';
import { EventBus, type AgentEvent } from '../../../src/events.js';
import { HealthConfigError } from '../../../src/health/monitor.js';
import { CHECK_DEFAULTS, type HealthCheckConfig, type HealthServiceConfig } from '../../../src/health/types.js';
import {
  foldLastResults,
  forEachLastResult,
  type FromWorker,
  type LastResult,
  type LastResults,
} from '../../../src/health/worker-messages.js';
import {
  BUSY_WORKER_CHECKS_PER_SECOND,
  heapOutgrown,
  WorkerHealthMonitor,
  workerResourceLimits,
  type WorkerHealthMonitorOptions,
} from '../../../src/health/worker-monitor.js';
import type { DesiredService, ServiceSpec } from '../../../src/ipvs/types.js';
import type { CheckTally } from '../../../src/metrics/check-tally.js';

import { systemClock } from '../../../src/clock.js';
import { MemoryIpvsTable } from '../../../src/ipvs/memory-table.js';
import { Reconciler } from '../../../src/ipvs/reconciler.js';
import { silentLogger } from '../../../src/log.js';
import { TcpBackend } from '../../helpers/tcp-backend.js';
import { waitFor } from '../../helpers/wait.js';

const crashChecks = fileURLToPath(new URL('../../fixtures/checks-crash/', import.meta.url));

const spec = (port: number): ServiceSpec => ({
  key: { kind: 'address', family: 'inet', protocol: 'tcp', address: '10.6.2.195', port },
  scheduler: 'wlc',
  flags: {},
  persistenceTimeoutSec: 0,
  netmask: '255.255.255.255',
});
const check = (o: Partial<HealthCheckConfig> = {}): HealthCheckConfig => ({
  ...CHECK_DEFAULTS,
  type: 'tcp',
  options: {},
  intervalMs: 100,
  timeoutMs: 500,
  rise: 1,
  fall: 1,
  ...o,
});

function service(
  name: string,
  vipPort: number,
  ports: number[],
  o: Partial<HealthServiceConfig> = {},
  c: Partial<HealthCheckConfig> = {},
): HealthServiceConfig {
  return {
    name,
    spec: spec(vipPort),
    forwarding: 'dr',
    quorum: ports.length,
    hysteresis: 0,
    onFailure: 'remove',
    realServers: ports.map((port) => ({ address: '127.0.0.1', port, weight: 1, checks: [check(c)] })),
    ...o,
  };
}

function setup(t: { after: (fn: () => Promise<void> | void) => void }, options: Partial<WorkerHealthMonitorOptions> = {}) {
  const bus = new EventBus('lvs-a');
  const events: AgentEvent[] = [];
  bus.subscribe('*', (e) => events.push(e));
  const lines: Array<{ level: number; msg: string } & Record<string, unknown>> = [];
  const logger = pino(
    { level: 'info' },
    {
      write: (line: string) => {
        lines.push(JSON.parse(line) as (typeof lines)[number]);
      },
    },
  );
  const pools: DesiredService[][] = [];
  const tallies: CheckTally[] = [];
  const last = new Map<string, LastResult>();
  const monitor = new WorkerHealthMonitor({
    bus,
    logger,
    onCheckResults: (batch) => {
      tallies.push(...batch.tallies);
      forEachLastResult(batch.last, (k, r) => last.set(k, r));
    },
    ...options,
    onPoolChange: (d) => {
      pools.push(d);
      options.onPoolChange?.(d);
    },
  });
  t.after(() => monitor.stop());
  const pool = (name = 'web'): string[] | undefined =>
    pools
      .at(-1)
      ?.find((d) => d.service.key.kind === 'address' && d.service.key.port === (name === 'web' ? 80 : 81))
      ?.destinations.map((d) => `${d.port}=${d.weight}`);
  const seen = (type: string, object?: string): AgentEvent[] =>
    events.filter((e) => e.type === type && (object === undefined || e.object === object));
  return { bus, events, lines, pools, tallies, last, monitor, pool, seen };
}

test('no thread without a service: an empty update starts none; the first service starts it, and it checks', async (t) => {
  const a = await new TcpBackend().start();
  t.after(() => a.stop());
  const { pools, monitor, pool } = setup(t);

  await monitor.update([]);
  assert.equal(monitor.started, false, 'no service, no thread');
  assert.deepEqual(monitor.status(), []);
  assert.equal(pools.length, 0);

  await monitor.update([service('web', 80, [a.port])]);
  assert.equal(monitor.started, true);
  await waitFor(() => pool()?.length === 1, { what: 'the server in the pool', timeoutMs: 5000 });
  assert.deepEqual(pool(), [`${a.port}=1`]);
});

test('stop() before any service: nothing to end, later updates are refused', async (t) => {
  const { monitor } = setup(t);
  await monitor.update([]);
  await monitor.stop();
  assert.equal(monitor.started, false);
  await assert.rejects(monitor.update([]), /health monitor is stopped/);
});

test('pools, events, status and logs cross from the worker: servers proven up, one stopped, then back', async (t) => {
  const a = await new TcpBackend().start();
  const b = await new TcpBackend().start();
  t.after(async () => {
    await a.stop();
    await b.stop();
  });
  const { events, lines, pools, tallies, last, monitor, pool, seen } = setup(t);

  await monitor.update([service('web', 80, [a.port, b.port])]);
  assert.equal(pools.length, 1, 'the first pools arrive before update() resolves');
  assert.deepEqual(pool(), [], 'initial down: nobody in the pool before proving up');
  assert.equal(monitor.quorumUp('web'), false);
  assert.deepEqual(
    monitor.status()[0]!.realServers.map((rs) => rs.up),
    [false, false],
  );
  assert.equal(monitor.quorumUp('nope'), undefined);

  await waitFor(() => pool()?.length === 2, { what: 'both servers in the pool', timeoutMs: 5000 });
  await waitFor(() => monitor.quorumUp('web') === true, { what: 'quorum in the status snapshot', timeoutMs: 2000 });
  assert.deepEqual(pool(), [`${a.port}=1`, `${b.port}=1`]);
  const bId = `service/web/127.0.0.1:${b.port}`;
  assert.equal(seen('realserver.up').length, 2, 'each up published once');
  assert.equal(seen('quorum.regained').length, 1, 'quorum regained once');
  assert.ok(
    events.indexOf(seen('quorum.regained')[0]!) > events.indexOf(seen('realserver.up', bId)[0]!),
    'quorum after the server that made it',
  );
  assert.equal(events[0]!.node, 'lvs-a', 'republished as this node');
  assert.equal(new Set(events.map((e) => e.id)).size, events.length);

  await b.stop();
  await waitFor(() => pool()?.length === 1, { what: 'the stopped server out of the pool', timeoutMs: 5000 });
  assert.deepEqual(pool(), [`${a.port}=1`]);
  assert.equal(seen('realserver.down', bId).length, 1, 'the down published once');
  assert.equal(seen('quorum.lost').length, 1);
  const down = seen('realserver.down', bId)[0]!;
  assert.ok(events.indexOf(seen('quorum.lost')[0]!) > events.indexOf(down), 'quorum lost after the down that caused it');
  assert.match(down.reason!, /^tcp: connect: ECONNREFUSED \(1 failure in a row\)$/);
  assert.equal(down.data!['check'], 'tcp');
  // Status reflects an event by the time the event is republished.
  const status = monitor.status()[0]!;
  assert.equal(status.quorumUp, false);
  assert.equal(status.liveWeight, 1);
  assert.deepEqual(
    status.realServers.map((rs) => [rs.port, rs.up]),
    [
      [a.port, true],
      [b.port, false],
    ],
  );
  assert.match(status.realServers[1]!.reason, /ECONNREFUSED/);

  // The transition is logged once, by the main logger, at its level.
  const downLines = lines.filter((l) => l.msg === `real server 127.0.0.1:${b.port} of web is down: ${down.reason}`);
  assert.equal(downLines.length, 1);
  assert.equal(downLines[0]!.level, 40);
  assert.equal(downLines[0]!['event'], 'realserver.down');
  assert.equal(lines.filter((l) => /lost quorum/.test(l.msg)).length, 1);

  await b.start();
  await waitFor(() => pool()?.length === 2, { what: 'the server back in the pool', timeoutMs: 5000 });
  assert.equal(seen('realserver.up', bId).length, 2);
  assert.equal(seen('quorum.regained').length, 2);
  // Per-type tallies and the last result of each server, in batches.
  const oks = (): number => tallies.reduce((n, x) => n + x.ok, 0);
  const fails = (): number => tallies.reduce((n, x) => n + x.fail, 0);
  await waitFor(() => last.size === 2 && oks() >= 4 && fails() >= 1, { what: 'tallies and last results of both servers', timeoutMs: 3000 });
  assert.equal(last.get(`web|127.0.0.1:${a.port}`)!.ok, true);
  assert.equal(last.get(`web|127.0.0.1:${a.port}`)!.type, 'tcp');
  assert.deepEqual(new Set(tallies.map((x) => x.type)), new Set(['tcp']));
  assert.equal(
    tallies.reduce((n, x) => n + x.counts.reduce((s, c) => s + c, 0), 0),
    oks() + fails(),
    'every result in one latency bucket',
  );
});

test('reloads: a service removed leaves the pools, a scheduler change with the same servers still arrives, a bad service rejects and changes nothing', async (t) => {
  const a = await new TcpBackend().start();
  t.after(() => a.stop());
  const { pools, monitor, pool } = setup(t);
  await monitor.update([service('web', 80, [a.port]), service('api', 81, [a.port])]);
  await waitFor(() => pool()?.length === 1 && pool('api')?.length === 1, { what: 'both services up', timeoutMs: 5000 });

  await monitor.update([service('web', 80, [a.port], { spec: { ...spec(80), scheduler: 'rr' } })]);
  const after = pools.at(-1)!;
  assert.deepEqual(
    after.map((d) => d.service.scheduler),
    ['rr'],
    'api gone, web rescheduled, before update() resolved',
  );
  assert.deepEqual(pool(), [`${a.port}=1`], 'an unchanged server keeps its state across the reload');

  const count = pools.length;
  await assert.rejects(monitor.update([service('web', 80, [a.port], {}, { options: { send: 5 } })]), (err: Error) => {
    assert.ok(err instanceof HealthConfigError);
    assert.equal(
      err.message,
      `health config: service "web" real server 127.0.0.1:${a.port} check 1 (tcp): send: Invalid input: expected string, received number`,
    );
    return true;
  });
  await assert.rejects(
    monitor.update([service('web', 80, [a.port], {}, { type: 'nope' })]),
    /check 1 \(nope\): unknown check type; known: (\w+, )*tcp/,
  );
  assert.equal(pools.length, count, 'a rejected update hands over no pool');
  assert.equal(monitor.status().length, 1);
  assert.equal(monitor.quorumUp('web'), true, 'still running the accepted services');
  await monitor.update([service('web', 80, [a.port])]);
  assert.deepEqual(
    pools.at(-1)!.map((d) => d.service.scheduler),
    ['wlc'],
  );
});

test('stop() ends the thread: nothing is left holding the process', async () => {
  // In a child process, so that "exits by itself" is what is checked.
  const url = new URL('../../../src/health/worker-monitor.js', import.meta.url).href;
  const events = new URL('../../../src/events.js', import.meta.url).href;
  const log = new URL('../../../src/log.js', import.meta.url).href;
  const a = await new TcpBackend().start();
  try {
    const script = `
      import { WorkerHealthMonitor } from ${JSON.stringify(url)};
      import { EventBus } from ${JSON.stringify(events)};
      import { silentLogger } from ${JSON.stringify(log)};
      let pools = 0;
      let settled = () => {};
      const m = new WorkerHealthMonitor({ bus: new EventBus('x'), logger: silentLogger(), onPoolChange: () => { pools++; queueMicrotask(() => settled()); }, onCheckResults: () => settled() });
      await m.update(${JSON.stringify([service('web', 80, [a.port], {}, { intervalMs: 50, timeoutMs: 30_000 })])});
      // Re-checked on every pool change and check round (spawnSync's timeout bounds the child).
      await new Promise((resolve) => { settled = () => { if (m.quorumUp('web') === true && pools >= 2) resolve(); }; settled(); });
      await m.stop();
      await m.stop();
      // What remains besides this process's own stdout and stderr.
      const left = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap');
      console.log(JSON.stringify({ pools, up: m.quorumUp('web'), left }));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, `exited by itself (${r.signal ?? ''}): ${r.stderr}`);
    const out = JSON.parse(r.stdout) as { pools: number; up: boolean; left: string[] };
    assert.ok(out.up && out.pools >= 2, r.stdout);
    assert.deepEqual(out.left, [], 'no handle left after stop()');
  } finally {
    await a.stop();
  }
});

test('a worker that crashes is logged, announced, restarted, and resumes every server where it was: zero IPVS changes', async (t) => {
  const a = await new TcpBackend().start();
  const b = await new TcpBackend().start();
  const dir = mkdtempSync(join(tmpdir(), 'failoverd-crash-'));
  t.after(async () => {
    await a.stop();
    await b.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const marker = join(dir, 'crash-once');
  const table = new MemoryIpvsTable();
  const reconciler = new Reconciler({ table, clock: systemClock, logger: silentLogger(), auditIntervalMs: 3_600_000 });
  reconciler.start();
  t.after(() => reconciler.stop());
  const { lines, monitor, pool, seen, events, tallies } = setup(t, {
    checksDirectory: crashChecks,
    restart: { backoffMs: 50 },
    onPoolChange: (desired) => {
      void reconciler.setDesired(desired);
    },
  });
  // rise 3: a server that restarted from the initial state (down) would be out of
  // the pool for at least two check rounds.
  const web = service('web', 80, [a.port, b.port], { quorum: 1 }, { rise: 3 });
  web.realServers[0]!.checks.push(check({ type: 'crash', options: { marker } }));
  await monitor.update([web]);
  await waitFor(() => pool()?.length === 2, { what: 'both servers up', timeoutMs: 5000 });
  await b.stop();
  await waitFor(() => pool()?.length === 1, { what: 'the stopped server down', timeoutMs: 5000 });
  const kernelDestinations = async (): Promise<number> => (await table.listServices())[0]?.destinations.length ?? 0;
  await waitFor(async () => (await kernelDestinations()) === 1, { what: 'the stopped server drained out of the table', timeoutMs: 5000 });
  await reconciler.settled();
  const callsBefore = table.calls.length;
  const eventsBefore = events.length;
  assert.ok(callsBefore > 0, 'the table was programmed before the crash');

  writeFileSync(marker, '');
  await waitFor(() => seen('health.worker-restarted').length === 1, { what: 'the restart announced', timeoutMs: 10_000 });
  const crashed = seen('health.worker-crashed');
  assert.equal(crashed.length, 1);
  assert.equal(crashed[0]!.to, 'restarting');
  assert.match(crashed[0]!.reason!, /crash check: thrown outside the promise/);
  assert.deepEqual(crashed[0]!.data, { exitCode: 1, crashes: 1, restartInMs: 50 });
  const loud = lines.filter(
    (l) => l.level === 50 && /^health-check worker crashed: crash check: thrown outside the promise; restarting it in 50 ms/.test(l.msg),
  );
  assert.equal(loud.length, 1, 'one error line');
  // More than `rise` rounds of the stopped server's check by the new thread.
  const failuresAt = (): number => tallies.filter((x) => x.type === 'tcp').reduce((n, x) => n + x.fail, 0);
  const failedBefore = failuresAt();
  await waitFor(() => failuresAt() >= failedBefore + 5, {
    what: 'five failed checks of the stopped server by the new thread',
    timeoutMs: 10_000,
  });
  await reconciler.settled();

  assert.deepEqual(table.calls.slice(callsBefore), [], 'no IPVS operation after the crash');
  assert.deepEqual(pool(), [`${a.port}=1`]);
  assert.equal(monitor.quorumUp('web'), true);
  const after = events.slice(eventsBefore).map((e) => e.type);
  assert.deepEqual(
    after.filter((type) => type.startsWith('realserver.') || type.startsWith('quorum.')),
    [],
    'no server re-announced',
  );
  const stopped = monitor.status()[0]!.realServers.find((rs) => rs.port === b.port)!;
  assert.equal(stopped.up, false);
  assert.match(stopped.reason, /tcp: /, 'the down server keeps the reason it went down for');

  await b.start();
  await waitFor(() => pool()?.length === 2, { what: 'the stopped server proven up again by the new thread', timeoutMs: 5000 });
});

test('the heap limit sized to the work: a check that leaks ends the thread (out of memory), the agent is told, the host is spared', async (t) => {
  const limits = workerResourceLimits(2, 1);
  assert.ok(limits.maxOldGenerationSizeMb! < workerResourceLimits(10_000, 1).maxOldGenerationSizeMb!);
  const busy = workerResourceLimits(10_000, BUSY_WORKER_CHECKS_PER_SECOND);
  assert.ok(busy.maxOldGenerationSizeMb! >= 2048, 'a busy thread gets the cap at which V8 lets its old generation grow most');
  assert.ok(busy.maxYoungGenerationSizeMb! > limits.maxYoungGenerationSizeMb!);
  let gaveUp: Error | undefined;
  const { monitor, seen } = setup(t, {
    checksDirectory: crashChecks,
    restart: { maxRestarts: 0 },
    onGiveUp: (err) => {
      gaveUp = err;
    },
  });
  await monitor.update([service('web', 80, [9], {}, { type: 'leak', intervalMs: 20 })]);
  // 16 MB a run against a limit of a few hundred MB: a few seconds (no limit: gigabytes first).
  await waitFor(() => gaveUp !== undefined, { what: 'the leaking worker given up on', timeoutMs: 30_000 });
  assert.match(gaveUp!.message, /memory/i);
  assert.match(String(seen('health.worker-crashed')[0]?.reason), /memory/i);
});

test('a reload across the busy threshold gets a thread with the heap for its load; every server resumes where it was', async (t) => {
  const a = await new TcpBackend().start();
  const b = await new TcpBackend().start();
  t.after(async () => {
    await a.stop();
    await b.stop();
  });
  const { events, lines, monitor, pool, seen, last } = setup(t, { checksDirectory: crashChecks });
  // rise 3: a server restarted from the initial state would be out of the pool for rounds.
  const web = service('web', 80, [a.port, b.port], { quorum: 1 }, { rise: 3 });
  const heapReason = (): string | undefined => last.get('load|127.0.0.1:10001')?.reason;
  const load = (servers: number, intervalMs: number): HealthServiceConfig =>
    service(
      'load',
      81,
      Array.from({ length: servers }, (_, i) => 10_001 + i),
      { quorum: 1 },
      { type: 'heap', intervalMs },
    );
  const limitMb = (): number => Number(/^heap limit (\d+) MB$/.exec(heapReason() ?? '')?.[1]);

  await monitor.update([web, load(1, 100)]);
  await waitFor(() => pool()?.length === 2 && heapReason() !== undefined, { what: 'both servers up, the heap read', timeoutMs: 5000 });
  const quietMb = limitMb();
  assert.ok(quietMb > 0 && quietMb < 1024, `a quiet thread's heap: ${quietMb} MB`);
  await b.stop();
  await waitFor(() => pool()?.length === 1, { what: 'the stopped server down', timeoutMs: 5000 });
  const eventsBefore = events.length;
  const linesBefore = lines.length;

  await monitor.update([web, load(10, 2)]); // 5,000 checks/s, the busy threshold
  const restarted = seen('health.worker-restarted');
  assert.equal(restarted.length, 1, 'the update resolves with the new thread running');
  assert.equal(restarted[0]!.from, 'running');
  assert.deepEqual(restarted[0]!.data, workerResourceLimits(12, BUSY_WORKER_CHECKS_PER_SECOND + 20));
  assert.equal(seen('health.worker-crashed').length, 0, 'a planned restart is no crash');
  assert.deepEqual(
    lines.slice(linesBefore).filter((l) => l.level >= 40),
    [],
    'nothing to warn about',
  );
  assert.ok(
    lines.some((l) =>
      /^health-check worker restarted with a heap sized to the new load \(5020 checks\/s, 12 real servers: old generation up to 2048 MB, young 32 MB\)/.test(
        l.msg,
      ),
    ),
    'the log says why the thread was restarted',
  );
  last.clear();
  await waitFor(() => limitMb() >= 2048, { what: 'the new thread reporting its heap limit', timeoutMs: 5000 });
  assert.deepEqual(pool(), [`${a.port}=1`], 'the pool as it was');
  const stopped = monitor.status()[0]!.realServers.find((rs) => rs.port === b.port)!;
  assert.equal(stopped.up, false);
  assert.match(stopped.reason, /tcp: /, 'the down server keeps the reason it went down for');
  assert.deepEqual(
    events
      .slice(eventsBefore)
      .filter((e) => e.object.startsWith('service/web') || e.object === 'service/load/127.0.0.1:10001')
      .map((e) => `${e.type} ${e.object}`),
    [],
    'no server re-announced (the new ones of the load service come up)',
  );

  // Back under the threshold: a thread with the small heap again.
  await monitor.update([web, load(1, 100)]);
  assert.equal(seen('health.worker-restarted').length, 2);
  last.clear();
  await waitFor(() => heapReason() !== undefined, { what: 'the quiet thread reporting its heap limit', timeoutMs: 5000 });
  assert.equal(limitMb(), quietMb);
  // A reload within the same heap keeps the thread.
  await monitor.update([web, load(2, 100)]);
  assert.equal(seen('health.worker-restarted').length, 2);
  await b.start();
  await waitFor(() => pool()?.length === 2, { what: 'the stopped server proven up again', timeoutMs: 5000 });
});

test('stop() while a reload replaces the thread for its heap: no successor is started, nothing is left', () => {
  const url = new URL('../../../src/health/worker-monitor.js', import.meta.url).href;
  const events = new URL('../../../src/events.js', import.meta.url).href;
  const log = new URL('../../../src/log.js', import.meta.url).href;
  const quiet = service('load', 81, [10_001], {}, { type: 'heap', intervalMs: 100 });
  const busy = service(
    'load',
    81,
    Array.from({ length: 10 }, (_, i) => 10_001 + i),
    {},
    { type: 'heap', intervalMs: 2 },
  );
  busy.realServers[0]!.weight = 2;
  const script = `
    import { WorkerHealthMonitor } from ${JSON.stringify(url)};
    import { EventBus } from ${JSON.stringify(events)};
    import { silentLogger } from ${JSON.stringify(log)};
    const bus = new EventBus('x');
    let restarted = 0;
    bus.subscribe('health.worker-restarted', () => restarted++);
    let serving = () => {};
    let stopOnPools = false;
    let stopping;
    const m = new WorkerHealthMonitor({
      bus,
      logger: silentLogger(),
      checksDirectory: ${JSON.stringify(crashChecks)},
      onPoolChange: (desired) => {
        if (desired[0]?.destinations.length === 1) serving();
        // The busy update's new weight arrives just before the thread confirms the
        // update, and the confirmation is what starts the replacement.
        if (stopOnPools) stopping ??= m.stop();
      },
    });
    const served = new Promise((resolve) => { serving = resolve; });
    await m.update(${JSON.stringify([quiet])});
    await served;
    stopOnPools = true;
    const updated = await m.update(${JSON.stringify([busy])}).then(() => 'resolved', (err) => err.message);
    await stopping;
    const left = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap');
    console.log(JSON.stringify({ updated, stopped: stopping !== undefined, restarted, left }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, `exited by itself (${r.signal ?? ''}): ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { updated: string; stopped: boolean; restarted: number; left: string[] };
  assert.deepEqual(out, { updated: 'resolved', stopped: true, restarted: 0, left: [] });
});

test('heapOutgrown: a new thread when the load crosses the busy threshold either way, or the quiet cap must grow', () => {
  const quiet = workerResourceLimits(2, 10);
  assert.equal(heapOutgrown(quiet, workerResourceLimits(900, 1000)), false, 'the same heap');
  assert.equal(heapOutgrown(quiet, workerResourceLimits(10_000, 1000)), true, 'more real servers than the cap holds');
  assert.equal(heapOutgrown(workerResourceLimits(10_000, 1000), quiet), false, 'a larger cap than needed is kept');
  assert.equal(heapOutgrown(quiet, workerResourceLimits(2, BUSY_WORKER_CHECKS_PER_SECOND)), true, 'busy');
  assert.equal(heapOutgrown(workerResourceLimits(2, BUSY_WORKER_CHECKS_PER_SECOND), quiet), true, 'quiet again');
});

test('a worker that keeps crashing is given up on after the restart budget', async (t) => {
  const a = await new TcpBackend().start();
  const dir = mkdtempSync(join(tmpdir(), 'failoverd-crash-'));
  t.after(async () => {
    await a.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const marker = join(dir, 'crash-always');
  writeFileSync(marker, '');
  let gaveUp: Error | undefined;
  const { lines, monitor, seen } = setup(t, {
    checksDirectory: crashChecks,
    restart: { backoffMs: 20, maxRestarts: 2 },
    onGiveUp: (err) => {
      gaveUp = err;
    },
  });
  const web = service('web', 80, [a.port], {}, { type: 'crash', options: { marker, always: true } });
  await monitor.update([web]);
  await waitFor(() => gaveUp !== undefined, { what: 'the monitor giving up', timeoutMs: 10_000 });
  assert.match(
    gaveUp!.message,
    /^the health-check worker crashed 3 times within 600 s \(last: crash check: thrown outside the promise\); health checks have stopped$/,
  );
  assert.deepEqual(
    seen('health.worker-crashed').map((e) => e.to),
    ['restarting', 'restarting', 'failed'],
  );
  assert.equal(seen('health.worker-restarted').length, 2);
  assert.equal(lines.filter((l) => l.level === 60).length, 1, 'one fatal line');
  await assert.rejects(monitor.update([web]), /health checks have stopped/);
  await monitor.stop();
});

test("under flapping, each server's events alternate and the last pool handed over is the servers' real state", async (t) => {
  const backends = await Promise.all(Array.from({ length: 6 }, () => new TcpBackend().start()));
  t.after(async () => {
    for (const b of backends) await b.stop();
  });
  const { events, monitor, pool, tallies } = setup(t);
  // The pace is counted in check results (six servers, one result each per round), not in time.
  const results = (): number => tallies.reduce((n, x) => n + x.ok + x.fail, 0);
  const rounds = async (n: number, what: string): Promise<void> => {
    const target = results() + 6 * n;
    await waitFor(() => results() >= target, { what: `${n} check round(s) ${what}`, timeoutMs: 10_000, stepMs: 5 });
  };
  await monitor.update([
    service(
      'web',
      80,
      backends.map((b) => b.port),
      { quorum: 1 },
      { intervalMs: 40, timeoutMs: 200 },
    ),
  ]);
  await waitFor(() => pool()?.length === 6, { what: 'all six up', timeoutMs: 5000 });
  // Stop and start servers at varying pace, some faster than the pool coalescing window
  // (a restart within the same round), some over several rounds.
  for (let round = 0; round < 12; round++) {
    const b = backends[(round * 5) % backends.length]!;
    await b.stop();
    if (round % 4 !== 0) await rounds(round % 4, `with server ${b.port} stopped`);
    await b.start();
    if (round % 3 !== 0) await rounds(round % 3, `with server ${b.port} running`);
  }
  const down = backends.slice(0, 2);
  for (const b of down) await b.stop();
  const expected = backends.slice(2).map((b) => `${b.port}=1`);
  await waitFor(() => JSON.stringify(pool()) === JSON.stringify(expected), {
    what: 'the pool settles on the four running servers',
    timeoutMs: 5000,
  });
  await rounds(5, 'after settling');
  assert.deepEqual(pool(), expected, 'and stays there');
  assert.deepEqual(
    monitor.status()[0]!.realServers.map((rs) => rs.up),
    [false, false, true, true, true, true],
  );
  for (const b of backends) {
    const mine = events.filter((e) => e.object === `service/web/127.0.0.1:${b.port}`).map((e) => e.type);
    mine.forEach((type, i) => assert.equal(type, i % 2 === 0 ? 'realserver.up' : 'realserver.down', `${b.port}: ${mine.join(' ')}`));
    assert.equal(mine.at(-1), down.includes(b) ? 'realserver.down' : 'realserver.up');
  }
  assert.ok(events.filter((e) => e.type === 'realserver.down').length >= 6, 'the flapping was seen');
  const times = events.map((e) => Date.parse(e.time));
  assert.deepEqual(
    times,
    [...times].sort((x, y) => x - y),
    'republished in the order they happened',
  );
});

test('a burst of transitions is handed over in slices: each event and log line in a turn of its own at slices of 0 ms, in order, the pool after them', async (t) => {
  const backends = await Promise.all(Array.from({ length: 100 }, () => new TcpBackend().start()));
  t.after(async () => {
    for (const b of backends) await b.stop();
  });
  const order: string[] = [];
  const { bus, lines, monitor, pool } = setup(t, {
    messageSliceMs: 0,
    onPoolChange: (d) => order.push(`pool ${d[0]?.destinations.length ?? 0}`),
  });
  // A turn of the event loop is numbered when something is handled in it: the number
  // moves on at the next turn's check phase, before the queue's next slice runs.
  let turn = 0;
  let armed = false;
  const turnNow = (): number => {
    if (!armed) {
      armed = true;
      setImmediate(() => {
        armed = false;
        turn++;
      });
    }
    return turn;
  };
  const turnOf = new Map<string, number>();
  bus.subscribe('realserver.up', (e) => {
    order.push(e.object);
    turnOf.set(e.object, turnNow());
  });
  // All 100 proven up by their first check, together.
  await monitor.update([
    service(
      'web',
      80,
      backends.map((b) => b.port),
      { quorum: 1 },
      { intervalMs: 1000 },
    ),
  ]);
  await waitFor(() => pool()?.length === 100, { what: 'all 100 up', timeoutMs: 10_000 });
  const ups = order.filter((o) => o.startsWith('service/'));
  assert.equal(ups.length, 100, 'each server announced once');
  assert.equal(new Set(turnOf.values()).size, 100, 'no two events handled in the same turn');
  assert.equal(order.at(-1), 'pool 100', 'the pool with all of them comes after their events');
  assert.equal(lines.filter((l) => /is up/.test(l.msg)).length, 100, 'and their log lines');
});

test('a pool change crosses as one text per service, each parsed in a slice of its own, then handed over whole', async (t) => {
  const a = await new TcpBackend().start();
  t.after(() => a.stop());
  // At slices of 0 ms each task runs in a slice of its own, and the gate is asked once before it.
  const trail: string[] = [];
  const { monitor, pools } = setup(t, {
    messageSliceMs: 0,
    resultsIntervalMs: 600_000,
    turnGate: {
      waitMs: () => {
        trail.push('slice');
        return 0;
      },
    },
    readMessage: (port) => {
      const got = receiveMessageOnPort(port);
      if (got) trail.push(`read ${(got.message as FromWorker).kind}`);
      return got;
    },
    onPoolChange: (d) => trail.push(`pool ${d.map((x) => x.destinations.length).join(',')}`),
  });
  const groupKeys = [80, 81, 82].map((port) => spec(port).key);
  await monitor.update([service('web', 80, [a.port], { groupKeys, quorum: 1 })]);
  await waitFor(() => trail.includes('pool 1,1,1'), { what: 'the server in all three pools', timeoutMs: 5000 });
  const handover = trail.indexOf('pool 1,1,1');
  const read = trail.lastIndexOf('read pools', handover);
  assert.deepEqual(
    trail.slice(read, handover + 1),
    ['read pools', 'slice', 'slice', 'slice', 'slice', 'pool 1,1,1'],
    'three services parsed and the handover, each in a slice of its own',
  );
  assert.deepEqual(
    pools.at(-1)!.map((d) => [d.service.key, d.destinations.map((x) => [x.address, x.port, x.weight, x.forwarding])]),
    groupKeys.map((key) => [key, [['127.0.0.1', a.port, 1, 'dr']]]),
    'each pool as the worker had it',
  );
});

test("the worker's messages are read off their port only in slices the gate lets start: none while it holds, all in order after", async (t) => {
  const a = await new TcpBackend().start();
  const b = await new TcpBackend().start();
  t.after(async () => {
    await a.stop();
    await b.stop();
  });
  let holding = false;
  const reads: Array<{ kind: FromWorker['kind']; holding: boolean }> = [];
  const { monitor, pool, seen } = setup(t, {
    turnGate: { waitMs: () => (holding ? 5 : 0) },
    readMessage: (port) => {
      const got = receiveMessageOnPort(port);
      if (got) reads.push({ kind: (got.message as FromWorker).kind, holding });
      return got;
    },
  });
  await monitor.update([service('web', 80, [a.port, b.port], { quorum: 1 })]);
  await waitFor(() => pool()?.length === 2, { what: 'both servers up', timeoutMs: 5000 });
  assert.deepEqual(
    reads.slice(0, 4).map((r) => r.kind),
    ['ready', 'changes', 'pools', 'updated'],
    `the thread's first messages, read through the port: ${reads.map((r) => r.kind).join(' ')}`,
  );
  holding = true;
  const before = reads.length;
  await a.stop();
  // Checks every 100 ms, fall 1: a's first refused check takes it down, and by b's fourth
  // check since, the worker has posted the change and the pool (50 ms later).
  const checked = b.accepted;
  await waitFor(() => b.accepted >= checked + 4, { what: 'four more checks of b', timeoutMs: 5000 });
  assert.equal(seen('realserver.down').length, 0, 'nothing handled while the gate holds');
  assert.equal(reads.length, before, 'and nothing read');
  holding = false;
  await waitFor(() => pool()?.join() === `${b.port}=1`, { what: 'a out of the pool', timeoutMs: 5000 });
  assert.equal(reads.filter((r) => r.holding).length, 0, 'no message read while the gate held');
  assert.deepEqual(
    reads
      .slice(before)
      .map((r) => r.kind)
      .filter((kind) => kind !== 'results')
      .slice(0, 2),
    ['changes', 'pools'],
    'read after: what the worker posted meanwhile, in order (check results aside, sent every 250 ms)',
  );
  assert.equal(seen('realserver.down').length, 1);
});

test('last results fold into the map in place: an entry keeps its object, with the newest values', () => {
  const batch = (ok: number, reason: number, atMs: number): LastResults => ({
    keys: ['web|10.0.0.1:80', 'web|10.0.0.2:80'],
    ok: new Uint8Array([ok, 1]),
    latencyMs: new Float64Array([1.5, 2]),
    atMs: new Float64Array([atMs, atMs]),
    reason: new Uint32Array([reason, 0]),
    reasons: ['connect: ok', 'connect: ECONNREFUSED'],
    type: new Uint32Array([0, 0]),
    types: ['tcp'],
  });
  const map = new Map<string, LastResult>();
  foldLastResults(map, batch(1, 0, 1000));
  const first = map.get('web|10.0.0.1:80')!;
  assert.deepEqual(first, { ok: true, reason: 'connect: ok', latencyMs: 1.5, atMs: 1000, type: 'tcp' });
  foldLastResults(map, batch(0, 1, 2000));
  assert.equal(map.get('web|10.0.0.1:80'), first, 'the same object');
  assert.deepEqual(first, { ok: false, reason: 'connect: ECONNREFUSED', latencyMs: 1.5, atMs: 2000, type: 'tcp' });
  const listed: string[] = [];
  forEachLastResult(batch(1, 0, 3000), (key, r) => listed.push(`${key} ${r.ok} ${r.reason} ${r.atMs}`));
  assert.deepEqual(listed, ['web|10.0.0.1:80 true connect: ok 3000', 'web|10.0.0.2:80 true connect: ok 3000']);
});

test('exec checks run from the worker thread: a program that exits 0 is up, one that exits 1 is down', async (t) => {
  const { monitor, pool, seen, last } = setup(t);
  const svc = service('web', 80, [8001, 8002], { quorum: 1 });
  svc.realServers[0]!.checks = [check({ type: 'exec', options: { command: ['/bin/sh', '-c', 'exit 0'] } })];
  svc.realServers[1]!.checks = [check({ type: 'exec', options: { command: ['/bin/sh', '-c', 'exit 1'] } })];
  await monitor.update([svc]);
  await waitFor(() => pool()?.length === 1, { what: "the passing program's server in the pool", timeoutMs: 5000 });
  assert.deepEqual(pool(), ['8001=1']);
  assert.equal(seen('realserver.up').length, 1);
  assert.deepEqual(
    monitor.status()[0]!.realServers.map((rs) => rs.up),
    [true, false],
  );
  await waitFor(() => last.has('web|127.0.0.1:8002'), { what: "the failing program's result", timeoutMs: 3000 });
  assert.equal(last.get('web|127.0.0.1:8002')!.ok, false);
  assert.match(last.get('web|127.0.0.1:8002')!.reason, /exit 1/);
  assert.equal(last.get('web|127.0.0.1:8002')!.type, 'exec');
});

test('a service group from the worker thread: one pool per kernel service, the same servers in each, following one stopped server', async (t) => {
  const a = await new TcpBackend().start();
  const b = await new TcpBackend().start();
  t.after(async () => {
    await a.stop();
    await b.stop();
  });
  const { pools, monitor, seen } = setup(t);
  const groupKeys = [80, 81, 82].map((port) => spec(port).key);
  await monitor.update([service('web', 80, [a.port, b.port], { groupKeys, quorum: 1 })]);
  const byKey = (): string[] =>
    (pools.at(-1) ?? []).map(
      (d) => `${d.service.key.kind === 'address' ? d.service.key.port : ''}:${d.destinations.map((x) => x.port).join(',')}`,
    );
  const all = (ports: number[]) => [80, 81, 82].map((p) => `${p}:${ports.join(',')}`);
  await waitFor(() => byKey().join() === all([a.port, b.port]).join(), { what: 'both servers in all three pools', timeoutMs: 5000 });
  await b.stop();
  await waitFor(() => byKey().join() === all([a.port]).join(), { what: 'the stopped server out of all three pools', timeoutMs: 5000 });
  assert.equal(seen('realserver.down').length, 1, 'one down for the group, not one per kernel service');
  assert.equal(monitor.status().length, 1, 'one service in the status');
});

test("the first update's seed (the agent's start, from the kernel's table): a seeded server is in the first pool, and leaves after fall failures", async (t) => {
  const a = await new TcpBackend().start();
  await a.stop(); // refuses from now on: only the seed says it is up
  const { pools, monitor, pool, seen } = setup(t);
  const svc = service('web', 80, [a.port], { quorum: 1 }, { fall: 3 });
  const seed = [
    {
      name: 'web',
      quorumUp: true,
      liveWeight: 1,
      quorum: 1,
      realServers: [
        {
          address: '127.0.0.1',
          port: a.port,
          up: true,
          weight: 1,
          reason: "adopted from the kernel's IPVS table at start (weight 1)",
          since: '2026-12-06T14:00:00.000Z',
          checks: [{ type: 'tcp', up: true, successes: 0, failures: 0 }],
        },
      ],
    },
  ];
  await monitor.update([svc], seed);
  assert.deepEqual(
    pools[0]?.[0]?.destinations.map((d) => `${d.port}=${d.weight}`),
    [`${a.port}=1`],
    'the first pool handed over has the seeded server',
  );
  assert.equal(monitor.quorumUp('web'), true);
  await waitFor(() => pool()?.length === 0, { what: 'the seeded server out after 3 failures', timeoutMs: 10_000 });
  assert.match(seen('realserver.down')[0]?.reason ?? '', /3 failures in a row/);
});
