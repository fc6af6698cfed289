import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { FakeClock } from '../../../src/clock.js';
import { EventBus, type AgentEvent } from '../../../src/events.js';
import type { CheckPlugin, CheckResult, CheckTarget } from '../../../src/health/check.js';
import { HealthConfigError, HealthMonitor } from '../../../src/health/monitor.js';
import { CHECK_DEFAULTS, type HealthCheckConfig, type HealthServiceConfig } from '../../../src/health/types.js';
import type { DesiredService, ServiceSpec } from '../../../src/ipvs/types.js';
import { silentLogger } from '../../../src/log.js';

/** A check whose answer per target the test sets; counts its runs. */
class FakeBackends {
  readonly healthy = new Map<string, boolean | number>();
  runs = 0;
  readonly plugin: CheckPlugin<{ note?: string | undefined }> = {
    type: 'fake',
    description: 'test double',
    options: z.object({ note: z.string().optional() }).strict(),
    run: async (target: CheckTarget): Promise<CheckResult> => {
      this.runs++;
      const h = this.healthy.get(`${target.address}:${target.port}`) ?? true;
      if (typeof h === 'number') return { ok: true, reason: `weight ${h}`, latencyMs: 1, weight: h };
      return h ? { ok: true, reason: 'fine', latencyMs: 1 } : { ok: false, reason: 'connect ECONNREFUSED', latencyMs: 1 };
    },
  };
}

const spec: ServiceSpec = {
  key: { kind: 'address', family: 'inet', protocol: 'tcp', address: '10.6.2.195', port: 80 },
  scheduler: 'wlc',
  flags: {},
  persistenceTimeoutSec: 0,
  netmask: '255.255.255.255',
};
const check = (o: Partial<HealthCheckConfig> = {}): HealthCheckConfig => ({
  ...CHECK_DEFAULTS,
  type: 'fake',
  options: {},
  intervalMs: 1000,
  timeoutMs: 500,
  rise: 2,
  fall: 2,
  ...o,
});

function web(o: Partial<HealthServiceConfig> = {}): HealthServiceConfig {
  return {
    name: 'web-80',
    spec,
    forwarding: 'dr',
    quorum: 2,
    hysteresis: 0,
    onFailure: 'remove',
    realServers: [
      { address: '10.6.2.191', port: 80, weight: 1, checks: [check()] },
      { address: '10.6.2.192', port: 80, weight: 1, checks: [check()] },
    ],
    ...o,
  };
}

async function advance(clock: FakeClock, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 10) {
    clock.advance(10);
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
}

function setup() {
  const clock = new FakeClock(0);
  const backends = new FakeBackends();
  const bus = new EventBus('lvs-a', () => clock.wallNow());
  const events: AgentEvent[] = [];
  bus.subscribe('*', (e) => events.push(e));
  const pools: DesiredService[][] = [];
  const monitor = new HealthMonitor({
    clock,
    bus,
    logger: silentLogger(),
    plugins: new Map([['fake', backends.plugin]]),
    onPoolChange: (d) => pools.push(d),
  });
  const lastPool = (): string[] => pools.at(-1)![0]!.destinations.map((d) => `${d.address}=${d.weight}`);
  return { clock, backends, events, pools, monitor, lastPool };
}

test('servers come up after rise, pools follow, quorum regained once; a failure takes one out', async () => {
  const { clock, backends, events, pools, monitor, lastPool } = setup();
  monitor.update([web()]);
  assert.deepEqual(pools.length, 1);
  assert.deepEqual(lastPool(), [], 'alpha: nobody is in the pool before proving up');
  assert.equal(monitor.quorumUp('web-80'), false);
  await advance(clock, 2100);
  assert.deepEqual(lastPool(), ['10.6.2.191=1', '10.6.2.192=1']);
  assert.deepEqual(events.map((e) => `${e.type} ${e.object}`).sort(), [
    'quorum.regained service/web-80',
    'realserver.up service/web-80/10.6.2.191:80',
    'realserver.up service/web-80/10.6.2.192:80',
  ]);
  events.length = 0;
  backends.healthy.set('10.6.2.192:80', false);
  await advance(clock, 2000);
  assert.deepEqual(lastPool(), ['10.6.2.191=1']);
  const down = events.find((e) => e.type === 'realserver.down')!;
  assert.equal(down.object, 'service/web-80/10.6.2.192:80');
  assert.equal(down.from, 'up');
  assert.equal(down.to, 'down');
  assert.equal(down.reason, 'fake: connect ECONNREFUSED (2 failures in a row)');
  assert.equal(down.node, 'lvs-a');
  const lost = events.find((e) => e.type === 'quorum.lost')!;
  assert.equal(lost.object, 'service/web-80');
  assert.equal(lost.reason, 'live weight 1 < quorum 2');
  assert.equal(events.length, 2, 'each transition once');
  await advance(clock, 5000);
  assert.equal(events.length, 2, 'no repeats while nothing changes');
  monitor.stop();
});

