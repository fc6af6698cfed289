// A two-namespace lab for the check tests: a checker namespace and a server
// namespace joined by a veth pair. Everything is named after this process's pid,
// and torn down by close().
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { sh } from '../../helpers/shell.js';

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
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
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
      if (left <= 0 || this.child.exitCode !== null)
        throw new Error(`no matching line in ${timeoutMs}ms; stderr: ${this.stderr.slice(-500)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.pid) {
      try {
        process.kill(this.child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

export class CheckLab {
  readonly checkerNs: string;
  readonly serverNs: string;
  readonly checkerAddress = '10.201.0.1';
  readonly checkerAddress2 = '10.201.0.3';
  readonly serverAddress = '10.201.0.2';
  readonly checkerAddress6 = 'fd00:201::1';
  readonly checkerAddress6b = 'fd00:201::3';
  readonly serverAddress6 = 'fd00:201::2';
  private readonly processes: LineProcess[] = [];

  constructor(tag: string) {
    const id = `${tag}${process.pid}`;
    this.checkerNs = `fo-chk-${id}`;
    this.serverNs = `fo-srv-${id}`;
    const vc = `fc${process.pid}`.slice(0, 15);
    const vs = `fs${process.pid}`.slice(0, 15);
    sh(['ip', 'netns', 'add', this.checkerNs]);
    sh(['ip', 'netns', 'add', this.serverNs]);
    // No duplicate address detection on the links made below: IPv6 works at once.
    for (const ns of [this.checkerNs, this.serverNs])
      sh(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.accept_dad=0']);
    sh(['ip', 'link', 'add', vc, 'netns', this.checkerNs, 'type', 'veth', 'peer', 'name', vs, 'netns', this.serverNs]);
    for (const [ns, dev, addrs, addrs6] of [
      [this.checkerNs, vc, [this.checkerAddress, this.checkerAddress2], [this.checkerAddress6, this.checkerAddress6b]],
      [this.serverNs, vs, [this.serverAddress], [this.serverAddress6]],
    ] as const) {
      for (const a of addrs) sh(['ip', '-n', ns, 'addr', 'add', `${a}/24`, 'dev', dev]);
      for (const a of addrs6) sh(['ip', '-n', ns, '-6', 'addr', 'add', `${a}/64`, 'dev', dev, 'nodad']);
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
    sh(['ip', 'netns', 'del', this.checkerNs], { check: false });
    sh(['ip', 'netns', 'del', this.serverNs], { check: false });
  }
}
