// The codec against ipvsadm's own requests and the kernel's own replies
// (test/fixtures/ipvs/README.md says how they were captured).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { encodeGenl } from '../../../src/net/genetlink.js';
import { AttrMap } from '../../../src/net/netlink.js';
import {
  decodeDaemonMessage,
  decodeDestinationMessage,
  decodeInfoMessage,
  decodeRequest,
  decodeServiceMessage,
  decodeTimeoutsMessage,
  ipvsRequests,
} from '../../../src/ipvs/codec.js';
import { IPVS_CMD_ATTR } from '../../../src/ipvs/constants.js';
import { destinationId, serviceKeyId, type DestinationSpec, type ServiceKey, type ServiceSpec } from '../../../src/ipvs/types.js';
import { parseIpvsadmList } from '../../helpers/ipvsadm.js';
import { dest, service, tcpKey } from './builders.js';

const fixtures = new URL('../../../../test/fixtures/ipvs/', import.meta.url);
const requests = JSON.parse(readFileSync(new URL('requests.json', fixtures), 'utf8')) as { name: string; genl: string }[];
const replies = JSON.parse(readFileSync(new URL('replies.json', fixtures), 'utf8')) as Record<
  string,
  { cmd: number; version: number; attrs: string }[]
> & { listing: string };
const captured = (name: string): Buffer => {
  const r = requests.find((x) => x.name === name);
  assert.ok(r, `fixture ${name}`);
  return Buffer.from(r.genl, 'hex');
};
const ours = (r: { cmd: number; attrs: Parameters<typeof encodeGenl>[2] }): Buffer => encodeGenl(r.cmd, 1, r.attrs);

const VIP = tcpKey('10.6.2.195', 80);
const UDP6: ServiceKey = { kind: 'address', family: 'inet6', protocol: 'udp', address: '2001:db8::1', port: 53 };

const SERVICES: Record<string, ServiceSpec> = {
  'add-service-tcp4-wlc': service(VIP, 'wlc'),
  'add-service-udp6-sh-persistent': service(UDP6, 'sh', {
    flags: { persistent: true, onePacket: false, schedFallback: true, schedPort: true },
    persistenceTimeoutSec: 600,
    netmask: 64,
  }),
  'add-service-fwmark4-rr-persistent-mask': service({ kind: 'fwmark', family: 'inet', fwmark: 5 }, 'rr', {
    flags: { persistent: true, onePacket: false, schedFallback: false, schedPort: false },
    persistenceTimeoutSec: 300,
    netmask: '255.255.255.0',
  }),
  'add-service-fwmark6-mh-ops': service({ kind: 'fwmark', family: 'inet6', fwmark: 6 }, 'mh', {
    flags: { persistent: false, onePacket: true, schedFallback: false, schedPort: true },
  }),
  'add-service-sctp4-lc': service({ kind: 'address', family: 'inet', protocol: 'sctp', address: '10.6.3.1', port: 3868 }, 'lc'),
};

for (const [name, spec] of Object.entries(SERVICES)) {
  test(`NEW_SERVICE is byte-identical to ipvsadm's: ${name}`, () => {
    assert.equal(ours(ipvsRequests.addService(spec)).toString('hex'), captured(name).toString('hex'));
    const decoded = decodeRequest(captured(name).subarray(4));
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.value.service, spec);
  });
}

test('SET_SERVICE is byte-identical to ipvsadm -E', () => {
  assert.equal(ours(ipvsRequests.editService(service(VIP, 'rr'))).toString('hex'), captured('edit-service-tcp4-rr').toString('hex'));
});

