// What one probe costs the checker, without the scheduler and monitor around it:
// a closed loop keeps `--concurrency` probes in flight against the fleet (a
// separate process, see fleet.ts) for `--seconds` and reports probes/s and the
// checker's CPU per probe (user / system), plus the fleet's. check-load.ts measures
// the whole agent; this isolates the plugin so each change to it can be weighed.
//
//   node dist/bench/checks/probe-cost.js [--mode http] [--servers 200] [--seconds 10] [--concurrency 64]
//     --mode http   the http plugin, with a fresh AbortController and timeout timer per probe, as the scheduler does
//            http-before  the same with the http plugin as built in `--before DIR` (another commit's dist/)
//            bare   the http plugin with a signal that never aborts, one per loop (no per-probe scheduler work)
//            keepalive  the http plugin with its opt-in `keepalive: true` (one connection per server, reused)
//            tcp    the tcp plugin (connect, reset): the floor set by the kernel's connect/close
//            raw    net.connect + a hand-written GET + wait for the close: a fresh-connection HTTP
//                   probe with no client library at all
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadCheckPlugins } from '../../checks/index.js';
import { closeHttpAgents } from '../../checks/lib/http-probe.js';
import type * as HttpProbe from '../../checks/lib/http-probe.js';
import type { CheckResult, CheckTarget } from '../../src/health/check.js';
import { fleetAddress } from './addresses.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const MODE = arg('mode', 'http');
const SERVERS = Number(arg('servers', '200'));
const SECONDS = Number(arg('seconds', '10'));
const CONCURRENCY = Number(arg('concurrency', '64'));
const BEFORE = arg('before', '');
const TIMEOUT_MS = 2000;
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);
const here = fileURLToPath(new URL('.', import.meta.url));

function procCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

function startFleet(n: number): Promise<ChildProcess> {
  const child = spawn(
    '/bin/sh',
    ['-c', 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"', process.execPath, `${here}fleet.js`, String(n)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('fleet did not start in 60 s')), 60_000);
    createInterface({ input: child.stdout }).once('line', (l) => {
      clearTimeout(t);
      if (l === 'ready') resolve(child);
      else reject(new Error(`fleet said ${l}`));
    });
    child.once('exit', (code) => reject(new Error(`fleet exited with ${code}`)));
  });
}

const REQUEST = 'GET /healthz HTTP/1.1\r\nhost: x\r\nuser-agent: failoverd-check\r\nconnection: close\r\n\r\n';
function rawProbe(target: CheckTarget): Promise<CheckResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    let head = '';
    const socket = connect({ host: target.address, port: target.port, noDelay: true });
    socket.once('connect', () => socket.write(REQUEST));
    socket.on('data', (d: Buffer) => {
      if (head.length < 16) head += d.toString('latin1', 0, 16);
    });
    socket.on('error', () => {});
    socket.once('close', () =>
      resolve({ ok: head.startsWith('HTTP/1.1 200'), reason: head.slice(0, 12), latencyMs: performance.now() - started }),
    );
  });
}

const plugins = await loadCheckPlugins();
const type = MODE === 'tcp' ? 'tcp' : 'http';
let plugin = plugins.get(type)!;
let closeBefore = (): Promise<void> => Promise.resolve();
if (MODE === 'http-before') {
  if (!BEFORE) throw new Error('--mode http-before needs --before DIR');
  const before = (await import(pathToFileURL(join(BEFORE, 'checks/lib/http-probe.js')).href)) as typeof HttpProbe;
  plugin = { ...plugin, options: before.httpOptions, run: (t, o, s) => before.probeHttp(t, o as HttpProbe.HttpCheckOptions, s, false) };
  closeBefore = before.closeHttpAgents;
}
const options = plugin.options.parse(
  MODE === 'keepalive' ? { path: '/healthz', keepalive: true } : type === 'http' ? { path: '/healthz' } : {},
);
const targets: CheckTarget[] = Array.from({ length: SERVERS }, (_, i) => ({ service: 'bench', address: fleetAddress(i), port: 8080 }));

function probe(target: CheckTarget, neverAborts: AbortSignal): Promise<CheckResult> {
  if (MODE === 'raw') return rawProbe(target);
  if (MODE === 'bare' || MODE === 'tcp') return plugin.run(target, options, neverAborts);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`timeout after ${TIMEOUT_MS}ms`)), TIMEOUT_MS);
  return plugin.run(target, options, controller.signal).finally(() => clearTimeout(timer));
}

const fleet = await startFleet(SERVERS);
try {
  let next = 0;
  let done = 0;
  let failed = 0;
  let firstFailure = '';
  let measuring = false;
  const deadline = performance.now() + 2000 + SECONDS * 1000;
  const loop = async (): Promise<void> => {
    const neverAborts = new AbortController().signal;
    // Bounded by the deadline; each await is one probe with its own timeout.
    while (performance.now() < deadline) {
      const r = await probe(targets[next++ % SERVERS]!, neverAborts);
      if (!measuring) continue;
      done++;
      if (!r.ok) {
        failed++;
        firstFailure ||= r.reason;
      }
    }
  };
  const loops = Array.from({ length: CONCURRENCY }, loop);
  // Two seconds of warm-up (JIT, client cache) before counting.
  await new Promise((r) => setTimeout(r, 2000));
  measuring = true;
  const cpu0 = process.cpuUsage();
  const fleet0 = procCpuSeconds(fleet.pid!);
  const t0 = performance.now();
  await Promise.all(loops);
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const fleetCpu = procCpuSeconds(fleet.pid!) - fleet0;
  const per = (us: number): string => (us / done).toFixed(1);
  console.log(
    `mode ${MODE}: ${done} probes in ${elapsed.toFixed(1)} s = ${(done / elapsed).toFixed(0)}/s, concurrency ${CONCURRENCY}, ${SERVERS} servers; ` +
      `checker CPU ${per(cpu.user + cpu.system)} µs/probe (user ${per(cpu.user)}, sys ${per(cpu.system)}), ${(((cpu.user + cpu.system) / 1e6 / elapsed) * 100).toFixed(0)} % of a core; ` +
      `fleet ${per(fleetCpu * 1e6)} µs/probe; failed ${failed}${failed ? ` (${firstFailure})` : ''}`,
  );
} finally {
  try {
    process.kill(fleet.pid!, 'SIGKILL');
  } catch {
    /* gone */
  }
  await closeHttpAgents();
  await closeBefore();
}
process.exit(0);
