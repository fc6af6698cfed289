// End-to-end: the seed's two-director DR lab (failoverd lab) in the UML kernel.
// Every assertion is about what the client saw — its answers, which real server
// answered, its ARP cache, its long-lived connection — computed here from the
// client's raw samples, not from the scenario's own verdicts and never from
// failoverd's logs. The failover gap is measured and printed, not asserted
// (timings are measured, not asserted: see bench/ and docs/lab.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runScenario, type ScenarioResult } from '../../../src/lab/scenario.js';
import { macFor } from '../../../src/lab/topology.js';
import type { RequestSample } from '../../../src/lab/samples.js';

const LVS_A_MAC = macFor('10.6.2.193');
const LVS_B_MAC = macFor('10.6.2.194');

assert.equal(
  process.env['FAILOVERD_IN_UML'],
  '1',
  'this test needs IPVS: run it in the uml tier (node dist/test/runner/tiers.js uml) or through test/harness/uml-run.sh',
);

/** The client's request deadline: a request sent this close before a disruption is hit by it. */
const REQUEST_TIMEOUT_MS = 300;

function sent(samples: RequestSample[], from: number, to = Infinity): RequestSample[] {
  return samples.filter((s) => s.sent >= from && s.sent < to);
}

function servers(samples: RequestSample[]): Set<string | undefined> {
  return new Set(samples.filter((s) => s.ok).map((s) => s.who));
}

function failures(samples: RequestSample[]): string {
  return samples
    .filter((s) => !s.ok)
    .map((s) => `#${s.seq} ${s.error}`)
    .slice(0, 10)
    .join(', ');
}

async function play(tag: string, options: Parameters<typeof runScenario>[0]): Promise<{ result: ScenarioResult; narration: string[] }> {
  const narration: string[] = [];
  const result = await runScenario({ prefix: `${tag}${process.pid}-`, print: (line) => narration.push(line), ...options });
  process.stdout.write(`${narration.join('\n')}\n`);
  assert.equal(result.error, undefined, `the lab stopped early: ${result.error}`);
  return { result, narration };
}

/** The client's own account of the crash of lvs-a: answers before, the gap, answers after, the long connection. */
function assertFailover(r: ScenarioResult): number {
  const { kill } = r.marks;
  assert.ok(kill, 'lvs-a was crashed');
  const before = r.samples.filter((s) => s.ok && s.done <= kill).at(-1);
  assert.ok(before, 'the client was answered before the crash');
  // The first answer to a request sent after the crash can only have gone through lvs-b.
  const after = r.samples.filter((s) => s.ok && s.sent > kill).sort((a, b) => a.done - b.done)[0];
  assert.ok(after, 'the client is answered again after the crash');
  const arpB = r.arpEvents.find((e) => e.mac === LVS_B_MAC && e.t > kill);
  assert.ok(arpB, "the client's ARP cache learned lvs-b's MAC for the VIP (GARP)");
  // Once answered again, every request the client sends is answered, by both real servers.
  const settled = sent(r.samples, after.done + 1, r.marks['bootA'] ?? Infinity);
  assert.ok(settled.length >= 20, `enough requests after the failover (${settled.length})`);
  assert.deepEqual(failures(settled), '', 'no request fails after the failover');
  assert.deepEqual(servers(settled), new Set(['rs1', 'rs2']), 'both real servers answer through lvs-b');

  // The long connection: opened before the crash, same TCP connection and same real server after it.
  const longBefore = r.longSamples.filter((s) => s.ok && s.done <= kill);
  assert.ok(longBefore.length >= 2, 'the long connection was answered before the crash');
  const { who, localPort } = longBefore[0]!;
  const longAfter = r.longSamples.filter((s) => s.done > kill && s.done <= (r.marks['bootA'] ?? Infinity));
  assert.ok(longAfter.length >= 3, `the long connection is answered after the crash (${longAfter.length} answers)`);
  for (const s of longAfter) {
    assert.equal(s.ok, true, `long connection request #${s.seq} after the crash: ${s.error}`);
    assert.equal(s.who, who, 'answered by the same real server');
    assert.equal(s.localPort, localPort, 'on the same client port');
  }
  const counts = [...longBefore, ...longAfter].map((s) => s.connectionRequests ?? 0);
  assert.deepEqual(
    counts,
    counts.map((_, i) => counts[0]! + i),
    'the server counts every request on one and the same connection (no reconnect)',
  );
  assert.equal(
    r.longNotices.filter((n) => n.kind === 'closed' && n.t <= (r.marks['bootA'] ?? Infinity)).length,
    0,
    'the long connection never broke',
  );
  return after.done - before.done;
}

