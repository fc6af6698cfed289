// Health checks at scale: N real servers (HTTP listeners on N loopback addresses,
// in a separate "fleet" process) checked every interval by failoverd's real
// HealthMonitor, scheduler and plugins — one run with TCP checks, one with HTTP.
// Midway some servers are stopped (connection refused) and, for HTTP, some are
// frozen (accept, never answer: timeouts); detection latency is the time from the
// change to the realserver.down event, compared with the bound interval × fall + timeout.
//
//   node dist/bench/checks/check-load.js [--servers 10000] [--seconds 30] [--types tcp,http]
//   --types noop: a check that succeeds on the next tick without touching the
//   network, so its row is the cost of the scheduler, monitor and this bench alone.
//   --types http-keepalive: the http check with its opt-in `keepalive: true` (one
//   connection reused between checks), never the default.
//   --types https: the https check (tls_verify off) against the same fleet serving TLS.
//   --before DIR: also offers http-before and https-before, the same checks as built
//   in DIR (another commit's build, e.g. `git worktree add` + `npx tsc` there), so a
//   before and an after row come from the same run and the same machine load.
//   --thread worker: the checks run as the agent runs them at this load, in the
//   health-check worker (WorkerHealthMonitor, with its heap limits and its per-result
//   bookkeeping), and CPU is the whole process (worker and main thread). Results are
//   counted from the worker's tallies, so there are no latency or start-lag columns,
//   and only the plugins of checks/ exist there (no noop, no -before types: for a
//   before row, run this same bench file from the other build's dist).
//        [--interval 1000] [--timeout 500] [--fall 3] [--rise 1] [--kill 200]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadCheckPlugins } from '../../checks/index.js';
import { closeHttpAgents } from '../../checks/lib/http-probe.js';
import type * as HttpProbe from '../../checks/lib/http-probe.js';
import type { CheckPlugin } from '../../src/health/check.js';
import { EventBus } from '../../src/events.js';
import { HealthMonitor } from '../../src/health/monitor.js';
import { WorkerHealthMonitor } from '../../src/health/worker-monitor.js';
import { CHECK_DEFAULTS, type HealthServiceConfig } from '../../src/health/types.js';
import { silentLogger } from '../../src/log.js';
import { z } from 'zod';
import { sh } from '../../test/helpers/shell.js';
import { fleetAddress } from './addresses.js';
import { Fleet } from './fleet-client.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const SERVERS = Number(arg('servers', '10000'));
const SECONDS = Number(arg('seconds', '30'));
const TYPES = arg('types', 'tcp,http').split(',');
const INTERVAL = Number(arg('interval', '1000'));
const TIMEOUT = Number(arg('timeout', '500'));
const FALL = Number(arg('fall', '3'));
const RISE = Number(arg('rise', '1'));
const KILL = Number(arg('kill', '200'));
const BEFORE = arg('before', '');
const THREAD = arg('thread', 'main');
if (THREAD !== 'main' && THREAD !== 'worker') throw new Error('--thread is main or worker');
const UNCOUNTED_REASONS = '(the worker counts failures, not their reasons)';
const PER_SERVICE = 100;
const BOUND = INTERVAL * FALL + TIMEOUT;
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);
const epochNow = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** CPU seconds (user + system) of another process, from /proc. */
function procCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

interface Row {
  type: string;
  servers: number;
  checksPerSec: number;
  cpuPct: number;
  fleetCpuPct: number;
  rssMiB: number;
  p50: number;
  p99: number;
  lagP99: number;
  refusedP99: number;
  hungP99: number;
  detected: string;
}

/** The http/https plugins as built in `--before DIR`, named http-before and https-before. */
async function beforePlugins(): Promise<Array<[string, CheckPlugin]>> {
  if (!BEFORE) return [];
  const before = (await import(pathToFileURL(join(BEFORE, 'checks/lib/http-probe.js')).href)) as typeof HttpProbe;
  beforeClose = before.closeHttpAgents;
  return [
    [
      'http-before',
      { type: 'http-before', description: 'before', options: before.httpOptions, run: (t, o, s) => before.probeHttp(t, o, s, false) },
    ],
    [
      'https-before',
      { type: 'https-before', description: 'before', options: before.httpsOptions, run: (t, o, s) => before.probeHttp(t, o, s, true) },
    ],
  ];
}
let beforeClose: () => Promise<void> = () => Promise.resolve();
let certDir = '';

