// A two-namespace lab for the check tests: a checker namespace and a server
// namespace joined by a veth pair. Everything is named after this process's pid,
// and torn down by close().
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';

export function sh(cmd: string[], allowFail = false): string {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8' });
  if (r.status !== 0 && !allowFail) throw new Error(`${cmd.join(' ')} failed: ${r.stderr || r.error?.message}`);
  return r.stdout;
}

/** A child that speaks one line per message on stdin/stdout. */
export class LineProcess {
  private readonly lines: string[] = [];
  private waiters: Array<() => void> = [];
  private readonly rl: Interface;
  stderr = '';

  constructor(readonly child: ChildProcess) {
    this.rl = createInterface({ input: child.stdout! });
    this.rl.on('line', (l) => {
      this.lines.push(l);
      for (const w of this.waiters.splice(0)) w();
    });
    child.stderr!.on('data', (d: Buffer) => { this.stderr += d.toString(); });
  }

  send(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  /** The first line (consumed) for which `match` holds, within `timeoutMs`. */
  async next(match: (line: string) => boolean, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.lines.findIndex(match);
      if (i >= 0) return this.lines.splice(i, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0 || this.child.exitCode !== null) throw new Error(`no matching line in ${timeoutMs}ms; stderr: ${this.stderr.slice(-500)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.pid) {
      try { process.kill(this.child.pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
}

export class CheckLab {
  readonly checkerNs: string;
  readonly serverNs: string;
  readonly checkerAddress = '10.201.0.1';
  readonly checkerAddress2 = '10.201.0.3';
  readonly serverAddress = '10.201.0.2';
  private readonly processes: LineProcess[] = [];

  constructor(tag: string) {
    const id = `${tag}${process.pid}`;
    this.checkerNs = `fo-chk-${id}`;
    this.serverNs = `fo-srv-${id}`;
    const vc = `fc${process.pid}`.slice(0, 15);
    const vs = `fs${process.pid}`.slice(0, 15);
    sh(['ip', 'netns', 'add', this.checkerNs]);
    sh(['ip', 'netns', 'add', this.serverNs]);
    sh(['ip', 'link', 'add', vc, 'netns', this.checkerNs, 'type', 'veth', 'peer', 'name', vs, 'netns', this.serverNs]);
    for (const [ns, dev, addrs] of [[this.checkerNs, vc, [this.checkerAddress, this.checkerAddress2]], [this.serverNs, vs, [this.serverAddress]]] as const) {
      for (const a of addrs) sh(['ip', '-n', ns, 'addr', 'add', `${a}/24`, 'dev', dev]);
      sh(['ip', '-n', ns, 'link', 'set', dev, 'up']);
      sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
  }

  /** Starts `node SCRIPT ARGS` inside a namespace (through `ip netns exec`). */
  start(ns: string, argv: string[], wrap: string[] = []): LineProcess {
    const child = spawn('ip', ['netns', 'exec', ns, ...wrap, process.execPath, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
    const p = new LineProcess(child);
    this.processes.push(p);
    return p;
  }

  close(): void {
    for (const p of this.processes) p.kill();
    sh(['ip', 'netns', 'del', this.checkerNs], true);
    sh(['ip', 'netns', 'del', this.serverNs], true);
  }
}