test(
  'lab at advert 1s: spread, health check out and back, crash of the master with a surviving connection, preempt',
  { timeout: 240_000 },
  async () => {
    const { result: r } = await play('e', {});
    const { ready, rs1Killed, rs1Out, rs1Started, rs1In, kill, bootA } = r.marks;
    for (const [k, v] of Object.entries({ ready, rs1Killed, rs1Out, rs1Started, rs1In, kill, bootA }))
      assert.ok(v, `scenario step ${k} happened`);

    // spread: everything answered, by both real servers.
    const spread = sent(r.samples, ready!, rs1Killed! - REQUEST_TIMEOUT_MS);
    assert.ok(spread.length >= 20, `requests before the health part (${spread.length})`);
    assert.equal(failures(spread), '', 'no failure while both real servers are up');
    assert.deepEqual(servers(spread), new Set(['rs1', 'rs2']), 'round-robin reaches both real servers');

    // health: once rs1 is out of the table, only rs2 answers, and nothing fails.
    const out = sent(r.samples, rs1Out!, rs1Started);
    assert.ok(out.length >= 20, `requests while rs1 is out (${out.length})`);
    assert.equal(failures(out), '', 'no failure once rs1 left the table');
    assert.deepEqual(servers(out), new Set(['rs2']), 'only rs2 answers while rs1 is out');
    // ... and when it returns, rs1 answers again, with no failure.
    const back = sent(r.samples, rs1Started!, kill! - REQUEST_TIMEOUT_MS);
    assert.equal(failures(back), '', 'no failure while rs1 returns');
    assert.ok(
      back.some((s) => s.ok && s.who === 'rs1' && s.sent > rs1In!),
      'rs1 answers again',
    );

    const gap = assertFailover(r);

    // preempt: the client's ARP cache moves back to lvs-a, and once it has, nothing fails.
    const arpA = r.arpEvents.find((e) => e.mac === LVS_A_MAC && e.t > bootA!);
    assert.ok(arpA, "the client's ARP cache points at lvs-a again");
    const afterPreempt = sent(r.samples, arpA.t);
    assert.ok(afterPreempt.length >= 20, `requests after the preempt (${afterPreempt.length})`);
    assert.equal(failures(afterPreempt), '', 'no failure after lvs-a took over again');
    assert.deepEqual(servers(afterPreempt), new Set(['rs1', 'rs2']), 'both real servers answer through lvs-a');

    assert.equal(
      r.ok,
      true,
      `the scenario's own expectations: ${r.expectations
        .filter((e) => !e.ok)
        .map((e) => e.what)
        .join('; ')}`,
    );
    process.stdout.write(`measured: failover gap at advert 1s = ${Math.round(gap)} ms\n`);
  },
);

test('lab at advert 100ms: crash of the master with a surviving connection', { timeout: 180_000 }, async () => {
  const { result: r } = await play('f', { advertInterval: '100ms', parts: ['failover'] });
  assert.equal(r.advertIntervalMs, 100);
  const gap = assertFailover(r);
  assert.equal(
    r.ok,
    true,
    `the scenario's own expectations: ${r.expectations
      .filter((e) => !e.ok)
      .map((e) => e.what)
      .join('; ')}`,
  );
  process.stdout.write(`measured: failover gap at advert 100ms = ${Math.round(gap)} ms\n`);
});
