// Start-up time and footprint of `failoverd run`, beside bare node in the same run.
// Host mode (no IPVS here: a VRRP-only config, one instance on a veth in a netns):
// spawn → BACKUP log line, RSS and threads 5 s after it and RSS again 60 s after it
// (settled), files opened (strace) up to BACKUP.
// UML mode (--uml; boots test/harness/uml-run.sh, which has IPVS): `node -e 0`, then
// spawn → first state change and RSS once checked and settled, for the seed config (one
// instance, one service, two real servers) and for 1,000 and 10,000 real servers.
// Several builds can be compared in one run: --cli LABEL=PATH/cli.js (repeatable; default: this tree's
// bundle, dist/bundle/src/cli.js, which the package ships, and its tsc output, dist/src/cli.js).
//   node dist/bench/footprint/startup.js [--runs 5] [--idle-ms 5000] [--settle-ms 60000] [--cli before=/x/dist/src/cli.js] [--cli 'LABEL=PATH NODE-FLAG...'] [--uml] [--out file.md]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { directorAndClient, type Netns } from '../../test/helpers/netns.js';

const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const flags = (name: string): string[] => argv.flatMap((a, i) => (a === name && argv[i + 1] !== undefined ? [argv[i + 1]!] : []));
const RUNS = Number(flag('--runs') ?? 5);
const IDLE_MS = Number(flag('--idle-ms') ?? 5000);
// RSS a second time, once V8's memory reducer has acted on an idle isolate: it shrinks the
// young generation start-up grew and releases pages, 20–40 s after a start.
const SETTLE_MS = Number(flag('--settle-ms') ?? 60_000);
const ours = (path: string): string => fileURLToPath(new URL(`../../${path}`, import.meta.url));
// LABEL=PATH [NODE-FLAG...]: node flags after the path go before it (--cli 'semi1=dist/bundle/src/cli.js --max-semi-space-size=1').
const given = flags('--cli').map((spec) => {
  const eq = spec.indexOf('=');
  const [path = '', ...nodeFlags] = spec
    .slice(eq + 1)
    .split(' ')
    .filter(Boolean);
  return { label: spec.slice(0, eq), path, nodeFlags };
});
const CLIS =
  given.length > 0
    ? given
    : [
        { label: 'bundle', path: ours('bundle/src/cli.js'), nodeFlags: [] },
        { label: 'tsc', path: ours('src/cli.js'), nodeFlags: [] },
      ];
