import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  AUTH_SIMPLE_PASSWORD,
  decodeAdvert,
  decodeIpv4,
  encodeAdvert,
  passwordAuthData,
  type AdvertEnvelope,
  type VrrpAdvert,
} from '../../../src/vrrp/packet.js';
import { internetChecksum } from '../../../src/vrrp/checksum.js';
import { gratuitousArpFrame } from '../../../src/net/arp.js';
import { unsolicitedNeighborAdvertFrame } from '../../../src/net/ndisc.js';
import { readPcap, vrrpPackets, framesOfType, type CapturedVrrp } from './pcap.js';

// Compiled to <outDir>/test/unit/vrrp: the fixtures stay in the source tree.
const fixtures = fileURLToPath(new URL('../../../../test/fixtures/vrrp', import.meta.url));
const KEEPALIVED_MAC = Buffer.from('02005e10000a', 'hex');

function captured(name: string): CapturedVrrp[] {
  const packets = vrrpPackets(readPcap(join(fixtures, `${name}.pcap`)));
  assert.ok(packets.length >= 2, `${name}.pcap holds adverts`);
  return packets;
}

function envelope(p: CapturedVrrp): AdvertEnvelope {
  return { family: p.family, source: p.source, destination: p.destination };
}

function decodeOk(p: CapturedVrrp) {
  const d = decodeAdvert(p.payload, envelope(p));
  assert.ok(d.ok, d.ok ? '' : `${d.reason}: ${d.detail}`);
  return d.value;
}

test('keepalived VRRPv2 without authentication: decode theirs, encode byte-identical ours', () => {
  const packets = captured('v2-noauth');
  for (const p of packets) {
    assert.equal(p.ttl, 255);
    const a = decodeOk(p);
    assert.equal(a.version, 2);
    assert.equal(a.vrid, 51);
    assert.equal(a.intervalCs, 100);
    assert.equal(a.authType, 0);
    assert.deepEqual(a.addresses, ['192.0.2.195', '192.0.2.196']);
    const ours = encodeAdvert(
      { version: 2, vrid: 51, priority: a.priority, intervalCs: 100, addresses: a.addresses, authType: 0 },
      envelope(p),
    );
    assert.deepEqual(ours, Buffer.from(p.payload));
  }
  assert.deepEqual(
    packets.map((p) => decodeOk(p).priority).slice(-2),
    [150, 0],
    'the last advert is the priority-0 resignation on SIGTERM',
  );
});

test('keepalived VRRPv2 with a simple password: decode theirs, encode byte-identical ours', () => {
  for (const p of captured('v2-auth')) {
    const a = decodeOk(p);
    assert.equal(a.vrid, 52);
    assert.equal(a.intervalCs, 200);
    assert.equal(a.authType, AUTH_SIMPLE_PASSWORD);
    assert.deepEqual(a.authData, passwordAuthData('s3cret'));
    const ours = encodeAdvert(
      {
        version: 2,
        vrid: 52,
        priority: a.priority,
        intervalCs: 200,
        addresses: ['192.0.2.197'],
        authType: AUTH_SIMPLE_PASSWORD,
        authData: passwordAuthData('s3cret'),
      },
      envelope(p),
    );
    assert.deepEqual(ours, Buffer.from(p.payload));
  }
});

test('keepalived VRRPv3 over IPv4 uses the pseudo-header checksum; ours is byte-identical', () => {
  for (const p of captured('v3-ipv4')) {
    const a = decodeOk(p);
    assert.equal(a.version, 3);
    assert.equal(a.vrid, 53);
    assert.equal(a.intervalCs, 100);
    assert.equal(a.checksumForm, 'pseudo-header');
    assert.deepEqual(a.addresses, ['192.0.2.198', '192.0.2.199']);
    const ours = encodeAdvert({ version: 3, vrid: 53, priority: a.priority, intervalCs: 100, addresses: a.addresses }, envelope(p));
    assert.deepEqual(ours, Buffer.from(p.payload));
  }
});

test('keepalived VRRPv3 over IPv6 (ff02::12, link-local source): decode theirs, encode byte-identical ours', () => {
  const packets = captured('v3-ipv6');
  for (const p of packets) {
    assert.equal(p.destination, 'ff02::12');
    assert.equal(p.ttl, 255);
    const a = decodeOk(p);
    assert.equal(a.vrid, 54);
    assert.equal(a.intervalCs, 50);
    assert.deepEqual(a.addresses, ['2001:db8::195']);
    const ours = encodeAdvert({ version: 3, vrid: 54, priority: a.priority, intervalCs: 50, addresses: a.addresses }, envelope(p));
    assert.deepEqual(ours, Buffer.from(p.payload));
  }
  assert.equal(decodeOk(packets.at(-1)!).priority, 0);
});

test("our gratuitous ARP frames are byte-identical to keepalived's", () => {
  for (const [name, vips] of [
    ['v2-noauth', ['192.0.2.195', '192.0.2.196']],
    ['v3-ipv4', ['192.0.2.198', '192.0.2.199']],
  ] as const) {
    const arps = framesOfType(readPcap(join(fixtures, `${name}.pcap`)), (f) => f.readUInt16BE(12) === 0x0806);
    assert.ok(arps.length >= vips.length);
    for (const vip of vips) {
      const theirs = arps.find((f) => f.subarray(28, 32).equals(Buffer.from(vip.split('.').map(Number))));
      assert.ok(theirs, `a gratuitous ARP for ${vip}`);
      assert.deepEqual(gratuitousArpFrame(KEEPALIVED_MAC, vip), theirs);
    }
  }
});

