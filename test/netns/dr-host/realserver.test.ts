// `failoverd realserver setup|check` in a namespace of its own, verified with ip and sysctl.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Netns } from '../../helpers/netns.js';

const cli = fileURLToPath(new URL('../../../src/cli.js', import.meta.url));
const ns = Netns.create('fo-rs');
after(() => ns.delete());

function failoverd(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('ip', ['netns', 'exec', ns.name, process.execPath, cli, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface IpAddr {
  ifname: string;
  addr_info: { family: string; local: string; prefixlen: number }[];
}
const loAddresses = () => ns.ipJson<IpAddr[]>('addr', 'show', 'dev', 'lo')[0]!.addr_info.map((a) => `${a.local}/${a.prefixlen}`);
const ARP = [
  'net.ipv4.conf.all.arp_ignore',
  'net.ipv4.conf.lo.arp_ignore',
  'net.ipv4.conf.all.arp_announce',
  'net.ipv4.conf.lo.arp_announce',
];
const arpValues = () => ARP.map((k) => ns.sysctl(k));

describe('realserver setup and check in a fresh namespace', () => {
  it('check reports the VIP and each ARP setting as missing, and exits 1', () => {
    assert.deepEqual(arpValues(), ['0', '0', '0', '0'], 'a fresh namespace has kernel defaults');
    const r = failoverd('realserver', 'check', '--vip', '10.6.2.195');
    assert.equal(r.status, 1, r.stderr);
    assert.deepEqual(
      r.stdout.split('\n').filter((l) => l.startsWith('missing: ')),
      [
        'missing: 10.6.2.195/32 is not on lo',
        'missing: net.ipv4.conf.all.arp_ignore is 0, expected 1 (answer ARP only for addresses on the interface asked)',
        'missing: net.ipv4.conf.lo.arp_ignore is 0, expected 1 (answer ARP only for addresses on the interface asked)',
        'missing: net.ipv4.conf.all.arp_announce is 0, expected 2 (never use the VIP as the ARP source address)',
        'missing: net.ipv4.conf.lo.arp_announce is 0, expected 2 (never use the VIP as the ARP source address)',
      ],
    );
  });

  it('setup adds the VIP on lo as /32 and sets arp_ignore=1, arp_announce=2; ip and sysctl agree', () => {
    const r = failoverd('realserver', 'setup', '--vip', '10.6.2.195,fd00:6:2::195');
    assert.equal(r.status, 0, r.stderr);
    assert.ok(loAddresses().includes('10.6.2.195/32'), loAddresses().join(' '));
    assert.ok(loAddresses().includes('fd00:6:2::195/128'), loAddresses().join(' '));
    assert.deepEqual(arpValues(), ['1', '1', '2', '2']);
    assert.equal(ns.exec('cat', ['/proc/sys/net/ipv4/conf/all/arp_announce']).trim(), '2');
  });

  it('setup is idempotent and check then passes', () => {
    const before = loAddresses();
    const again = failoverd('realserver', 'setup', '--vip', '10.6.2.195,fd00:6:2::195');
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /nothing changed/);
    assert.deepEqual(loAddresses(), before);
    const check = failoverd('realserver', 'check', '--vip', '10.6.2.195,fd00:6:2::195');
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /^ready for DR: 10\.6\.2\.195\/32, fd00:6:2::195\/128 on lo/);
  });

  it('a VIP on lo with a wider prefix is reported and replaced by setup', () => {
    ns.ip('addr', 'add', '10.6.2.196/24', 'dev', 'lo');
    const check = failoverd('realserver', 'check', '--vip', '10.6.2.196');
    assert.equal(check.status, 1);
    assert.match(check.stdout, /missing: 10\.6\.2\.196 is on lo as \/24, expected \/32/);
    const setup = failoverd('realserver', 'setup', '--vip', '10.6.2.196');
    assert.equal(setup.status, 0, setup.stderr);
    assert.ok(loAddresses().includes('10.6.2.196/32'));
    assert.ok(!loAddresses().includes('10.6.2.196/24'));
  });

  it('refuses bad input with a usage error', () => {
    assert.equal(failoverd('realserver', 'check', '--vip', '10.6.2.300').status, 2);
    assert.equal(failoverd('realserver', 'start', '--vip', '10.6.2.195').status, 2);
    assert.equal(failoverd('realserver', '--help').status, 0);
  });
});
