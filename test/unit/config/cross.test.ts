import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BASE, edit, errorsOf, load, warningsOf } from './config-text.js';

const SECOND_INSTANCE = (lines: string) => BASE.replace('services:\n', `  - name: db\n    interface: eth0\n${lines}services:\n`);
const SECOND_SERVICE = (lines: string) => `${BASE}  - name: web-443\n${lines}`;

describe('config cross-field rules', () => {
  it('names are unique', () => {
    assert.deepEqual(
      errorsOf(
        SECOND_SERVICE('    vip: 10.6.2.195\n    port: 443\n    real_servers: [{ address: 10.6.2.191 }]\n').replace(
          'name: web-443',
          'name: web-80',
        ),
      ),
      ['failoverd.yaml:17:11 services[1].name: duplicate name "web-80" (also services[0])'],
    );
  });

  it('VRIDs are unique per interface and family', () => {
    assert.deepEqual(errorsOf(SECOND_INSTANCE('    vrid: 51\n    vips: [10.6.2.196]\n')), [
      'failoverd.yaml:10:11 vrrp[1].vrid: VRID 51 is already used on eth0 by vrrp[0] ("web"); VRIDs must be unique per interface and address family',
    ]);
    // The same VRID for IPv6 is another router.
    assert.equal(load(SECOND_INSTANCE('    vrid: 51\n    vips: ["2001:db8::1/128"]\n')).ok, true);
  });

  it('a VIP belongs to one instance', () => {
    assert.deepEqual(errorsOf(SECOND_INSTANCE('    vrid: 52\n    vips: [10.6.2.195]\n')), [
      'failoverd.yaml:11:12 vrrp[1].vips[0]: 10.6.2.195 is already a VIP of vrrp[0] ("web")',
    ]);
  });

  it('an instance carries one address family', () => {
    assert.deepEqual(errorsOf(edit(7, '    vips: [10.6.2.195/32, "2001:db8::5"]')), [
      'failoverd.yaml:7:27 vrrp[0].vips[1]: IPv6 address in an instance whose first VIP is IPv4: one instance carries one address family',
    ]);
  });

  it('a service VIP is a VIP of some instance, or declared standalone', () => {
    assert.deepEqual(errorsOf(edit(10, '    vip: 10.6.2.199')), [
      "failoverd.yaml:10:10 services[0].vip: 10.6.2.199 is not a VIP of any vrrp instance (VIPs: 10.6.2.195); add it to an instance's vips or set vip_standalone: true",
    ]);
    assert.equal(load(edit(10, '    vip: 10.6.2.199\n    vip_standalone: true')).ok, true);
  });

  it('a service has vip and port, or fwmark', () => {
    assert.deepEqual(errorsOf(edit(11, '    protocol: tcp')), [
      'failoverd.yaml:9:5 services[0].port: missing required key (expected a port number 0-65535; 0 = all ports, with persistence)',
    ]);
    assert.deepEqual(errorsOf(edit(10, '    fwmark: 5')), [
      'failoverd.yaml:11:11 services[0].port: a fwmark service has no port (the mark selects the traffic)',
    ]);
    assert.deepEqual(errorsOf(edit(10, '    fwmark: 5\n    vip: 10.6.2.195')), [
      'failoverd.yaml:10:13 services[0].fwmark: give either vip (with port) or fwmark, not both',
    ]);
    assert.deepEqual(errorsOf(edit(10, '    protocol: tcp').replace('    port: 80\n', '')), [
      'failoverd.yaml:9:5 services[0].vip: missing required key: a service needs vip and port, fwmark, or a group (vips, fwmarks)',
    ]);
    assert.deepEqual(errorsOf(edit(11, '    port: 0')), ['failoverd.yaml:11:11 services[0].port: port 0 (all ports) needs persistence']);
  });

  it('a virtual service is declared once', () => {
    assert.deepEqual(errorsOf(SECOND_SERVICE('    vip: 10.6.2.195\n    port: 80\n    real_servers: [{ address: 10.6.2.191 }]\n')), [
      'failoverd.yaml:19:11 services[1].port: the same virtual service (tcp 10.6.2.195:80) as services[0] ("web-80")',
    ]);
  });

  it("real servers have the service's address family and are listed once", () => {
    assert.deepEqual(errorsOf(edit(15, '      - { address: "2001:db8::10", weight: 1 }')), [
      "failoverd.yaml:15:20 services[0].real_servers[0].address: expected an IPv4 address like the service's, got 2001:db8::10",
    ]);
    assert.deepEqual(errorsOf(edit(15, '      - { address: 10.6.2.192, weight: 1 }')), [
      'failoverd.yaml:16:20 services[0].real_servers[1].address: 10.6.2.192 port 80 is already real_servers[0]',
    ]);
  });

  it('quorum is reachable, also after hysteresis', () => {
    assert.deepEqual(errorsOf(edit(12, '    quorum: 3')), [
      'failoverd.yaml:12:13 services[0].quorum: quorum 3 is more than the total weight of the real servers (2), so the service could never be up',
    ]);
    assert.deepEqual(errorsOf(edit(12, '    hysteresis: 2')), [
      'failoverd.yaml:12:17 services[0].hysteresis: quorum + hysteresis (3) is more than the total weight of the real servers (2), so quorum could never come back once lost',
    ]);
  });

  it('VRRP version rules: auth only in v2, v2 only IPv4 in whole seconds, checksum only for v3 IPv4', () => {
    assert.deepEqual(errorsOf(edit(6, '    auth: { password: secret }')), [
      'failoverd.yaml:6:11 vrrp[0].auth: authentication exists only in VRRP version 2 (RFC 5798 removed it); remove auth or set version: 2',
    ]);
    assert.equal(load(edit(6, '    version: 2\n    auth: { password: secret }')).ok, true);
    assert.deepEqual(errorsOf(edit(6, '    version: 2\n    advert_interval: 500ms')), [
      'failoverd.yaml:7:22 vrrp[0].advert_interval: VRRP version 2 needs whole seconds from 1s to 255s, got 500ms',
    ]);
    assert.deepEqual(errorsOf(edit(6, '    advert_interval: 45s')), [
      'failoverd.yaml:6:22 vrrp[0].advert_interval: VRRP version 3 needs a multiple of 10ms from 10ms to 40.95s, got 45000ms',
    ]);
    assert.deepEqual(
      errorsOf(
        edit(7, '    version: 2\n    vips: ["2001:db8::1"]')
          .replace('vip: 10.6.2.195', 'vip: 2001:db8::1')
          .replace(/10\.6\.2\.19([12])/g, '2001:db8::$1'),
      ),
      ['failoverd.yaml:7:14 vrrp[0].version: VRRPv2 is IPv4 only: use version: 3 for IPv6 VIPs'],
    );
    assert.deepEqual(errorsOf(edit(6, '    version: 2\n    checksum: without_pseudo_header')), [
      'failoverd.yaml:7:15 vrrp[0].checksum: checksum applies only to VRRP version 3 over IPv4',
    ]);
  });

  it("unicast peers have the instance's family", () => {
    assert.deepEqual(errorsOf(edit(6, '    unicast_peers: [10.6.2.12, "fe80::2"]')), [
      "failoverd.yaml:6:32 vrrp[0].unicast_peers[1]: expected an IPv4 address like the instance's VIPs, got fe80::2",
    ]);
  });

  it('tracked services exist', () => {
    assert.deepEqual(errorsOf(edit(6, '    track: { services: [{ name: web-8080, weight: -50 }] }')), [
      'failoverd.yaml:6:33 vrrp[0].track.services[0].name: no service named "web-8080" (services: web-80)',
    ]);
  });

  it('the sync daemon is described once; a one-member sync group is a warning', () => {
    assert.deepEqual(
      errorsOf(
        SECOND_INSTANCE('    vrid: 52\n    vips: [10.6.2.196]\n    sync_daemon: { interface: eth1 }\n').replace(
          '    vips: [10.6.2.195/32]\n',
          '    vips: [10.6.2.195/32]\n    sync_daemon: { interface: eth0 }\n',
        ),
      ),
      [
        'failoverd.yaml:13:18 vrrp[1].sync_daemon: differs from vrrp[0].sync_daemon; the kernel runs one sync daemon, so every instance that names it must give the same interface, sync_id, group and port',
      ],
    );
    assert.deepEqual(warningsOf(edit(6, '    sync_group: g1')), [
      'failoverd.yaml:6:17 warning: vrrp[0].sync_group: sync group "g1" has only this instance, so it has no effect',
    ]);
  });

  it('scheduler flags only with sh/mh; tunnel only with tun; one_packet only with udp', () => {
    assert.deepEqual(errorsOf(edit(12, '    scheduler_flags: [fallback]')), [
      'failoverd.yaml:12:22 services[0].scheduler_flags: scheduler flags apply only to the sh and mh schedulers, got scheduler wlc',
    ]);
    assert.equal(load(edit(12, '    scheduler: sh\n    scheduler_flags: [fallback, port]')).ok, true);
    assert.deepEqual(errorsOf(edit(12, '    tunnel: { type: gue, port: 6080 }')), [
      'failoverd.yaml:12:13 services[0].tunnel: tunnel applies only with forwarding: tun',
    ]);
    assert.deepEqual(errorsOf(edit(12, '    one_packet: true')), [
      'failoverd.yaml:12:17 services[0].one_packet: one_packet applies only to UDP services',
    ]);
  });

  it('schedules name a real service, real server and instance', () => {
    const withSchedule = (line: string) => `${BASE}schedules:\n  - ${line}\n`;
    assert.equal(load(withSchedule('{ cron: "0 3 * * 0", action: drain, service: web-80, real_server: 10.6.2.191, for: 30m }')).ok, true);
    assert.deepEqual(errorsOf(withSchedule('{ cron: "0 3 * * 0", action: drain, service: web-80, real_server: 10.6.2.193, for: 30m }')), [
      'failoverd.yaml:18:71 schedules[0].real_server: service "web-80" has no real server 10.6.2.193 (it has 10.6.2.191:80, 10.6.2.192:80)',
    ]);
    assert.deepEqual(errorsOf(withSchedule('{ cron: "0 3 * * 0", action: demote, instance: db, for: 30m }')), [
      'failoverd.yaml:18:52 schedules[0].instance: no vrrp instance named "db" (instances: web)',
    ]);
    assert.deepEqual(errorsOf(withSchedule('{ cron: "0 3 * * 8", timezone: Mars/Base, action: demote, instance: web, for: 30m }')), [
      'failoverd.yaml:18:13 schedules[0].cron: expected a cron expression like "0 3 * * 0" (minute hour day month weekday)',
      'failoverd.yaml:18:36 schedules[0].timezone: expected an IANA time zone like UTC or Europe/Berlin',
    ]);
  });

  it('a check timeout longer than its interval is a warning', () => {
    assert.deepEqual(warningsOf(edit(13, '    check: { type: http, interval: 1s, timeout: 2s }')), [
      'failoverd.yaml:13:49 warning: services[0].check.timeout: timeout (2000ms) is longer than interval (1000ms): the next run waits for it',
    ]);
  });

  it('addresses are compared as addresses, whatever their spelling, and leave the loader canonical', () => {
    const V6 = `vrrp:
  - name: v6
    interface: eth0
    vrid: 61
    version: 3
    vips: ["2001:DB8::0005/128"]
    unicast_peers: ["FE80::2"]
    unicast_source: "fe80:0:0:0:0:0:0:1"
services:
  - name: v6-80
    vip: "2001:db8:0:0:0:0:0:5"
    port: 80
    real_servers:
      - { address: "2001:DB8::11" }
`;
    const r = load(V6);
    assert.ok(r.ok, r.ok ? '' : r.errors.map((e) => e.message).join('; '));
    assert.deepEqual(
      r.config.vrrp[0]!.vips.map((v) => v.address),
      ['2001:db8::5'],
    );
    assert.deepEqual(r.config.vrrp[0]!.unicast_peers, ['fe80::2']);
    assert.equal(r.config.vrrp[0]!.unicast_source, 'fe80::1');
    assert.equal(r.config.services[0]!.vip, '2001:db8::5');
    assert.equal(r.config.services[0]!.real_servers[0]!.address, '2001:db8::11');

    const twice = V6.replace(
      '      - { address: "2001:DB8::11" }',
      '      - { address: "2001:DB8::11" }\n      - { address: "2001:db8:0::0011" }',
    );
    assert.deepEqual(
      errorsOf(twice).map((e) => e.replace(/^failoverd.yaml:\d+:\d+ /, '')),
      ['services[0].real_servers[1].address: 2001:db8::11 port 80 is already real_servers[0]'],
    );
    const secondVip = V6.replace(
      'services:\n',
      '  - name: v6b\n    interface: eth0\n    vrid: 62\n    version: 3\n    vips: ["2001:db8::0:5"]\nservices:\n',
    );
    assert.match(errorsOf(secondVip).join('\n'), /vrrp\[1\]\.vips\[0\]: 2001:db8::5 is already a VIP of vrrp\[0\]/);
    const secondService = `${V6}  - name: v6-80b\n    vip: "2001:DB8::5"\n    port: 80\n    real_servers: [{ address: "2001:db8::12" }]\n`;
    assert.match(errorsOf(secondService).join('\n'), /services\[1\]\.port: the same virtual service \(tcp 2001:db8::5:80\)/);
    const twoPeers = V6.replace('unicast_peers: ["FE80::2"]', 'unicast_peers: ["FE80::2", "fe80:0::2"]');
    assert.match(errorsOf(twoPeers).join('\n'), /vrrp\[0\]\.unicast_peers\[1\]: fe80::2 is already unicast_peers\[0\]/);
    const drain = `${V6}schedules:\n  - { cron: "0 3 * * 0", action: drain, service: v6-80, real_server: "[2001:db8:0:0:0:0:0:0011]:80", for: 30m }\n`;
    assert.equal(load(drain).ok, true);
  });

  it('leading zeros, zone indexes and IPv4-mapped addresses are errors, not guesses', () => {
    assert.match(errorsOf(edit(7, '    vips: [010.6.2.195/32]')).join('\n'), /vrrp\[0\]\.vips\[0\]: .*no leading zeros/);
    assert.match(
      errorsOf(edit(15, '      - { address: 10.6.2.091, weight: 1 }')).join('\n'),
      /real_servers\[0\]\.address: .*no leading zeros/,
    );
    assert.match(
      errorsOf(edit(7, '    vips: [10.6.2.195/32]\n    unicast_peers: ["::ffff:10.6.2.2"]')).join('\n'),
      /unicast_peers\[0\]: .*IPv4-mapped/,
    );
    assert.match(
      errorsOf(edit(7, '    vips: ["2001:db8::5"]\n    version: 3\n    unicast_peers: ["fe80::2%eth0"]')).join('\n'),
      /unicast_peers\[0\]: .*zone index/,
    );
  });
});
