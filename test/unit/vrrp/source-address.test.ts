// The address a VRRP instance sends its adverts from, picked from its link when the
// config names none: one of the instance's family that is not a VIP (IPv6: link-local,
// RFC 5798 section 5.1.2.1).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { instanceFamily, splitPrefix } from '../../../src/vrrp/config.js';
import { pickSourceAddress } from '../../../src/vrrp/instance.js';
import type { LinkState } from '../../../src/vrrp/ports.js';

const link = (...addresses: string[]): LinkState => ({
  name: 'eth0',
  index: 2,
  mac: Buffer.alloc(6),
  up: true,
  addresses: addresses.map((a) => ({ address: a, prefixLength: a.includes(':') ? 64 : 24 })),
});

describe('pickSourceAddress', () => {
  it('an IPv4 instance takes the first IPv4 address that is not a VIP', () => {
    const eth0 = link('fe80::1', '10.6.2.195', '2001:db8::5', '10.6.2.10', '10.6.2.11');
    assert.equal(pickSourceAddress(eth0, { vips: ['10.6.2.195/32'] }), '10.6.2.10');
  });

  it('an IPv4 instance never takes an IPv6 address, an IPv4-mapped one included', () => {
    assert.equal(pickSourceAddress(link('fe80::1', '::ffff:10.6.2.10'), { vips: ['10.6.2.195/32'] }), undefined);
  });

  it('an IPv6 instance takes a link-local address, whatever its spelling, and no VIP', () => {
    const eth0 = link('10.6.2.10', '2001:db8::5', 'FE80:0:0:0::7');
    assert.equal(pickSourceAddress(eth0, { vips: ['2001:db8::5/128'] }), 'fe80::7');
    assert.equal(pickSourceAddress(link('10.6.2.10', '2001:db8::5'), { vips: ['2001:db8::9/128'] }), undefined);
  });
});

describe('instanceFamily and splitPrefix', () => {
  it('tell the family from the first VIP and default the prefix to the whole address', () => {
    assert.equal(instanceFamily({ vips: ['10.6.2.195/32', '10.6.2.196'] }), 4);
    assert.equal(instanceFamily({ vips: ['2001:db8::5'] }), 6);
    assert.equal(instanceFamily({ vips: [] }), 4);
    assert.deepEqual(splitPrefix('10.6.2.195'), { address: '10.6.2.195', prefixLength: 32 });
    assert.deepEqual(splitPrefix('2001:DB8::5'), { address: '2001:DB8::5', prefixLength: 128 });
    assert.deepEqual(splitPrefix('2001:db8::5/64'), { address: '2001:db8::5', prefixLength: 64 });
  });
});
