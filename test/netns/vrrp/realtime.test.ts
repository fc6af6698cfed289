// vrrp_realtime with a real agent (`failoverd run`'s composition with an in-memory
// IPVS table, since this host's kernel has no ip_vs) in a namespace, checked with the
// kernel's own tools: chrt and ps read the scheduling of each thread. The main thread
// (which times and sends the adverts) runs SCHED_RR at the configured priority; every
// other thread, the checks worker among them, and the programs it starts afterwards
// (a notify program) keep SCHED_OTHER. Without CAP_SYS_NICE the agent says why in one
// error line and runs on with normal scheduling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canRunNetns, Lab } from './lab.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { sh } from '../../helpers/shell.js';
import { waitFor } from '../../helpers/wait.js';

const skip = canRunNetns();
const PRIORITY = 42;
const AGENT = fileURLToPath(new URL('./fixtures/memory-ipvs-agent.js', import.meta.url));

/** The agent in a namespace, its JSON log lines kept. */
class Agent {
  readonly logs: Record<string, unknown>[] = [];
  readonly exited: Promise<void>;
  private readonly proc: ChildProcess;
  constructor(ns: string, config: string, runAs: string[] = []) {
    this.proc = spawn('ip', ['netns', 'exec', ns, ...runAs, process.execPath, AGENT, config], { stdio: ['ignore', 'ignore', 'pipe'] });
    createInterface({ input: this.proc.stderr! }).on('line', (line) => {
      try {
        this.logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        this.logs.push({ msg: line });
      }
    });
    this.exited = new Promise((ok) => this.proc.on('exit', () => ok()));
  }
  get pid(): number {
    return this.proc.pid!;
  }
  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }
  logged(text: string): boolean {
    return this.logs.some((l) => JSON.stringify(l).includes(text));
  }
  async waitForMaster(): Promise<void> {
    await waitFor(() => this.logged('backup -> master') || !this.running, { what: 'web MASTER', timeoutMs: 60_000, stepMs: 100 });
    assert.ok(this.running, `the agent exited: ${JSON.stringify(this.logs.slice(-5))}`);
  }
  async stop(): Promise<void> {
    if (!this.running) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}

function config(socket: string, schedFile: string): string {
  return `node: { name: rt }
vrrp:
  - name: web
    interface: eth0
    vrid: 61
    priority: 150
    advert_interval: 100ms
    vips: [10.6.2.195/32]
    notify: { on_master: "chrt -p $$ > ${schedFile}" }
vrrp_realtime: { priority: ${PRIORITY}, cpu_burst_limit: 2s }
services:
  - name: web-80
    vip: 10.6.2.195
    port: 80
    scheduler: wlc
    check: { type: tcp, interval: 200ms, timeout: 100ms }
    real_servers:
      - { address: 127.0.0.1, port: 18080, weight: 1 }
api: { listen: ${socket}, metrics: false }
health: { checks_thread: worker }
logging: { format: json }
`;
}

/** Each thread of the process: [tid, scheduling class (TS, RR, FF...), real-time priority or '-']. */
function threads(pid: number): [number, string, string][] {
  return sh(['ps', '-L', '-o', 'tid=,cls=,rtprio=', '-p', String(pid)])
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .map(([tid, cls, prio]) => [Number(tid), cls!, prio!]);
}

