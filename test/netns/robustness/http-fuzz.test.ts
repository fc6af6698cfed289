// Malformed HTTP through the real listeners of a running agent: its Unix socket and its
// metrics port each get 10,000+ malformed requests (request lines, URLs, methods, headers,
// chunked encodings, truncated and oversized bodies, bad JSON to /admin/*, non-UTF-8),
// then slow senders and 1,000 idle connections. The agent stays up, answers /status
// afterwards, its VRRP instance stays MASTER with no transition and the VIP never leaves
// it. A real backup judges the adverts' rhythm: keepalived one priority below, whose
// master-down interval (3 intervals and a skew of 3/256 of one) is the gap that would
// cost the VIP; it stays BACKUP. The rhythm as a figure: bench/robustness/http-fuzz-adverts.ts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, VipMonitor } from '../vrrp/lab.js';
import { AgentProcess } from './agent-process.js';
import { gapStats, type GapStats } from './gaps.js';

const REQUESTS_PER_TARGET = Number(process.env['FAILOVERD_HTTP_FUZZ_REQUESTS'] ?? 10_000);
const IDLE = 1000;
const SLOW = 25;
const INTERVAL_MS = 200;
const VIP = '10.6.2.195';
const METRICS_PORT = 9595;
const PRIORITY = 254;
const BACKUP_PRIORITY = 253;

/** The advert rhythm during the fuzz, from tcpdump's timestamps: reported by the bench, not asserted here. */
export const advertFigures: { intervalMs?: number; expected?: number; requests?: GapStats; held?: GapStats; whole?: GapStats } = {};

const work = mkdtempSync(join(tmpdir(), 'failoverd-http-fuzz-'));
const lab = new Lab('hf');
const vips = new VipMonitor();
let agent: AgentProcess | undefined;
let fuzzer: ReturnType<typeof spawn> | undefined;
after(async () => {
  if (fuzzer?.pid && fuzzer.exitCode === null) fuzzer.kill('SIGKILL');
  await agent?.stop();
  vips.close();
  await lab.cleanup();
  rmSync(work, { recursive: true, force: true });
});

interface KindTally {
  sent: number;
  answers: Record<string, number>;
}
interface HeldTally {
  opened: number;
  connectErrors: number;
  refused: number;
  answered408: number;
  otherAnswer: number;
  stillOpen: number;
  closedAfterMs: { min: number; p50: number; max: number };
}
type HeldMode = 'slowloris' | 'slowBody' | 'idle';
interface FuzzReport {
  phases: { requests: [number, number]; slowAndIdle: [number, number] };
  targets: { name: string; requests: Record<string, KindTally>; held: Record<HeldMode, HeldTally> }[];
}

