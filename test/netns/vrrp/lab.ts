// A VRRP lab in network namespaces: a bridge namespace, router namespaces each
// with eth0 on the bridge, an observer namespace running tcpdump. Runs
// failoverd instances (fixtures/run-instance) and keepalived; everything is
// named with a unique prefix and torn down by cleanup().
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { RtNetlink, type RtnlWatcher } from '../../../src/net/rtnetlink.js';
import { sh } from '../../helpers/shell.js';
import { waitFor } from '../../helpers/wait.js';

const here = resolve(new URL('.', import.meta.url).pathname);

export interface WireEvent {
  t: number;
  kind: 'vrrp' | 'garp' | 'na';
  srcMac: string;
  source?: string;
  version?: number;
  vrid?: number;
  priority?: number;
  address?: string;
}

/**
 * tcpdump on a namespace's eth0: line-buffered, numeric, with the capture's own timestamps
 * (-tt); each output line goes to onLine. Resolves once it listens; killed if it does not
 * within 20 s.
 */
export async function tcpdump(ns: string, args: string[], onLine: (line: string) => void): Promise<ChildProcess> {
  const proc = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '-i', 'eth0', '--immediate-mode', '-l', '-n', '-tt', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  createInterface({ input: proc.stdout }).on('line', onLine);
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      fail(new Error('tcpdump did not start within 20 s'));
    }, 20_000);
    proc.stderr.on('data', (d: Buffer) => {
      if (d.toString().includes('listening on')) {
        clearTimeout(timer);
        ok();
      }
    });
    proc.on('exit', () => {
      clearTimeout(timer);
      fail(new Error('tcpdump exited'));
    });
  });
  return proc;
}

/** The capture timestamps (ms) of the packets a tcpdump filter matches, e.g. one master's adverts. */
export async function captureTimes(ns: string, filter: string, extraArgs: string[] = []): Promise<{ times: number[]; stop: () => void }> {
  const times: number[] = [];
  const proc = await tcpdump(ns, [...extraArgs, filter], (line) => {
    const m = /^(\d+\.\d+)/.exec(line);
    if (m) times.push(Number(m[1]) * 1000);
  });
  return {
    times,
    stop: () => {
      if (proc.exitCode === null) proc.kill('SIGTERM');
    },
  };
}

export class Observer {
  readonly events: WireEvent[] = [];
  private proc: ChildProcess | undefined;

  static async start(ns: string): Promise<Observer> {
    const observer = new Observer();
    observer.proc = await tcpdump(ns, ['-e', '-U', 'ip proto 112 or ip6 proto 112 or arp or (icmp6 and ip6[40] == 136)'], (line) =>
      observer.parse(line),
    );
    return observer;
  }

  private parse(line: string): void {
    const head = /^(\d+\.\d+) (\S+) > (\S+),/.exec(line);
    if (!head) return;
    const t = Number(head[1]) * 1000;
    const srcMac = head[2]!;
    const vrrp = /: (\S+) > (\S+): VRRPv(\d), Advertisement, vrid (\d+), prio (\d+)/.exec(line);
    if (vrrp) {
      this.events.push({
        t,
        kind: 'vrrp',
        srcMac,
        source: vrrp[1]!,
        version: Number(vrrp[3]),
        vrid: Number(vrrp[4]),
        priority: Number(vrrp[5]),
      });
      return;
    }
    const arp = /Request who-has (\S+) (?:\(\S+\) )?tell (\S+),/.exec(line);
    if (arp && arp[1] === arp[2]) {
      this.events.push({ t, kind: 'garp', srcMac, address: arp[1]! });
      return;
    }
    const na = /neighbor advertisement, (?:length \d+, )?tgt is ([0-9a-f:]+)/.exec(line);
    if (na) this.events.push({ t, kind: 'na', srcMac, address: na[1]! });
  }

