// Sub-second adverts under load, failoverd beside keepalived 2.2.7, in network
// namespaces on one bridge. Per advert interval (VRRPv3): a failoverd pair (VRID
// 51, priorities 200/100, `failoverd run` with 10,000 real servers checked every
// second: bench/vrrp/director.ts) and a keepalived pair (VRID 52, same priorities
// and interval) side by side, the same run, the same load. keepalived's checker
// needs the kernel's IPVS, which this host lacks, so beside each keepalived runs a
// separate process doing the same 10,000 TCP checks a second (keepalived checks in
// a process of its own too). The real servers live in one namespace and flap (every
// 2 s, --flap of them stop and the previous ones start again). The masters are
// pinned to CPU 0 and a busy loop is pinned to CPU 1 (--hog 0 turns it off).
//
// Measured from the wire (tcpdump in an observer namespace) and from the logs:
// - false failovers: the backup advertising (priority > 0) while its master lives,
//   counted in the windows between "master is MASTER and backup is BACKUP again"
//   and the next kill; the backup's own "-> master" log lines in the same windows;
// - the master's advert gaps in those windows, while its own log has it MASTER (p50/p99/max);
// - crash failover: every slot, kill -9 of the master (keepalived: its VRRP child
//   first, then its parent), time from its last advert to the backup's first one,
//   against Master_Down_Interval = 3 × interval + (256 − 100) × interval / 256;
//   then the master starts again and preempts;
// - keepalived's log lines about timers, delays or stalls, shown as they are.
//
//   node dist/bench/vrrp/subsecond.js [--seconds 600] [--intervals 20,50] [--servers 10000]
//        [--kills 10] [--flap 200] [--hog 1] [--impls failoverd,keepalived] [--out FILE]
//        [--rt N] [--keepalived-rt N] [--rt-burst MS] [--logs DIR] [--probe [--probe-ms 100]] [--node-flags "..."]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { masterDownIntervalMs } from '../../src/vrrp/fsm.js';
import { sh, tryRun } from '../../test/helpers/shell.js';
import { waitFor } from '../../test/helpers/wait.js';
import { stats, type GapStats } from '../../test/netns/robustness/gaps.js';
import { Lab, type Observer, type WireEvent } from '../../test/netns/vrrp/lab.js';
import { FLEET_BLOCK, FLEET_PORT, fleetAddress } from './fleet.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
};
const SECONDS = Number(arg('seconds', '600'));
const INTERVALS = arg('intervals', '20,50').split(',').map(Number);
const SERVERS = Number(arg('servers', '10000'));
const KILLS = Number(arg('kills', '10'));
const FLAP = Number(arg('flap', '200'));
const HOG = arg('hog', '1') !== '0';
const IMPLS = arg('impls', 'failoverd,keepalived').split(',') as Impl[];
const OUT = arg('out', '');
/** Where to write every router's log lines (one file per router and interval); none if empty. */
const LOGS = arg('logs', '');
if (LOGS) mkdirSync(LOGS, { recursive: true });
const PER_SERVICE = 100;
const SERVERS_NS_IP = '192.0.2.100';
/**
 * Both directors of a pair have this priority: a restarted director stays BACKUP
 * (an equal priority does not preempt), so the roles alternate from kill to kill.
 * The skew in the bound is the backup's.
 */
const PRIORITY = 100;
/** With the hog: the master's threads run on CPU 0, the busy loop on CPU 1. */
const MASTER_CPU = HOG ? 0 : undefined;
const HOG_CPU = 1;
/**
 * --rt N: the VRRP thread under SCHED_RR at priority N, as each implementation sets
 * it: keepalived's vrrp_rt_priority, failoverd's vrrp_realtime (its main thread; the
 * checks worker and the threads started after it keep SCHED_OTHER).
 */
const RT = Number(arg('rt', '0'));
/**
 * --keepalived-rt N: keepalived's vrrp_rt_priority alone (default: --rt's). Both pairs'
 * masters share CPU 0, so keepalived's VRRP processes at failoverd's priority take
 * turns with failoverd's master whenever one of them spins; 0 leaves them at normal
 * scheduling, to see what that does to failoverd's master (not to compare the two).
 */
