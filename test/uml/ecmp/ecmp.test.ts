// Issue 18 end to end in the UML kernel: three directors announce one VIP over BGP
// (BIRD, with BFD) to a router that spreads flows by ECMP; the router's own routing
// table (`ip route`, `ip monitor route`) is the independent witness of every announce
// and withdraw, and a client holding long-lived connections counts resets. The power
// cut, with the baseline beside it, is crash.test.ts (each file has its own UML time).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { waitFor } from '../../helpers/wait.js';
import { describeOutcome, flowOutcome } from '../../../src/lab/ecmp-outcome.js';
import { VIP } from '../../../src/lab/ecmp-topology.js';
import { cli, ecmpRun, ecmpSteps, LONG } from './steps.js';

const s = ecmpRun('ecmp');
const { all, without, hopsAre, threeDirectors, allAnswering, agentEvents, announced, sessionsUp } = ecmpSteps(s);
after(() => s.close());

test('three directors announce the VIP through BIRD; the router has three next hops; flows spread', async () => {
  const ready = await threeDirectors();
  assert.equal(ready.long.filter((c) => c.a > 0).length, LONG, 'every long connection answered');
  for (const d of s.topo.directors) {
    assert.equal(d.ns.sysctl('net.ipv4.vs.sloppy_tcp'), '1', `${d.name}: sloppy_tcp set by the agent`);
    assert.ok(
      d.ns.ipJson<Array<{ addr_info: { local: string }[] }>>('addr', 'show', 'dev', 'lo')[0]!.addr_info.some((a) => a.local === VIP),
      `${d.name}: VIP held on lo`,
    );
  }
  // ECMP spread them: every director's IPVS holds some of them.
  for (const d of s.topo.directors) {
    const conns = d.ns
      .exec('ipvsadm', ['-Lnc'])
      .split('\n')
      .filter((l) => l.includes(`${VIP}:7000`) && l.includes('ESTABLISHED')).length;
    assert.ok(conns > 0, `${d.name} carries some of the long connections (has ${conns})`);
  }
});

test('agent restart (kill -9, start): the route is adopted, the router sees no change, 0 connections lost', async () => {
  const d = s.topo.directors[0]!;
  const before = await s.traffic!.stats();
  const watch = s.topo.watchRoutes();
  d.agent!.proc.kill('SIGKILL');
  await d.agent!.exited;
  assert.ok(announced(d), 'the kernel keeps the announcement route while no agent runs');
  const agent = s.topo.startAgent(d);
  await waitFor(() => agent.logs.some((l) => l.includes('failoverd started')), {
    what: 'the new agent started',
    timeoutMs: 180_000,
    stepMs: 100,
  }).catch((err: Error) => {
    throw new Error(`${err.message}; its last log lines: ${agent.logs.slice(-5).join(' | ')}`);
  });
  // Past the first checks (rise 1, interval 1s): a flap would have happened by now.
  await new Promise((r) => setTimeout(r, 5000));
  const status = d.ns.exec(process.execPath, [cli, 'status', '--socket', d.apiSocket], { timeoutMs: 90_000 });
  watch.stop();
  assert.match(status, /Routing announcements[\s\S]*echo\s+10\.9\.9\.9\s+ANNOUNCED/);
  assert.deepEqual(watch.changes, [], 'no route change at the router');
  assert.deepEqual(agentEvents(d, 'route.withdrawn'), []);
  assert.deepEqual(s.topo.nextHops(), all());
  // The restarted agent begins the real servers it finds in service in the kernel up
  // (src/agent/kernel-seed.ts): mh keeps its destinations, no flow is cut.
  assert.ok(
    agent.logs.some((l) => l.includes("found in service in the kernel's IPVS table begin up")),
    'the agent seeded its health from the kernel',
  );
  const afterStats = await allAnswering(before, 'the agent restart');
  const o = flowOutcome(before, afterStats);
  console.log(`# agent restart: ${describeOutcome(o)}`);
  assert.equal(o.reset, 0);
  assert.equal(o.stalled, 0);
  assert.equal(o.survived, o.of);
  assert.equal(o.newFail, 0);
});

test('maintenance withdraws a director and its return adds it back: 0 resets, 0 new connections failed', async () => {
  const d = s.topo.directors[1]!;
  const before = await s.traffic!.stats();
  writeFileSync(d.maintenanceFile, '');
  await hopsAre(without(d), `${d.name} withdrawn for maintenance`);
  const during = await allAnswering(before, 'the drain');
  rmSync(d.maintenanceFile);
  await hopsAre(all(), `${d.name} announced again (director added)`);
  const afterStats = await allAnswering(during, 'the return');
  const o = flowOutcome(before, afterStats);
  console.log(`# maintenance drain + return: ${describeOutcome(o)}`);
  assert.equal(o.reset, 0);
  assert.equal(o.stalled, 0);
  assert.equal(o.survived, o.of);
  assert.equal(o.newFail, 0);
});

test('routing daemon restart (graceful): failoverd does nothing, the route comes back, 0 resets', async () => {
  const d = s.topo.directors[2]!;
  const before = await s.traffic!.stats();
  const watch = s.topo.watchRoutes();
  assert.ok(agentEvents(d, 'route.announced').length > 0, "the agent's first announce is in the log read below");
  const eventsBefore = agentEvents(d, 'route.withdrawn').length + agentEvents(d, 'route.announced').length;
  d.ns.exec('birdc', ['-s', d.birdSock, 'graceful', 'restart']);
  assert.ok(announced(d), 'the announcement route stays in the kernel while BIRD is down');
  s.topo.startBird(d, true);
  // Past BFD's detection time, so that a withdraw by the router would have happened.
  await new Promise((r) => setTimeout(r, 3000));
  await hopsAre(all(), `${d.name} announced by the restarted BIRD`);
  await sessionsUp();
  const afterStats = await allAnswering(before, 'the BIRD restart');
  watch.stop();
  const o = flowOutcome(before, afterStats);
  console.log(`# BIRD restart: ${describeOutcome(o)}; router route changes: ${watch.changes.length}`);
  // The announcer logs "routing NAME: announced …" / "withdrew …" (agentEvents matches those lines).
  assert.equal(
    agentEvents(d, 'route.withdrawn').length + agentEvents(d, 'route.announced').length,
    eventsBefore,
    'the agent neither withdrew nor announced',
  );
  assert.equal(o.reset, 0);
  assert.equal(o.stalled, 0);
  assert.equal(o.survived, o.of);
  assert.equal(o.newFail, 0);
});

test('SIGTERM: the router loses the director before the agent exits; 0 resets', async () => {
  const d = s.topo.directors[1]!;
  const before = await s.traffic!.stats();
  let exited = false;
  void d.agent!.exited.then(() => {
    exited = true;
  });
  d.agent!.proc.kill('SIGTERM');
  await hopsAre(without(d), `${d.name} withdrawn on SIGTERM`, 30_000);
  assert.equal(exited, false, 'the agent is still running (serving) when the router has converged');
  const code = await d.agent!.exited;
  assert.equal(code, 0);
  const afterStats = await allAnswering(before, 'the SIGTERM');
  const o = flowOutcome(before, afterStats);
  console.log(`# SIGTERM: ${describeOutcome(o)}`);
  assert.equal(o.reset, 0);
  assert.equal(o.stalled, 0);
  assert.equal(o.survived, o.of);
  s.topo.startAgent(d);
  await hopsAre(all(), `${d.name} announced again after its restart`, 180_000);
});
