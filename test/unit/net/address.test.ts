import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { canonicalIp, canonicalPrefixed, endpointMatches, parseEndpoint, parseIp, sameIp } from '../../../src/net/address.js';
import { bytesToIp, ipToBytes } from '../../../src/net/sockaddr.js';

test('every spelling of an address has one canonical form', () => {
  const spellings: Array<[string, string]> = [
    ['FE80::2', 'fe80::2'],
    ['fe80:0:0:0:0:0:0:2', 'fe80::2'],
    ['fe80::0002', 'fe80::2'],
    ['FE80:0000:0000:0000:0000:0000:0000:0002', 'fe80::2'],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['::0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['::1.2.3.4', '::102:304'],
    ['192.0.2.1', '192.0.2.1'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
  ];
  for (const [text, canonical] of spellings) assert.equal(canonicalIp(text), canonical, text);
});

test('the canonical form is the text the byte decoder gives (packets and kernel dumps need no rework)', () => {
  for (let i = 0; i < 2000; i++) {
    const bytes = randomBytes(16);
    for (let j = 0; j < 16; j++) if (bytes[j]! & 1) bytes[j] = 0;
    const text = bytesToIp(bytes);
    if (text.startsWith('::ffff:') && text.split(':').length === 5) continue;
    assert.equal(canonicalIp(text), text);
    assert.equal(canonicalIp(text.toUpperCase()), text);
    assert.deepEqual(ipToBytes(canonicalIp(text)!), bytes);
  }
});

test('ambiguous or foreign spellings are refused with a reason, not guessed', () => {
  const refused: Array<[string, RegExp]> = [
    ['010.0.0.1', /leading zeros/],
    ['10.0.0.01', /leading zeros/],
    ['fe80::1%eth0', /zone index/],
    ['::ffff:10.0.0.1', /IPv4-mapped/],
    ['::FFFF:a00:1', /IPv4-mapped/],
    ['fe80::00002', /expected an IPv4 or IPv6/],
    ['1.2.3', /expected an IPv4 or IPv6/],
    ['256.1.1.1', /expected an IPv4 or IPv6/],
    [' 10.0.0.1', /expected an IPv4 or IPv6/],
    ['', /expected an IPv4 or IPv6/],
    ['example.com', /expected an IPv4 or IPv6/],
  ];
  for (const [text, reason] of refused) {
    const r = parseIp(text);
    assert.ok(!r.ok, text);
    assert.match(r.reason, reason, text);
    assert.ok(!r.reason.includes(text) || text === '', `the reason does not echo the input: ${text}`);
    assert.equal(canonicalIp(text), undefined);
  }
});

test('sameIp and prefixed addresses compare as addresses', () => {
  assert.ok(sameIp('FE80::2', 'fe80:0:0:0:0:0:0:2'));
  assert.ok(!sameIp('fe80::2', 'fe80::3'));
  assert.ok(!sameIp('010.0.0.1', '8.0.0.1'));
  assert.equal(canonicalPrefixed('2001:DB8::0001/64'), '2001:db8::1/64');
  assert.equal(canonicalPrefixed('10.0.0.1/32'), '10.0.0.1/32');
  assert.equal(canonicalPrefixed('not-an-address/32'), 'not-an-address/32');
});

test('an operator names a real server by address or address:port, any spelling', () => {
  assert.deepEqual(parseEndpoint('10.0.0.1'), { address: '10.0.0.1' });
  assert.deepEqual(parseEndpoint('10.0.0.1:80'), { address: '10.0.0.1', port: 80 });
  assert.deepEqual(parseEndpoint('2001:DB8::0001'), { address: '2001:db8::1' });
  assert.deepEqual(parseEndpoint('[2001:DB8::0001]:8080'), { address: '2001:db8::1', port: 8080 });
  assert.deepEqual(parseEndpoint('[2001:db8::1]'), { address: '2001:db8::1' });
  for (const bad of ['10.0.0.1:99999', '010.0.0.1:80', '[10.0.0.1', 'x:80', '[fe80::1%eth0]:80']) {
    assert.equal(parseEndpoint(bad), undefined, bad);
  }
  const server = { address: '2001:db8::1', port: 80 };
  assert.ok(endpointMatches('[2001:DB8:0:0:0:0:0:1]:80', server));
  assert.ok(endpointMatches('2001:db8::0001', server));
  assert.ok(!endpointMatches('[2001:db8::1]:81', server));
  assert.ok(!endpointMatches('2001:db8::2', server));
});
