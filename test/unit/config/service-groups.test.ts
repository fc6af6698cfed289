// Service groups (vips, fwmarks): keepalived's virtual_server_group as one services: entry.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serviceKeysOf } from '../../../src/agent/map-config.js';
import { MAX_GROUP_ADDRESSES, parseVipRange } from '../../../src/config/vip-range.js';
import { serviceKeyId } from '../../../src/ipvs/types.js';
import { BASE, errorsOf, load, warningsOf } from './config-text.js';

/** BASE with VIPs .193-.197 on the instance and the service's vip line replaced by `lines`. */
const GROUP = (lines: string) =>
  BASE.replace('vips: [10.6.2.195/32]', 'vips: [10.6.2.193, 10.6.2.194, 10.6.2.195, 10.6.2.196, 10.6.2.197]').replace(
    '    vip: 10.6.2.195\n',
    lines,
  );

const keysOf = (text: string): string[] => {
  const r = load(text);
  assert.equal(r.ok, true, r.ok ? '' : r.errors.map((e) => e.message).join('\n'));
  return r.ok ? serviceKeysOf(r.config.services[0]!).map(serviceKeyId) : [];
};

describe('vip ranges (keepalived virtual_server_group forms)', () => {
  it('expands the last octet, a full-address range, a network, and an IPv6 group in hexadecimal', () => {
    assert.deepEqual(parseVipRange('10.0.0.1-3'), { ok: true, family: 4, addresses: ['10.0.0.1', '10.0.0.2', '10.0.0.3'] });
    assert.deepEqual(parseVipRange('10.0.0.254-10.0.1.1'), {
      ok: true,
      family: 4,
      addresses: ['10.0.0.254', '10.0.0.255', '10.0.1.0', '10.0.1.1'],
    });
    assert.deepEqual(parseVipRange('10.0.0.8/30'), { ok: true, family: 4, addresses: ['10.0.0.8', '10.0.0.9', '10.0.0.10', '10.0.0.11'] });
    assert.deepEqual(parseVipRange('2001:db8::9-b'), { ok: true, family: 6, addresses: ['2001:db8::9', '2001:db8::a', '2001:db8::b'] });
    assert.deepEqual(parseVipRange('2001:DB8::1'), { ok: true, family: 6, addresses: ['2001:db8::1'] });
  });

  it('refuses inverted, mixed, misaligned and oversized ranges with the reason', () => {
    const reason = (text: string) => {
      const r = parseVipRange(text);
      return r.ok ? 'accepted' : r.reason;
    };
    assert.equal(reason('10.0.0.9-3'), 'the range 10.0.0.9-3 ends before it starts');
    assert.equal(reason('10.0.0.1-2001:db8::1'), 'the range 10.0.0.1-2001:db8::1 mixes IPv4 and IPv6');
    assert.equal(reason('10.0.0.9/29'), '10.0.0.9/29 is not a network: 10.0.0.9 has bits set past the /29 prefix');
    assert.equal(reason('10.0.0.1-256'), 'expected the range\'s end after "-" to be a full address or the last octet (0-255), got "256"');
    assert.equal(
      reason('10.0.0.0/16'),
      `the range 10.0.0.0/16 has 65536 addresses, more than ${MAX_GROUP_ADDRESSES} (each is a kernel service with every real server)`,
    );
    assert.equal(reason('2001:db8::/64').includes('more than 1024'), true);
  });
});

