// The reconciler runner against the in-memory table, with a fake clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../../src/clock.js';
import { EventBus, type AgentEvent } from '../../../src/events.js';
import { silentLogger } from '../../../src/log.js';
import { MemoryIpvsTable } from '../../../src/ipvs/memory-table.js';
import { Reconciler, type ReconcilerOptions } from '../../../src/ipvs/reconciler.js';
import { ipvsError, type IpvsTable, type TableMutation } from '../../../src/ipvs/table.js';
import { normalizeService } from '../../../src/ipvs/normalize.js';
import type { ActualDestination, DesiredService, ServiceKey } from '../../../src/ipvs/types.js';
import { dest, service, tcpKey } from './builders.js';
import { turns } from '../../helpers/wait.js';

const VIP = tcpKey('10.6.2.195', 80);
const FOREIGN = tcpKey('10.9.9.9', 443);

function setup(options: Partial<ReconcilerOptions> & { table?: IpvsTable } = {}) {
  const table = (options.table as MemoryIpvsTable | undefined) ?? new MemoryIpvsTable();
  const clock = new FakeClock();
  const events = new EventBus('test', () => clock.wallNow());
  const seen: AgentEvent[] = [];
  events.subscribe('ipvs.*', (e) => seen.push(e));
  const reconciler = new Reconciler({
    table,
    clock,
    logger: silentLogger(),
    events,
    drainTimeoutMs: 30_000,
    auditIntervalMs: 10_000,
    pauseBetweenPieces: () => new Promise<void>((resolve) => setImmediate(resolve)),
    ...options,
  });
  return { table, clock, events, seen, reconciler };
}

/** Advances fake time and lets the passes it triggered finish. */
async function advance(clock: FakeClock, reconciler: Reconciler, ms: number): Promise<void> {
  clock.advance(ms);
  await reconciler.settled();
}

const specsOf = async (table: IpvsTable) =>
  (await table.listServices())
    .map((a) => ({
      id: `${a.service.key.kind === 'address' ? a.service.key.address : ''}`,
      scheduler: a.service.scheduler,
      dests: a.destinations.map((d) => `${d.address}:${d.port}/w${d.weight}`).sort(),
    }))
    .sort((x, y) => x.id.localeCompare(y.id));

test('a messy table ends exactly as declared, the foreign service untouched, no flush and no re-add', async () => {
  const { table, reconciler } = setup();
  await table.addService(service(FOREIGN, 'rr'));
  await table.addDestination(FOREIGN, dest('10.9.9.10', 443));
  await table.addService(service(VIP, 'rr')); // wrong scheduler
  await table.addDestination(VIP, dest('10.6.2.191', 80, { weight: 7 })); // wrong weight
  await table.addDestination(VIP, dest('10.6.2.199')); // extra, no connections
  table.calls = [];
  reconciler.start();
  const desired: DesiredService[] = [
    { service: service(VIP, 'wlc'), destinations: [dest('10.6.2.191', 80, { weight: 1 }), dest('10.6.2.192')] },
  ];
  const report = await reconciler.setDesired(desired);
  assert.equal(report.converged, true);
  assert.deepEqual(await specsOf(table), [
    { id: '10.6.2.195', scheduler: 'wlc', dests: ['10.6.2.191:80/w1', '10.6.2.192:80/w1'] },
    { id: '10.9.9.9', scheduler: 'rr', dests: ['10.9.9.10:443/w1'] },
  ]);
  const log = reconciler.opsLog();
  assert.deepEqual(log.map((e) => `${e.op} ${e.destination ?? e.service}`).sort(), [
    'addDest 10.6.2.192:80',
    'deleteDest 10.6.2.199:80',
    'editDest 10.6.2.191:80',
    'editService tcp:10.6.2.195:80',
  ]);
  assert.ok(
    log.every((e) => e.service !== 'tcp:10.9.9.9:443'),
    'nothing touches the foreign service',
  );
  assert.ok(!log.some((e) => e.op === 'deleteService'), 'no service deleted: no flush');
  assert.ok(
    !log.some((e) => e.op === 'deleteDest' && e.destination === '10.6.2.191:80'),
    'the kept real server is edited, not deleted and re-added',
  );
  assert.ok(log.every((e) => e.result === 'ok' && e.reason.length > 0));
});