  adverts(vrid?: number): WireEvent[] {
    return this.events.filter((e) => e.kind === 'vrrp' && (vrid === undefined || e.vrid === vrid));
  }

  announcements(): WireEvent[] {
    return this.events.filter((e) => e.kind === 'garp' || e.kind === 'na');
  }

  stop(): void {
    if (this.proc?.exitCode === null && this.proc.pid) process.kill(this.proc.pid, 'SIGTERM');
  }
}

/**
 * Longest time two routers both claimed mastership on the wire: each router's
 * adverts (priority > 0) form runs while gaps stay under 1.5 intervals; the
 * result is the largest overlap of runs of different routers.
 */
export function longestDualMasterMs(adverts: WireEvent[], intervalMs: number): number {
  const runs = new Map<string, { from: number; to: number }[]>();
  for (const a of adverts) {
    const list = runs.get(a.source!) ?? [];
    runs.set(a.source!, list);
    const last = list.at(-1);
    if (a.priority === 0) continue;
    if (last && a.t - last.to <= intervalMs * 1.5) last.to = a.t;
    else list.push({ from: a.t, to: a.t });
  }
  let worst = 0;
  const all = [...runs.entries()];
  for (let i = 0; i < all.length; i++) {
    for (let j = i + 1; j < all.length; j++) {
      for (const x of all[i]![1]) for (const y of all[j]![1]) worst = Math.max(worst, Math.min(x.to, y.to) - Math.max(x.from, y.from));
    }
  }
  return worst;
}

export interface InstanceEvent {
  event: string;
  t: number;
  from?: string;
  to?: string;
  reason?: string;
  [k: string]: unknown;
}

export class RouterProcess {
  readonly events: InstanceEvent[] = [];
  readonly exited: Promise<number | null>;
  stderr = '';

  constructor(
    readonly proc: ChildProcess,
    readonly kind: 'failoverd' | 'keepalived',
    private readonly keepalivedLog?: string,
  ) {
    if (proc.stdout)
      createInterface({ input: proc.stdout }).on('line', (line) => {
        try {
          this.events.push(JSON.parse(line) as InstanceEvent);
        } catch {
          /* not ours */
        }
      });
    proc.stderr?.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.exited = new Promise((ok) => proc.on('exit', (code) => ok(code)));
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** keepalived's log lines so far (none for failoverd, whose events are on stdout). */
  logLines(): string[] {
    return this.keepalivedLog && existsSync(this.keepalivedLog) ? readFileSync(this.keepalivedLog, 'utf8').split('\n').filter(Boolean) : [];
  }

  get state(): string | undefined {
    return this.events.filter((e) => e.event === 'state').at(-1)?.to;
  }

  async waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    await waitFor(predicate, {
      what,
      timeoutMs,
      stepMs: 10,
      detail: () =>
        `events: ${JSON.stringify(this.events.slice(-5))} stderr: ${this.stderr.slice(-500)} ${this.logLines().join('\n').slice(-800)}`,
    });
  }

  async waitForState(state: string, timeoutMs: number): Promise<void> {
    await this.waitFor(() => this.state === state, timeoutMs, `state ${state}`);
  }

  kill(signal: NodeJS.Signals): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) process.kill(this.pid, signal);
  }
}

export interface Node {
  name: string;
  ns: string;
  ipv4: string;
  mac: string;
}

/** Records when each node's namespace gains or loses an address. */
export class VipMonitor {
  readonly timeline: { t: number; node: string; action: 'add' | 'del'; address: string }[] = [];
  private readonly watchers: { rtnl: RtNetlink; watcher: RtnlWatcher }[] = [];

  watch(node: Node): void {
    const rtnl = new RtNetlink({ netns: `/run/netns/${node.ns}` });
    const watcher = rtnl.watch();
    watcher.on('change', (c) => {
      if (c.kind === 'address')
        this.timeline.push({ t: Date.now(), node: node.name, action: c.action === 'new' ? 'add' : 'del', address: c.address.address });
    });
    this.watchers.push({ rtnl, watcher });
  }