describe('services: vips and fwmarks (service groups)', () => {
  it('a group of vips is one service with one kernel service per address, each with the entry port or the service port', () => {
    assert.deepEqual(keysOf(GROUP('    vips: [10.6.2.193-195, { address: 10.6.2.197, port: 8080 }]\n')), [
      'tcp:10.6.2.193:80',
      'tcp:10.6.2.194:80',
      'tcp:10.6.2.195:80',
      'tcp:10.6.2.197:8080',
    ]);
  });

  it('a group of fwmarks has no port and no protocol', () => {
    const text = GROUP('    fwmarks: [5, 6]\n').replace('    port: 80\n', '');
    assert.deepEqual(keysOf(text), ['fwmark:inet:5', 'fwmark:inet:6']);
    assert.deepEqual(errorsOf(GROUP('    fwmarks: [5, 6]\n')), [
      'failoverd.yaml:11:11 services[0].port: a fwmark service has no port (the mark selects the traffic)',
    ]);
  });

  it('a group replaces vip and fwmark', () => {
    assert.deepEqual(errorsOf(GROUP('    vip: 10.6.2.195\n    vips: [10.6.2.196]\n')), [
      'failoverd.yaml:11:11 services[0].vips: a group (vips, fwmarks) replaces vip; give one of them',
    ]);
  });

  it('a bad range is placed at its entry, with the reason', () => {
    assert.deepEqual(errorsOf(GROUP('    vips: [10.6.2.193, 10.6.2.197-194]\n')), [
      'failoverd.yaml:10:24 services[0].vips[1]: the range 10.6.2.197-194 ends before it starts',
    ]);
    assert.deepEqual(errorsOf(GROUP('    vips: [10.0.0.0-10.0.255.255]\n')), [
      'failoverd.yaml:10:12 services[0].vips[0]: the range 10.0.0.0-10.0.255.255 has 65536 addresses, more than 1024 (each is a kernel service with every real server)',
    ]);
  });

  it('a group has one address family', () => {
    assert.deepEqual(errorsOf(GROUP('    vips: [10.6.2.193, "2001:db8::1"]\n    vip_standalone: true\n')), [
      "failoverd.yaml:10:24 services[0].vips[1]: 2001:db8::1 is IPv6, but the group's first entry is IPv4; a group has one address family",
    ]);
  });

  it('every address of the group is a VIP of an instance, or the service is standalone', () => {
    assert.deepEqual(errorsOf(GROUP('    vips: [10.6.2.193-199]\n')), [
      "failoverd.yaml:10:11 services[0].vips: 10.6.2.198, 10.6.2.199 are not a VIP of any vrrp instance; add them to an instance's vips or set vip_standalone: true",
    ]);
    assert.equal(load(GROUP('    vips: [10.6.2.193-199]\n    vip_standalone: true\n')).ok, true);
  });

  it('an address in two services, or twice in one group, is refused where it is written', () => {
    const second = `  - name: other\n    vip: 10.6.2.195\n    port: 80\n    real_servers: [{ address: 10.6.2.191 }]\n`;
    assert.deepEqual(errorsOf(GROUP('    vips: [10.6.2.193-196]\n') + second), [
      'failoverd.yaml:19:11 services[1].port: the same virtual service (tcp 10.6.2.195:80) as services[0] ("web-80")',
    ]);
    const first = `  - name: other\n    vip: 10.6.2.195\n    port: 80\n    real_servers: [{ address: 10.6.2.191 }]\n`;
    const text = GROUP('    vips: [10.6.2.193-196]\n').replace('services:\n', `services:\n${first}`);
    assert.deepEqual(errorsOf(text), [
      'failoverd.yaml:14:12 services[1].vips[0]: the same virtual service (tcp 10.6.2.195:80) as services[0] ("other")',
    ]);
    assert.deepEqual(errorsOf(GROUP('    vips: [10.6.2.193-195, 10.6.2.194]\n')), [
      'failoverd.yaml:10:28 services[0].vips[1]: the group lists the virtual service tcp 10.6.2.194:80 twice',
    ]);
  });

  it('a group entry without a port needs the service port', () => {
    assert.deepEqual(errorsOf(GROUP('    vips: [10.6.2.193, { address: 10.6.2.194, port: 443 }]\n').replace('    port: 80\n', '')), [
      'failoverd.yaml:10:12 services[0].vips[0]: no port: give the service a port, or this entry as {address, port}',
    ]);
  });

  it('on_failure per real server overrides the service; the sorry server may be inhibited', () => {
    const text = BASE.replace(
      '    scheduler: wlc\n',
      '    scheduler: wlc\n    on_failure: inhibit\n    sorry_server: { address: 10.6.2.200, inhibit: true }\n',
    ).replace('{ address: 10.6.2.191, weight: 1 }', '{ address: 10.6.2.191, weight: 1, on_failure: remove }');
    const r = load(text);
    assert.equal(r.ok, true, r.ok ? '' : r.errors.map((e) => e.message).join('\n'));
    if (!r.ok) return;
    assert.deepEqual(
      r.config.services[0]!.real_servers.map((rs) => rs.on_failure),
      ['remove', 'inhibit'],
    );
    assert.equal(r.config.services[0]!.sorry_server?.inhibit, true);
    assert.deepEqual(warningsOf(text), []);
  });
});