const KEEPALIVED_RT = Number(arg('keepalived-rt', String(RT)));
/** --rt-burst MS: failoverd's vrrp_realtime.cpu_burst_limit (default: the config's default). */
const RT_BURST = arg('rt-burst', '');
const MIN_STEADY_MS = 10_000;
/** --node-flags "...": extra node/V8 flags for failoverd's directors (e.g. --trace-gc, --single-threaded-gc). */
const NODE_FLAGS = arg('node-flags', '').split(' ').filter(Boolean);
/** --probe: each failoverd director reports its event-loop stalls, the GCs in them and its threads' CPU (loop-probe.ts). */
const PROBE = process.argv.includes('--probe');
/** --probe-ms N: the probes report event-loop holes longer than this (at 20 ms adverts the Master_Down_Interval is 72 ms). */
const PROBE_MS = arg('probe-ms', '100');

type Impl = 'failoverd' | 'keepalived';
const here = fileURLToPath(new URL('.', import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const say = (msg: string): void => {
  process.stderr.write(`[subsecond ${((Date.now() - t0) / 1000).toFixed(0).padStart(5)} s] ${msg}\n`);
};
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

/** CPU seconds (user + system) of a process and its threads, from /proc; 0 once it is gone. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/**
 * Per CPU, the seconds the hypervisor ran something else while this machine's CPU had
 * work (steal, /proc/stat): a thread that was running then stood still, whatever its
 * priority.
 */
function stealSeconds(): number[] {
  return readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .filter((l) => /^cpu\d+ /.test(l))
    .map((l) => Number(l.split(/\s+/)[8]) / CLK_TCK);
}

/** A process in a namespace whose log lines are kept with the time they arrived. */
class Proc {
  readonly lines: { t: number; line: string }[] = [];
  readonly exited: Promise<void>;
  constructor(readonly child: ChildProcess) {
    const keep = (line: string): void => {
      this.lines.push({ t: Date.now(), line });
    };
    if (child.stdout) createInterface({ input: child.stdout }).on('line', keep);
    if (child.stderr) createInterface({ input: child.stderr }).on('line', keep);
    this.exited = new Promise((ok) => child.on('exit', () => ok()));
  }
  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  kill(signal: NodeJS.Signals): void {
    if (this.alive && this.child.pid)
      try {
        process.kill(this.child.pid, signal);
      } catch {
        /* gone */
      }
  }
}

/** One director of a pair (failoverd, or keepalived with its check load) across its incarnations. */
class Router {
  proc: Proc | undefined;
  checker: Proc | undefined;
  /** Every state change of every incarnation ("dead" when killed), with the time of its log line. */
  readonly transitions: { t: number; to: string }[] = [];
  readonly logs: { t: number; line: string }[] = [];
  /** CPU seconds of the VRRP process(es) over all incarnations, and where the current one started counting. */
  cpuSpent = 0;
  private cpuCounted = 0;

  constructor(
    readonly impl: Impl,
    readonly lab: Lab,
    readonly node: string,
    readonly ip: string,
    readonly config: string,
    /** keepalived's check load (its checker needs IPVS): a failoverd with the same services and no VRRP. */
    readonly checkerConfig: string | undefined,
  ) {}

  start(): void {
    const ns = this.lab.node(this.node).ns;
    const argv =
      this.impl === 'failoverd'
        ? [process.execPath, ...NODE_FLAGS, join(here, 'director.js'), this.config, `/run/netns/${ns}`]
        : ['keepalived', '-n', '-l', '-D', '--vrrp', '-f', this.config, '-p', `${this.config}.pid`, '-r', `${this.config}.vrrp.pid`];
    // The killed incarnation's pid files: on a busy host its pids are soon reused, and
    // keepalived would take the new owner for itself ("daemon is already running").
    if (this.impl === 'keepalived') for (const f of [`${this.config}.pid`, `${this.config}.vrrp.pid`]) rmSync(f, { force: true });
    const env = PROBE && this.impl === 'failoverd' ? { ...process.env, BENCH_PROBE: '1', BENCH_PROBE_MS: PROBE_MS } : process.env;
    const proc = new Proc(spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env }));
    this.proc = proc;
    this.cpuCounted = 0;
    if (PROBE && this.impl === 'failoverd' && proc.child.pid) {
      // Above the director's own priority, or a starved probe sees nothing.
      const probe = new Proc(
        spawn('chrt', ['-f', '90', process.execPath, join(here, 'stall-probe.js'), String(proc.child.pid), '--min', PROBE_MS], {
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      );
      if (probe.child.stdout)
        createInterface({ input: probe.child.stdout }).on('line', (line) =>
          this.logs.push({ t: Date.now(), line: `stall-probe: ${line}` }),
        );
    }
    if (this.checkerConfig)
      this.checker = new Proc(
        spawn('ip', ['netns', 'exec', ns, process.execPath, join(here, 'director.js'), this.checkerConfig, `/run/netns/${ns}`], {
          stdio: ['ignore', 'ignore', 'pipe'],
        }),
      );
    const onLine = (line: string): void => {
      const t = Date.now();
      this.logs.push({ t, line });
      if (this.impl === 'keepalived') {
        const m = /\(\S+\) Entering (\w+) STATE/.exec(line);
        if (m) this.transitions.push({ t, to: m[1]!.toLowerCase() });
        return;
      }
      if (!line.includes('"vrrp ')) return;
      try {
        const o = JSON.parse(line) as { to?: string; time?: number; msg?: string };
        if (o.to && o.msg?.startsWith('vrrp ')) this.transitions.push({ t: o.time ?? t, to: o.to });
      } catch {
        /* not JSON */
      }
    };
    if (proc.child.stdout) createInterface({ input: proc.child.stdout }).on('line', onLine);
    if (proc.child.stderr) createInterface({ input: proc.child.stderr }).on('line', onLine);
  }

  get state(): string | undefined {
    return this.transitions.at(-1)?.to;
  }

  /** The pid that sends the adverts (keepalived: its VRRP child). */
  vrrpPid(): number | undefined {
    if (this.impl === 'failoverd') return this.proc?.child.pid;
    try {
      return Number(readFileSync(`${this.config}.vrrp.pid`, 'utf8').trim()) || undefined;
    } catch {
      return undefined;
    }
  }

  private pids(): number[] {
    const all = [this.proc?.child.pid, this.impl === 'keepalived' ? this.vrrpPid() : undefined, this.checker?.child.pid];
    return all.filter((p): p is number => p !== undefined);
  }

  /** Pins every thread of this director's processes to CPU `cpu`, or lets them run anywhere. */
  pin(cpu: number | undefined): void {
    const list = cpu === undefined ? `0-${cpus().length - 1}` : String(cpu);
    for (const pid of this.pids()) tryRun('taskset', ['-a', '-cp', list, String(pid)]);
  }

  sampleCpu(): void {
    const pids = [this.proc?.child.pid, this.impl === 'keepalived' ? this.vrrpPid() : undefined];
    const now = pids.reduce<number>((sum, pid) => sum + cpuSeconds(pid), 0);
    if (now > this.cpuCounted) {
      this.cpuSpent += now - this.cpuCounted;
      this.cpuCounted = now;
    }
  }

  /** kill -9; keepalived's VRRP child first (killed after its parent it would resign gracefully), then its checks. */
  crash(): void {
    this.sampleCpu();
    const child = this.impl === 'keepalived' ? this.vrrpPid() : undefined;
    if (child)
      try {
        process.kill(child, 'SIGKILL');
      } catch {
        /* gone */
      }
    this.proc?.kill('SIGKILL');
    this.checker?.kill('SIGKILL');
    this.transitions.push({ t: Date.now(), to: 'dead' });
  }
}

interface PairResult {
  impl: Impl;
  intervalMs: number;
  boundMs: number;
  /** Last advert of the killed master → first advert of the backup. */
  failovers: number[];
  /** Kills after which no advert from the backup came. */
  missedFailovers: number;
  falseWire: number;
  falseWireAdverts: number;
  falseLog: number;
  gaps: GapStats;
  steadySeconds: number;
  cpuPct: number;
  stallLines: string[];
  broken: string | undefined;
}

function directorConfig(intervalMs: number, vrid: number | undefined, vip: string, sock: string): string {
  const services: string[] = [];
  for (let s = 0; s * PER_SERVICE < SERVERS; s++) {
    const rs: string[] = [];
    for (let k = 0; k < PER_SERVICE && s * PER_SERVICE + k < SERVERS; k++)
      rs.push(`      - { address: ${fleetAddress(s * PER_SERVICE + k)}, port: ${FLEET_PORT}, weight: 1 }`);
    services.push(
      `  - name: svc-${s}\n    vip: 10.99.${s >> 8}.${s & 255}\n    port: ${FLEET_PORT}\n    scheduler: wlc\n    forwarding: dr\n    vip_standalone: true\n    check: { type: tcp, interval: 1s, timeout: 500ms, rise: 1, fall: 2 }\n    real_servers:\n${rs.join('\n')}`,
    );
  }
  const vrrp =
    vrid === undefined
      ? 'vrrp: []'
      : `vrrp:\n  - { name: web, interface: eth0, vrid: ${vrid}, priority: ${PRIORITY}, version: 3, advert_interval: ${intervalMs}ms, preempt: true, vips: [${vip}/32], garp: { count: 1 } }`;
  // Both put their VRRP thread under SCHED_RR themselves: failoverd's vrrp_realtime, keepalived's vrrp_rt_priority.
  const burst = RT_BURST ? `, cpu_burst_limit: ${RT_BURST}ms` : '';
  const realtime = RT && vrid !== undefined ? `vrrp_realtime: { priority: ${RT}${burst} }\n` : '';
  return `node: { name: bench }\n${vrrp}\n${realtime}services:\n${services.join('\n')}\napi: { listen: ${sock}, metrics: false }\nlogging: { format: json, level: info }\n`;
}

function keepalivedConfig(intervalMs: number, vrid: number, vip: string): string {
  return `global_defs {\n  router_id bench\n  enable_script_security\n${KEEPALIVED_RT ? `  vrrp_rt_priority ${KEEPALIVED_RT}\n` : ''}}\nvrrp_instance web {\n  interface eth0\n  state BACKUP\n  virtual_router_id ${vrid}\n  priority ${PRIORITY}\n  advert_int ${intervalMs / 1000}\n  version 3\n  virtual_ipaddress {\n    ${vip}/32\n  }\n}\n`;
}

class Fleet {
  private readonly lines: string[] = [];
  constructor(readonly proc: Proc) {
    createInterface({ input: proc.child.stdout! }).on('line', (l) => this.lines.push(l));
  }
  async next(): Promise<string> {
    for (let i = 0; i < 1800; i++) {
      const l = this.lines.shift();
      if (l !== undefined) return l;
      if (!this.proc.alive)
        throw new Error(
          `the fleet exited (${this.proc.child.exitCode ?? this.proc.child.signalCode}): ${this.proc.lines
            .slice(-3)
            .map((l) => l.line)
            .join(' | ')}`,
        );
      await sleep(100);
    }
    throw new Error('the fleet did not answer in 180 s');
  }
  /** Runs a command; resolves with the connections the fleet accepted so far. */
  async command(cmd: 'stop' | 'start' | 'count', ids: number[] = []): Promise<number> {
    this.proc.child.stdin!.write(`${JSON.stringify({ cmd, ids })}\n`);
    return (JSON.parse(await this.next()) as { accepted: number }).accepted;
  }
}

interface Window {
  from: number;
  to: number;
  master: Router;
  backup: Router;
}

interface Pair {
  impl: Impl;
  vrid: number;
  routers: [Router, Router];
  /** Both alive, one MASTER (pinned to the master CPU) and the other BACKUP. */
  windows: Window[];
  kills: { at: number; master: Router }[];
  /** Why the pair stopped being measured early, if it did. */
  broken?: string;
}

const downMs = (intervalMs: number): number => masterDownIntervalMs(3, PRIORITY, intervalMs / 10);

/** Waits until one director is MASTER and the other BACKUP; pins the master; returns them. */
async function settle(pair: Pair, intervalMs: number, what: string): Promise<{ from: number; master: Router; backup: Router }> {
  const [x, y] = pair.routers;
  const roles = (): [Router, Router] | undefined =>
    x.state === 'master' && y.state === 'backup' ? [x, y] : y.state === 'master' && x.state === 'backup' ? [y, x] : undefined;
  const waitStart = Date.now();
  await waitFor(() => roles() !== undefined, {
    what: `${pair.impl} ${intervalMs} ms: one director MASTER and the other BACKUP (${what})`,
    timeoutMs: 240_000,
    stepMs: 20,
    detail: () => `states ${x.state} / ${y.state}`,
  });
  const [master, backup] = roles()!;
  master.pin(MASTER_CPU);
  backup.pin(undefined);
  // A second for the last advert of the election to pass; from here on the backup must be silent.
  await sleep(1000);
  say(`${pair.impl} ${intervalMs} ms: steady (${what}, ${((Date.now() - waitStart) / 1000).toFixed(1)} s), master ${master.node}`);
  return { from: Date.now(), master, backup };
}

/**
 * The pair's life: steady, kill -9 of the master at its slot, the backup takes over,
 * the killed director starts again and stays BACKUP (equal priorities: no preemption),
 * steady again. A restart slower than a slot delays the next kill.
 */
async function drive(
  pair: Pair,
  intervalMs: number,
  initial: { from: number; master: Router; backup: Router },
  end: number,
  offsetMs: number,
  finished: Set<Pair>,
  pairs: number,
): Promise<void> {
  const start = Date.now();
  const slotMs = (end - start) / KILLS;
  // A failoverd restart under this load can take longer than a slot: the run then goes
  // on past --seconds (up to 1.3 times as long) for more kills; the report says how many.
  const hardEnd = start + 1.3 * (end - start);
  let steady = { ...initial, from: Math.max(initial.from, start) };
  for (let k = 0, turns = 0; k < KILLS && turns < 10 * KILLS; k++, turns++) {
    const killAt = start + k * slotMs + offsetMs;
    // At its slot, and never sooner than MIN_STEADY_MS after the pair is steady again.
    const due = Math.max(killAt, steady.from + MIN_STEADY_MS);
    if (due > Date.now()) await sleep(due - Date.now());
    if (Date.now() > hardEnd - 5000) break;
    if (steady.master.state !== 'master' || steady.backup.state !== 'backup') {
      // The roles changed under load (a false failover that stuck: equal priorities,
      // the higher address wins): close the window, settle again, kill at the next turn.
      pair.windows.push({ from: steady.from, to: Date.now(), master: steady.master, backup: steady.backup });
      say(`${pair.impl} ${intervalMs} ms: roles changed before kill ${k + 1}; settling again`);
      steady = await settle(pair, intervalMs, `roles changed before kill ${k + 1}`);
      k--;
      continue;
    }
    const at = Date.now();
    pair.windows.push({ from: steady.from, to: at, master: steady.master, backup: steady.backup });
    steady.master.crash();
    pair.kills.push({ at, master: steady.master });
    say(`${pair.impl} ${intervalMs} ms: kill -9 of the master ${steady.master.node} (${k + 1}/${KILLS})`);
    await Promise.race([steady.master.proc?.exited, sleep(5000)]);
    await sleep(Math.max(1000, 4 * downMs(intervalMs)));
    steady.master.start();
    try {
      steady = await settle(pair, intervalMs, `restart ${k + 1}`);
    } catch (err) {
      // No pair to measure any more: say so in the report, keep the other pair's run going.
      pair.broken = `after kill ${k + 1}: ${(err as Error).message.slice(0, 300)}`;
      say(`${pair.impl} ${intervalMs} ms: ${pair.broken}`);
      finished.add(pair);
      return;
    }
  }
  finished.add(pair);
  // Every pair stays under load until the last one is done.
  for (let i = 0; i < 10_000 && (Date.now() < end || finished.size < pairs); i++) await sleep(Math.min(500, Math.max(1, end - Date.now())));
  pair.windows.push({ from: steady.from, to: Date.now(), master: steady.master, backup: steady.backup });
}

function analyse(pair: Pair, observer: Observer, intervalMs: number, seconds: number): PairResult {
  const adverts = observer.adverts(pair.vrid).filter((a) => (a.priority ?? 0) > 0);
  const from = (r: Router): WireEvent[] => adverts.filter((a) => a.source === r.ip);
  let falseWire = 0;
  let falseWireAdverts = 0;
  let falseLog = 0;
  const gapList: number[] = [];
  for (const w of pair.windows) {
    // A false failover on the wire: a run of the backup's adverts; a second without one
    // starts a new run (a starved backup sends its own adverts irregularly).
    const bad = from(w.backup).filter((a) => a.t >= w.from && a.t < w.to);
    falseWireAdverts += bad.length;
    bad.forEach((a, i) => {
      if (i === 0 || a.t - bad[i - 1]!.t > 1000) falseWire++;
    });
    falseLog += w.backup.transitions.filter((x) => x.to === 'master' && x.t >= w.from && x.t < w.to).length;
    // The master's gaps while it is master: a false failover that sticks (the backup
    // has the higher address) leaves it BACKUP, and silent, for the rest of the window.
    const displaced = w.master.transitions.find((x) => x.to !== 'master' && x.t >= w.from && x.t < w.to)?.t ?? w.to;
    const times = from(w.master)
      .filter((a) => a.t >= w.from && a.t < displaced)
      .map((a) => a.t);
    for (let i = 1; i < times.length; i++) gapList.push(times[i]! - times[i - 1]!);
  }
  const failovers: number[] = [];
  let missed = 0;
  for (const kill of pair.kills) {
    const first = adverts.find((a) => a.t >= kill.at && a.source !== kill.master.ip);
    const last =
      first &&
      from(kill.master)
        .filter((a) => a.t <= first.t)
        .at(-1);
    if (!first || !last || first.t - kill.at > 10_000) {
      missed++;
      continue;
    }
    failovers.push(first.t - last.t);
  }
  for (const r of pair.routers) r.sampleCpu();
  const stallLines = pair.routers.flatMap((r) =>
    r.impl === 'keepalived'
      ? r.logs
          .filter((l) => /timer|expire|delay|stall|late|backward|overrun|too slow|took/i.test(l.line))
          .map((l) => `${r.node}: ${l.line}`)
      : r.logs
          // Warnings and errors, less the real servers going down (the flapping itself).
          .filter((l) => /"level":(40|50|60)/.test(l.line) && !/"event":"(realserver|quorum)\./.test(l.line))
          .map((l) => `${r.node}: ${l.line.slice(0, 300)}`),
  );
  return {
    impl: pair.impl,
    intervalMs,
    boundMs: downMs(intervalMs),
    failovers,
    missedFailovers: missed,
    falseWire,
    falseWireAdverts,
    falseLog,
    gaps: stats(gapList),
    steadySeconds: pair.windows.reduce((sum, w) => sum + (w.to - w.from), 0) / 1000,
    cpuPct: (pair.routers.reduce((sum, r) => sum + r.cpuSpent, 0) / seconds) * 100,
    stallLines,
    broken: pair.broken,
  };
}

async function runInterval(
  intervalMs: number,
): Promise<{ results: PairResult[]; fleetCpuPct: number; acceptedPerSec: number; seconds: number; stealMs: number[] }> {
  const lab = new Lab(`ss${intervalMs}`);
  const procs: Proc[] = [];
  const routers: Router[] = [];
  let tornDown: Promise<void> | undefined;
  const teardown = (): Promise<void> =>
    (tornDown ??= (async () => {
      // Processes and namespaces first: nothing after this may leave them running.
      for (const r of routers) r.crash();
      for (const p of procs) p.kill('SIGKILL');
      await Promise.all([...routers.map((r) => r.proc?.exited), ...procs.map((p) => p.exited)].map((e) => Promise.race([e, sleep(3000)])));
      await lab.cleanup();
      if (LOGS)
        for (const r of routers)
          writeFileSync(join(LOGS, `${intervalMs}ms-${r.node}.log`), r.logs.map((l) => `${l.t} ${l.line}`).join('\n'));
    })());
  // Ctrl-C, a kill, or a reader that goes away (`| head`) would otherwise end this
  // process and leave the busy loop spinning, the directors running and the namespaces behind.
  const interrupted = (): void => {
    void teardown().finally(() => process.exit(130));
  };
  process.on('SIGINT', interrupted).on('SIGTERM', interrupted).on('SIGHUP', interrupted);
  process.stderr.on('error', interrupted);
  try {
    lab.setup([
      { name: 'fa', ipv4: '192.0.2.1' },
      { name: 'fb', ipv4: '192.0.2.2' },
      { name: 'ka', ipv4: '192.0.2.3' },
      { name: 'kb', ipv4: '192.0.2.4' },
      { name: 'srv', ipv4: SERVERS_NS_IP },
    ]);
    const srv = lab.node('srv').ns;
    sh(['ip', '-n', srv, 'route', 'add', 'local', FLEET_BLOCK, 'dev', 'lo']);
    for (const n of ['fa', 'fb', 'ka', 'kb']) {
      const ns = lab.node(n).ns;
      sh(['ip', '-n', ns, 'route', 'add', FLEET_BLOCK, 'via', SERVERS_NS_IP]);
      sh(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_local_port_range=10000 60999']);
    }
    const fleet = new Fleet(
      new Proc(
        spawn(
          'ip',
          [
            'netns',
            'exec',
            srv,
            '/bin/sh',
            '-c',
            'ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"',
            process.execPath,
            join(here, 'fleet.js'),
            String(SERVERS),
          ],
          { stdio: ['pipe', 'pipe', 'pipe'] },
        ),
      ),
    );
    procs.push(fleet.proc);
    if ((await fleet.next()) !== 'ready') throw new Error('the fleet did not start');
    const observer = await lab.observe();

    const file = (name: string, text: string): string => {
      const path = join(lab.work, name);
      writeFileSync(path, text);
      return path;
    };
    const router = (impl: Impl, node: string, ip: string, vrid: number, vip: string): Router =>
      impl === 'failoverd'
        ? new Router(
            impl,
            lab,
            node,
            ip,
            file(`${node}.yaml`, directorConfig(intervalMs, vrid, vip, join(lab.work, `${node}.sock`))),
            undefined,
          )
        : new Router(
            impl,
            lab,
            node,
            ip,
            file(`${node}.conf`, keepalivedConfig(intervalMs, vrid, vip)),
            file(`${node}-checks.yaml`, directorConfig(intervalMs, undefined, '', join(lab.work, `${node}-checks.sock`))),
          );
    const pairs: Pair[] = [];
    if (IMPLS.includes('failoverd'))
      pairs.push({
        impl: 'failoverd',
        vrid: 51,
        routers: [router('failoverd', 'fa', '192.0.2.1', 51, '192.0.2.195'), router('failoverd', 'fb', '192.0.2.2', 51, '192.0.2.195')],
        windows: [],
        kills: [],
      });
    if (IMPLS.includes('keepalived'))
      pairs.push({
        impl: 'keepalived',
        vrid: 52,
        routers: [router('keepalived', 'ka', '192.0.2.3', 52, '192.0.2.196'), router('keepalived', 'kb', '192.0.2.4', 52, '192.0.2.196')],
        windows: [],
        kills: [],
      });
    for (const p of pairs) {
      routers.push(...p.routers);
      for (const r of p.routers) r.start();
    }
    if (HOG) procs.push(new Proc(spawn('taskset', ['-c', String(HOG_CPU), '/bin/sh', '-c', 'while :; do :; done'], { stdio: 'ignore' })));

    // Flapping: every 2 s FLAP servers stop and the previous FLAP start again.
    let flapping = true;
    let flapError: Error | undefined;
    const flapper = (async () => {
      let previous: number[] = [];
      for (let round = 0; flapping && round < 100_000; round++) {
        const ids = Array.from({ length: FLAP }, (_, k) => (round * FLAP + k * 7 + 1) % SERVERS);
        await fleet.command('stop', ids);
        if (previous.length) await fleet.command('start', previous);
        previous = ids;
        await sleep(2000);
      }
      if (previous.length) await fleet.command('start', previous);
    })().catch((err: Error) => {
      flapError = err;
    });

    const initial = await Promise.all(pairs.map((p) => settle(p, intervalMs, 'start')));
    // The clock starts once every process that runs checks has started them (a config of
    // 10,000 real servers takes a while to load on a busy machine) and has had 5 s to
    // reach its pace; the rate the fleet then sees is what this machine sustains, reported.
    const checkers = routers.flatMap((r) => [r.impl === 'failoverd' ? r.proc : r.checker]);
    await waitFor(() => checkers.every((c) => c?.lines.some((l) => l.line.includes('"failoverd started"'))), {
      what: 'every director running its checks',
      timeoutMs: 300_000,
      stepMs: 100,
    });
    await sleep(5000);
    const a0 = await fleet.command('count');
    await sleep(2000);
    const rate = ((await fleet.command('count')) - a0) / 2;
    say(`advert ${intervalMs} ms: check load running (${rate.toFixed(0)} successful checks/s); measuring for ${SECONDS} s`);
    const end = Date.now() + SECONDS * 1000;
    const slotMs = (SECONDS * 1000) / KILLS;
    const fleetCpu0 = cpuSeconds(fleet.proc.child.pid);
    const steal0 = stealSeconds();
    const accepted0 = await fleet.command('count');
    const started = Date.now();
    const finished = new Set<Pair>();
    await Promise.all(pairs.map((p, i) => drive(p, intervalMs, initial[i]!, end, slotMs * (0.4 + 0.3 * i), finished, pairs.length)));
    const elapsed = (Date.now() - started) / 1000;
    const fleetCpu = cpuSeconds(fleet.proc.child.pid) - fleetCpu0;
    const stealMs = stealSeconds().map((x, i) => (x - (steal0[i] ?? 0)) * 1000);
    flapping = false;
    await flapper;
    if (flapError) throw flapError;
    const accepted = (await fleet.command('count')) - accepted0;
    observer.stop();
    if (LOGS)
      for (const p of pairs)
        writeFileSync(
          join(LOGS, `${intervalMs}ms-${p.impl}-wire.log`),
          observer
            .adverts(p.vrid)
            .map((a) => `${a.t} ${a.source} ${a.priority ?? ''}`)
            .join('\n'),
        );
    return {
      results: pairs.map((p) => analyse(p, observer, intervalMs, elapsed)),
      fleetCpuPct: (fleetCpu / elapsed) * 100,
      stealMs,
      acceptedPerSec: accepted / elapsed,
      seconds: elapsed,
    };
  } finally {
    await teardown();
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted).off('SIGHUP', interrupted);
    process.stderr.off('error', interrupted);
  }
}

const f = (n: number, d = 1): string => (Number.isFinite(n) ? n.toFixed(d) : '-');
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : NaN;
};
const load0 = loadavg();
say(
  `start: load average ${load0.map((x) => x.toFixed(2)).join(' ')}; ${cpus().length} cores; ${SECONDS} s per interval, intervals ${INTERVALS.join(', ')} ms, ${SERVERS} servers, ${KILLS} kills, hog ${HOG ? 'on' : 'off'}`,
);
const all: PairResult[] = [];
const fleet: string[] = [];

function render(): string {
  const load1 = loadavg();
  const lines: string[] = [];
  lines.push(
    `Sub-second VRRPv3 adverts under load: ${SECONDS} s per interval; both pairs in the same run; on each director ${SERVERS} TCP checks/s against servers that flap (${FLAP} every 2 s); ${HOG ? 'masters pinned to CPU 0, a busy loop pinned to CPU 1' : 'no CPU hog'}; ${RT ? `VRRP thread SCHED_RR ${RT}${RT_BURST ? ` (failoverd's cpu_burst_limit ${RT_BURST} ms)` : ''}` : 'default scheduling (SCHED_OTHER, nice 0)'}${KEEPALIVED_RT !== RT ? ` (keepalived's: ${KEEPALIVED_RT ? `SCHED_RR ${KEEPALIVED_RT}` : 'SCHED_OTHER'})` : ''}${NODE_FLAGS.length ? `; failoverd's directors under node ${NODE_FLAGS.join(' ')}` : ''}; ${cpus().length} cores shared with other work; node ${process.version}`,
  );
  lines.push(
    `load average at start ${load0.map((x) => x.toFixed(2)).join(' ')}, now ${load1.map((x) => x.toFixed(2)).join(' ')}; ${fleet.join('; ')}`,
  );
  lines.push('');
  lines.push(
    '| interval | implementation | false failovers (wire / backup log) | steady s | master advert gap p50 / p99 / max ms | kills | failover (last advert → backup advert) median / max ms | bound ms | over bound + 5 ms | VRRP processes CPU % |',
  );
  lines.push('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of all) {
    const over = r.failovers.filter((x) => x > r.boundMs + 5).length;
    lines.push(
      `| ${r.intervalMs} ms | ${r.impl} | ${r.falseWire} / ${r.falseLog}${r.falseWireAdverts ? ` (${r.falseWireAdverts} adverts)` : ''} | ${f(r.steadySeconds, 0)} | ${f(r.gaps.p50Ms)} / ${f(r.gaps.p99Ms)} / ${f(r.gaps.maxMs)} | ${r.failovers.length}${r.missedFailovers ? ` (+${r.missedFailovers} unmeasured)` : ''} | ${f(pct(r.failovers, 50))} / ${f(Math.max(...r.failovers))} | ${f(r.boundMs)} | ${over} | ${f(r.cpuPct, 0)} |`,
    );
  }
  for (const r of all) {
    lines.push('');
    lines.push(`${r.impl} ${r.intervalMs} ms: failovers ms: ${r.failovers.map((x) => f(x)).join(', ')}`);
    if (r.broken) lines.push(`${r.impl} ${r.intervalMs} ms: measured no further ${r.broken}`);
    const shown = r.stallLines.slice(0, 10);
    lines.push(
      r.stallLines.length
        ? `${r.impl} ${r.intervalMs} ms: ${r.stallLines.length} log lines about timers/delays/warnings, the first ${shown.length}:\n${shown.map((l) => `    ${l}`).join('\n')}`
        : `${r.impl} ${r.intervalMs} ms: no log line about timers, delays or stalls${r.impl === 'failoverd' ? ' (no warning or error)' : ''}`,
    );
  }
  return lines.join('\n');
}

for (const intervalMs of INTERVALS) {
  say(`advert ${intervalMs} ms: ${IMPLS.join(' and ')} for ${SECONDS} s`);
  const r = await runInterval(intervalMs);
  all.push(...r.results);
  fleet.push(
    `${intervalMs} ms: ${f(r.seconds, 0)} s measured, ${f(r.acceptedPerSec, 0)} successful checks/s over the 4 directors (fleet CPU ${f(r.fleetCpuPct, 0)} %); CPU time stolen by the hypervisor ${r.stealMs.map((ms, i) => `CPU ${i} ${f(ms, 0)} ms`).join(', ')}`,
  );
  // Each interval's table as soon as it is done: a later failure loses nothing.
  const partial = render();
  process.stderr.write(`${partial}\n`);
  if (OUT) writeFileSync(OUT, `${partial}\n`);
}
console.log(render());
process.exit(0);