test('sorry server while quorum is lost; inhibit keeps the failed server at weight 0', async () => {
  const { clock, backends, monitor, lastPool } = setup();
  backends.healthy.set('10.6.2.192:80', false);
  monitor.update([web({ onFailure: 'inhibit', sorryServer: { address: '10.6.2.250', port: 80 } })]);
  assert.deepEqual(lastPool(), ['10.6.2.191=0', '10.6.2.192=0', '10.6.2.250=1']);
  await advance(clock, 3000);
  // One server up (weight 1) is below quorum 2: still the sorry server.
  assert.deepEqual(lastPool(), ['10.6.2.191=0', '10.6.2.192=0', '10.6.2.250=1']);
  backends.healthy.set('10.6.2.192:80', true);
  await advance(clock, 2000);
  assert.deepEqual(lastPool(), ['10.6.2.191=1', '10.6.2.192=1']);
  backends.healthy.set('10.6.2.191:80', false);
  await advance(clock, 2000);
  assert.deepEqual(lastPool(), ['10.6.2.191=0', '10.6.2.192=0', '10.6.2.250=1']);
  monitor.stop();
});

test('dynamic weight from a check flows into the pool and quorum', async () => {
  const { clock, backends, events, monitor, lastPool } = setup();
  monitor.update([web({ quorum: 1 })]);
  await advance(clock, 2100);
  backends.healthy.set('10.6.2.191:80', 7);
  await advance(clock, 1000);
  assert.deepEqual(lastPool(), ['10.6.2.191=7', '10.6.2.192=1']);
  const w = events.find((e) => e.type === 'realserver.weight')!;
  assert.deepEqual([w.from, w.to, w.object], ['1', '7', 'service/web-80/10.6.2.191:80']);
  monitor.stop();
});

test('a real server without checks is up from the start', () => {
  const { monitor, lastPool } = setup();
  monitor.update([web({ quorum: 1, realServers: [{ address: '10.6.2.191', port: 80, weight: 4, checks: [] }] })]);
  assert.deepEqual(lastPool(), ['10.6.2.191=4']);
  assert.equal(monitor.quorumUp('web-80'), true);
  monitor.stop();
});

test('reload keeps state and schedule of unchanged checks, starts new ones, stops removed ones', async () => {
  const { clock, backends, events, pools, monitor, lastPool } = setup();
  monitor.update([web()]);
  await advance(clock, 2100);
  assert.deepEqual(lastPool(), ['10.6.2.191=1', '10.6.2.192=1']);
  events.length = 0;
  const poolsBefore = pools.length;
  const runsBefore = backends.runs;
  // Same config again (a reload that changed something elsewhere): no events, no pool call, same rhythm.
  monitor.update([web()]);
  assert.equal(events.length, 0);
  assert.equal(pools.length, poolsBefore);
  await advance(clock, 1000);
  assert.equal(backends.runs - runsBefore, 2, 'each kept check still runs once per interval');
  // Drop .192, add .193 (fresh, down until it rises), change .191's weight.
  const next = web({
    realServers: [
      { address: '10.6.2.191', port: 80, weight: 3, checks: [check()] },
      { address: '10.6.2.193', port: 80, weight: 1, checks: [check()] },
    ],
  });
  monitor.update([next]);
  assert.deepEqual(lastPool(), ['10.6.2.191=3'], '.191 kept its up state, .193 not yet proven');
  assert.deepEqual(
    events.map((e) => `${e.type} ${e.from}->${e.to}`),
    ['realserver.weight 1->3'],
  );
  const schedulerIds = monitor.schedulerStats().checks;
  assert.equal(schedulerIds, 2);
  await advance(clock, 2100);
  assert.deepEqual(lastPool(), ['10.6.2.191=3', '10.6.2.193=1']);
  // A check that probes something else (its options changed) is a new check: it starts over from its initial state.
  monitor.update([web({ realServers: [{ address: '10.6.2.191', port: 80, weight: 3, checks: [check({ options: { note: 'v2' } })] }] })]);
  assert.deepEqual(lastPool(), []);
  assert.deepEqual(
    events.slice(-2).map((e) => e.type),
    ['realserver.down', 'quorum.lost'],
  );
  assert.match(events.at(-2)!.reason!, /config reload/);
  assert.match(events.at(-1)!.reason!, /^config reload: /);
  monitor.stop();
});

