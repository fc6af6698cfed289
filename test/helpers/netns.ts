// Network namespaces for real-kernel tests: unique names, commands inside them,
// and cleanup that always runs. Only addresses inside these namespaces are used.
import { spawn, type ChildProcess } from 'node:child_process';
import { run, tryRun, type RunOptions, type RunResult } from './shell.js';

let counter = 0;

export class Netns {
  private readonly children = new Set<ChildProcess>();

  private constructor(readonly name: string) {}

  /** A fresh namespace with lo up; the name is unique per process and call. */
  static create(prefix: string): Netns {
    const name = `${prefix}-${process.pid}-${counter++}`.slice(0, 40);
    run('ip', ['netns', 'add', name]);
    const ns = new Netns(name);
    ns.ip('link', 'set', 'lo', 'up');
    return ns;
  }

  get path(): string {
    return `/run/netns/${this.name}`;
  }

  /** `ip -n NAME ...` */
  ip(...args: string[]): string {
    return run('ip', ['-n', this.name, ...args]);
  }

  /** `ip -n NAME -j ...` parsed. */
  ipJson<T = unknown>(...args: string[]): T {
    return JSON.parse(run('ip', ['-n', this.name, '-j', ...args]) || '[]') as T;
  }

  /** Runs a command inside the namespace and returns its stdout. */
  exec(command: string, args: string[] = [], options: RunOptions = {}): string {
    return run('ip', ['netns', 'exec', this.name, command, ...args], options);
  }

  /** Like exec, but returns status and output instead of throwing. */
  tryExec(command: string, args: string[] = [], options: RunOptions = {}): RunResult {
    return tryRun('ip', ['netns', 'exec', this.name, command, ...args], options);
  }

  ipvsadm(...args: string[]): string {
    return this.exec('ipvsadm', args);
  }

  /** Starts a long-running process inside the namespace; killed by delete(). */
  spawn(command: string, args: string[] = [], options: { env?: NodeJS.ProcessEnv } = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, command, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env ?? process.env,
    });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  sysctl(key: string): string {
    return this.exec('sysctl', ['-n', key]).trim();
  }

  delete(): void {
    for (const child of this.children) if (child.pid && child.exitCode === null) child.kill('SIGKILL');
    try {
      run('ip', ['netns', 'delete', this.name]);
    } catch {
      /* already gone */
    }
  }
}

/** A veth pair with one end in each namespace (or the host when ns is undefined). */
export function vethPair(a: { ns?: Netns; name: string }, b: { ns?: Netns; name: string }): void {
  run('ip', [
    'link',
    'add',
    a.name,
    ...(a.ns ? ['netns', a.ns.name] : []),
    'type',
    'veth',
    'peer',
    'name',
    b.name,
    ...(b.ns ? ['netns', b.ns.name] : []),
  ]);
  for (const end of [a, b]) {
    if (end.ns) end.ns.ip('link', 'set', end.name, 'up');
    else run('ip', ['link', 'set', end.name, 'up']);
  }
}

/** A director (eth0 10.6.2.190/24) and a client (eth0c 10.6.2.10/24) on one veth pair: the seed's addresses, inside new namespaces. */
export function directorAndClient(tag: string): { director: Netns; client: Netns } {
  const director = Netns.create(`${tag}-dir`);
  const client = Netns.create(`${tag}-cli`);
  vethPair({ ns: director, name: 'eth0' }, { ns: client, name: 'eth0c' });
  director.ip('addr', 'add', '10.6.2.190/24', 'dev', 'eth0');
  client.ip('addr', 'add', '10.6.2.10/24', 'dev', 'eth0c');
  return { director, client };
}
