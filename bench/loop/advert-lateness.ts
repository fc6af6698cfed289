// Does check load delay the master's adverts? The agent's VRRP instance and its
// health monitor share one event loop: here they run in this process exactly as
// the agent composes them (config text → planOf → VrrpInstance + HealthMonitor
// with the real plugins), the instance MASTER on a namespace's eth0, the checks
// hitting a loopback fleet in a child process — 10,000 TCP checks a second, some
// sending a probe to frozen servers (timeouts), some servers flapping. tcpdump in
// an observer namespace timestamps the adverts; lateness = gap − interval.
//
// A third row per interval runs the same checks in a worker thread, as the agent
// does at this load (src/health/worker-monitor.ts, health.checks_thread: worker, or
// auto over 50 checks/s): the
// main loop keeps VRRP and what the agent does with the worker's messages (events
// republished, pools merged, check tallies into the metrics). The inline row does
// what the agent does with checks on its own loop (health.checks_thread: main).
//
//   node dist-robust/bench/loop/advert-lateness.js [--servers 10000] [--seconds 30] [--seconds-1s 60]
//        [--frozen 300] [--flap 200] [--intervals 100,1000] [--modes idle,inline,worker]
import { spawn, type ChildProcess } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { loadCheckPlugins } from '../../checks/index.js';
import { closeHttpAgents } from '../../checks/lib/http-probe.js';
import { planOf } from '../../src/agent/map-config.js';
import { loadConfigText } from '../../src/config/index.js';
import { EventBus } from '../../src/events.js';
import { HealthMonitor } from '../../src/health/monitor.js';
import { foldLastResults, type LastResult } from '../../src/health/worker-messages.js';
import { WorkerHealthMonitor } from '../../src/health/worker-monitor.js';
import { destinationId } from '../../src/ipvs/types.js';
import { silentLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { VrrpInstance } from '../../src/vrrp/instance.js';
import { systemVrrpIo } from '../../src/vrrp/io.js';
import { captureTimes, Lab } from '../../test/netns/vrrp/lab.js';
import { latenessStats, type GapStats } from '../../test/netns/robustness/gaps.js';
import { FLEET_PORT, fleetAddress } from './addresses.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const SERVERS = Number(arg('servers', '10000'));
const SECONDS_SHORT = Number(arg('seconds', '30'));
const SECONDS_LONG = Number(arg('seconds-1s', '60'));
const FROZEN = Number(arg('frozen', '300'));
const FLAP = Number(arg('flap', '200'));
const INTERVALS = arg('intervals', '100,1000').split(',').map(Number);
type Mode = 'idle' | 'inline' | 'worker';
const MODES = arg('modes', 'idle,inline,worker').split(',') as Mode[];
const PER_SERVICE = 100;
/** Every tenth real server's check sends a probe and expects "OK": against a frozen server it times out. */
const PROBED = (i: number): boolean => i % 10 === 0;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const here = fileURLToPath(new URL('.', import.meta.url));

class Fleet {
  private readonly lines: string[] = [];
  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (l) => this.lines.push(l));
  }
  static start(n: number): Fleet {
    return new Fleet(
      spawn('/bin/sh', ['-c', 'ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"', process.execPath, `${here}fleet.js`, String(n)], {
        stdio: ['pipe', 'pipe', 'inherit'],
      }),
    );
  }
  async next(): Promise<string> {
    for (let i = 0; i < 1200; i++) {
      const l = this.lines.shift();
      if (l !== undefined) return l;
      await sleep(100);
    }
    throw new Error('fleet did not answer');
  }
  async command(cmd: 'stop' | 'start' | 'freeze' | 'thaw', ids: number[]): Promise<void> {
    this.child.stdin!.write(`${JSON.stringify({ cmd, ids })}\n`);
    await this.next();
  }
}

