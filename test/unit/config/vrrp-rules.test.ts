// The VRRP rules have one owner (src/vrrp/config.ts) and the config layer places what
// they find at file:line:key. These pin the two places where copies of a rule had
// drifted apart (track weights, the garp.refresh default) and the rules that only the
// agent's start used to apply, so that `check` passed what `run` then refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { vrrpInstanceConfig, vrrpInstanceProblems } from '../../../src/vrrp/config.js';
import { BASE, edit, errorsOf, load } from './config-text.js';

const TRACK = (weight: number) => edit(7, `    vips: [10.6.2.195/32]\n    track: { interfaces: [{ name: eth1, weight: ${weight} }] }`);

describe('VRRP rules, one owner', () => {
  it("track weights are keepalived's -253..253: 253 and -253 load, 254 and -254 are refused with file:line", () => {
    assert.equal(load(TRACK(253)).ok, true);
    assert.equal(load(TRACK(-253)).ok, true);
    assert.deepEqual(errorsOf(TRACK(254)), ['failoverd.yaml:8:49 vrrp[0].track.interfaces[0].weight: expected a number ≤ 253']);
    assert.deepEqual(errorsOf(TRACK(-254)), ['failoverd.yaml:8:49 vrrp[0].track.interfaces[0].weight: expected a number ≥ -253']);
    // The instance, built without a file, refuses the same values.
    const built = (weight: number) =>
      vrrpInstanceConfig({
        name: 'web',
        interface: 'eth0',
        vrid: 51,
        priority: 100,
        vips: ['10.6.2.195/32'],
        track: { interfaces: [{ name: 'eth1', weight }], services: [], scripts: [], files: [], processes: [] },
      });
    assert.deepEqual(vrrpInstanceProblems(built(253)), []);
    assert.deepEqual(
      vrrpInstanceProblems(built(-254)).map((p) => p.path),
      [['track', 'interfaces', 0, 'weight']],
    );
  });

  it("garp.refresh has one default, keepalived's 0 (no refresh), whether the instance comes from a file or not", () => {
    const loaded = load(BASE);
    assert.ok(loaded.ok);
    const fromFile = loaded.config.vrrp[0]!.garp;
    const built = vrrpInstanceConfig({ name: 'web', interface: 'eth0', vrid: 51, priority: 100, vips: ['10.6.2.195/32'] }).garp;
    assert.equal(fromFile.refresh, 0);
    assert.deepEqual(built, { count: fromFile.count, intervalMs: fromFile.interval, refreshMs: fromFile.refresh, delayMs: fromFile.delay });
  });

  it('check refuses what the agent would refuse: a label too long once the interface is prefixed, a password over 8 bytes', () => {
    assert.deepEqual(errorsOf(edit(7, '    vips: [{ address: 10.6.2.195/32, label: abcdefghijk }]')), [
      'failoverd.yaml:7:45 vrrp[0].vips[0].label: an IPv4 address label "eth0:NAME" of at most 15 characters, got "eth0:abcdefghijk"',
    ]);
    assert.equal(load(edit(7, '    vips: [{ address: 10.6.2.195/32, label: abcdefghij }]')).ok, true);
    // Five characters, ten bytes: the advert has room for eight.
    assert.deepEqual(errorsOf(edit(6, '    version: 2\n    auth: { password: ééééé }')), [
      'failoverd.yaml:7:23 vrrp[0].auth.password: expected 1 to 8 bytes (UTF-8), got 10',
    ]);
    assert.equal(load(edit(6, '    version: 2\n    auth: { password: éééé }')).ok, true);
  });

  it("an instance's problems carry YAML paths, the same ones for a file-less instance", () => {
    const c = vrrpInstanceConfig({
      name: 'w',
      interface: 'eth0',
      vrid: 300,
      priority: 0,
      version: 2,
      vips: ['2001:db8::1/64'],
      advertIntervalMs: 1500,
      unicastPeers: ['2001:db8::2', '2001:db8::2'],
    });
    assert.deepEqual(
      vrrpInstanceProblems(c).map((p) => p.path.join('.')),
      ['vrid', 'priority', 'advert_interval', 'version', 'unicast_peers.1'],
    );
  });
});
