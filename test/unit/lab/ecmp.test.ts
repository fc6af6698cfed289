// The ECMP lab's pure parts: what the client's counts say about a scenario step, and
// the directors' generated configs (validated by the real config loader: mh + sloppy
// loads, the baseline loads only because it says allow_flow_resets).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckPlugins } from '../../../checks/index.js';
import { loadConfigFile } from '../../../src/config/index.js';
import {
  allAnsweredSince,
  describeOutcome,
  failureWindow,
  flowOutcome,
  parseIpvsConnections,
  settledBefore,
} from '../../../src/lab/ecmp-outcome.js';
import { BASELINE, BASELINE_ROUTING, MH } from '../../../src/lab/ecmp-scenario.js';
import { directorConfig } from '../../../src/lab/ecmp-topology.js';
import type { LongConnectionState, TrafficStats } from '../../../src/lab/ecmp-traffic.js';

const conn = (a: number, rs: string, end: Partial<LongConnectionState> = {}): LongConnectionState => ({
  a,
  rs,
  reset: false,
  ended: false,
  error: '',
  gap: 200,
  ...end,
});
const stats = (now: number, long: LongConnectionState[], n: Partial<TrafficStats> = {}): TrafficStats => ({
  now,
  longWanted: long.length,
  long,
  newOk: 0,
  newFail: 0,
  newRefused: 0,
  newSlow: 0,
  failures: [],
  oldestPending: 0,
  ...n,
});

test('flowOutcome: survived, reset, ended otherwise, stalled, moved server; the new connections between the snapshots', () => {
  const before = stats(
    1000,
    [conn(10, 'rs1'), conn(10, 'rs2'), conn(10, 'rs3'), conn(10, 'rs1'), conn(10, 'rs2'), conn(3, 'rs1', { ended: true })],
    { newOk: 50, newFail: 1, newRefused: 1, failures: [{ t: 500, code: 'ECONNREFUSED', port: 40000 }] },
  );
  const after = stats(
    9000,
    [
      conn(20, 'rs1', { gap: 1200 }),
      conn(20, 'rs3', { gap: 900 }),
      conn(11, 'rs3', { ended: true, reset: true, error: 'ECONNRESET' }),
      conn(12, 'rs1', { ended: true, error: 'EPIPE' }),
      conn(12, 'rs2'),
      conn(3, 'rs1', { ended: true }),
    ],
    {
      newOk: 90,
      newFail: 3,
      newRefused: 1,
      newSlow: 4,
      failures: [
        { t: 500, code: 'ECONNREFUSED', port: 40000 },
        { t: 2000, code: 'timeout', port: 40002 },
        { t: 2500, code: 'timeout', port: 40004 },
      ],
    },
  );
  const o = flowOutcome(before, after);
  assert.deepEqual(
    { ...o, failures: o.failures.map((f) => f.t) },
    {
      of: 5,
      survived: 2,
      reset: 1,
      endedOtherwise: 1,
      stalled: 1,
      movedServer: 1,
      longestGap: 1200,
      newOk: 40,
      newFail: 2,
      newRefused: 0,
      newSlow: 4,
      failures: [2000, 2500],
    },
  );
  assert.equal(
    describeOutcome(o),
    'long: 2/5 survived (1 reset, 1 ended otherwise, 1 stalled); new: 40 ok, 2 failed (2 timeout), 4 slow (SYN retransmitted)',
  );
  assert.deepEqual(failureWindow(o.failures, 1800), { first: 200, last: 700 });
  assert.equal(failureWindow([], 0), undefined);
});

test('settledBefore: every new connection started before t has its verdict', () => {
  assert.equal(settledBefore(stats(5000, [], { oldestPending: 0 }), 4000), true, 'none pending');
  assert.equal(settledBefore(stats(5000, [], { oldestPending: 4200 }), 4000), true, 'only later ones pending');
  assert.equal(settledBefore(stats(5000, [], { oldestPending: 3900 }), 4000), false, 'one started before t still waits');
});

test('parseIpvsConnections: the entries of ipvsadm -Lnc, headers skipped', () => {
  const text = [
    'IPVS connection entries',
    'pro expire state       source             virtual            destination',
    'TCP 00:59  SYN_RECV    10.9.2.2:40002     10.9.9.9:7000      10.9.1.21:7000',
    'TCP 14:58  ESTABLISHED 10.9.2.2:38112     10.9.9.9:7000      10.9.1.22:7000',
    '',
  ].join('\n');
  assert.deepEqual(parseIpvsConnections(text), [
    { state: 'SYN_RECV', client: '10.9.2.2', clientPort: 40002, virtual: '10.9.9.9:7000', destination: '10.9.1.21:7000' },
    { state: 'ESTABLISHED', client: '10.9.2.2', clientPort: 38112, virtual: '10.9.9.9:7000', destination: '10.9.1.22:7000' },
  ]);
});

test('allAnsweredSince: every open connection answered more than twice since, ended ones excepted', () => {
  const since = stats(0, [conn(5, 'rs1'), conn(5, 'rs2')]);
  assert.equal(allAnsweredSince(since, stats(1, [conn(8, 'rs1'), conn(7, 'rs2')])), false);
  assert.equal(allAnsweredSince(since, stats(1, [conn(8, 'rs1'), conn(7, 'rs2', { ended: true })])), true);
});

test('allAnsweredSince: not while the client has yet to open some of its long connections', () => {
  // Stats taken right after the client started: it opens its long connections in batches.
  const first = stats(0, [], { longWanted: 40 });
  assert.equal(allAnsweredSince(first, stats(1, [], { longWanted: 40 })), false, 'none open yet');
  const opening = Array.from({ length: 25 }, () => conn(8, 'rs1'));
  assert.equal(allAnsweredSince(first, stats(2, opening, { longWanted: 40 })), false, '25 of 40 open');
  const all = Array.from({ length: 40 }, () => conn(8, 'rs1'));
  assert.equal(allAnsweredSince(first, stats(3, all, { longWanted: 40 })), true);
});

test('director configs: mh + sloppy loads; the baseline (wlc, no sloppy) loads only with allow_flow_resets', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'failoverd-ecmp-config-'));
  try {
    const plugins = await loadCheckPlugins();
    const d = { name: 'd1', maintenanceFile: join(dir, 'm'), apiSocket: join(dir, 'api.sock') };
    const load = async (text: string) => {
      const path = join(dir, 'c.yaml');
      writeFileSync(path, text, { mode: 0o600 });
      return loadConfigFile(path, { checkPlugins: plugins, env: {} });
    };
    const mh = await load(directorConfig(d, 3, MH));
    assert.equal(mh.ok, true, JSON.stringify(mh.ok ? '' : mh.errors));
    const baseline = await load(directorConfig(d, 3, BASELINE, BASELINE_ROUTING));
    assert.equal(baseline.ok, true, JSON.stringify(baseline.ok ? '' : baseline.errors));
    const refused = await load(directorConfig(d, 3, BASELINE));
    assert.equal(refused.ok, false, 'wlc in routing mode is refused without allow_flow_resets');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
