// Every service and destination shape failoverd programs reads back exactly in
// ipvsadm's listings, and tables written by ipvsadm read back exactly in
// failoverd's dump. Runs inside the UML kernel, one network namespace per test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IpvsClient } from '../../../src/ipvs/client.js';
import { normalizeDestination, normalizeService } from '../../../src/ipvs/normalize.js';
import { KNOWN_SCHEDULERS } from '../../../src/ipvs/constants.js';
import {
  serviceKeyId,
  destinationId,
  type ActualService,
  type DesiredService,
  type DestinationSpec,
  type ServiceSpec,
} from '../../../src/ipvs/types.js';
import {
  parseIpvsadmDaemons,
  parseIpvsadmHeader,
  parseIpvsadmList,
  parseIpvsadmTimeouts,
  toIpvsadmRules,
  type IpvsadmService,
} from '../../helpers/ipvsadm.js';
import { Netns } from '../../helpers/netns.js';
import { addRoutableDummy } from './netns.js';
import { waitFor } from '../../helpers/wait.js';

async function withTable(tag: string, fn: (ns: Netns, client: IpvsClient) => Promise<void>): Promise<void> {
  const ns = Netns.create(`fo-${tag}`);
  let client: IpvsClient | undefined;
  try {
    addRoutableDummy(ns);
    client = await IpvsClient.open({ netns: ns.path });
    await fn(ns, client);
  } finally {
    client?.close();
    ns.delete();
  }
}

const svc = (key: ServiceSpec['key'], scheduler: string, extra: Partial<ServiceSpec> = {}): ServiceSpec =>
  normalizeService({ key, scheduler, flags: {}, persistenceTimeoutSec: 0, netmask: '', ...extra });
const dest = (address: string, port: number, extra: Partial<DestinationSpec> = {}): DestinationSpec =>
  normalizeDestination({ address, port, weight: 1, forwarding: 'dr', upperThreshold: 0, lowerThreshold: 0, ...extra });

// The UML kernel is built without ip_vs_twos (checked: "Scheduler or persistence engine not found").
const SCHEDULERS_IN_UML = KNOWN_SCHEDULERS.filter((s) => s !== 'twos');

const SHAPES: DesiredService[] = [
  {
    service: svc({ kind: 'address', family: 'inet', protocol: 'tcp', address: '10.6.2.195', port: 80 }, 'wlc'),
    destinations: [
      dest('10.6.2.191', 80, { weight: 3, upperThreshold: 100, lowerThreshold: 10 }),
      dest('10.6.2.192', 8080, { forwarding: 'nat', weight: 0 }),
      dest('10.6.2.193', 80, { forwarding: 'tun', tunnel: { type: 'ipip' } }),
      dest('10.6.2.194', 80, { forwarding: 'tun', weight: 7, tunnel: { type: 'gue', port: 6080, checksum: 'csum' } }),
      dest('10.6.2.196', 80, { forwarding: 'tun', tunnel: { type: 'gue', port: 6081, checksum: 'remcsum' } }),
      dest('10.6.2.197', 80, { forwarding: 'tun', tunnel: { type: 'gre', checksum: 'csum' } }),
    ],
  },
  {
    service: svc({ kind: 'address', family: 'inet6', protocol: 'udp', address: '2001:db8::1', port: 53 }, 'sh', {
      flags: { schedFallback: true, schedPort: true, persistent: true },
      persistenceTimeoutSec: 600,
      netmask: 64,
    }),
    destinations: [dest('2001:db8::10', 53), dest('2001:db8::11', 5353, { forwarding: 'nat', weight: 2 })],
  },
  {
    service: svc({ kind: 'address', family: 'inet', protocol: 'sctp', address: '10.6.3.1', port: 3868 }, 'lc'),
    destinations: [dest('10.6.3.2', 3868)],
  },
  {
    service: svc({ kind: 'address', family: 'inet6', protocol: 'tcp', address: '2001:db8::2', port: 443 }, 'rr'),
    destinations: [dest('2001:db8::20', 443, { weight: 5, upperThreshold: 50 })],
  },
  {
    service: svc({ kind: 'address', family: 'inet', protocol: 'udp', address: '10.6.3.5', port: 514 }, 'rr', {
      flags: { onePacket: true },
    }),
    destinations: [],
  },
  {
    service: svc({ kind: 'fwmark', family: 'inet', fwmark: 5 }, 'mh', {
      flags: { schedPort: true, persistent: true },
      persistenceTimeoutSec: 300,
      netmask: '255.255.255.0',
    }),
    destinations: [dest('10.6.2.191', 0)],
  },
  {
    service: svc({ kind: 'fwmark', family: 'inet6', fwmark: 6 }, 'rr', { flags: { onePacket: true } }),
    destinations: [dest('2001:db8::30', 0, { weight: 4 })],
  },
  { service: svc({ kind: 'fwmark', family: 'inet', fwmark: 7 }, 'mh', { flags: { schedFallback: true } }), destinations: [] },
  ...SCHEDULERS_IN_UML.map((scheduler, i): DesiredService => ({
    service: svc(
      { kind: 'address', family: 'inet', protocol: 'tcp', address: '10.6.4.1', port: 1000 + i },
      scheduler,
      i % 2 ? { flags: { persistent: true }, persistenceTimeoutSec: 60 + i, netmask: 24 } : {},
    ),
    destinations: [dest('10.6.4.2', 1000 + i, { weight: i })],
  })),
];