test('a service handed over unchanged is left alone; a new object in the same array, refilled by its owner, is applied', async () => {
  const { table, reconciler } = setup();
  reconciler.start();
  const other = { service: service(FOREIGN), destinations: [dest('10.9.9.1', 443)] };
  const pools: DesiredService[] = [{ service: service(VIP), destinations: [dest('10.6.2.191')] }, other];
  await reconciler.setDesired(pools);
  pools[0] = { service: service(VIP), destinations: [dest('10.6.2.191', 80, { weight: 7 })] };
  const report = await reconciler.setDesired(pools);
  assert.equal(report.ops, 1, 'one edit: the unchanged service needs no look');
  assert.deepEqual(
    (await table.listDestinations(VIP)).map((d) => d.weight),
    [7],
  );
});

test('reload: a removed real server drains at weight 0 until its connections end, then is deleted', async () => {
  const { table, clock, reconciler, seen } = setup({ drainPollMs: 1000 });
  reconciler.start();
  await reconciler.setDesired([{ service: service(VIP), destinations: [dest('10.6.2.191'), dest('10.6.2.192')] }]);
  table.setConnections(VIP, dest('10.6.2.192'), 3, 1);
  await reconciler.setDesired([{ service: service(VIP), destinations: [dest('10.6.2.191')] }]);
  let d = (await table.listDestinations(VIP)).find((x) => x.address === '10.6.2.192');
  assert.equal(d?.weight, 0, 'drained, not cut');
  // The apply pass did not read counters; the drain pass that follows at once does.
  await advance(clock, reconciler, 0);
  const draining = reconciler.draining();
  assert.equal(draining.length, 1);
  assert.equal(draining[0]!.destination, '10.6.2.192:80');
  assert.equal(draining[0]!.connections, 4);
  assert.equal(draining[0]!.remainingMs, 30_000);
  await advance(clock, reconciler, 5000);
  assert.ok(
    (await table.listDestinations(VIP)).some((x) => x.address === '10.6.2.192'),
    'still there while it has connections',
  );
  table.setConnections(VIP, dest('10.6.2.192'), 0, 0);
  await advance(clock, reconciler, 1000);
  d = (await table.listDestinations(VIP)).find((x) => x.address === '10.6.2.192');
  assert.equal(d, undefined, 'deleted once drained');
  assert.match(reconciler.opsLog().at(-1)!.reason, /drained/);
  assert.deepEqual(
    seen.filter((e) => e.type === 'ipvs.drain').map((e) => e.to),
    ['draining', 'done'],
  );
  assert.equal(reconciler.draining().length, 0);
});

test('a removed real server without connections goes to weight 0, then is deleted by the drain pass that follows at once', async () => {
  const { table, clock, reconciler } = setup();
  reconciler.start();
  await reconciler.setDesired([{ service: service(VIP), destinations: [dest('10.6.2.191'), dest('10.6.2.192')] }]);
  await reconciler.setDesired([{ service: service(VIP), destinations: [dest('10.6.2.191')] }]);
  assert.equal((await table.listDestinations(VIP)).find((x) => x.address === '10.6.2.192')?.weight, 0);
  await advance(clock, reconciler, 0);
  assert.deepEqual(
    (await table.listDestinations(VIP)).map((x) => x.address),
    ['10.6.2.191'],
  );
  assert.deepEqual(
    reconciler
      .opsLog()
      .slice(-2)
      .map((e) => `${e.op}: ${e.reason}`),
    ['editDest: not declared: draining its connections (weight 1 → 0)', 'deleteDest: drained: no connections left'],
  );
});