test('a reload that changes only when or how strictly a check runs keeps its verdict, and runs it on the new schedule', async () => {
  const { clock, backends, events, pools, monitor, lastPool } = setup();
  monitor.update([web({ quorum: 1 })]);
  await advance(clock, 2100);
  assert.deepEqual(lastPool(), ['10.6.2.191=1', '10.6.2.192=1']);
  events.length = 0;
  const poolsBefore = pools.length;
  // Every 250 ms instead of every second, a shorter timeout, stricter rise and fall.
  const retimed = check({ intervalMs: 250, timeoutMs: 200, rise: 3, fall: 3 });
  monitor.update([
    web({
      quorum: 1,
      realServers: [
        { address: '10.6.2.191', port: 80, weight: 1, checks: [retimed] },
        { address: '10.6.2.192', port: 80, weight: 1, checks: [retimed] },
      ],
    }),
  ]);
  assert.equal(events.length, 0, 'no real server went down, no quorum change');
  assert.equal(pools.length, poolsBefore, 'no pool change');
  assert.deepEqual(lastPool(), ['10.6.2.191=1', '10.6.2.192=1']);
  assert.equal(monitor.schedulerStats().checks, 2, 'the old schedules are gone');
  const runsBefore = backends.runs;
  await advance(clock, 1000);
  assert.ok(backends.runs - runsBefore >= 6, `the new interval: ${backends.runs - runsBefore} runs in 1 s for 2 servers`);
  // The new fall (3) applies from here on.
  backends.healthy.set('10.6.2.192:80', false);
  await advance(clock, 1000);
  assert.deepEqual(lastPool(), ['10.6.2.191=1']);
  assert.match(events.find((e) => e.type === 'realserver.down')!.reason!, /3 failures in a row/);
  monitor.stop();
});

test("a check that has not run yet takes a reload's new initial state; one that has run keeps its verdict", async () => {
  const { clock, backends, monitor, lastPool } = setup();
  const server = (address: string, initial: 'up' | 'down', warmupMs = 0) => ({
    address,
    port: 80,
    weight: 1,
    checks: [check({ initial, warmupMs })],
  });
  // .191's check has run and failed; .192's waits a minute before its first run. Both `initial: down`.
  backends.healthy.set('10.6.2.191:80', false);
  monitor.update([web({ quorum: 1, realServers: [server('10.6.2.191', 'down'), server('10.6.2.192', 'down', 60_000)] })]);
  await advance(clock, 2100);
  assert.deepEqual(lastPool(), []);
  // Both now `initial: up`: .192, whom nobody vouched for, takes it; .191 stays as its check found it.
  monitor.update([web({ quorum: 1, realServers: [server('10.6.2.191', 'up'), server('10.6.2.192', 'up', 60_000)] })]);
  assert.deepEqual(lastPool(), ['10.6.2.192=1']);
  monitor.stop();
});

test('a bad config is refused as a whole with every problem named, and changes nothing', () => {
  const { monitor, pools } = setup();
  monitor.update([web()]);
  const before = pools.length;
  assert.throws(
    () =>
      monitor.update([
        web({
          realServers: [
            { address: '10.0.0.1', port: 80, weight: 1, checks: [check({ type: 'nope' })] },
            { address: '10.0.0.2', port: 80, weight: 1, checks: [check({ options: { note: 5 } })] },
            { address: '10.0.0.2', port: 80, weight: 1, checks: [] },
          ],
        }),
      ]),
    (err: unknown) => {
      assert.ok(err instanceof HealthConfigError);
      assert.equal(err.problems.length, 3);
      assert.match(err.problems.join('\n'), /10\.0\.0\.1:80 check 1 \(nope\): unknown check type; known: fake/);
      assert.match(err.problems.join('\n'), /10\.0\.0\.2:80 check 1 \(fake\): note: /);
      assert.match(err.problems.join('\n'), /10\.0\.0\.2:80 is listed twice/);
      return true;
    },
  );
  assert.equal(pools.length, before);
  assert.equal(monitor.schedulerStats().checks, 2);
  monitor.stop();
});