const FORWARD_NAME = { dr: 'Route', nat: 'Masq', tun: 'Tunnel' } as const;

function ipvsadmId(s: ServiceSpec): string {
  const k = s.key;
  return k.kind === 'fwmark' ? String(k.fwmark) : k.family === 'inet6' ? `[${k.address}]:${k.port}` : `${k.address}:${k.port}`;
}

/** What `ipvsadm -Ln` must print for a service, as parsed. */
function expectedListing(d: DesiredService): Pick<
  IpvsadmService,
  'protocol' | 'id' | 'ipv6' | 'scheduler' | 'schedFlags' | 'persistent' | 'mask' | 'onePacket'
> & {
  destinations: string[][];
} {
  const s = d.service;
  const out: ReturnType<typeof expectedListing> = {
    protocol: s.key.kind === 'fwmark' ? 'FWM' : s.key.protocol.toUpperCase(),
    id: ipvsadmId(s),
    ipv6: s.key.family === 'inet6',
    scheduler: s.scheduler,
    schedFlags: (['sh', 'mh'].includes(s.scheduler)
      ? [s.flags.schedFallback && `${s.scheduler}-fallback`, s.flags.schedPort && `${s.scheduler}-port`]
      : []
    ).filter((f): f is string => Boolean(f)),
    onePacket: Boolean(s.flags.onePacket),
    destinations: [...d.destinations].sort(byId).map((x) => [destinationId(x), FORWARD_NAME[x.forwarding], String(x.weight), '0', '0']),
  };
  if (s.flags.persistent) {
    out.persistent = s.persistenceTimeoutSec;
    out.mask = String(s.netmask);
  }
  return out;
}

const byId = (a: { address: string; port: number }, b: { address: string; port: number }): number =>
  destinationId(a).localeCompare(destinationId(b));

function listingOf(p: IpvsadmService): ReturnType<typeof expectedListing> {
  const out: ReturnType<typeof expectedListing> = {
    protocol: p.protocol,
    id: p.id,
    ipv6: p.ipv6,
    scheduler: p.scheduler,
    schedFlags: p.schedFlags,
    onePacket: p.onePacket,
    destinations: p.destinations.map((d) => [d.id, ...d.columns]).sort((a, b) => a[0]!.localeCompare(b[0]!)),
  };
  if (p.persistent !== undefined) {
    out.persistent = p.persistent;
    out.mask = p.mask;
  }
  return out;
}

function byService(list: IpvsadmService[]): Map<string, IpvsadmService> {
  return new Map(list.map((p) => [`${p.protocol} ${p.id}${p.protocol === 'FWM' && p.ipv6 ? ' v6' : ''}`, p]));
}
const serviceLookup = (s: ServiceSpec): string =>
  `${s.key.kind === 'fwmark' ? 'FWM' : s.key.protocol.toUpperCase()} ${ipvsadmId(s)}${s.key.kind === 'fwmark' && s.key.family === 'inet6' ? ' v6' : ''}`;