test('a drain ends at its timeout even with connections left', async () => {
  const { table, clock, reconciler } = setup({ drainTimeoutMs: (id) => (id === 'tcp:10.6.2.195:80' ? 20_000 : 1) });
  reconciler.start();
  await reconciler.setDesired([{ service: service(VIP), destinations: [dest('10.6.2.191'), dest('10.6.2.192')] }]);
  table.setConnections(VIP, dest('10.6.2.192'), 9);
  await reconciler.setDesired([{ service: service(VIP), destinations: [dest('10.6.2.191')] }]);
  await advance(clock, reconciler, 19_000);
  assert.equal((await table.listDestinations(VIP)).length, 2);
  await advance(clock, reconciler, 1000);
  assert.equal((await table.listDestinations(VIP)).length, 1);
  assert.match(reconciler.opsLog().at(-1)!.reason, /drain timeout: 9 connections left after 20 s/);
});

test('a service removed from the config is drained, then deleted; foreign ones stay', async () => {
  const { table, clock, reconciler } = setup();
  await table.addService(service(FOREIGN, 'rr'));
  reconciler.start();
  const other = tcpKey('10.6.2.196', 80);
  await reconciler.setDesired([
    { service: service(VIP), destinations: [dest('10.6.2.191')] },
    { service: service(other), destinations: [dest('10.6.2.191')] },
  ]);
  table.setConnections(VIP, dest('10.6.2.191'), 1);
  await reconciler.setDesired([{ service: service(other), destinations: [dest('10.6.2.191')] }]);
  assert.equal((await table.getService(VIP))?.destinations[0]?.weight, 0);
  assert.deepEqual(
    reconciler.draining().map((d) => [d.service, d.destination]),
    [['tcp:10.6.2.195:80', undefined]],
    'the removed service drains as a whole',
  );
  table.setConnections(VIP, dest('10.6.2.191'), 0);
  await advance(clock, reconciler, 1000);
  assert.equal(await table.getService(VIP), undefined);
  assert.ok(await table.getService(FOREIGN));
});

test('drift made behind its back is repaired at the next audit, logged and published as ipvs.drift', async () => {
  const { table, clock, reconciler, seen } = setup();
  reconciler.start();
  await reconciler.setDesired([{ service: service(VIP), destinations: [dest('10.6.2.191'), dest('10.6.2.192')] }]);
  // Someone runs `ipvsadm -d` and `ipvsadm -e -w 5` and `ipvsadm -E -s rr`.
  await table.deleteDestination(VIP, dest('10.6.2.192'));
  await table.editDestination(VIP, dest('10.6.2.191', 80, { weight: 5 }));
  await table.editService(service(VIP, 'rr'));
  await advance(clock, reconciler, 9_999);
  assert.equal((await table.listDestinations(VIP)).length, 1, 'not before the audit');
  await advance(clock, reconciler, 1);
  assert.deepEqual((await table.listDestinations(VIP)).map((d) => `${d.address}/w${d.weight}`).sort(), ['10.6.2.191/w1', '10.6.2.192/w1']);
  assert.equal((await table.getService(VIP))?.service.scheduler, 'wlc');
  const drift = seen.filter((e) => e.type === 'ipvs.drift');
  assert.deepEqual(drift.map((e) => `${e.object}: ${e.reason}`).sort(), [
    'ipvs/tcp:10.6.2.195:80/10.6.2.191:80: real server changed: weight 1 → 5',
    'ipvs/tcp:10.6.2.195:80/10.6.2.192:80: real server deleted',
    'ipvs/tcp:10.6.2.195:80: service changed: scheduler wlc → rr',
  ]);
  assert.equal(reconciler.lastPass()?.drift, 3);
  // A quiet audit finds nothing.
  seen.length = 0;
  await advance(clock, reconciler, 10_000);
  assert.deepEqual(
    seen.filter((e) => e.type === 'ipvs.drift'),
    [],
  );
});