const DESTS: Record<string, [ServiceKey, DestinationSpec, 'addDestination' | 'editDestination']> = {
  'add-dest-dr-thresholds': [VIP, dest('10.6.2.191', 80, { weight: 3, upperThreshold: 100, lowerThreshold: 10 }), 'addDestination'],
  'add-dest-nat': [VIP, dest('10.6.2.192', 8080, { forwarding: 'nat', weight: 0 }), 'addDestination'],
  'add-dest-tun-gue-csum': [
    VIP,
    dest('10.6.2.193', 80, { forwarding: 'tun', tunnel: { type: 'gue', port: 6080, checksum: 'csum' } }),
    'addDestination',
  ],
  'add-dest-tun-ipip': [
    VIP,
    dest('10.6.2.194', 80, { forwarding: 'tun', weight: 2, tunnel: { type: 'ipip', port: 0, checksum: 'none' } }),
    'addDestination',
  ],
  'add-dest-v6-dr': [UDP6, dest('2001:db8::10', 53, { weight: 4 }), 'addDestination'],
  'edit-dest-weight': [VIP, dest('10.6.2.191', 80, { weight: 5 }), 'editDestination'],
};

/** The nested attribute of one type, re-encoded, from a genl payload. */
function nestedBytes(genl: Buffer, type: number): Buffer {
  const top = AttrMap.parse(genl.subarray(4));
  const entry = top.order.find((a) => a.type === type);
  assert.ok(entry, `attribute ${type}`);
  return entry.value;
}

for (const [name, [key, d, method]] of Object.entries(DESTS)) {
  test(`${method === 'addDestination' ? 'NEW_DEST' : 'SET_DEST'}: the destination is byte-identical to ipvsadm's: ${name}`, () => {
    const mine = ours(ipvsRequests[method](key, d));
    const theirs = captured(name);
    assert.equal(mine[0], theirs[0], 'command');
    assert.equal(nestedBytes(mine, IPVS_CMD_ATTR.DEST).toString('hex'), nestedBytes(theirs, IPVS_CMD_ATTR.DEST).toString('hex'));
    // ipvsadm sends the whole service entry; failoverd only its key, which is where it starts.
    assert.ok(
      nestedBytes(theirs, IPVS_CMD_ATTR.SERVICE).toString('hex').startsWith(nestedBytes(mine, IPVS_CMD_ATTR.SERVICE).toString('hex')),
    );
    const decoded = decodeRequest(theirs.subarray(4));
    assert.ok(decoded.ok);
    const expected = {
      ...d,
      ...(d.forwarding === 'tun'
        ? { tunnel: { type: d.tunnel!.type, port: d.tunnel!.port ?? 0, checksum: d.tunnel!.checksum ?? 'none' } }
        : {}),
    };
    assert.deepEqual(decoded.value.destination, expected);
  });
}

test('DEL_DEST and DEL_SERVICE: ipvsadm sends the key failoverd sends, and more', () => {
  const delDest = captured('delete-dest');
  const mine = ours(ipvsRequests.deleteDestination(VIP, { address: '10.6.2.194', port: 80 }));
  assert.equal(mine[0], delDest[0]);
  assert.ok(nestedBytes(delDest, IPVS_CMD_ATTR.DEST).toString('hex').startsWith(nestedBytes(mine, IPVS_CMD_ATTR.DEST).toString('hex')));
  const delSvc = captured('delete-service-fwmark');
  const mineSvc = ours(ipvsRequests.deleteService({ kind: 'fwmark', family: 'inet', fwmark: 5 }));
  assert.equal(mineSvc[0], delSvc[0]);
  assert.ok(
    nestedBytes(delSvc, IPVS_CMD_ATTR.SERVICE).toString('hex').startsWith(nestedBytes(mineSvc, IPVS_CMD_ATTR.SERVICE).toString('hex')),
  );
});

test('SET_CONFIG (timeouts) and NEW_DAEMON are byte-identical to ipvsadm; DEL_DAEMON names the same state', () => {
  assert.equal(
    ours(ipvsRequests.setTimeouts({ tcp: 900, tcpFin: 120, udp: 300 })).toString('hex'),
    captured('set-timeouts').toString('hex'),
  );
  assert.equal(
    ours(ipvsRequests.startDaemon({ state: 'master', interface: 'sync0', syncId: 51 })).toString('hex'),
    captured('start-daemon-master').toString('hex'),
  );
  const stop = captured('stop-daemon-master');
  assert.equal(ours(ipvsRequests.stopDaemon('master'))[0], stop[0]);
  const state = AttrMap.parse(nestedBytes(stop, IPVS_CMD_ATTR.DAEMON)).u32(1);
  assert.equal(state, 1);
});

