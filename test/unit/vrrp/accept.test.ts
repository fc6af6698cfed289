import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptAdvert, type AcceptPolicy, type ReceivedPacket } from '../../../src/vrrp/accept.js';
import { AUTH_NONE, AUTH_SIMPLE_PASSWORD, encodeAdvert, passwordAuthData, type VrrpAdvert } from '../../../src/vrrp/packet.js';

const POLICY: AcceptPolicy = { family: 4, version: 2, vrid: 51, intervalCs: 100, password: 'secret', ownAddresses: new Set(['192.0.2.1']) };
const ADVERT: VrrpAdvert = {
  version: 2,
  vrid: 51,
  priority: 100,
  intervalCs: 100,
  addresses: ['192.0.2.100'],
  authType: AUTH_SIMPLE_PASSWORD,
  authData: passwordAuthData('secret'),
};

function packet(advert: Partial<VrrpAdvert> = {}, over: Partial<ReceivedPacket> = {}): ReceivedPacket {
  const source = over.source ?? '192.0.2.2';
  const payload = encodeAdvert({ ...ADVERT, ...advert }, { family: 4, source, destination: '224.0.0.18' });
  return { payload, source, destination: '224.0.0.18', ttl: 255, ...over };
}

function reason(p: ReceivedPacket, policy: AcceptPolicy = POLICY): string {
  const r = acceptAdvert(p, policy);
  return r.ok ? 'accepted' : r.reason;
}

test('an advert for our VRID with the right password, interval and TTL is accepted', () => {
  const r = acceptAdvert(packet(), POLICY);
  assert.ok(r.ok);
  assert.equal(r.value.source, '192.0.2.2');
  assert.equal(r.value.priority, 100);
});

test('instance-level rejections carry their reason code', () => {
  assert.equal(reason(packet({}, { ttl: 254 })), 'bad_ttl');
  assert.equal(reason(packet({}, { ttl: undefined })), 'bad_ttl');
  assert.equal(reason(packet({ vrid: 52 })), 'wrong_vrid');
  assert.equal(reason(packet({ authData: passwordAuthData('Secret') })), 'auth_mismatch');
  assert.equal(reason(packet({ authType: AUTH_NONE, authData: Buffer.alloc(8) })), 'auth_mismatch');
  assert.equal(reason(packet(), { ...POLICY, password: undefined }), 'auth_mismatch');
  assert.equal(reason(packet({ intervalCs: 200 })), 'interval_mismatch');
  assert.equal(reason(packet({}, { source: '192.0.2.1' })), 'own_packet');
  assert.equal(reason(packet(), { ...POLICY, unicastPeers: new Set(['192.0.2.3']) }), 'not_a_peer');
  assert.equal(reason(packet({ version: 3 })), 'wrong_version');
  const corrupt = packet();
  corrupt.payload = Buffer.from(corrupt.payload);
  (corrupt.payload as Buffer)[2] = 1;
  assert.equal(reason(corrupt), 'bad_checksum');
});

test('VRRPv3 learns the interval instead of rejecting it', () => {
  const policy: AcceptPolicy = { family: 4, version: 3, vrid: 51, intervalCs: 100, ownAddresses: new Set() };
  const r = acceptAdvert(packet({ version: 3, intervalCs: 25 }), policy);
  assert.ok(r.ok);
  assert.equal(r.value.intervalCs, 25);
});

test('sources are compared as addresses: a peer in any spelling is accepted; the source comes out canonical', () => {
  const policy: AcceptPolicy = {
    family: 6,
    version: 3,
    vrid: 51,
    intervalCs: 100,
    ownAddresses: new Set(['fe80::1']),
    unicastPeers: new Set(['fe80::2']),
  };
  const advert: VrrpAdvert = { version: 3, vrid: 51, priority: 100, intervalCs: 100, addresses: ['2001:db8::100'] };
  for (const spelled of ['fe80::2', 'FE80::2', 'fe80:0:0:0:0:0:0:2', 'fe80::0002']) {
    const payload = encodeAdvert(advert, { family: 6, source: 'fe80::2', destination: 'fe80::1' });
    const r = acceptAdvert({ payload, source: spelled, destination: 'fe80::1', ttl: 255 }, policy);
    assert.ok(r.ok, `${spelled}: ${r.ok ? '' : r.reason}`);
    assert.equal(r.value.source, 'fe80::2');
  }
  const own = encodeAdvert(advert, { family: 6, source: 'fe80::1', destination: 'fe80::2' });
  assert.equal(reason({ payload: own, source: 'FE80::1', destination: 'fe80::2', ttl: 255 }, policy), 'own_packet');
});