test('EEXIST/ENOENT from concurrent changes mid-apply: re-read, retry, converge', async () => {
  const { table, reconciler } = setup();
  reconciler.start();
  await reconciler.setDesired([{ service: service(VIP), destinations: [dest('10.6.2.191')] }]);
  let interfered = 0;
  table.beforeMutation = (operation, target) => {
    if (interfered > 0) return;
    interfered++;
    // Another tool adds the same real server and deletes the one we are about to edit.
    void table.addDestination(VIP, dest('10.6.2.192', 80, { weight: 9 })).catch(() => undefined);
    void table.deleteDestination(VIP, dest('10.6.2.191')).catch(() => undefined);
    void operation;
    void target;
  };
  const report = await reconciler.setDesired([
    { service: service(VIP), destinations: [dest('10.6.2.191', 80, { weight: 3 }), dest('10.6.2.192', 80, { weight: 2 })] },
  ]);
  table.beforeMutation = undefined;
  assert.equal(report.converged, true);
  assert.ok(report.failed >= 1 && report.attempts >= 2, JSON.stringify(report));
  assert.deepEqual((await table.listDestinations(VIP)).map((d) => `${d.address}/w${d.weight}`).sort(), ['10.6.2.191/w3', '10.6.2.192/w2']);
  const failures = reconciler
    .opsLog()
    .filter((e) => e.result !== 'ok')
    .map((e) => e.result)
    .sort();
  assert.deepEqual(failures, ['EEXIST', 'ENOENT']);
});

test('between audits a setDesired trusts its view: drift behind its back in another service waits for the audit, which repairs it', async () => {
  const { table, clock, reconciler, seen } = setup();
  const other = tcpKey('10.6.2.196', 80);
  reconciler.start();
  await reconciler.setDesired([
    { service: service(VIP), destinations: [dest('10.6.2.191')] },
    { service: service(other), destinations: [dest('10.6.2.191')] },
  ]);
  // `ipvsadm -e -w 7` on VIP's real server, then a reload that changes only the other service.
  await table.editDestination(VIP, dest('10.6.2.191', 80, { weight: 7 }));
  let lists = 0;
  const listServices = table.listServicesWithoutDestinations.bind(table);
  table.listServicesWithoutDestinations = () => {
    lists++;
    return listServices();
  };
  table.calls = [];
  const report = await reconciler.setDesired([
    { service: service(VIP), destinations: [dest('10.6.2.191')] },
    { service: service(other), destinations: [dest('10.6.2.191', 80, { weight: 3 })] },
  ]);
  assert.equal(report.converged, true);
  assert.equal(lists, 0, 'no read of the kernel table');
  assert.deepEqual(
    table.calls.map((c) => `${c.operation} ${c.target}`),
    ['editDestination tcp:10.6.2.196:80 10.6.2.191:80'],
    'only the changed service is touched',
  );
  assert.equal((await table.listDestinations(VIP))[0]?.weight, 7, 'not seen yet');
  await advance(clock, reconciler, 10_000);
  assert.equal((await table.listDestinations(VIP))[0]?.weight, 1, 'repaired by the audit');
  assert.equal((await table.listDestinations(other))[0]?.weight, 3);
  assert.deepEqual(
    seen.filter((e) => e.type === 'ipvs.drift').map((e) => `${e.object}: ${e.reason}`),
    ['ipvs/tcp:10.6.2.195:80/10.6.2.191:80: real server changed: weight 1 → 7'],
  );
});

test('a stale view (ipvsadm -d / -a behind its back): the ENOENT and EEXIST it causes make a full read, and the pass converges', async () => {
  const { table, reconciler } = setup();
  reconciler.start();
  await reconciler.setDesired([{ service: service(VIP), destinations: [dest('10.6.2.191')] }]);
  await table.deleteDestination(VIP, dest('10.6.2.191'));
  await table.addDestination(VIP, dest('10.6.2.192', 80, { weight: 9 }));
  const report = await reconciler.setDesired([
    { service: service(VIP), destinations: [dest('10.6.2.191', 80, { weight: 2 }), dest('10.6.2.192', 80, { weight: 2 })] },
  ]);
  assert.equal(report.converged, true, JSON.stringify(report));
  assert.equal(report.attempts, 2);
  assert.deepEqual(
    reconciler
      .opsLog()
      .filter((e) => e.result !== 'ok')
      .map((e) => `${e.op} ${e.destination}: ${e.result}`)
      .sort(),
    ['addDest 10.6.2.192:80: EEXIST', 'editDest 10.6.2.191:80: ENOENT'],
  );
  assert.deepEqual((await table.listDestinations(VIP)).map((d) => `${d.address}/w${d.weight}`).sort(), ['10.6.2.191/w2', '10.6.2.192/w2']);
  assert.deepEqual(
    reconciler
      .lastActual()[0]!
      .destinations.map((d) => `${d.address}/w${d.weight}`)
      .sort(),
    ['10.6.2.191/w2', '10.6.2.192/w2'],
    'the view is right again',
  );
});