test('vrrp_realtime: the main thread runs SCHED_RR, the checks worker and later children do not', { skip, timeout: 90_000 }, async () => {
  const lab = new Lab('rt');
  const work = mkdtempSync(join(tmpdir(), 'failoverd-realtime-'));
  let agent: Agent | undefined;
  try {
    lab.setup([{ name: 'dir', ipv4: '192.0.2.10' }]);
    const dir = lab.node('dir');
    // Nothing listens on the real server's port: its checks fail, but they run, in the worker.
    const socket = join(work, 'api.sock');
    const schedFile = join(work, 'notify-sched.txt');
    writeFileSync(join(work, 'failoverd.yaml'), config(socket, schedFile));
    agent = new Agent(dir.ns, join(work, 'failoverd.yaml'));
    await agent.waitForMaster();
    await waitFor(() => agent!.logged('"failoverd started"'), { what: 'the agent started', timeoutMs: 30_000, stepMs: 100 });
    const pid = agent.pid;

    // chrt, the kernel's view of the main thread (tid = pid).
    const main = sh(['chrt', '-p', String(pid)]);
    assert.match(main, /scheduling policy: SCHED_RR\|SCHED_RESET_ON_FORK/, main);
    assert.match(main, new RegExp(`scheduling priority: ${PRIORITY}\\b`), main);
    assert.ok(agent.logged(`SCHED_RR ${PRIORITY}`), 'the agent logs the scheduling it set');
    // Started without --single-threaded, --expose-gc and --no-memory-reducer (the packaged
    // realtime drop-in adds them; the systemd test checks that side): the agent says what
    // that risks.
    assert.ok(
      agent.logged('V8 hands work (garbage collection, optimizing compilation) to helper threads'),
      "the warning about V8's helper threads",
    );
    assert.ok(agent.logged('node was started without --expose-gc'), 'the warning about scavenges');
    assert.ok(agent.logged("V8's memory reducer compacts the whole heap"), 'the warning about the memory reducer');

    // ps: the main thread is the only real-time one; the checks worker runs (its
    // thread is among these: the agent runs its checks in a worker) at SCHED_OTHER.
    assert.ok(agent.logged('"checksThread":"worker"'), 'the checks run in the worker thread');
    const all = threads(pid);
    assert.ok(all.length >= 3, `threads: ${JSON.stringify(all)}`);
    assert.deepEqual(
      all.filter(([tid]) => tid === pid),
      [[pid, 'RR', String(PRIORITY)]],
    );
    const others = all.filter(([tid]) => tid !== pid);
    assert.deepEqual(
      others.filter(([, cls]) => cls !== 'TS'),
      [],
      `threads other than the main one that are not SCHED_OTHER: ${JSON.stringify(others)}`,
    );

    // A program the agent starts after the switch (on_master) does not inherit it.
    await waitFor(() => existsSync(schedFile) && readFileSync(schedFile, 'utf8').includes('policy'), {
      what: 'the on_master notify program wrote its scheduling',
      timeoutMs: 20_000,
      stepMs: 100,
    });
    const child = readFileSync(schedFile, 'utf8');
    assert.match(child, /scheduling policy: SCHED_OTHER/, child);
    assert.equal(agent.running, true);
  } finally {
    await agent?.stop();
    await lab.cleanup();
    rmSync(work, { recursive: true, force: true });
  }
});

test('vrrp_realtime without CAP_SYS_NICE: one error line, and the agent runs on', { skip, timeout: 90_000 }, async () => {
  const lab = new Lab('rtn');
  const work = mkdtempSync(join(tmpdir(), 'failoverd-realtime-'));
  let agent: Agent | undefined;
  try {
    lab.setup([{ name: 'dir', ipv4: '192.0.2.10' }]);
    const dir = lab.node('dir');
    const socket = join(work, 'api.sock');
    writeFileSync(join(work, 'failoverd.yaml'), config(socket, join(work, 'notify-sched.txt')));
    // Root without CAP_SYS_NICE, and RLIMIT_RTPRIO 0: the kernel refuses SCHED_RR.
    const runAs = ['prlimit', '--rtprio=0', 'setpriv', '--bounding-set=-sys_nice', '--inh-caps=-sys_nice', '--'];
    agent = new Agent(dir.ns, join(work, 'failoverd.yaml'), runAs);
    await agent.waitForMaster();
    const main = sh(['chrt', '-p', String(agent.pid)]);
    assert.match(main, /scheduling policy: SCHED_OTHER/, main);
    const refused = agent.logs.filter((l) => String(l['msg']).includes('vrrp_realtime: could not'));
    assert.equal(refused.length, 1, JSON.stringify(agent.logs.slice(-5)));
    assert.equal(refused[0]!['level'], 50);
    assert.match(String(refused[0]!['msg']), /EPERM|not permitted/);
    assert.equal(agent.running, true);
  } finally {
    await agent?.stop();
    await lab.cleanup();
    rmSync(work, { recursive: true, force: true });
  }
});