  /** Longest time two nodes held the address together within [since, end]. */
  longestDoubleHoldMs(address: string, since: number, end: number): number {
    const holding = new Map<string, number>();
    const intervals: { node: string; from: number; to: number }[] = [];
    for (const e of this.timeline.filter((x) => x.address === address)) {
      if (e.action === 'add' && !holding.has(e.node)) holding.set(e.node, e.t);
      if (e.action === 'del' && holding.has(e.node)) {
        intervals.push({ node: e.node, from: holding.get(e.node)!, to: e.t });
        holding.delete(e.node);
      }
    }
    for (const [node, from] of holding) intervals.push({ node, from, to: end });
    const clipped = intervals.map((i) => ({ ...i, from: Math.max(i.from, since), to: Math.min(i.to, end) }));
    let worst = 0;
    for (const x of clipped)
      for (const y of clipped) if (x.node < y.node) worst = Math.max(worst, Math.min(x.to, y.to) - Math.max(x.from, y.from));
    return worst;
  }

  close(): void {
    for (const w of this.watchers) {
      w.watcher.close();
      w.rtnl.close();
    }
  }
}

export class Lab {
  readonly prefix: string;
  readonly bridgeNs: string;
  readonly observerNs: string;
  readonly nodes = new Map<string, Node>();
  readonly work: string;
  private readonly processes: RouterProcess[] = [];
  private observer: Observer | undefined;
  private port = 0;

  constructor(tag: string) {
    this.prefix = `vr${process.pid}${tag}`;
    this.bridgeNs = `${this.prefix}-br`;
    this.observerNs = `${this.prefix}-obs`;
    this.work = mkdtempSync(join(tmpdir(), `${this.prefix}-`));
  }