test('status reports each server with its checks', async () => {
  const { clock, monitor } = setup();
  monitor.update([web()]);
  await advance(clock, 2100);
  const [svc] = monitor.status();
  assert.equal(svc!.quorumUp, true);
  assert.equal(svc!.liveWeight, 2);
  assert.equal(svc!.realServers[0]!.up, true);
  assert.equal(svc!.realServers[0]!.checks[0]!.type, 'fake');
  assert.equal(svc!.realServers[0]!.checks[0]!.lastReason, 'fine');
  assert.match(svc!.realServers[0]!.since, /^2026-01-01T00:00:0\d/);
  monitor.stop();
});

test('a throwing onPoolChange is logged and health checking goes on', async () => {
  const clock = new FakeClock(0);
  const backends = new FakeBackends();
  const bus = new EventBus('lvs-a', () => clock.wallNow());
  const events: string[] = [];
  bus.subscribe('realserver.*', (e) => events.push(e.type));
  let calls = 0;
  const monitor = new HealthMonitor({
    clock,
    bus,
    logger: silentLogger(),
    plugins: new Map([['fake', backends.plugin]]),
    onPoolChange: () => {
      calls++;
      throw new Error('netlink went away');
    },
  });
  monitor.update([web()]);
  await advance(clock, 2100);
  backends.healthy.set('10.6.2.191:80', false);
  await advance(clock, 2100);
  assert.ok(calls >= 3);
  assert.deepEqual(events, ['realserver.up', 'realserver.up', 'realserver.down']);
  monitor.stop();
});

test('a service group checks each real server once, and its state applies to every kernel service of the group', async () => {
  const { clock, backends, events, pools, monitor } = setup();
  const groupKeys = ['10.6.2.195', '10.6.2.196', '10.6.2.197', '10.6.2.198'].map((address) => ({ ...spec.key, address }));
  monitor.update([web({ quorum: 1, groupKeys })]);
  await advance(clock, 10_000);
  // The same service without a group, for the same time: as many runs.
  const single = setup();
  single.monitor.update([web({ quorum: 1 })]);
  await advance(single.clock, 10_000);
  single.monitor.stop();
  assert.ok(single.backends.runs >= 2 * 9, `every real server checked about every second (${single.backends.runs} runs)`);
  assert.equal(backends.runs, single.backends.runs, 'one schedule per real server, not one per address of the group');
  const pool = (): string[] =>
    pools
      .at(-1)!
      .map((d) => `${d.service.key.kind === 'address' ? d.service.key.address : ''} ${d.destinations.map((x) => x.address).join(',')}`);
  assert.deepEqual(pool(), [
    '10.6.2.195 10.6.2.191,10.6.2.192',
    '10.6.2.196 10.6.2.191,10.6.2.192',
    '10.6.2.197 10.6.2.191,10.6.2.192',
    '10.6.2.198 10.6.2.191,10.6.2.192',
  ]);
  events.length = 0;
  backends.healthy.set('10.6.2.192:80', false);
  await advance(clock, 2000);
  assert.deepEqual(pool(), ['10.6.2.195 10.6.2.191', '10.6.2.196 10.6.2.191', '10.6.2.197 10.6.2.191', '10.6.2.198 10.6.2.191']);
  assert.deepEqual(
    events.map((e) => `${e.type} ${e.object}`),
    ['realserver.down service/web-80/10.6.2.192:80'],
    'one transition for the group, not one per address',
  );
  // A reload that drops one address keeps the checks' schedules and the other services' pools.
  const runs = backends.runs;
  monitor.update([web({ quorum: 1, groupKeys: groupKeys.slice(0, 3) })]);
  assert.deepEqual(pool(), ['10.6.2.195 10.6.2.191', '10.6.2.196 10.6.2.191', '10.6.2.197 10.6.2.191']);
  assert.equal(backends.runs, runs, 'a reload does not re-run the checks');
  assert.deepEqual(
    events.map((e) => e.type),
    ['realserver.down'],
    'the reload changes no health',
  );
  monitor.stop();
});