function configText(intervalMs: number, withServices: boolean): string {
  const services: string[] = [];
  for (let s = 0; withServices && s * PER_SERVICE < SERVERS; s++) {
    const rs: string[] = [];
    for (let k = 0; k < PER_SERVICE && s * PER_SERVICE + k < SERVERS; k++) {
      const i = s * PER_SERVICE + k;
      rs.push(
        `      - { address: ${fleetAddress(i)}, port: ${FLEET_PORT}, weight: 1${PROBED(i) ? ', check: { type: tcp, send: "ping\\n", expect: "OK" }' : ''} }`,
      );
    }
    services.push(
      `  - name: svc-${s}\n    vip: 10.99.${s >> 8}.${s & 255}\n    port: 80\n    scheduler: wlc\n    forwarding: dr\n    vip_standalone: true\n    check: { type: tcp, interval: 1s, timeout: 500ms, rise: 1, fall: 2 }\n    real_servers:\n${rs.join('\n')}`,
    );
  }
  return `node: { name: bench }
vrrp:
  - { name: web, interface: eth0, vrid: 71, priority: 150, advert_interval: ${intervalMs}ms, vips: [10.6.2.195/32], garp: { count: 1 } }
services:${services.length ? `\n${services.join('\n')}` : ' []'}
api: { metrics: false }
`;
}

interface Row {
  intervalMs: number;
  load: string;
  checksPerSec: number;
  timeouts: number;
  lateness: GapStats;
  loopP99: number;
  loopMax: number;
  cpuPct: number;
}

async function measure(lab: Lab, fleet: Fleet | undefined, intervalMs: number, seconds: number, inWorker = false): Promise<Row> {
  const plugins = await loadCheckPlugins();
  const loaded = loadConfigText(configText(intervalMs, fleet !== undefined), 'bench.yaml', { checkPlugins: plugins, env: {} });
  if (!loaded.ok) throw new Error(loaded.errors.map((e) => `${e.line}: ${e.path} ${e.message}`).join('\n'));
  const plan = planOf(loaded.config, 'bench');
  const node = lab.node('dir');
  const netns = `/run/netns/${node.ns}`;
  const bus = new EventBus('bench');
  const io = systemVrrpIo({ netns });
  const instance = new VrrpInstance(plan.instances[0]!, { io, events: bus, log: silentLogger(), netns });
  let results = 0;
  let timeouts = 0;
  let counting = false;
  // What the agent does with every result (metrics, the status API's last check).
  const metrics = new Metrics(bus, {}, { defaultMetrics: false });
  const lastCheck = new Map<string, LastResult>();
  const monitor =
    fleet && !inWorker
      ? new HealthMonitor({
          bus,
          logger: silentLogger(),
          plugins,
          onPoolChange: () => {},
          onCheckResult: (info) => {
            metrics.recordCheck(info.type, info.result.ok, info.result.latencyMs);
            lastCheck.set(`${info.service}|${destinationId(info)}`, {
              ok: info.result.ok,
              reason: info.result.reason,
              latencyMs: info.result.latencyMs,
              atMs: Date.now(),
              type: info.type,
            });
            if (!counting) return;
            results++;
            if (/timeout/.test(info.result.reason)) timeouts++;
          },
        })
      : undefined;
  monitor?.update(plan.services);
  const worker =
    fleet && inWorker
      ? new WorkerHealthMonitor({
          bus,
          logger: silentLogger(),
          onPoolChange: () => {},
          onCheckResults: ({ tallies, last }) => {
            metrics.recordChecks(tallies);
            foldLastResults(lastCheck, last);
            if (!counting) return;
            for (const x of tallies) results += x.ok + x.fail;
            // Timeouts counted from the last result per server: each is checked once a
            // second, and batches are 250 ms apart, so none is hidden behind another.
            for (let i = 0; i < last.keys.length; i++) if (/timeout/.test(last.reasons[last.reason[i]!]!)) timeouts++;
          },
        })
      : undefined;
  await worker?.update(plan.services);
  await instance.start();
  for (let i = 0; i < 200 && instance.status().state !== 'master'; i++) await sleep(50);
  if (instance.status().state !== 'master') throw new Error('the instance did not become MASTER');
  await sleep(3000); // every check has run once, the flaps below start from steady state

  // Flapping: every 2 s, FLAP servers stop and the previous FLAP start again; FROZEN probed servers hang.
  let flapping: Promise<void> | undefined;
  let stopFlapping = false;
  if (fleet) {
    const frozen = Array.from({ length: FROZEN }, (_, k) => k * 10).filter((i) => i < SERVERS);
    await fleet.command('freeze', frozen);
    flapping = (async () => {
      let previous: number[] = [];
      for (let round = 0; !stopFlapping && round < 10_000; round++) {
        const ids = Array.from({ length: FLAP }, (_, k) => (round * FLAP + k * 7 + 1) % SERVERS).filter((i) => !PROBED(i));
        await fleet.command('stop', ids);
        if (previous.length) await fleet.command('start', previous);
        previous = ids;
        await sleep(2000);
      }
      if (previous.length) await fleet.command('start', previous);
      await fleet.command('thaw', frozen);
    })();
  }
  // The instance's adverts, by MAC and VRID.
  const tap = await captureTimes(lab.observerNs, `ether src ${node.mac} and ip proto 112 and ip[21] == 71`);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  counting = true;
  await sleep(seconds * 1000);
  counting = false;
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  delay.disable();
  tap.stop();
  stopFlapping = true;
  await flapping;
  monitor?.stop();
  await worker?.stop();
  metrics.close();
  await instance.stop();
  io.close();
  await closeHttpAgents();
  return {
    intervalMs,
    load: fleet ? `${SERVERS} TCP checks/1 s${inWorker ? ', checks in a worker thread' : ''}` : 'idle',
    checksPerSec: results / elapsed,
    timeouts,
    lateness: latenessStats(tap.times, intervalMs),
    loopP99: delay.percentile(99) / 1e6,
    loopMax: delay.max / 1e6,
    cpuPct: ((cpu.user + cpu.system) / 1e6 / elapsed) * 100,
  };
}