  setup(nodes: { name: string; ipv4: string }[]): void {
    sh(['ip', 'netns', 'add', this.bridgeNs]);
    sh(['ip', '-n', this.bridgeNs, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0']);
    sh(['ip', '-n', this.bridgeNs, 'link', 'set', 'br0', 'up']);
    this.addNamespace(this.observerNs, '192.0.2.250/24', '02:00:5e:99:00:fa');
    nodes.forEach((n, i) => {
      const ns = `${this.prefix}-${n.name}`;
      const mac = `02:00:5e:99:00:${(i + 1).toString(16).padStart(2, '0')}`;
      this.addNamespace(ns, `${n.ipv4}/24`, mac);
      this.nodes.set(n.name, { name: n.name, ns, ipv4: n.ipv4, mac });
    });
  }

  private addNamespace(ns: string, address: string, mac: string): void {
    sh(['ip', 'netns', 'add', ns]);
    for (const key of ['all.accept_dad=0', 'default.accept_dad=0', 'all.router_solicitations=0', 'default.router_solicitations=0']) {
      sh(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${key}`]);
    }
    const port = `p${this.port++}`;
    sh(['ip', 'link', 'add', 'eth0', 'netns', ns, 'address', mac, 'type', 'veth', 'peer', 'name', port, 'netns', this.bridgeNs]);
    sh(['ip', '-n', this.bridgeNs, 'link', 'set', port, 'master', 'br0', 'up']);
    sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    sh(['ip', '-n', ns, 'addr', 'add', address, 'dev', 'eth0']);
    sh(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
  }

  node(name: string): Node {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  async observe(): Promise<Observer> {
    this.observer = await Observer.start(this.observerNs);
    return this.observer;
  }

  /** Runs a failoverd VRRP instance in the node's namespace. */
  failoverd(nodeName: string, config: Record<string, unknown>): RouterProcess {
    const node = this.node(nodeName);
    const runner = join(here, 'fixtures/run-instance.js');
    const proc = spawn(
      process.execPath,
      [runner, JSON.stringify({ netns: `/run/netns/${node.ns}`, config: { interface: 'eth0', ...config } })],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const r = new RouterProcess(proc, 'failoverd');
    this.processes.push(r);
    return r;
  }

  /** Runs Debian's keepalived (VRRP only) in the node's namespace with an instance body. */
  keepalived(nodeName: string, name: string, instanceBody: string): RouterProcess {
    const conf = join(this.work, `${nodeName}-${name}-${this.processes.length}.conf`);
    writeFileSync(
      conf,
      `global_defs {\n  router_id ${nodeName}\n  enable_script_security\n}\nvrrp_instance ${name} {\n  interface eth0\n${instanceBody}\n}\n`,
    );
    return this.keepalivedWith(nodeName, conf);
  }

  /**
   * Runs Debian's keepalived (VRRP only) in the node's namespace with a whole keepalived.conf.
   * Its transitions ("(NAME) Entering MASTER STATE") become state events naming the instance;
   * its pid files go to the lab's directory, which cleanup() sweeps.
   */
  keepalivedWith(nodeName: string, conf: string): RouterProcess {
    const node = this.node(nodeName);
    const base = join(this.work, `${nodeName}-keepalived-${this.processes.length}`);
    const proc = spawn(
      'ip',
      ['netns', 'exec', node.ns, 'keepalived', '-n', '-l', '-D', '--vrrp', '-f', conf, '-p', `${base}.pid`, '-r', `${base}.vrrp.pid`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const r = new RouterProcess(proc, 'keepalived', `${base}.log`);
    const onLine = (line: string): void => {
      const m = /\((\S+)\) Entering (\w+) STATE/.exec(line);
      if (m) r.events.push({ event: 'state', t: Date.now(), instance: m[1]!, to: m[2]!.toLowerCase() });
      try {
        writeFileSync(`${base}.log`, `${line}\n`, { flag: 'a' });
      } catch {
        /* the lab is gone */
      }
    };
    createInterface({ input: proc.stdout }).on('line', onLine);
    createInterface({ input: proc.stderr }).on('line', onLine);
    this.processes.push(r);
    return r;
  }

  /** The VRRP child of a keepalived (the one doing the work; kill -9 targets it). */
  keepalivedVrrpPid(r: RouterProcess): number | undefined {
    const file = readFileSync(`/proc/${r.pid}/cmdline`, 'utf8').split('\0');
    const pidFile = file[file.indexOf('-r') + 1];
    return pidFile && existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : undefined;
  }

  addresses(nodeName: string): string[] {
    const out = JSON.parse(sh(['ip', '-n', this.node(nodeName).ns, '-j', 'addr', 'show', 'dev', 'eth0'])) as {
      addr_info: { local: string }[];
    }[];
    return out.flatMap((l) => l.addr_info.map((a) => a.local));
  }

  async cleanup(): Promise<void> {
    this.observer?.stop();
    for (const p of this.processes) {
      if (p.proc.exitCode === null && p.proc.signalCode === null) {
        p.kill('SIGKILL');
        await Promise.race([p.exited, new Promise((r) => setTimeout(r, 2000))]);
      }
    }
    // keepalived's children outlive a killed parent: kill them by their pid files (only if still keepalived).
    for (const f of spawnSync('sh', ['-c', `ls ${this.work}/*.pid 2>/dev/null`], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean)) {
      const pid = Number(readFileSync(f, 'utf8').trim());
      const isKeepalived =
        pid > 1 && existsSync(`/proc/${pid}/cmdline`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('keepalived');
      if (isKeepalived)
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
    }
    for (const ns of [...[...this.nodes.values()].map((n) => n.ns), this.observerNs, this.bridgeNs])
      sh(['ip', 'netns', 'del', ns], { check: false });
    rmSync(this.work, { recursive: true, force: true });
  }
}

export function canRunNetns(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  if (spawnSync('ip', ['netns', 'list']).status !== 0) return 'ip netns unavailable';
  return undefined;
}