test('20,000 malformed requests, slow senders, 1,000 idle connections: the agent stays up and MASTER', async (t) => {
  lab.setup([
    { name: 'dir', ipv4: '192.0.2.10' },
    { name: 'backup', ipv4: '192.0.2.11' },
  ]);
  const dir = lab.node('dir');
  const observer = await lab.observe();
  vips.watch(dir);
  const socket = join(work, 'api.sock');
  const configPath = join(work, 'failoverd.yaml');
  writeFileSync(
    configPath,
    `node: { name: http-fuzz-target }
vrrp:
  - { name: web, interface: eth0, vrid: 51, priority: ${PRIORITY}, version: 3, advert_interval: ${INTERVAL_MS}ms,
      vips: [${VIP}/32], garp: { count: 1 } }
services: []
api: { listen: ${socket}, metrics: 127.0.0.1:${METRICS_PORT} }
logging: { format: json }
`,
  );
  agent = AgentProcess.start(dir.ns, configPath, socket, {}, 'info');
  const a = agent;
  await a.waitForState('web', 'MASTER', 15_000, 100);
  const since = (await a.status()).instances[0]!.since;
  const mine = () => observer.adverts(51).filter((e) => e.source === dir.ipv4);
  const backup = lab.keepalived(
    'backup',
    'web',
    [
      '  state BACKUP',
      '  virtual_router_id 51',
      `  priority ${BACKUP_PRIORITY}`,
      `  advert_int ${INTERVAL_MS / 1000}`,
      '  version 3',
      `  virtual_ipaddress {\n    ${VIP}/32\n  }`,
    ].join('\n'),
  );
  await backup.waitForState('backup', 10_000);
  // A baseline counted, not timed: the backup has heard the master for a while.
  const baseline = mine().length;
  await backup.waitFor(() => mine().length >= baseline + 5, 10_000, 'five more adverts from the master');

  const script = fileURLToPath(new URL('./http-fuzz-process.js', import.meta.url));
  const fuzzArgs = {
    targets: [
      { name: 'unix socket', socket },
      { name: 'metrics port', host: '127.0.0.1', port: METRICS_PORT },
    ],
    requestsPerTarget: REQUESTS_PER_TARGET,
    workers: 16,
    slow: SLOW,
    idle: IDLE,
    seed: 17,
  };
  const started = Date.now();
  fuzzer = spawn('ip', ['netns', 'exec', dir.ns, process.execPath, script, JSON.stringify(fuzzArgs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  fuzzer.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => fuzzer!.once('close', resolve));
  assert.equal(code, 0, 'the fuzzer ran to its end');
  const report = JSON.parse(out) as FuzzReport;
  const fuzzEnd = Date.now();

  // ---- the agent: alive, answering, still MASTER with no transition since before ----
  assert.ok(a.running, 'the agent process is alive');
  await a.waitForState('web', 'MASTER', 10_000, 100);
  const status = await a.status();
  assert.equal(status.instances[0]!.since, since, 'no transition during the fuzz');
  assert.ok(lab.addresses('dir').includes(VIP), 'the VIP is still on the master');
  const removed = vips.timeline.filter((e) => e.address === VIP && e.action === 'del');
  assert.deepEqual(removed, [], 'the VIP was never removed');

  // ---- the master's adverts through it all ----
  const within = (from: number, to: number): number[] =>
    mine()
      .map((e) => e.t)
      .filter((x) => x >= from && x <= to);
  const [aFrom, aTo] = report.phases.requests;
  const [bFrom, bTo] = report.phases.slowAndIdle;
  const requestsPhase = gapStats(within(aFrom, aTo));
  const heldPhase = gapStats(within(bFrom, bTo));
  const all = gapStats(within(started, fuzzEnd));
  const seconds = (ms: number): string => (ms / 1000).toFixed(1);
  t.diagnostic(
    `${REQUESTS_PER_TARGET} requests per target in ${seconds(aTo - aFrom)} s;` + ` slow and idle phase ${seconds(bTo - bFrom)} s`,
  );
  t.diagnostic(`adverts (${INTERVAL_MS} ms) during the requests: ${JSON.stringify(requestsPhase)}`);
  t.diagnostic(`adverts during slow/idle: ${JSON.stringify(heldPhase)}; whole run: ${JSON.stringify(all)}`);
  Object.assign(advertFigures, {
    intervalMs: INTERVAL_MS,
    expected: Math.floor((fuzzEnd - started) / INTERVAL_MS),
    requests: requestsPhase,
    held: heldPhase,
    whole: all,
  });
  // ---- what was sent and answered ----
  let total = 0;
  for (const target of report.targets) {
    const rows = Object.entries(target.requests);
    const sent = rows.reduce((sum, [, k]) => sum + k.sent, 0);
    total += sent;
    for (const [kind, k] of rows) {
      t.diagnostic(`${target.name} ${kind}: ${k.sent} sent; answers ${JSON.stringify(k.answers)}`);
      const fivexx = Object.entries(k.answers)
        .filter(([s]) => s.startsWith('5'))
        .reduce((sum, [, n]) => sum + n, 0);
      assert.equal(fivexx, 0, `${target.name} ${kind}: no 5xx`);
      assert.equal(k.answers['timeout'] ?? 0, 0, `${target.name} ${kind}: every request answered or closed`);
    }
    for (const [mode, h] of Object.entries(target.held)) {
      t.diagnostic(`${target.name} ${mode}: ${JSON.stringify(h)}`);
      assert.equal(h.stillOpen, 0, `${target.name} ${mode}: every connection was cut off by the server`);
      // (The metrics port answers a POST at once, 404: its slow body is never read.)
      if (mode !== 'slowBody') assert.equal(h.otherAnswer, 0, `${target.name} ${mode}: a 408 or refused, nothing else`);
    }
    assert.ok(target.held.idle.opened + target.held.idle.connectErrors === IDLE);
  }
  assert.ok(total >= 20_000, `${total} malformed requests sent`);
  const errors = a.logs.filter((l) => Number(l['level']) >= 50);
  assert.equal(errors.length, 0, `nothing was logged at error level: ${JSON.stringify(errors.slice(0, 2))}`);

  assert.ok(
    mine().every((e) => e.priority === PRIORITY),
    'the master never resigned (no priority 0 advert)',
  );
  // The rhythm, judged by the backup: no gap reached its master-down interval.
  assert.ok(all.count > 0, 'the master advertised during the fuzz');
  assert.deepEqual(
    backup.events.filter((e) => e.event === 'state').map((e) => e.to),
    ['backup'],
    `the backup never became master: ${backup.logLines().slice(-5).join(' | ')}`,
  );
  assert.equal(observer.adverts(51).filter((e) => e.source !== dir.ipv4).length, 0, 'no other router advertised');
});