const lab = new Lab('lt');
let fleet: Fleet | undefined;
try {
  lab.setup([{ name: 'dir', ipv4: '192.0.2.30' }]);
  fleet = Fleet.start(SERVERS);
  if ((await fleet.next()) !== 'ready') throw new Error('fleet failed');
  const rows: Row[] = [];
  for (const intervalMs of INTERVALS) {
    const seconds = intervalMs >= 1000 ? SECONDS_LONG : SECONDS_SHORT;
    for (const mode of MODES) {
      process.stderr.write(`advert ${intervalMs} ms, ${mode}, ${seconds} s ...\n`);
      rows.push(await measure(lab, mode === 'idle' ? undefined : fleet, intervalMs, seconds, mode === 'worker'));
    }
  }
  const f = (n: number, d = 2): string => (Number.isFinite(n) ? n.toFixed(d) : '-');
  console.log(
    `\nMaster advert lateness (gap − interval, tcpdump timestamps) under check load; node ${process.version}; ${(await import('node:os')).cpus().length} cores`,
  );
  console.log(
    '| advert interval | load | checks/s | check timeouts | adverts | lateness p50 ms | p99 ms | max ms | goal p99 < 10 ms | goal max < interval/2 | loop delay p99 ms | loop delay max ms | CPU % |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.intervalMs} ms | ${r.load} | ${f(r.checksPerSec, 0)} | ${r.timeouts} | ${r.lateness.count} | ${f(r.lateness.p50Ms)} | ${f(r.lateness.p99Ms)} | ${f(r.lateness.maxMs)} | ${r.lateness.p99Ms < 10 ? 'yes' : 'NO'} | ${r.lateness.maxMs < r.intervalMs / 2 ? 'yes' : 'NO'} | ${f(r.loopP99)} | ${f(r.loopMax)} | ${f(r.cpuPct, 0)} |`,
    );
  }
} finally {
  if (fleet?.child.pid)
    try {
      process.kill(fleet.child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  await lab.cleanup();
}
process.exit(0);