async function runOne(type: string): Promise<Row> {
  const secure = type.startsWith('https');
  if (secure && !certDir) {
    certDir = mkdtempSync(join(tmpdir(), 'failoverd-check-load-'));
    // ECDSA P-256: the fleet signs one handshake per check, which RSA would make the fleet's bottleneck.
    const files = ['-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem')];
    sh([
      'openssl',
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=fleet',
      ...files,
    ]);
  }
  const fleet = Fleet.start(SERVERS, secure ? [join(certDir, 'cert.pem'), join(certDir, 'key.pem')] : []);
  if ((await fleet.line()) !== 'ready') throw new Error('fleet failed to start');
  const plugins = new Map<string, CheckPlugin>([...(await loadCheckPlugins()), ...(await beforePlugins())]);
  plugins.set('noop', {
    type: 'noop',
    description: 'bench only: succeeds at once',
    options: z.object({}),
    run: () => Promise.resolve({ ok: true, reason: 'noop', latencyMs: 0 }),
  });
  const bus = new EventBus('bench');
  const pluginType = type === 'http-keepalive' ? 'http' : type;
  const httpLike = pluginType.startsWith('http');
  const options = !httpLike
    ? {}
    : { path: '/healthz', ...(type === 'http-keepalive' ? { keepalive: true } : {}), ...(secure ? { tls_verify: false } : {}) };
  const services: HealthServiceConfig[] = [];
  for (let s = 0; s * PER_SERVICE < SERVERS; s++) {
    services.push({
      name: `svc-${s}`,
      spec: {
        key: { kind: 'address', family: 'inet', protocol: 'tcp', address: `10.99.${s >> 8}.${s & 255}`, port: 80 },
        scheduler: 'wlc',
        flags: {},
        persistenceTimeoutSec: 0,
        netmask: '255.255.255.255',
      },
      forwarding: 'dr',
      quorum: 1,
      hysteresis: 0,
      onFailure: 'remove',
      realServers: Array.from({ length: Math.min(PER_SERVICE, SERVERS - s * PER_SERVICE) }, (_, k) => ({
        address: fleetAddress(s * PER_SERVICE + k),
        port: 8080,
        weight: 1,
        checks: [{ ...CHECK_DEFAULTS, type: pluginType, options, intervalMs: INTERVAL, timeoutMs: TIMEOUT, rise: RISE, fall: FALL }],
      })),
    });
  }
  const latencies: number[] = [];
  const lags: number[] = [];
  let measuring = false;
  let results = 0;
  const failures = new Map<string, number>();
  const downAt = new Map<string, number>();
  bus.subscribe('realserver.down', (e) => {
    if (!downAt.has(e.object)) downAt.set(e.object, epochNow());
  });
  let poolUpdates = 0;
  const onPoolChange = (): void => {
    poolUpdates++;
  };
  const monitor =
    THREAD === 'worker'
      ? new WorkerHealthMonitor({
          bus,
          logger: silentLogger(),
          maxConcurrentChecks: 1024,
          onPoolChange,
          onCheckResults: ({ tallies }) => {
            if (!measuring) return;
            for (const t of tallies) {
              results += t.ok + t.fail;
              if (t.fail) failures.set(UNCOUNTED_REASONS, (failures.get(UNCOUNTED_REASONS) ?? 0) + t.fail);
            }
          },
        })
      : new HealthMonitor({
          bus,
          logger: silentLogger(),
          plugins,
          maxConcurrentChecks: 1024,
          onPoolChange,
          onCheckResult: ({ result, run }) => {
            if (!measuring) return;
            results++;
            if (result.ok) latencies.push(result.latencyMs);
            else failures.set(result.reason, (failures.get(result.reason) ?? 0) + 1);
            lags.push(run.startedAt - run.dueAt);
          },
        });
  await monitor.update(services);
  // Everyone up (rise successes) plus a second of steady state before measuring.
  await sleep(INTERVAL * (RISE + 1) + 1000);
  const up = monitor.status().reduce((n, s) => n + s.realServers.filter((r) => r.up).length, 0);
  if (up !== SERVERS) console.error(`warning: only ${up}/${SERVERS} servers up before measuring`);

  measuring = true;
  const cpu0 = process.cpuUsage();
  const fleetCpu0 = procCpuSeconds(fleet.child.pid!);
  const t0 = performance.now();
  let rssPeak = 0;
  const rssTimer = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  }, 500);

  // A third of the way in: stop KILL servers (refused), and for HTTP freeze KILL more (timeouts).
  await sleep((SECONDS * 1000) / 3);
  const stride = Math.floor(SERVERS / (2 * KILL)) || 1;
  const stopIds = Array.from({ length: KILL }, (_, k) => (2 * k * stride) % SERVERS);
  const freezeIds = httpLike ? Array.from({ length: KILL }, (_, k) => ((2 * k + 1) * stride) % SERVERS) : [];
  const stoppedAt = await fleet.command('stop', stopIds);
  const frozenAt = freezeIds.length ? await fleet.command('freeze', freezeIds) : 0;
  await sleep(SECONDS * 1000 - (performance.now() - t0));

  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const fleetCpu = procCpuSeconds(fleet.child.pid!) - fleetCpu0;
  clearInterval(rssTimer);
  measuring = false;
  const objectOf = (i: number): string => `service/svc-${Math.floor(i / PER_SERVICE)}/${fleetAddress(i)}:8080`;
  const detect = (ids: number[], at: number): number[] =>
    ids
      .map((i) => downAt.get(objectOf(i)))
      .filter((t): t is number => t !== undefined)
      .map((t) => t - at);
  const refused = detect(stopIds, stoppedAt);
  const hung = detect(freezeIds, frozenAt);
  const falseDowns = [...downAt.keys()].length - refused.length - hung.length;
  const top = [...failures].sort((a, b) => b[1] - a[1]).slice(0, 4);
  console.error(`${type}: failed checks by reason: ${top.map(([r, n]) => `${n} × ${r}`).join('; ') || 'none'}`);
  await monitor.stop();
  fleet.stop();
  await closeHttpAgents();
  await beforeClose();
  void poolUpdates;
  return {
    type,
    servers: SERVERS,
    checksPerSec: results / elapsed,
    cpuPct: ((cpu.user + cpu.system) / 1e6 / elapsed) * 100,
    fleetCpuPct: (fleetCpu / elapsed) * 100,
    rssMiB: rssPeak / 1048576,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    lagP99: percentile(lags, 99),
    refusedP99: percentile(refused, 99),
    hungP99: percentile(hung, 99),
    detected: `${refused.length + hung.length}/${stopIds.length + freezeIds.length}${falseDowns ? `, ${falseDowns} false` : ''}`,
  };
}

