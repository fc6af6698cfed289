// Network namespaces and the programs run in them: commands bounded in time, a
// namespace's deletion with every process started in it. The ECMP lab ships with the
// package and uses this; the real-kernel tests use it too, through test/helpers/
// (shell.ts, netns.ts), so there is one implementation.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export interface ExecOptions {
  /** Written to the program's stdin. */
  input?: string;
  /** Default 60 s. */
  timeoutMs?: number;
}

export interface ExecResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a program, bounded by a timeout; never throws. */
export function tryExec(command: string, args: string[], options: ExecOptions = {}): ExecResult {
  const r = spawnSync(command, args, {
    encoding: 'utf8',
    input: options.input ?? '',
    timeout: options.timeoutMs ?? 60_000,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

/** Runs a program and returns its stdout; throws with its stderr when it fails. */
export function exec(command: string, args: string[], options: ExecOptions = {}): string {
  const r = tryExec(command, args, options);
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}

let counter = 0;

export class Namespace {
  private readonly children = new Set<ChildProcess>();

  /** Use create(): it makes the namespace this names. */
  constructor(readonly name: string) {}

  /** A fresh namespace with lo up; the name is unique per process and call. */
  static create<T extends Namespace>(this: new (name: string) => T, prefix: string): T {
    const name = `${prefix}-${process.pid}-${counter++}`.slice(0, 40);
    exec('ip', ['netns', 'add', name]);
    const ns = new this(name);
    ns.ip('link', 'set', 'lo', 'up');
    return ns;
  }

  /** The path a netlink socket or setns(2) opens. */
  get path(): string {
    return `/run/netns/${this.name}`;
  }

  /** `ip -n NAME ...` */
  ip(...args: string[]): string {
    return exec('ip', ['-n', this.name, ...args]);
  }

  /** `ip -n NAME -j ...` parsed. */
  ipJson<T = unknown>(...args: string[]): T {
    return JSON.parse(exec('ip', ['-n', this.name, '-j', ...args]) || '[]') as T;
  }

  /** Runs a command inside the namespace and returns its stdout; throws when it fails. */
  exec(command: string, args: string[] = [], options: ExecOptions = {}): string {
    return exec('ip', ['netns', 'exec', this.name, command, ...args], options);
  }

  /** Like exec, but returns status and output instead of throwing. */
  tryExec(command: string, args: string[] = [], options: ExecOptions = {}): ExecResult {
    return tryExec('ip', ['netns', 'exec', this.name, command, ...args], options);
  }

  /** A long-running process inside the namespace; killed by delete(). */
  spawn(command: string, args: string[] = [], stdin: 'ignore' | 'pipe' = 'ignore', env: NodeJS.ProcessEnv = process.env): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, command, ...args], { stdio: [stdin, 'pipe', 'pipe'], env });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  sysctl(key: string): string {
    return this.exec('sysctl', ['-n', key]).trim();
  }

  /** Kills what spawn() started, then deletes the namespace (already gone is fine). */
  delete(): void {
    for (const child of this.children) if (child.pid && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    tryExec('ip', ['netns', 'delete', this.name]);
  }
}