test('a pass that did not converge makes the next one diff every service against a fresh read', async () => {
  const { table, reconciler } = setup({ table: new MemoryIpvsTable({ schedulers: ['wlc'] }), maxRetries: 0 });
  const other = tcpKey('10.6.2.196', 80);
  reconciler.start();
  await reconciler.setDesired([
    { service: service(VIP), destinations: [dest('10.6.2.191')] },
    { service: service(other), destinations: [dest('10.6.2.191')] },
  ]);
  await table.editDestination(VIP, dest('10.6.2.191', 80, { weight: 7 }));
  const failed = await reconciler.setDesired([
    { service: service(VIP), destinations: [dest('10.6.2.191')] },
    { service: service(other, 'nosuch'), destinations: [dest('10.6.2.191')] },
  ]);
  assert.equal(failed.converged, false);
  const next = await reconciler.setDesired([
    { service: service(VIP), destinations: [dest('10.6.2.191')] },
    { service: service(other), destinations: [dest('10.6.2.191')] },
  ]);
  assert.equal(next.converged, true);
  assert.equal(
    (await table.listDestinations(VIP))[0]?.weight,
    1,
    'VIP was not in the change, but the full diff after a failure repairs it',
  );
});

test('a pass that fails halfway (a read refused) makes the next one read and diff the whole table', async () => {
  const { table, clock, reconciler } = setup();
  const other = tcpKey('10.6.2.196', 80);
  reconciler.start();
  await reconciler.setDesired([
    { service: service(VIP), destinations: [dest('10.6.2.191'), dest('10.6.2.192')] },
    { service: service(other), destinations: [dest('10.6.2.191')] },
  ]);
  table.setConnections(VIP, dest('10.6.2.192'), 2);
  await reconciler.setDesired([
    { service: service(VIP), destinations: [dest('10.6.2.191')] },
    { service: service(other), destinations: [dest('10.6.2.191')] },
  ]);
  const listDestinations = table.listDestinations.bind(table);
  table.listDestinations = () => Promise.reject(Object.assign(new Error('netlink timeout'), { code: 'ETIMEDOUT' }));
  await advance(clock, reconciler, 0);
  assert.match(reconciler.lastPass()?.error ?? '', /IPVS pass failed: netlink timeout/);
  table.listDestinations = listDestinations;
  await table.editDestination(other, dest('10.6.2.191', 80, { weight: 8 }));
  let lists = 0;
  const listServices = table.listServicesWithoutDestinations.bind(table);
  table.listServicesWithoutDestinations = () => {
    lists++;
    return listServices();
  };
  const report = await reconciler.setDesired([
    { service: service(VIP), destinations: [dest('10.6.2.191', 80, { weight: 2 })] },
    { service: service(other), destinations: [dest('10.6.2.191')] },
  ]);
  assert.equal(report.converged, true);
  assert.equal(lists, 1, 'a full read');
  assert.equal((await table.listDestinations(other))[0]?.weight, 1, 'and a full diff: the unchanged service is repaired too');
});

