// Malformed HTTP through the real listeners of a running agent: its Unix socket and its
// metrics port each get 10,000+ malformed requests (request lines, URLs, methods, headers,
// chunked encodings, truncated and oversized bodies, bad JSON to /admin/*, non-UTF-8),
// then slow senders and 1,000 idle connections. The agent stays up, answers /status
// afterwards, its VRRP instance stays MASTER with no transition, its adverts keep their
// rhythm (observed on the wire) and the VIP never leaves it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, VipMonitor } from '../vrrp/lab.js';
import { AgentProcess } from './agent-process.js';
import { gapStats } from './gaps.js';

const REQUESTS_PER_TARGET = Number(process.env['FAILOVERD_HTTP_FUZZ_REQUESTS'] ?? 10_000);
const IDLE = 1000;
const SLOW = 25;
const INTERVAL_MS = 200;
const VIP = '10.6.2.195';
const METRICS_PORT = 9595;

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
  lab.setup([{ name: 'dir', ipv4: '192.0.2.10' }]);
  const dir = lab.node('dir');
  const observer = await lab.observe();
  vips.watch(dir);
  const socket = join(work, 'api.sock');
  const configPath = join(work, 'failoverd.yaml');
  writeFileSync(
    configPath,
    `node: { name: http-fuzz-target }
vrrp:
  - { name: web, interface: eth0, vrid: 51, priority: 150, version: 3, advert_interval: ${INTERVAL_MS}ms,
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
  await new Promise((r) => setTimeout(r, 1000));

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
    mine().every((e) => e.priority === 150),
    'the master never resigned (no priority 0 advert)',
  );
  assert.equal(observer.adverts(51).filter((e) => e.source !== dir.ipv4).length, 0, 'no other router advertised');
  // A backup's master-down timer is 3 intervals: no gap may reach it.
  assert.ok(all.count >= ((fuzzEnd - started) / INTERVAL_MS) * 0.8, `adverts kept flowing (${all.count})`);
  assert.ok(all.maxMs < 3 * INTERVAL_MS, `largest gap ${all.maxMs} ms stays under 3 × ${INTERVAL_MS} ms`);
});
