// The tracking alone, on the fake clock: the instance's own interface is always
// tracked (weight 0 = FAULT), links are debounced, reported values fold into the
// priority, and a restart carries learned values over but reads links anew.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../../src/clock.js';
import { vrrpInstanceConfig, type VrrpInstanceInput } from '../../../src/vrrp/config.js';
import type { LinkState } from '../../../src/vrrp/ports.js';
import { Tracking } from '../../../src/vrrp/tracking.js';
import { FakeHost } from './fake-io.js';

function setup() {
  const clock = new FakeClock();
  const host = new FakeHost();
  host.addLink('eth0', 2, '02:00:00:00:00:01', [{ address: '192.0.2.1', prefixLength: 24 }]);
  host.addLink('eth1', 3, '02:00:00:00:01:01', []);
  const seen = { changes: 0, ownLinks: [] as boolean[] };
  const tracking = new Tracking({
    host,
    clock,
    onChange: () => {
      seen.changes++;
    },
    onOwnLink: (l: LinkState) => seen.ownLinks.push(l.up),
  });
  const config = (over: Partial<VrrpInstanceInput> = {}) =>
    vrrpInstanceConfig({
      name: 'web',
      interface: 'eth0',
      vrid: 51,
      priority: 100,
      version: 2,
      vips: ['192.0.2.195/32'],
      linkDebounce: { upMs: 0, downMs: 500 },
      ...over,
    });
  return { clock, host, tracking, seen, config };
}

describe('Tracking', () => {
  it('the own interface going down is a FAULT once it has stayed down for the debounce', async () => {
    const { clock, host, tracking, seen, config } = setup();
    await tracking.start(config(), await host.link('eth0'));
    assert.deepEqual(tracking.priority(100), { priority: 100, fault: false, faultedBy: [] });
    host.setUp('eth0', false);
    assert.deepEqual(seen.ownLinks, [false], 'the instance hears of its own link at once');
    clock.advance(499);
    assert.equal(tracking.priority(100).fault, false, 'not before the debounce');
    clock.advance(1);
    assert.deepEqual(tracking.priority(100).faultedBy, ['interface/eth0']);
    assert.equal(seen.changes, 1);
    host.setUp('eth0', true);
    assert.equal(tracking.priority(100).fault, false, 'up counts at once (upMs 0)');
    tracking.stop();
  });

  it('weights fold into the priority; a reported value that does not change calls nobody', async () => {
    const { host, tracking, seen, config } = setup();
    const c = config({
      track: {
        interfaces: [{ name: 'eth1', weight: -30 }],
        services: [{ name: 'web', weight: 20 }],
        scripts: [],
        files: [],
        processes: [],
      },
    });
    host.setUp('eth1', false);
    await tracking.start(c, await host.link('eth0'));
    assert.equal(tracking.priority(100).priority, 90, '100 - 30 (eth1 down) + 20 (service up)');
    tracking.set('service', 'web', true);
    assert.equal(seen.changes, 0);
    tracking.set('service', 'web', false);
    assert.equal(tracking.priority(100).priority, 70);
    assert.equal(seen.changes, 1);
    tracking.set('service', 'unknown', false);
    assert.equal(seen.changes, 1, 'objects not tracked are ignored');
    assert.equal(tracking.priority(255).priority, 255, 'the address owner is never adjusted');
    tracking.stop();
  });

  it("restart: a service's reported value carries over, interfaces are read anew, dropped objects are forgotten", async () => {
    const { host, tracking, config } = setup();
    const before = config({
      track: {
        interfaces: [{ name: 'eth1', weight: -30 }],
        services: [
          { name: 'web', weight: -10 },
          { name: 'db', weight: 0 },
        ],
        scripts: [],
        files: [],
        processes: [],
      },
    });
    await tracking.start(before, await host.link('eth0'));
    tracking.set('service', 'web', false);
    tracking.set('service', 'db', false);
    assert.deepEqual(tracking.priority(100), { priority: 90, fault: true, faultedBy: ['service/db'] });
    host.setUp('eth1', false);
    const after = config({
      track: {
        interfaces: [{ name: 'eth1', weight: -5 }],
        services: [{ name: 'web', weight: -10 }],
        scripts: [],
        files: [],
        processes: [],
      },
    });
    await tracking.restart(after, await host.link('eth0'));
    assert.deepEqual(
      tracking.priority(100),
      { priority: 85, fault: false, faultedBy: [] },
      '100 - 10 (web still down) - 5 (eth1 read down)',
    );
    tracking.stop();
  });
});