test('a persistent error is retried a bounded number of times, reported, and does not block other services', async () => {
  const { table, reconciler, seen } = setup({ table: new MemoryIpvsTable({ schedulers: ['wlc'] }), maxRetries: 2 });
  reconciler.start();
  const report = await reconciler.setDesired([
    { service: service(VIP, 'nosuch'), destinations: [] },
    { service: service(FOREIGN, 'wlc'), destinations: [dest('10.9.9.10', 443)] },
  ]);
  assert.equal(report.converged, false);
  assert.equal(report.attempts, 3);
  assert.match(report.error ?? '', /addService tcp:10\.6\.2\.195:80.*ENOENT/);
  assert.ok(await table.getService(FOREIGN), 'the good service was applied');
  assert.equal(seen.filter((e) => e.type === 'ipvs.error').length, 1);
});

test('never two passes at once; a burst of setDesired is coalesced', async () => {
  const inner = new MemoryIpvsTable();
  let inFlight = 0,
    maxInFlight = 0,
    lists = 0;
  const slow = new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (prop !== 'listServicesWithoutDestinations') return typeof v === 'function' ? v.bind(target) : v;
      return async () => {
        lists++;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setImmediate(r));
        await new Promise((r) => setImmediate(r));
        inFlight--;
        return target.listServicesWithoutDestinations();
      };
    },
  });
  const { reconciler } = setup({ table: slow });
  reconciler.start();
  const reports = await Promise.all(
    [1, 2, 3, 4, 5].map((w) => reconciler.setDesired([{ service: service(VIP), destinations: [dest('10.6.2.191', 80, { weight: w })] }])),
  );
  await reconciler.audit();
  await Promise.all([reconciler.audit(), reconciler.audit(), reconciler.audit()]);
  assert.equal(maxInFlight, 1);
  assert.equal((await inner.listDestinations(VIP))[0]?.weight, 5, 'the latest desired table wins');
  assert.ok(reports.every((r) => r.converged));
  assert.ok(lists <= 3, `start + audits coalesced (${lists} reads)`);
});

test('stop removes nothing; removeOwned removes only owned services', async () => {
  const { table, reconciler, clock } = setup();
  await table.addService(service(FOREIGN, 'rr'));
  reconciler.start();
  await reconciler.setDesired([{ service: service(VIP), destinations: [dest('10.6.2.191')] }]);
  await reconciler.stop();
  assert.equal((await table.listServices()).length, 2);
  clock.advance(60_000);
  assert.equal(clock.pendingTimers(), 0, 'no timers left after stop');
  const report = await reconciler.removeOwned();
  assert.equal(report.converged, true);
  assert.deepEqual(
    (await table.listServices()).map((a) => normalizeService(a.service).key),
    [FOREIGN],
  );
});

test('an invalid desired table is refused and the previous one kept', async () => {
  const { table, reconciler, seen } = setup();
  reconciler.start();
  await reconciler.setDesired([{ service: service(VIP), destinations: [dest('10.6.2.191')] }]);
  const report = await reconciler.setDesired([{ service: service(VIP), destinations: [dest('not-an-ip')] }]);
  assert.match(report.error ?? '', /refused: not an IP address/);
  assert.equal(seen.filter((e) => e.type === 'ipvs.error').length, 1);
  await reconciler.audit();
  assert.equal((await table.listDestinations(VIP)).length, 1);
});

test('the ops log is a bounded ring buffer', async () => {
  const { reconciler } = setup({ opsLogSize: 5 });
  reconciler.start();
  await reconciler.setDesired([
    { service: service(VIP), destinations: ['1', '2', '3', '4', '5', '6', '7'].map((n) => dest(`10.6.2.${n}`)) },
  ]);
  const log = reconciler.opsLog();
  assert.equal(log.length, 5);
  assert.equal(log[0]!.seq, 4);
});

test('a pass does not diff or apply while the turn gate holds (a VRRP takeover is near); it goes on once the gate opens', async () => {
  let holdUntil = 0;
  const { table, clock, reconciler } = setup({ turnGate: { waitMs: () => Math.max(0, holdUntil - clock.now()) } });
  reconciler.start();
  await reconciler.settled();
  holdUntil = clock.now() + 12;
  let applied = false;
  const done = reconciler.setDesired([{ service: service(VIP), destinations: [dest('10.6.2.191')] }]).then((r) => {
    applied = true;
    return r;
  });
  await turns(5);
  assert.equal(applied, false, 'held');
  assert.deepEqual(await table.listServices(), [], 'nothing applied while the gate holds');
  clock.advance(12);
  const report = await done;
  assert.equal(report.converged, true);
  assert.deepEqual(
    (await table.listDestinations(VIP)).map((d) => d.address),
    ['10.6.2.191'],
  );
});

