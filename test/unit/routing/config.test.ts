// routing: keys and their cross rules, with file:line:key in every error.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatConfigError } from '../../../src/config/index.js';
import { errorsOf, load } from '../config/config-text.js';

const ECMP = (scheduler: string, routing = '') => `node: { name: d1 }
services:
  - name: web
    vip: 10.9.9.9
    port: 7000
    scheduler: ${scheduler}
    real_servers: [{ address: 10.9.1.21 }, { address: 10.9.1.22 }]
routing:
  announce:
    - { name: web, vips: [10.9.9.9] }
${routing}`;

describe('routing config', () => {
  it('an announced VIP with mh (port hashing) is accepted, with the defaults', () => {
    const r = load(ECMP('mh\n    scheduler_flags: [port]'));
    assert.ok(r.ok, r.ok ? '' : r.errors.map(formatConfigError).join('\n'));
    if (!r.ok) return;
    assert.deepEqual(r.config.routing, {
      table: 200,
      protocol: 200,
      sloppy: true,
      allow_flow_resets: false,
      announce: [{ name: 'web', vips: ['10.9.9.9'], interface: 'lo', converge: 3000, adopt_grace: 30_000 }],
    });
  });

  it('a scheduler that cannot keep flows across directors is refused unless flow resets are allowed', () => {
    assert.deepEqual(errorsOf(ECMP('wlc')), [
      'failoverd.yaml:6:16 services[0].scheduler: 10.9.9.9 is announced by routing.announce[0]: scheduler wlc picks a different real server on each director, so a flow that ECMP moves is reset; use mh (scheduler_flags: [port]) or set routing.allow_flow_resets: true',
    ]);
    assert.equal(load(ECMP('wlc', '  allow_flow_resets: true\n')).ok, true);
  });

  it('sloppy: false is refused unless flow resets are allowed', () => {
    assert.deepEqual(errorsOf(ECMP('mh', '  sloppy: false\n')), [
      'failoverd.yaml:11:11 routing.sloppy: without sloppy, a director that receives a flow moved by ECMP resets it; set sloppy: true or routing.allow_flow_resets: true',
    ]);
    assert.equal(load(ECMP('wlc', '  sloppy: false\n  allow_flow_resets: true\n')).ok, true);
  });

  it('a group service (vips: with a range) on an announced VIP is held to the same scheduler rule', () => {
    const group = ECMP('wlc')
      .replace('    vip: 10.9.9.9\n', '    vips: [10.9.9.8-9]\n')
      .replace('vips: [10.9.9.9] }', 'vips: [10.9.9.8, 10.9.9.9] }');
    assert.deepEqual(errorsOf(group), [
      'failoverd.yaml:6:16 services[0].scheduler: 10.9.9.8 is announced by routing.announce[0]: scheduler wlc picks a different real server on each director, so a flow that ECMP moves is reset; use mh (scheduler_flags: [port]) or set routing.allow_flow_resets: true',
    ]);
  });

  it('NAT forwarding (the service, or one real server) on an announced VIP is refused unless flow resets are allowed', () => {
    const NAT =
      "NAT sends the replies through the real server's gateway, one director, which does not know the flows the other directors scheduled; use dr or tun, or set routing.allow_flow_resets: true";
    assert.deepEqual(errorsOf(ECMP('mh\n    forwarding: nat')), [
      `failoverd.yaml:7:17 services[0].forwarding: 10.9.9.9 is announced by routing.announce[0]: ${NAT}`,
    ]);
    const oneNat = ECMP('mh').replace('{ address: 10.9.1.22 }', '{ address: 10.9.1.22, forwarding: nat }');
    assert.deepEqual(errorsOf(oneNat), [
      `failoverd.yaml:7:78 services[0].real_servers[1].forwarding: 10.9.9.9 is announced by routing.announce[0]: ${NAT}`,
    ]);
    assert.equal(load(ECMP('mh\n    forwarding: nat', '  allow_flow_resets: true\n')).ok, true);
    assert.equal(load(ECMP('mh\n    forwarding: tun')).ok, true);
  });

  it('gating services exist, and something gates each announcement', () => {
    assert.deepEqual(errorsOf(ECMP('mh').replace('vips: [10.9.9.9] }', 'vips: [10.9.9.9], services: [nope] }')), [
      'failoverd.yaml:10:49 routing.announce[0].services[0]: no service named "nope" (services: web)',
    ]);
    const noService = ECMP('mh').replace('vips: [10.9.9.9] }', 'vips: [10.9.9.9] }\n    - { name: other, vips: [10.9.9.10] }');
    assert.deepEqual(errorsOf(noService), [
      'failoverd.yaml:11:7 routing.announce[1].services: no service serves 10.9.9.10, so nothing could gate the announcement; add a service on these VIPs or list services',
    ]);
  });

  it('a VIP is held by VRRP or announced, not both', () => {
    const both = `${ECMP('mh')}vrrp:\n  - { name: v, interface: eth0, vrid: 5, priority: 100, vips: [10.9.9.9/32] }\n`;
    assert.deepEqual(errorsOf(both), [
      'failoverd.yaml:10:27 routing.announce[0].vips[0]: 10.9.9.9 is a VIP of vrrp instance "v": a VIP is either held by VRRP or announced by routing, not both',
    ]);
  });
});