async function program(client: IpvsClient, table: DesiredService[]): Promise<void> {
  for (const { service, destinations } of table) {
    await client.addService(service);
    for (const d of destinations) await client.addDestination(service.key, d);
  }
}

/** A dump reduced to its specs, in a stable order, for exact comparison. */
function specsOf(actual: ActualService[]): DesiredService[] {
  return actual
    .map((a) => ({
      service: a.service,
      destinations: a.destinations
        .map(({ activeConnections: _a, inactiveConnections: _i, persistentConnections: _p, stats: _s, ...spec }) => spec)
        .sort(byId),
    }))
    .sort((x, y) => serviceKeyId(x.service.key).localeCompare(serviceKeyId(y.service.key)));
}
const sortedDesired = (d: DesiredService[]): DesiredService[] =>
  specsOf(
    d.map((x) => ({
      service: x.service,
      destinations: x.destinations.map((y) => ({ ...y, activeConnections: 0, inactiveConnections: 0, persistentConnections: 0 })),
    })),
  );

test('every shape programmed by failoverd reads back exactly in ipvsadm -Ln', async () => {
  await withTable('rb-list', async (ns, client) => {
    await program(client, SHAPES);
    const listed = byService(parseIpvsadmList(ns.ipvsadm('-Ln')));
    assert.equal(listed.size, SHAPES.length);
    for (const d of SHAPES) {
      const got = listed.get(serviceLookup(d.service));
      assert.ok(got, `ipvsadm lists ${serviceLookup(d.service)}`);
      assert.deepEqual(listingOf(got), expectedListing(d), serviceLookup(d.service));
    }
    // ...and failoverd's own dump gives back exactly what it wrote.
    assert.deepEqual(specsOf(await client.listServices()), sortedDesired(SHAPES));
  });
});

test('thresholds, persistent-conn and tunnel columns read back in ipvsadm', async () => {
  await withTable('rb-cols', async (ns, client) => {
    await program(client, SHAPES);
    const thresholds = byService(parseIpvsadmList(ns.ipvsadm('-Ln', '--thresholds')));
    const persistent = byService(parseIpvsadmList(ns.ipvsadm('-Ln', '--persistent-conn')));
    const tunnels = byService(parseIpvsadmList(ns.ipvsadm('-Ln', '--tun-info')));
    for (const d of SHAPES) {
      const id = serviceLookup(d.service);
      const sorted = [...d.destinations].sort(byId);
      assert.deepEqual(
        thresholds
          .get(id)!
          .destinations.map((x) => [x.id, ...x.columns])
          .sort((a, b) => a[0]!.localeCompare(b[0]!)),
        sorted.map((x) => [destinationId(x), String(x.upperThreshold), String(x.lowerThreshold), '0', '0']),
        `${id} --thresholds`,
      );
      assert.deepEqual(
        persistent
          .get(id)!
          .destinations.map((x) => [x.id, ...x.columns])
          .sort((a, b) => a[0]!.localeCompare(b[0]!)),
        sorted.map((x) => [destinationId(x), String(x.weight), '0', '0', '0']),
        `${id} --persistent-conn`,
      );
      assert.deepEqual(
        tunnels
          .get(id)!
          .destinations.map((x) => [x.id, x.columns[0], x.columns[1]])
          .sort((a, b) => a[0]!.localeCompare(b[0]!)),
        sorted.map((x) => [destinationId(x), FORWARD_NAME[x.forwarding], tunnelInfo(x)]),
        `${id} --tun-info`,
      );
    }
  });
});

/** ipvsadm's TunnelInfo column: "n/a", "ipip", "gue:6080:+c", "gue:6081:r+c", "gre:-c". */
function tunnelInfo(d: DestinationSpec): string {
  if (d.forwarding !== 'tun' || !d.tunnel) return 'n/a';
  const csum = { none: '-c', csum: '+c', remcsum: 'r+c' }[d.tunnel.checksum ?? 'none'];
  if (d.tunnel.type === 'ipip') return 'ipip';
  if (d.tunnel.type === 'gue') return `gue:${d.tunnel.port}:${csum}`;
  return `gre:${csum}`;
}

