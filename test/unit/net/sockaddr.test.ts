import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesToIp, decodeSockaddr, ipToBytes, sockaddrIn, sockaddrIn6, sockaddrLl, sockaddrNetlink } from '../../../src/net/sockaddr.js';

test('IPv4 and IPv6 addresses round-trip through bytes in canonical form', () => {
  for (const [text, canonical] of [
    ['10.6.2.195', '10.6.2.195'],
    ['::1', '::1'],
    ['fe80::1', 'fe80::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['ff02::12', 'ff02::12'],
    ['::ffff:10.0.0.1', '::ffff:a00:1'],
    ['2001:db8::', '2001:db8::'],
  ] as const) {
    assert.equal(bytesToIp(ipToBytes(text)), canonical, text);
  }
  assert.deepEqual([...ipToBytes('10.6.2.195')], [10, 6, 2, 195]);
  assert.throws(() => ipToBytes('10.6.2'), /not an IP address/);
});

test('sockaddr encoders match the kernel layouts', () => {
  assert.equal(sockaddrNetlink(0, 0x11).toString('hex'), '100000000000000011000000');
  assert.equal(sockaddrIn('10.6.2.195', 80).toString('hex'), '020000500a0602c30000000000000000');
  const in6 = sockaddrIn6('ff02::12', 0, 3);
  assert.equal(in6.length, 28);
  assert.deepEqual(decodeSockaddr(in6), { family: 'inet6', address: 'ff02::12', port: 0, scopeId: 3 });
  const ll = sockaddrLl(4, 0x0806, Buffer.from('ffffffffffff', 'hex'));
  const decoded = decodeSockaddr(ll);
  assert.equal(decoded.family, 'packet');
  if (decoded.family === 'packet') {
    assert.equal(decoded.ifindex, 4);
    assert.equal(decoded.protocol, 0x0806);
    assert.equal(decoded.hwAddress.toString('hex'), 'ffffffffffff');
  }
  assert.deepEqual(decodeSockaddr(sockaddrIn('192.0.2.1', 443)), { family: 'inet', address: '192.0.2.1', port: 443 });
});
