// The lab's pure parts: /proc/net readers (texts captured from the UML kernel),
// the client-side analysis, the narration digest, scenario part selection and
// the generated director configs (validated by the real config loader).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckPlugins } from '../../../checks/index.js';
import { loadConfigFile } from '../../../src/config/index.js';
import { firstAnswerAfter, longestSilence, sentBetween, tally } from '../../../src/lab/analysis.js';
import { ClientNarration } from '../../../src/lab/client-narration.js';
import { directorConfigs, projectRoot } from '../../../src/lab/configs.js';
import { parseProcArp, parseProcIpvs, parseProcIpvsConn } from '../../../src/lab/procnet.js';
import { summaryLines } from '../../../src/lab/report.js';
import { parseClientLine, whoFromBody, type RequestSample } from '../../../src/lab/samples.js';
import { failoverGoalMs, partsToRun } from '../../../src/lab/scenario.js';
import { macFor } from '../../../src/lab/topology.js';

// cat /proc/net/ip_vs in a UML namespace after ipvsadm -A -t 10.6.2.195:80 -s rr, -a .191 -g -w 1, -a .192 -g -w 0.
const PROC_IP_VS = `IP Virtual Server version 1.2.1 (size=256)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  0A0602C3:0050 rr  
  -> 0A0602C0:0050      Route   0      0          0         
  -> 0A0602BF:0050      Route   1      0          0         
`;
// The kernel's ip_vs_conn format ("%-3s %08X %04X %08X %04X %08X %04X %-11s %7u").
const PROC_IP_VS_CONN = `Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData
TCP 0A06020A B65E 0A0602C3 0050 0A0602C0 0050 ESTABLISHED     899
`;
// cat /proc/net/arp in a UML namespace: one complete entry, one incomplete.
const PROC_ARP = `IP address       HW type     Flags       HW address            Mask     Device
10.6.2.77        0x1         0x0         42:37:59:b1:7f:35     *        dummy0
10.6.2.195       0x1         0x2         02:00:0a:06:02:c2     *        dummy0
`;

test('procnet: IPVS table with weights, connections, ARP completeness', () => {
  assert.deepEqual(parseProcIpvs(PROC_IP_VS), [
    {
      protocol: 'TCP',
      address: '10.6.2.195',
      port: 80,
      scheduler: 'rr',
      destinations: [
        { address: '10.6.2.192', port: 80, forward: 'Route', weight: 0, active: 0, inactive: 0 },
        { address: '10.6.2.191', port: 80, forward: 'Route', weight: 1, active: 0, inactive: 0 },
      ],
    },
  ]);
  assert.deepEqual(parseProcIpvsConn(PROC_IP_VS_CONN), [
    {
      protocol: 'TCP',
      client: '10.6.2.10',
      clientPort: 0xb65e,
      vip: '10.6.2.195',
      vipPort: 80,
      destination: '10.6.2.192',
      destinationPort: 80,
      state: 'ESTABLISHED',
      expiresS: 899,
    },
  ]);
  assert.deepEqual(parseProcArp(PROC_ARP), [
    { address: '10.6.2.77', mac: '42:37:59:b1:7f:35', complete: false, device: 'dummy0' },
    { address: '10.6.2.195', mac: '02:00:0a:06:02:c2', complete: true, device: 'dummy0' },
  ]);
  assert.deepEqual(parseProcIpvs('garbage\n  -> nothing\n'), []);
  assert.deepEqual(parseProcIpvsConn(''), []);
  assert.equal(macFor('10.6.2.194'), '02:00:0a:06:02:c2');
});

const ok = (seq: number, sent: number, done: number, who: string): RequestSample => ({ kind: 'request', seq, sent, done, ok: true, who });
const fail = (seq: number, sent: number, done: number, error: string): RequestSample => ({
  kind: 'request',
  seq,
  sent,
  done,
  ok: false,
  error,
});

test('analysis: tally, the longest silence after a moment, first answer after', () => {
  const samples = [
    ok(0, 0, 5, 'rs1'),
    ok(1, 50, 55, 'rs2'),
    ok(2, 100, 104, 'rs1'),
    // crash at 120: in flight requests time out, the next answer arrives at 900
    fail(3, 150, 450, 'timeout'),
    fail(4, 200, 500, 'timeout'),
    ok(5, 850, 900, 'rs2'),
    fail(6, 700, 1000, 'timeout'),
    ok(7, 950, 955, 'rs1'),
  ];
  assert.deepEqual(tally(samples), { requests: 8, answers: 5, errors: 3, byServer: { rs1: 3, rs2: 2 }, errorKinds: { timeout: 3 } });
  assert.deepEqual(longestSilence(samples, 120), { lastAnswer: 104, nextAnswer: 900, ms: 796 });
  // A window that ends before the outage's end sees no silence ending in it.
  assert.equal(longestSilence(samples, 120, 800), undefined);
  assert.equal(firstAnswerAfter(samples, 120)?.seq, 5);
  assert.equal(firstAnswerAfter(samples, 120, 'rs1')?.seq, 7);
  assert.deepEqual(
    sentBetween(samples, 100, 200).map((s) => s.seq),
    [2, 3],
  );
});