test('per-service and per-destination statistics match ipvsadm --stats and --rate', async () => {
  await withTable('rb-stats', async (ns, client) => {
    const table: DesiredService[] = [
      {
        service: svc({ kind: 'address', family: 'inet', protocol: 'udp', address: '10.6.5.1', port: 9000 }, 'rr'),
        destinations: [dest('10.6.5.2', 9000), dest('10.6.5.3', 9000, { forwarding: 'nat' })],
      },
    ];
    await program(client, table);
    // Locally sent datagrams pass IPVS's LOCAL_OUT hook: they are scheduled and counted.
    ns.exec('bash', ['-c', 'for i in 1 2 3 4 5 6; do echo "packet $i" > /dev/udp/10.6.5.1/9000; done']);
    // The kernel folds per-CPU counters into the exported ones every 2 s (estimator).
    let service: ActualService | undefined;
    await waitFor(async () => ((service = (await client.listServices())[0])?.stats?.packetsIn ?? 0) >= 6, {
      what: 'the estimator to count the packets',
      timeoutMs: 30_000,
      stepMs: 250,
    }).catch(() => undefined);
    assert.ok(service?.stats && service.stats.packetsIn >= 6, `service counted the packets: ${JSON.stringify(service?.stats)}`);
    const stats = parseIpvsadmList(ns.ipvsadm('-Ln', '--stats', '--exact'))[0]!;
    assert.deepEqual(
      stats.rest,
      [service.stats.connections, service.stats.packetsIn, service.stats.packetsOut, service.stats.bytesIn, service.stats.bytesOut].map(
        String,
      ),
    );
    for (const d of service.destinations) {
      const row = stats.destinations.find((x) => x.id === destinationId(d));
      assert.deepEqual(
        row?.columns,
        [d.stats!.connections, d.stats!.packetsIn, d.stats!.packetsOut, d.stats!.bytesIn, d.stats!.bytesOut].map(String),
        destinationId(d),
      );
    }
    const rate = parseIpvsadmList(ns.ipvsadm('-Ln', '--rate', '--exact'))[0]!;
    const again = (await client.listServices())[0]!;
    // Rates are estimator outputs refreshed every 2 s; both reads fall in one period here or both are 0.
    assert.deepEqual(
      rate.rest,
      [again.stats!.cps, again.stats!.ppsIn, again.stats!.ppsOut, again.stats!.bpsIn, again.stats!.bpsOut].map(String),
    );
    assert.equal(
      service.destinations.reduce((n, d) => n + d.stats!.connections, 0),
      service.stats.connections,
    );
  });
});

test('tables written by ipvsadm -R read back exactly in failoverd dump', async () => {
  await withTable('rb-restore', async (ns, client) => {
    ns.exec('ipvsadm', ['-R'], { input: toIpvsadmRules(SHAPES) });
    const dumped = specsOf(await client.listServices());
    // ipvsadm forces a DR/tunnel destination's port to the service's port.
    const expected = sortedDesired(
      SHAPES.map((d) => ({
        service: d.service,
        destinations: d.destinations.map((x) =>
          x.forwarding !== 'nat' && d.service.key.kind === 'address' ? { ...x, port: d.service.key.port } : x,
        ),
      })),
    );
    assert.deepEqual(dumped, expected);
  });
});

