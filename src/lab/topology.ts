// The seed's DR lab as network namespaces on one bridge: a client, two
// directors and two real servers. The bridge lives in its own "switch"
// namespace, so nothing is added to the namespace the lab is started from.
// A director can be powered off (its namespace deleted: VIP, IPVS table and sync
// daemon vanish with it, as on a crashed machine) and powered on again (fresh).
import { spawnSync } from 'node:child_process';

export const VIP = '10.6.2.195';
export const SERVICE_PORT = 80;

export type HostRole = 'client' | 'director' | 'realserver';
export interface HostSpec {
  name: string;
  role: HostRole;
  address: string;
}

/** The seed's addresses. Directors' own addresses sit next to the VIP's neighbours. */
export const HOSTS: readonly HostSpec[] = [
  { name: 'client', role: 'client', address: '10.6.2.10' },
  { name: 'lvs-a', role: 'director', address: '10.6.2.193' },
  { name: 'lvs-b', role: 'director', address: '10.6.2.194' },
  { name: 'rs1', role: 'realserver', address: '10.6.2.191' },
  { name: 'rs2', role: 'realserver', address: '10.6.2.192' },
];

export interface LabHost extends HostSpec {
  /** Network namespace name. */
  ns: string;
  /** eth0's MAC: 02:00 followed by the IPv4 address, so it reads back to the host. */
  mac: string;
  poweredOn: boolean;
  /** Its port on the bridge (in the switch namespace), while plugged in. */
  port?: string;
}

export function macFor(address: string): string {
  return ['02', '00', ...address.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':');
}

export function sh(command: string, args: string[], timeoutMs = 20_000): string {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0)
    throw new Error(`${command} ${args.join(' ')} failed (${r.status ?? r.signal}): ${(r.stderr || r.error?.message || '').trim()}`);
  return r.stdout;
}

export class Topology {
  readonly switchNs: string;
  readonly hosts = new Map<string, LabHost>();
  private generation = 0;
  private built = false;

  /** prefix is prepended to every namespace name ("" gives client, lvs-a, ...). */
  constructor(readonly prefix: string) {
    this.switchNs = `${prefix}lab-switch`;
    for (const spec of HOSTS)
      this.hosts.set(spec.name, { ...spec, ns: `${prefix}${spec.name}`, mac: macFor(spec.address), poweredOn: false });
  }

  host(name: string): LabHost {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no lab host ${name}`);
    return h;
  }

  /** Which host a MAC belongs to ("lvs-b"), for narrating ARP caches. */
  hostByMac(mac: string): string | undefined {
    return [...this.hosts.values()].find((h) => h.mac === mac.toLowerCase())?.name;
  }

  nsPath(name: string): string {
    return `/run/netns/${this.host(name).ns}`;
  }

  build(): void {
    const existing = sh('ip', ['netns', 'list'])
      .split('\n')
      .map((l) => l.split(' ')[0]);
    const taken = [this.switchNs, ...[...this.hosts.values()].map((h) => h.ns)].filter((n) => existing.includes(n));
    if (taken.length)
      throw new Error(`network namespace(s) ${taken.join(', ')} already exist: another lab is running here (or use another prefix)`);
    this.built = true;
    sh('ip', ['netns', 'add', this.switchNs]);
    // Snooping off: VRRP and the IPVS sync daemon use multicast without IGMP joins the bridge would see.
    sh('ip', ['-n', this.switchNs, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0']);
    sh('ip', ['-n', this.switchNs, 'link', 'set', 'br0', 'up']);
    for (const host of this.hosts.values()) this.powerOn(host.name);
  }

  /** Creates the host's namespace and plugs its eth0 into the bridge. */
  powerOn(name: string): void {
    const host = this.host(name);
    if (host.poweredOn) return;
    // A fresh port name each time: the old one may linger while the kernel tears down a deleted namespace.
    const port = `p${this.generation++}-${name}`.slice(0, 15);
    sh('ip', ['netns', 'add', host.ns]);
    sh('ip', ['link', 'add', 'eth0', 'netns', host.ns, 'address', host.mac, 'type', 'veth', 'peer', 'name', port, 'netns', this.switchNs]);
    sh('ip', ['-n', this.switchNs, 'link', 'set', port, 'master', 'br0', 'up']);
    host.port = port;
    sh('ip', ['-n', host.ns, 'link', 'set', 'lo', 'up']);
    sh('ip', ['-n', host.ns, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0']);
    sh('ip', ['-n', host.ns, 'link', 'set', 'eth0', 'up']);
    host.poweredOn = true;
  }

  /** Pulls the host's cable: its bridge port (and so the veth pair) is deleted at once. */
  cutCable(name: string): void {
    const host = this.host(name);
    if (!host.port) return;
    sh('ip', ['-n', this.switchNs, 'link', 'delete', host.port]);
    delete host.port;
  }

  /** Deletes the host's namespace: every address, IPVS entry and sync daemon in it is gone. */
  powerOff(name: string): void {
    const host = this.host(name);
    if (!host.poweredOn) return;
    host.poweredOn = false;
    this.cutCable(name);
    sh('ip', ['netns', 'delete', host.ns]);
  }

  destroy(): void {
    if (!this.built) return;
    for (const host of this.hosts.values()) {
      try {
        this.powerOff(host.name);
      } catch {
        /* already gone */
      }
    }
    try {
      sh('ip', ['netns', 'delete', this.switchNs]);
    } catch {
      /* already gone */
    }
    this.built = false;
  }
}