/** The memory table, counting the real-server dumps a read makes. */
class CountingTable extends MemoryIpvsTable {
  destinationReads = 0;
  override async listDestinations(key: ServiceKey) {
    this.destinationReads++;
    return super.listDestinations(key);
  }
}

/** A counting table under a reconciler of pieces of 3 real servers whose turn gate holds until `holdUntil`, with four services of two real servers applied. */
async function gatedFourServices(options: Partial<ReconcilerOptions> = {}) {
  const gate = { holdUntil: 0 };
  const table = new CountingTable();
  const { clock, reconciler } = setup({
    table,
    pieceDestinations: 3,
    turnGate: { waitMs: () => Math.max(0, gate.holdUntil - clock.now()) },
    ...options,
  });
  reconciler.start();
  const keys = [80, 81, 82, 83].map((port) => tcpKey('10.6.2.195', port));
  await reconciler.setDesired(keys.map((key) => ({ service: service(key), destinations: [dest('10.6.2.191'), dest('10.6.2.192')] })));
  return { gate, table, clock, reconciler, keys };
}

test('an audit reads a large table a piece at a time: between pieces it lets the event loop turn and waits while the turn gate holds', async () => {
  const { gate, table, clock, reconciler } = await gatedFourServices();
  table.destinationReads = 0;
  gate.holdUntil = clock.now() + 12;
  const audit = reconciler.audit();
  await turns(10);
  // 2 real servers, then 4 (past the piece of 3): the read stops there for the gate.
  assert.equal(table.destinationReads, 2, 'two services read, then the read waits');
  clock.advance(12);
  const report = await audit;
  assert.equal(table.destinationReads, 4, 'every service read once the gate opened');
  assert.equal(report.drift, 0);
  assert.equal(report.converged, true);
});

test("an audit keeps the view's real server objects when the kernel has them as the view does, with the counters it read; a change behind its back is still drift", async () => {
  const read: ActualDestination[][] = [];
  const table = new (class extends MemoryIpvsTable {
    override async listDestinations(key: ServiceKey) {
      const destinations = await super.listDestinations(key);
      read.push(destinations);
      return destinations;
    }
  })();
  const { reconciler } = setup({ table });
  reconciler.start();
  await reconciler.setDesired([{ service: service(VIP), destinations: [dest('10.6.2.191'), dest('10.6.2.192')] }]);
  table.setConnections(VIP, dest('10.6.2.192'), 5, 2);
  read.length = 0;
  const report = await reconciler.audit();
  assert.equal(report.drift, 0);
  assert.equal(read.length, 1, 'one dump of the service');
  // Were the objects just read kept, this would show in the view.
  for (const d of read[0]!) d.weight = 99;
  assert.deepEqual(
    reconciler.lastActual()[0]!.destinations.map((d) => [d.address, d.weight, d.activeConnections, d.inactiveConnections]),
    [
      ['10.6.2.191', 1, 0, 0],
      ['10.6.2.192', 1, 5, 2],
    ],
    "the view's own objects, with the counters read",
  );

  await table.editDestination(VIP, { ...dest('10.6.2.191'), weight: 7 });
  const repaired = await reconciler.audit();
  assert.equal(repaired.drift, 1, 'a weight changed behind its back');
  assert.equal(repaired.ops, 1);
  assert.deepEqual(
    (await table.listDestinations(VIP)).map((d) => d.weight),
    [1, 1],
  );
});