const rows: Row[] = [];
for (const type of TYPES) {
  console.error(`running ${type}: ${SERVERS} servers, every ${INTERVAL} ms, ${SECONDS} s ...`);
  rows.push(await runOne(type));
}
const f = (n: number, d = 1): string => (Number.isFinite(n) ? n.toFixed(d) : '-');
console.log(
  `\nfailoverd health checks (${THREAD === 'worker' ? 'in the health-check worker, as the agent runs them' : "on the bench's main thread"}): ${SERVERS} real servers on loopback, interval ${INTERVAL} ms, timeout ${TIMEOUT} ms, fall ${FALL}; bound = interval × fall + timeout = ${BOUND} ms; ${SECONDS} s measured; node ${process.version}, ${spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()} cores`,
);
console.log(
  '| check | checks/s | checker CPU % | fleet CPU % | checker RSS MiB | latency p50 ms | latency p99 ms | start lag p99 ms | detect refused p99 ms | detect hung p99 ms | bound ms | detected |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.type} | ${f(r.checksPerSec, 0)} | ${f(r.cpuPct)} | ${f(r.fleetCpuPct)} | ${f(r.rssMiB, 0)} | ${f(r.p50, 2)} | ${f(r.p99, 2)} | ${f(r.lagP99, 1)} | ${f(r.refusedP99, 0)} | ${f(r.hungP99, 0)} | ${BOUND} | ${r.detected} |`,
  );
}
if (certDir) rmSync(certDir, { recursive: true, force: true });
process.exit(0);