test('samples: client lines and response bodies', () => {
  assert.deepEqual(parseClientLine('{"kind":"ready","t":5}'), { kind: 'ready', t: 5 });
  assert.equal(parseClientLine('{"kind":'), undefined);
  assert.equal(parseClientLine('hello'), undefined);
  assert.equal(parseClientLine('{"t":1}'), undefined);
  assert.equal(whoFromBody('hello from rs2 (10.6.2.192)\n'), 'rs2');
  assert.equal(whoFromBody('nope'), undefined);
});

test('narration: first failure at once, then one digest per second, then "answered again" after a silence', () => {
  const lines: string[] = [];
  const n = new ClientNarration((text, at) => lines.push(`${at} ${text}`), 200);
  n.add(ok(0, 0, 10, 'rs1'));
  n.add(fail(1, 50, 350, 'timeout'));
  n.add(fail(2, 100, 400, 'timeout'));
  n.tick(900);
  n.add(fail(3, 150, 450, 'timeout'));
  n.tick(1350);
  n.add(ok(4, 1400, 1410, 'rs2'));
  n.add(ok(5, 1450, 1460, 'rs1'));
  n.tick(2400);
  n.tick(3400);
  assert.deepEqual(lines, [
    '350 request failed: timeout',
    '1350 next 1.0 s: 2 more failed (timeout 2), 0 answered',
    '1410 answered again (by rs2) after 1.400 s without an answer; 3 requests failed meanwhile',
  ]);
});

test('scenario: parts run in order with what they need; failover goals', () => {
  assert.deepEqual(partsToRun(undefined), ['spread', 'health', 'failover', 'preempt']);
  assert.deepEqual(partsToRun(['preempt']), ['failover', 'preempt']);
  assert.deepEqual(partsToRun(['health', 'spread']), ['spread', 'health']);
  assert.equal(failoverGoalMs(1000), 4000);
  assert.equal(failoverGoalMs(100), 500);
});

test('configs: the shipped lab configs as they are, or copies with only advert_interval and the API socket changed, still valid', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lab-configs-'));
  try {
    const shipped = directorConfigs({}, dir);
    assert.deepEqual(
      shipped.map((c) => [c.name, c.path, c.priority, c.advertIntervalMs]),
      [
        ['lvs-a', join(projectRoot(), 'config/lab-a.yaml'), 150, 1000],
        ['lvs-b', join(projectRoot(), 'config/lab-b.yaml'), 100, 1000],
      ],
    );
    const fast = directorConfigs({ advertInterval: '100ms', socketDir: dir }, join(dir, 'config'));
    const plugins = await loadCheckPlugins();
    for (const c of fast) {
      assert.equal(c.advertIntervalMs, 100);
      assert.equal(c.apiSocket, join(dir, `${c.name}.sock`));
      const text = readFileSync(c.path, 'utf8');
      assert.match(text, /# Both directors carry the same services/, 'comments survive');
      const loaded = await loadConfigFile(c.path, { checkPlugins: plugins, env: {} });
      assert.equal(loaded.ok, true, JSON.stringify(loaded.ok ? '' : loaded.errors));
      const original = readFileSync(join(projectRoot(), `config/lab-${c.name.slice(-1)}.yaml`), 'utf8');
      const changed = text.split('\n').filter((l) => !original.split('\n').includes(l));
      assert.equal(changed.length, 3, changed.join('\n'));
      assert.match(changed[0]!, /^# Generated by failoverd lab from .*; advert_interval 100ms$/);
      assert.match(changed[1]!, /^\s+advert_interval: 100ms$/);
      assert.match(changed[2]!, /^api: /);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('summary: a measures table, an expectations table and the verdict', () => {
  const lines = summaryLines(
    'summary',
    [{ part: 'failover', name: 'gap', ms: 3520, goal: '< 4.00 s', goalMet: true }],
    [
      { part: 'failover', what: 'answered again', ok: true, observed: 'yes' },
      { part: 'preempt', what: 'back on lvs-a', ok: false, observed: 'no' },
    ],
  );
  assert.ok(
    lines.some((l) => /^failover\s+gap\s+3\.52 s\s+< 4\.00 s met$/.test(l)),
    lines.join('\n'),
  );
  assert.ok(
    lines.some((l) => /^FAIL\s+preempt\s+back on lvs-a\s+no$/.test(l)),
    lines.join('\n'),
  );
  assert.equal(lines.at(-1), '1 of 2 expectations FAILED');
});