test('a service deleted between the list of services and its real servers reads as empty, and the audit repairs it', async () => {
  const table = new (class extends MemoryIpvsTable {
    /** The next dump finds the service gone (someone deleted it, then put it back). */
    goneOnce = false;
    override async listDestinations(key: ServiceKey) {
      if (this.goneOnce) {
        this.goneOnce = false;
        throw ipvsError('ESRCH', 'IPVS_CMD_GET_DEST');
      }
      return super.listDestinations(key);
    }
  })();
  const { reconciler } = setup({ table });
  reconciler.start();
  await reconciler.setDesired([{ service: service(VIP), destinations: [dest('10.6.2.191')] }]);
  table.goneOnce = true;
  const report = await reconciler.audit();
  assert.equal(report.error, undefined, 'ESRCH on one dump does not fail the audit');
  assert.equal(report.drift, 1, 'its real server is missing from what was read');
  assert.equal(report.converged, true);
});

test('a drain poll re-reads the draining services a piece at a time, waiting while the turn gate holds', async () => {
  const { gate, table, clock, reconciler, keys } = await gatedFourServices({ drainPollMs: 1000 });
  for (const key of keys) table.setConnections(key, dest('10.6.2.192'), 1);
  await reconciler.setDesired(keys.map((key) => ({ service: service(key), destinations: [dest('10.6.2.191')] })));
  await advance(clock, reconciler, 0);
  assert.equal(reconciler.draining().length, 4, 'one real server draining in each service');
  table.destinationReads = 0;
  gate.holdUntil = clock.now() + 1000 + 12;
  clock.advance(1000);
  await turns(10);
  assert.equal(table.destinationReads, 2, 'two services read (2 real servers each, past the piece of 3), then the poll waits');
  clock.advance(12);
  await reconciler.settled();
  assert.equal(table.destinationReads, 4, 'every draining service read once the gate opened');
  assert.equal(reconciler.draining().length, 4);
});

test('an apply of more ops than a piece lets the event loop turn and waits while the turn gate holds between its batches', async () => {
  const gate = { holding: false };
  const batches: number[] = [];
  const table = new (class extends MemoryIpvsTable {
    override async applyBatch(mutations: readonly TableMutation[]) {
      batches.push(mutations.length);
      // The gate starts to hold once the first batch is in: the next one must wait for it.
      gate.holding = true;
      return super.applyBatch(mutations);
    }
  })();
  const { clock, reconciler } = setup({ table, pieceDestinations: 200, turnGate: { waitMs: () => (gate.holding ? 12 : 0) } });
  reconciler.start();
  await reconciler.settled();
  const realServers = Array.from({ length: 300 }, (_, i) => dest(`10.6.${3 + Math.floor(i / 250)}.${(i % 250) + 1}`));
  const applied = reconciler.setDesired([{ service: service(VIP), destinations: realServers }]);
  await turns(10);
  assert.deepEqual(batches, [256], 'the first batch of 256 ops (past the piece of 200), then the apply waits for the gate');
  gate.holding = false;
  clock.advance(12);
  const report = await applied;
  assert.deepEqual(batches, [256, 45], 'the rest once the gate opened: 1 service and 300 real servers');
  assert.equal(report.converged, true);
  assert.equal((await table.listDestinations(VIP)).length, 300);
});

test('a diff of many services asks the turn gate between its pieces', async () => {
  const gateAsks = async (pieceDestinations: number): Promise<number> => {
    let asks = 0;
    const { reconciler } = setup({
      pieceDestinations,
      turnGate: {
        waitMs: () => {
          asks++;
          return 0;
        },
      },
    });
    reconciler.start();
    await reconciler.settled();
    asks = 0;
    const keys = [80, 81, 82, 83].map((port) => tcpKey('10.6.2.195', port));
    const report = await reconciler.setDesired(
      keys.map((key) => ({ service: service(key), destinations: [dest('10.6.2.191'), dest('10.6.2.192')] })),
    );
    assert.equal(report.converged, true);
    assert.equal(report.ops, 12);
    return asks;
  };
  const whole = await gateAsks(1000);
  const inPieces = await gateAsks(2);
  // Four services of two real servers in pieces of two: three turns between pieces.
  assert.equal(inPieces - whole, 3);
});
