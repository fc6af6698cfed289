// Network namespaces for real-kernel tests: the shipped implementation
// (src/lab/namespace.ts: unique names, commands inside them, cleanup that always runs)
// plus what only tests need. Only addresses inside these namespaces are used.
import { Namespace } from '../../src/lab/namespace.js';
import { run } from './shell.js';

export class Netns extends Namespace {
  ipvsadm(...args: string[]): string {
    return this.exec('ipvsadm', args);
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
