// A director's power cut in the UML kernel, side by side with the baseline, in one
// run with the same topology and traffic: first with mh + sloppy_tcp (what failoverd
// sets up), then with wlc and no sloppy (what MetalLB's BGP mode with kube-proxy users
// get). BFD withdraws the dead director at the router; the client counts resets, and
// tcpdump at the router sees the baseline's resets leave the directors.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../../helpers/wait.js';
import { describeOutcome, flowOutcome, type FlowOutcome } from '../../../src/lab/ecmp-outcome.js';
import { BASELINE, BASELINE_ROUTING } from '../../../src/lab/ecmp-scenario.js';
import { ecmpRun, ecmpSteps, LONG } from './steps.js';

const s = ecmpRun('ecmp-crash');
const { all, allAnswering, birdProtocols, hopsAre, powerCut, sessionsUp, spread, startTraffic, threeDirectors, watchResets, without } =
  ecmpSteps(s);
after(() => s.close());
const crashes: Record<string, FlowOutcome> = {};

test('three directors (mh + sloppy_tcp) announce the VIP; every long connection answered', async () => {
  const ready = await threeDirectors();
  assert.equal(ready.long.filter((c) => c.a > 0).length, LONG, 'every long connection answered');
});

test('a director dies (processes killed, link down): BFD withdraws it, ≥ 99% of long connections survive with mh + sloppy', async () => {
  const d = s.topo.directors[0]!;
  const before = await s.traffic!.stats();
  console.log(`# before the crash (mh): ${spread()}`);
  s.traffic!.mark();
  const cut = await powerCut(d);
  await hopsAre(without(d), `${d.name} withdrawn by the router`, 60_000);
  console.log(`# crash: power cut → router without ${d.name} after ${Date.now() - cut} ms (polled every 50 ms; reported, not asserted)`);
  assert.match(birdProtocols(), /d1\s+BGP\s+.*BFD session down/, 'withdrawn through BFD, not the BGP hold timer (90 s)');
  const afterStats = await allAnswering(before, 'the crash');
  const o = flowOutcome(before, afterStats);
  crashes['mh + sloppy_tcp'] = o;
  console.log(`# crash with mh + sloppy_tcp: ${describeOutcome(o)}; longest silence of a surviving long connection: ${o.longestGap} ms`);
  assert.ok(o.survived >= Math.ceil(0.99 * o.of), `${o.survived} of ${o.of} survived`);
  assert.equal(o.reset, 0);
});

test('baseline in the same topology and traffic: wlc without sloppy resets the flows the crash moves', async () => {
  s.traffic!.stop();
  const dead = s.topo.directors[0]!;
  const noSloppy = ['-qw', 'net.ipv4.vs.sloppy_tcp=0', 'net.ipv4.vs.sloppy_sctp=0'];
  // The agents restart with the baseline's config (kill -9 and start: they adopt their routes).
  for (const d of s.topo.directors.slice(1)) {
    d.agent!.proc.kill('SIGKILL');
    await d.agent!.exited;
    d.ns.exec('sysctl', noSloppy);
    s.topo.writeConfig(d, BASELINE, BASELINE_ROUTING);
    s.topo.startAgent(d);
  }
  dead.ns.ip('link', 'set', 'eth0', 'up');
  dead.ns.exec('sysctl', noSloppy);
  s.topo.writeConfig(dead, BASELINE, BASELINE_ROUTING);
  s.topo.startBird(dead);
  s.topo.startAgent(dead);
  await hopsAre(all(), 'the dead director back (baseline)', 180_000);
  await sessionsUp();
  await waitFor(
    () => s.topo.directors.every((d) => d.ns.exec('ipvsadm', ['-Ln']).includes(' wlc') && d.ns.sysctl('net.ipv4.vs.sloppy_tcp') === '0'),
    { what: 'wlc and sloppy_tcp 0 on every director', timeoutMs: 120_000, stepMs: 500 },
  );
  const before = await startTraffic('start (baseline)');
  assert.equal(before.long.filter((c) => c.a > 0).length, LONG, 'every long connection answered (baseline)');
  console.log(`# before the crash (baseline): ${spread()}`);
  const resets = watchResets();
  await powerCut(dead);
  await hopsAre(without(dead), `${dead.name} withdrawn by the router (baseline)`, 60_000);
  const afterStats = await allAnswering(before, 'the crash (baseline)');
  resets.stop();
  const o = flowOutcome(before, afterStats);
  crashes['wlc, no sloppy (baseline)'] = o;
  const mh = crashes['mh + sloppy_tcp'];
  console.log(`# after the crash (baseline): ${spread()}; resets from the VIP seen at the router: ${resets.count()}`);
  console.log(`# crash, baseline wlc without sloppy: ${describeOutcome(o)}`);
  console.log(`# side by side: mh + sloppy_tcp ${mh ? describeOutcome(mh) : 'did not run'} | baseline ${describeOutcome(o)}`);
  assert.ok(o.reset > 0, 'the baseline resets the flows that moved');
  assert.ok(resets.count() > 0, 'the router saw the resets');
  assert.ok(mh && mh.of - mh.survived < o.of - o.survived, 'mh + sloppy loses fewer connections than the baseline');
});
