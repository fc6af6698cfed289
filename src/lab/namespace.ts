// A network namespace the ECMP lab creates: commands inside it, bounded in time, and
// its deletion with every process started in it. (The test tree has its own helper;
// this one ships with the package because the lab does.)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export interface ExecResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a program, bounded by a timeout; never throws. */
export function tryExec(command: string, args: string[], timeoutMs = 60_000): ExecResult {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

/** Runs a program and returns its stdout; throws with its stderr when it fails. */
export function exec(command: string, args: string[], timeoutMs = 60_000): string {
  const r = tryExec(command, args, timeoutMs);
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}

let counter = 0;

export class Namespace {
  private readonly children = new Set<ChildProcess>();

  private constructor(readonly name: string) {}

  /** A fresh namespace with lo up; the name is unique per process and call. */
  static create(prefix: string): Namespace {
    const name = `${prefix}-${process.pid}-${counter++}`.slice(0, 40);
    exec('ip', ['netns', 'add', name]);
    const ns = new Namespace(name);
    ns.ip('link', 'set', 'lo', 'up');
    return ns;
  }

  ip(...args: string[]): string {
    return exec('ip', ['-n', this.name, ...args]);
  }

  ipJson<T = unknown>(...args: string[]): T {
    return JSON.parse(exec('ip', ['-n', this.name, '-j', ...args]) || '[]') as T;
  }

  exec(command: string, args: string[] = [], options: { timeoutMs?: number } = {}): string {
    return exec('ip', ['netns', 'exec', this.name, command, ...args], options.timeoutMs);
  }

  tryExec(command: string, args: string[] = [], options: { timeoutMs?: number } = {}): ExecResult {
    return tryExec('ip', ['netns', 'exec', this.name, command, ...args], options.timeoutMs);
  }

  /** A long-running process inside the namespace; killed by delete(). */
  spawn(command: string, args: string[] = [], stdin: 'ignore' | 'pipe' = 'ignore'): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, command, ...args], { stdio: [stdin, 'pipe', 'pipe'] });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  sysctl(key: string): string {
    return this.exec('sysctl', ['-n', key]).trim();
  }

  delete(): void {
    for (const child of this.children) if (child.pid && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    tryExec('ip', ['netns', 'delete', this.name]);
  }
}