const work = mkdtempSync(join(tmpdir(), 'failoverd-footprint-'));
const out: string[] = [];
const say = (line: string): void => {
  out.push(line);
  console.log(line);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const ms = (x: number): string => `${x.toFixed(0)} ms`;
const mb = (kb: number): string => `${(kb / 1024).toFixed(1)} MB`;

function procStatus(pid: number): { rssKb: number; threads: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  return { rssKb: field('VmRSS'), threads: field('Threads') };
}

function vrrpBlock(): string {
  return `node: { name: lvs-a }
vrrp:
  - name: web
    interface: eth0
    vrid: 51
    priority: 100
    version: 3
    advert_interval: 1s
    vips: [10.6.2.195/32]
`;
}

/** `count` real servers, 1,000 per service; addresses the client netns answers with RST (no listener). */
function servicesBlock(count: number): string {
  if (count === 0) return 'services: []\n';
  const lines = ['services:'];
  for (let s = 0; s * 1000 < count; s++) {
    const n = Math.min(1000, count - s * 1000);
    lines.push(`  - name: web-${80 + s}`, `    vip: 10.6.2.195`, `    port: ${80 + s}`, '    scheduler: wlc', '    forwarding: dr');
    lines.push('    check: { type: tcp, interval: 2s, timeout: 1s, rise: 2, fall: 3 }', '    real_servers:');
    for (let i = 0; i < n; i++) {
      const k = s * 1000 + i;
      lines.push(`      - { address: 10.8.${Math.floor(k / 250)}.${(k % 250) + 1}, weight: 1 }`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function writeConfig(name: string, realServers: number): string {
  const path = join(work, `${name}.yaml`);
  writeFileSync(
    path,
    `${vrrpBlock()}${servicesBlock(realServers)}api: { listen: ${join(work, `${name}.sock`)} }\nlogging: { format: json }\n`,
  );
  return path;
}

interface Started {
  proc: ChildProcess;
  /** ms from spawn to the first log line of a VRRP state change to `to` (any state when undefined). */
  reached: Promise<number>;
  /** CPU ms (user + system, all threads) the agent had used when that line arrived: what a loaded host does not inflate. */
  cpuAtReached: Promise<number>;
  exited: Promise<void>;
}

type Cli = (typeof CLIS)[number];

function startAgent(cli: Cli, config: string, ns: Netns, to: string | undefined, wrap: string[] = []): Started {
  const t0 = performance.now();
  // `ip netns exec` execs: the PID is the agent's (or strace's), and every listener is the netns's own.
  const argv = ['ip', 'netns', 'exec', ns.name, ...wrap, process.execPath, ...cli.nodeFlags, cli.path, 'run', '--config', config];
  const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  const tail: string[] = [];
  const reached = new Promise<number>((resolve, reject) => {
    createInterface({ input: proc.stderr }).on('line', (line) => {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      const at = performance.now() - t0;
      try {
        const entry = JSON.parse(line) as { from?: unknown; to?: unknown };
        if (entry.from !== undefined && typeof entry.to === 'string' && (to === undefined || entry.to === to)) resolve(at);
      } catch {
        /* strace or pretty output */
      }
    });
    proc.on('exit', (code) => reject(new Error(`failoverd exited (${code}) before the state change: ${tail.join('\n')}`)));
  });
  reached.catch(() => undefined);
  const cpuAtReached = reached.then(() => cpuMs(proc.pid!));
  cpuAtReached.catch(() => undefined);
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  return { proc, reached, cpuAtReached, exited };
}

/** utime + stime of a process, in ms (/proc/PID/stat fields 14 and 15, at 100 ticks a second). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The PIDs of a process's children (strace's tracee: killing strace alone would leave it running). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function stopAgent(s: Started): Promise<void> {
  if (s.proc.exitCode !== null || s.proc.signalCode !== null) return;
  for (const child of childrenOf(s.proc.pid!)) process.kill(child, 'SIGKILL');
  s.proc.kill('SIGKILL');
  await Promise.race([s.exited, sleep(10_000)]);
}

/** ms from spawn to exit of `node -e 0`, through `ip netns exec` like the agent. */
function bareNodeMs(ns: Netns): number {
  const t0 = performance.now();
  spawnSync('ip', ['netns', 'exec', ns.name, process.execPath, '-e', '0'], { stdio: 'ignore', timeout: 120_000 });
  return performance.now() - t0;
}

/** CPU ms of `node -e 0` (user + system, as it exits). */
function bareNodeCpuMs(): number {
  const script = 'process.on("exit", () => { const u = process.cpuUsage(); process.stdout.write(String((u.user + u.system) / 1000)); })';
  return Number(spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 120_000 }).stdout);
}

interface Idle {
  /** RSS and threads IDLE_MS after start (bare node) or after the state change (the agent). */
  early: { rssKb: number; threads: number };
  /** RSS SETTLE_MS after it. */
  settledRssKb: number;
}

async function idleOf(pid: number): Promise<Idle> {
  await sleep(IDLE_MS);
  const early = procStatus(pid);
  await sleep(Math.max(0, SETTLE_MS - IDLE_MS));
  return { early, settledRssKb: procStatus(pid).rssKb };
}

async function bareNodeIdle(): Promise<Idle> {
  const proc = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    return await idleOf(proc.pid!);
  } finally {
    proc.kill('SIGKILL');
  }
}

const rssCell = (kb: number, bareKb: number): string => `${mb(kb)} (${(kb / bareKb).toFixed(2)}×)`;

/** Successful open/openat calls in a strace log, and how many distinct paths they opened. */
function countOpens(log: string): { opens: number; paths: number } {
  const paths = new Set<string>();
  let opens = 0;
  for (const line of log.split('\n')) {
    const m = /open(?:at)?\((?:[^,]+, )?"([^"]*)".*\) = (\d+)/.exec(line);
    if (!m) continue;
    opens++;
    paths.add(m[1]!);
  }
  return { opens, paths: paths.size };
}

async function host(): Promise<void> {
  const { director, client } = directorAndClient('fp');
  try {
    const config = writeConfig('vrrp-only', 0);
    say(
      `## Host: one VRRP instance on a veth in a netns, no services (no IPVS here), ${RUNS} rounds, each starting bare node and every build once`,
    );
    say('');
    say(
      `| | spawn → exit / BACKUP (median, min) | CPU to BACKUP (median) | RSS ${IDLE_MS / 1000} s after (× bare node) | RSS ${SETTLE_MS / 1000} s after | threads | files opened (distinct) |`,
    );
    say('|---|---|---|---|---|---|---|');
    // Round-robin: each round starts bare node and every build once, so a load that
    // drifts during the run (a shared host) weighs on all of them alike.
    const bare: number[] = [];
    const bareCpu: number[] = [];
    const rows = CLIS.map((cli) => ({ cli, times: [] as number[], cpu: [] as number[] }));
    for (let i = 0; i < RUNS; i++) {
      bare.push(bareNodeMs(director));
      bareCpu.push(bareNodeCpuMs());
      for (const row of rows) {
        const agent = startAgent(row.cli, config, director, 'backup');
        try {
          row.times.push(await agent.reached);
          row.cpu.push(await agent.cpuAtReached);
        } finally {
          await stopAgent(agent);
        }
      }
    }
    const bareIdle = await bareNodeIdle();
    const bareTrace = join(work, 'bare.strace');
    spawnSync('strace', ['-f', '-qq', '-e', 'trace=open,openat', '-o', bareTrace, process.execPath, '-e', '0'], { stdio: 'ignore' });
    const bareOpens = countOpens(readFileSync(bareTrace, 'utf8'));
    say(
      `| bare \`node -e 0\` | ${ms(median(bare))}, ${ms(Math.min(...bare))} | ${ms(median(bareCpu))} | ${mb(bareIdle.early.rssKb)} | ${mb(bareIdle.settledRssKb)} | ${bareIdle.early.threads} | ${bareOpens.opens} (${bareOpens.paths}) |`,
    );
    for (const { cli, times, cpu } of rows) {
      let idle: Idle = { early: { rssKb: NaN, threads: NaN }, settledRssKb: NaN };
      const agent = startAgent(cli, config, director, 'backup');
      try {
        await agent.reached;
        idle = await idleOf(agent.proc.pid!);
      } finally {
        await stopAgent(agent);
      }
      const trace = join(work, 'agent.strace');
      const traced = startAgent(cli, config, director, 'backup', ['strace', '-f', '-qq', '-e', 'trace=open,openat', '-o', trace]);
      try {
        await traced.reached;
      } finally {
        await stopAgent(traced);
      }
      const opens = countOpens(readFileSync(trace, 'utf8'));
      say(
        `| failoverd run (${cli.label}) | ${ms(median(times))}, ${ms(Math.min(...times))} | ${ms(median(cpu))} | ${rssCell(idle.early.rssKb, bareIdle.early.rssKb)} | ${rssCell(idle.settledRssKb, bareIdle.settledRssKb)} | ${idle.early.threads} | ${opens.opens} (${opens.paths}) |`,
      );
    }
  } finally {
    director.delete();
    client.delete();
  }
}

/** Inside the UML kernel: IPVS is there, so services and real servers are real. */
async function uml(): Promise<void> {
  const { director, client } = directorAndClient('fpu');
  try {
    // Every real-server address is local to the client: a check's SYN gets an RST at once.
    director.ip('route', 'add', '10.8.0.0/16', 'via', '10.6.2.10');
    client.ip('route', 'add', 'local', '10.8.0.0/16', 'dev', 'lo');
    say(
      `## UML kernel (test/harness/uml-run.sh, hostfs), ${RUNS} runs of node -e 0, ${RUNS} rounds of the seed config, then one start per line`,
    );
    say('');
    const bare = Array.from({ length: RUNS }, () => bareNodeMs(director));
    const bareIdle = await bareNodeIdle();
    say(
      `bare \`node -e 0\`, spawn → exit: median ${ms(median(bare))}, min ${ms(Math.min(...bare))}; bare node idle: RSS ${mb(bareIdle.early.rssKb)} at ${IDLE_MS / 1000} s, ${mb(bareIdle.settledRssKb)} at ${SETTLE_MS / 1000} s, ${bareIdle.early.threads} threads`,
    );
    say('');
    // The seed config first, RUNS rounds each starting every build once (a UML kernel
    // shared with other work drifts); then one start per build at 1,000 and 10,000.
    const seed = writeConfig('rs2', 2);
    const seedTimes = new Map<string, number[]>(CLIS.map((cli) => [cli.label, []]));
    for (let i = 0; i < RUNS; i++) {
      for (const cli of CLIS) {
        const agent = startAgent(cli, seed, director, undefined);
        try {
          seedTimes.get(cli.label)!.push(await agent.reached);
        } finally {
          await stopAgent(agent);
        }
      }
    }
    say('| | spawn → first state change, seed config, median (min) of the rounds |');
    say('|---|---|');
    for (const cli of CLIS) {
      const times = seedTimes.get(cli.label)!;
      say(
        `| failoverd run (${cli.label}) | ${ms(median(times))} (${ms(Math.min(...times))}), × ${(median(times) / median(bare)).toFixed(1)} bare node |`,
      );
    }
    say('');
    say(`| | real servers | spawn → first state change | RSS once checked | RSS ${SETTLE_MS / 1000} s later (× bare node's) | threads |`);
    say('|---|---|---|---|---|---|');
    for (const cli of CLIS) {
      for (const n of [2, 1000, 10_000]) {
        const agent = startAgent(cli, n === 2 ? seed : writeConfig(`rs${n}`, n), director, undefined);
        try {
          const t = await agent.reached;
          await sleep(Math.max(IDLE_MS, 3 * n));
          const idle = procStatus(agent.proc.pid!);
          await sleep(SETTLE_MS);
          const settled = procStatus(agent.proc.pid!);
          say(
            `| failoverd run (${cli.label}) | ${n} | ${ms(t)} | ${mb(idle.rssKb)} | ${rssCell(settled.rssKb, bareIdle.settledRssKb)} | ${idle.threads} |`,
          );
        } finally {
          await stopAgent(agent);
        }
      }
    }
  } finally {
    director.delete();
    client.delete();
  }
}

async function main(): Promise<void> {
  try {
    if (argv.includes('--in-uml')) await uml();
    else if (argv.includes('--uml')) {
      const harness = fileURLToPath(new URL('../../../test/harness/uml-run.sh', import.meta.url));
      const inner = [process.execPath, fileURLToPath(import.meta.url), ...argv.filter((a) => a !== '--uml' && a !== '--out'), '--in-uml'];
      const r = spawnSync('bash', [harness, '--timeout', '3000', '--', ...inner], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      for (const line of r.stdout.split('\n')) if (line) say(line);
    } else await host();
    const file = flag('--out');
    if (file) writeFileSync(file, `${out.join('\n')}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