test("the kernel's service dump decodes to what ipvsadm -Ln printed from the same table", () => {
  const listing = parseIpvsadmList(replies.listing);
  const services = replies.services!.map((m) => {
    const d = decodeServiceMessage(Buffer.from(m.attrs, 'hex'));
    assert.ok(d.ok, d.ok ? '' : d.error);
    return d.value;
  });
  assert.equal(services.length, listing.length);
  for (const s of services) {
    const k = s.service.key;
    const id = k.kind === 'fwmark' ? String(k.fwmark) : k.family === 'inet6' ? `[${k.address}]:${k.port}` : `${k.address}:${k.port}`;
    const row = listing.find((l) => l.id === id);
    assert.ok(row, `ipvsadm listed ${serviceKeyId(k)}`);
    assert.equal(row.scheduler, s.service.scheduler);
    assert.equal(row.onePacket, Boolean(s.service.flags.onePacket));
    assert.equal(row.persistent, s.service.flags.persistent ? s.service.persistenceTimeoutSec : undefined);
  }
  const udp = services.find((s) => serviceKeyId(s.service.key) === 'udp:10.6.5.1:9000');
  assert.deepEqual({ connections: udp?.stats?.connections, packetsIn: udp?.stats?.packetsIn }, { connections: 5, packetsIn: 5 });
  assert.equal(udp?.stats?.bytesIn, 5 * (28 + 'packet 1\n'.length));
});

test("the kernel's destination dumps decode with connection counters, tunnel info and stats", () => {
  const decodeAll = (list: { attrs: string }[], family: 'inet' | 'inet6') =>
    list.map((m) => {
      const d = decodeDestinationMessage(Buffer.from(m.attrs, 'hex'), family);
      assert.ok(d.ok, d.ok ? '' : d.error);
      return d.value;
    });
  const [udp] = decodeAll(replies.destsUdp!, 'inet');
  assert.equal(destinationId(udp!), '10.6.5.2:9000');
  assert.deepEqual(
    [udp!.forwarding, udp!.weight, udp!.upperThreshold, udp!.lowerThreshold, udp!.activeConnections, udp!.inactiveConnections],
    ['nat', 2, 50, 5, 0, 5],
  );
  assert.equal(udp!.stats?.packetsIn, 5);
  const tcp = decodeAll(replies.destsTcp!, 'inet');
  assert.deepEqual(tcp.map((d) => [destinationId(d), d.forwarding, d.weight, d.tunnel]).sort(), [
    ['10.6.2.191:80', 'dr', 5, undefined],
    ['10.6.2.192:8080', 'nat', 0, undefined],
    ['10.6.2.193:80', 'tun', 1, { type: 'gue', port: 6080, checksum: 'csum' }],
  ]);
  const [v6] = decodeAll(replies.destsV6!, 'inet6');
  assert.equal(destinationId(v6!), '[2001:db8::10]:53');
});

test('daemon, config and info replies decode', () => {
  const daemon = decodeDaemonMessage(Buffer.from(replies.daemons![0]!.attrs, 'hex'));
  assert.deepEqual(daemon, {
    ok: true,
    value: { state: 'backup', interface: 'sync0', syncId: 52, maxLength: 1472, group: '224.0.0.81', port: 8848, ttl: 1 },
  });
  assert.deepEqual(decodeTimeoutsMessage(Buffer.from(replies.config![0]!.attrs, 'hex')), {
    ok: true,
    value: { tcp: 900, tcpFin: 120, udp: 300 },
  });
  assert.deepEqual(decodeInfoMessage(Buffer.from(replies.info![0]!.attrs, 'hex')), {
    ok: true,
    value: { version: '1.2.1', versionCode: 0x010201, connectionTableSize: 256 },
  });
});