test('edits and deletes show in ipvsadm; getService and listDestinations agree with it', async () => {
  await withTable('rb-edit', async (ns, client) => {
    const base = SHAPES[0]!;
    await program(client, [base]);
    const edited = { ...base.service, scheduler: 'rr', flags: { persistent: true }, persistenceTimeoutSec: 120, netmask: '255.255.0.0' };
    await client.editService(edited);
    await client.editDestination(base.service.key, {
      ...base.destinations[0]!,
      weight: 9,
      forwarding: 'nat',
      upperThreshold: 5,
      lowerThreshold: 1,
    });
    await client.deleteDestination(base.service.key, base.destinations[1]!);
    const [p] = parseIpvsadmList(ns.ipvsadm('-Ln'));
    assert.equal(p!.scheduler, 'rr');
    assert.equal(p!.persistent, 120);
    assert.equal(p!.mask, '255.255.0.0');
    assert.deepEqual(p!.destinations.find((d) => d.id === '10.6.2.191:80')?.columns, ['Masq', '9', '0', '0']);
    assert.equal(
      p!.destinations.some((d) => d.id === '10.6.2.192:8080'),
      false,
    );
    const one = await client.getService(base.service.key);
    assert.deepEqual(one?.service, normalizeService(edited));
    assert.equal(one?.destinations.length, base.destinations.length - 1);
    assert.equal(await client.getService({ kind: 'address', family: 'inet', protocol: 'tcp', address: '10.9.9.9', port: 1 }), undefined);
    await client.deleteService(base.service.key);
    assert.deepEqual(parseIpvsadmList(ns.ipvsadm('-Ln')), []);
  });
});

test('timeouts set by failoverd read back in ipvsadm --timeout, and the other way round', async () => {
  await withTable('rb-timeout', async (ns, client) => {
    await client.setTimeouts({ tcp: 901, tcpFin: 121, udp: 301 });
    assert.deepEqual(parseIpvsadmTimeouts(ns.ipvsadm('-L', '--timeout')), { tcp: 901, tcpFin: 121, udp: 301 });
    await client.setTimeouts({ udp: 45 });
    assert.deepEqual(await client.getTimeouts(), { tcp: 901, tcpFin: 121, udp: 45 });
    ns.ipvsadm('--set', '700', '60', '30');
    assert.deepEqual(await client.getTimeouts(), { tcp: 700, tcpFin: 60, udp: 30 });
  });
});

test('sync daemon master and backup: started by failoverd, read by ipvsadm --daemon; and stopped', async () => {
  await withTable('rb-daemon', async (ns, client) => {
    ns.exec('ip', ['link', 'add', 'sync0', 'type', 'dummy']);
    ns.exec('ip', ['link', 'set', 'sync0', 'up', 'multicast', 'on']);
    ns.exec('ip', ['addr', 'add', '10.77.0.1/24', 'dev', 'sync0']);
    await client.startDaemon({ state: 'master', interface: 'sync0', syncId: 51 });
    await client.startDaemon({ state: 'backup', interface: 'sync0', syncId: 52, port: 8850, ttl: 2, maxLength: 1400, group: '224.0.0.82' });
    const byState = (l: { state: string }[]) => [...l].sort((a, b) => a.state.localeCompare(b.state));
    const seen = byState(parseIpvsadmDaemons(ns.ipvsadm('-L', '--daemon')));
    assert.deepEqual(seen, [
      { state: 'backup', interface: 'sync0', syncId: 52, maxLength: 1400, group: '224.0.0.82', port: 8850, ttl: 2 },
      { state: 'master', interface: 'sync0', syncId: 51, maxLength: 1472, group: '224.0.0.81', port: 8848, ttl: 1 },
    ]);
    assert.deepEqual(byState(await client.listDaemons()), seen);
    await client.stopDaemon('backup');
    assert.deepEqual(
      parseIpvsadmDaemons(ns.ipvsadm('-L', '--daemon')).map((d) => d.state),
      ['master'],
    );
    await client.stopDaemon('master');
    assert.deepEqual(await client.listDaemons(), []);
    ns.ipvsadm('--start-daemon', 'backup', '--mcast-interface', 'sync0', '--syncid', '9');
    assert.deepEqual(
      (await client.listDaemons()).map((d) => [d.state, d.interface, d.syncId]),
      [['backup', 'sync0', 9]],
    );
    await client.stopDaemon('backup');
  });
});

test('getInfo matches the ipvsadm header', async () => {
  await withTable('rb-info', async (ns, client) => {
    const info = await client.getInfo();
    const header = parseIpvsadmHeader(ns.ipvsadm('-Ln'));
    assert.equal(info.version, header.version);
    assert.equal(info.connectionTableSize, header.size);
  });
});