test("our unsolicited neighbour advertisement is byte-identical to keepalived's", () => {
  const nas = framesOfType(readPcap(join(fixtures, 'v3-ipv6.pcap')), (f) => f.readUInt16BE(12) === 0x86dd && f[20] === 58 && f[54] === 136);
  assert.ok(nas.length >= 1);
  assert.deepEqual(unsolicitedNeighborAdvertFrame(KEEPALIVED_MAC, '2001:db8::195'), nas[0]);
});

const V3: VrrpAdvert = { version: 3, vrid: 7, priority: 100, intervalCs: 100, addresses: ['10.0.0.1'] };
const ENV4: AdvertEnvelope = { family: 4, source: '192.0.2.1', destination: '224.0.0.18' };

test('VRRPv3 IPv4: the message-only checksum (RFC 9568) is accepted and is a per-instance send option', () => {
  const messageOnly = encodeAdvert(V3, ENV4, { v3Ipv4Checksum: 'message-only' });
  const pseudo = encodeAdvert(V3, ENV4);
  assert.notDeepEqual(messageOnly, pseudo);
  const zeroed = Buffer.from(messageOnly);
  zeroed.writeUInt16BE(0, 6);
  assert.equal(messageOnly.readUInt16BE(6), internetChecksum(zeroed));
  const d = decodeAdvert(messageOnly, ENV4);
  assert.ok(d.ok && d.value.checksumForm === 'message-only');
  const d2 = decodeAdvert(pseudo, ENV4);
  assert.ok(d2.ok && d2.value.checksumForm === 'pseudo-header');
  // A pseudo-header checksum is bound to the addresses: from another source it is wrong.
  const moved = decodeAdvert(pseudo, { ...ENV4, source: '192.0.2.2' });
  assert.ok(!moved.ok && moved.reason === 'bad_checksum');
});

test('malformed adverts are rejected with a reason code', () => {
  const good = encodeAdvert(V3, ENV4);
  const cases: [string, Buffer, string][] = [
    ['too_short', good.subarray(0, 7), 'too_short'],
    ['version 4', withByte(good, 0, 0x41), 'bad_version'],
    ['type 2', withByte(good, 0, 0x32), 'bad_type'],
    ['count 2 with 1 address', withByte(good, 3, 2), 'bad_length'],
    ['count 0', withByte(good, 3, 0), 'bad_address_count'],
    ['trailing byte', Buffer.concat([good, Buffer.alloc(1)]), 'bad_length'],
    ['flipped bit', withByte(good, 2, 99), 'bad_checksum'],
  ];
  for (const [what, bytes, reason] of cases) {
    const d = decodeAdvert(bytes, ENV4);
    assert.ok(!d.ok, what);
    assert.equal(d.reason, reason, what);
    assert.ok(d.detail.length > 0);
  }
  const zeroInterval = encodeAdvert({ ...V3, intervalCs: 1 }, ENV4, { v3Ipv4Checksum: 'message-only' });
  zeroInterval.writeUInt16BE(0, 4);
  zeroInterval.writeUInt16BE(0, 6);
  zeroInterval.writeUInt16BE(internetChecksum(zeroInterval), 6);
  const z = decodeAdvert(zeroInterval, ENV4);
  assert.ok(!z.ok && z.reason === 'bad_interval');
  const v2 = encodeAdvert({ ...V3, version: 2 }, ENV4);
  const v2as6 = decodeAdvert(v2, { family: 6, source: 'fe80::1', destination: 'ff02::12' });
  assert.ok(!v2as6.ok && v2as6.reason === 'bad_version');
});

test("decodeIpv4 splits the raw socket's datagram and rejects broken headers", () => {
  const payload = encodeAdvert(V3, ENV4);
  const header = Buffer.from('45c0001c000100 00ff700000c0000201e0000012'.replace(/ /g, ''), 'hex');
  header.writeUInt16BE(20 + payload.length, 2);
  const d = decodeIpv4(Buffer.concat([header, payload]));
  assert.ok(d.ok);
  assert.equal(d.value.ttl, 255);
  assert.equal(d.value.source, '192.0.2.1');
  assert.deepEqual(d.value.payload, payload);
  assert.equal((decodeIpv4(header.subarray(0, 10)) as { reason: string }).reason, 'bad_ip_header');
  assert.equal((decodeIpv4(withByte(Buffer.concat([header, payload]), 9, 6)) as { reason: string }).reason, 'not_vrrp');
});

test('the codec never throws on arbitrary bytes, and round-trips every valid advert', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, v6) => {
      const env: AdvertEnvelope = v6 ? { family: 6, source: 'fe80::1', destination: 'ff02::12' } : ENV4;
      decodeAdvert(bytes, env);
      decodeIpv4(bytes);
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 255 }),
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 1, max: 4095 }),
      fc.array(fc.ipV4(), { minLength: 1, maxLength: 20 }),
      fc.constantFrom<'pseudo-header' | 'message-only'>('pseudo-header', 'message-only'),
      (vrid, priority, intervalCs, addresses, form) => {
        const advert: VrrpAdvert = { version: 3, vrid, priority, intervalCs, addresses };
        const d = decodeAdvert(encodeAdvert(advert, ENV4, { v3Ipv4Checksum: form }), ENV4);
        assert.ok(d.ok);
        assert.deepEqual({ ...d.value, checksumForm: undefined }, { ...advert, checksumForm: undefined });
      },
    ),
    { numRuns: 500 },
  );
});

function withByte(b: Buffer, offset: number, value: number): Buffer {
  const copy = Buffer.from(b);
  copy[offset] = value;
  return copy;
}
