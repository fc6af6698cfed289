// Network namespaces for UML tests: each test makes its own, named with the pid,
// and removes it (and whatever it started there) when done.
import { execFileSync, spawnSync } from 'node:child_process';

export interface Netns {
  name: string;
  /** "/run/netns/NAME", for IpvsClient.open({ netns }). */
  path: string;
  /** Runs a command inside the namespace; throws with its stderr when it fails. */
  exec(command: string, args: string[], input?: string): string;
  /** Like exec but returns status and output instead of throwing. */
  run(command: string, args: string[], input?: string): { status: number; stdout: string; stderr: string };
  ipvsadm(...args: string[]): string;
  delete(): void;
}

let counter = 0;

export function createNetns(tag: string): Netns {
  const name = `fo-${tag}-${process.pid}-${counter++}`;
  execFileSync('ip', ['netns', 'add', name]);
  const run = (command: string, args: string[], input?: string) => {
    const r = spawnSync('ip', ['netns', 'exec', name, command, ...args], { encoding: 'utf8', input: input ?? '', timeout: 60_000 });
    return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
  };
  const exec = (command: string, args: string[], input?: string): string => {
    const r = run(command, args, input);
    if (r.status !== 0) throw new Error(`ip netns exec ${name} ${command} ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
    return r.stdout;
  };
  exec('ip', ['link', 'set', 'lo', 'up']);
  return {
    name,
    path: `/run/netns/${name}`,
    exec,
    run,
    ipvsadm: (...args: string[]) => exec('ipvsadm', args),
    delete: () => { spawnSync('ip', ['netns', 'delete', name]); },
  };
}

/**
 * The kernel accepts a real server only at a unicast-routable address: a dummy
 * interface with covering prefixes makes 10/8 and 2001:db8::/32 routable.
 */
export function addRoutableDummy(ns: Netns, name = 'rs0'): void {
  ns.exec('ip', ['link', 'add', name, 'type', 'dummy']);
  ns.exec('ip', ['link', 'set', name, 'up']);
  ns.exec('ip', ['addr', 'add', '10.255.255.254/8', 'dev', name]);
  ns.exec('ip', ['-6', 'addr', 'add', '2001:db8:ffff::fffe/32', 'dev', name, 'nodad']);
}
