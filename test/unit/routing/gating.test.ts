// Which services gate an announcement: a service serving the VIP through a `vips:` group
// (a range included) gates it like one with `vip:`, in the config rule and in the announcer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { FakeClock } from '../../../src/clock.js';
import { formatConfigError } from '../../../src/config/index.js';
import type { FailoverdConfig } from '../../../src/config/schema.js';
import { EventBus } from '../../../src/events.js';
import { announcementSpecs, Routing } from '../../../src/routing/routing.js';
import { load } from '../config/config-text.js';
import { fakeKernel } from './fake-kernel.js';

const GROUP = `node: { name: d1 }
services:
  - name: web
    vips: [10.9.9.8-9, { address: 10.9.9.20, port: 8443 }]
    port: 7000
    scheduler: mh
    real_servers: [{ address: 10.9.1.21 }]
  - name: other
    vip: 10.9.9.30
    vip_standalone: true
    port: 7000
    scheduler: mh
    real_servers: [{ address: 10.9.1.21 }]
routing:
  announce:
    - { name: mid, vips: [10.9.9.8, 10.9.9.9] }
    - { name: tls, vips: [10.9.9.20] }
`;

function config(text = GROUP): FailoverdConfig {
  const r = load(text);
  assert.ok(r.ok, r.ok ? '' : r.errors.map(formatConfigError).join('\n'));
  return r.config;
}

test('a service whose vips: group (a range, an address entry) holds an announced VIP gates the announcement', () => {
  const c = config();
  assert.deepEqual(
    announcementSpecs(c.routing, c.services).map((s) => [s.name, s.services]),
    [
      ['mid', ['web']],
      ['tls', ['web']],
    ],
  );
});

test('the group service without quorum keeps its VIP unannounced; with quorum it is announced', async () => {
  const c = config();
  const clock = new FakeClock();
  const kernel = fakeKernel();
  const quorum = new Map<string, boolean>([['other', true]]);
  const r = new Routing(c.routing, c.services, {
    ...kernel.io,
    clock,
    bus: new EventBus('d1', () => clock.wallNow()),
    logger: pino({ level: 'silent' }),
    quorumUp: (s) => quorum.get(s),
  });
  await r.start();
  await r.settled();
  assert.deepEqual(kernel.changes, [], 'nothing announced while the group service has no quorum');
  assert.deepEqual(
    r.status().map((s) => s.reason),
    ['no quorum: web', 'no quorum: web'],
  );
  quorum.set('web', true);
  r.evaluate();
  await r.settled();
  // Each announcement has its own queue: their changes interleave.
  assert.deepEqual([...kernel.changes].sort(), ['+10.9.9.20', '+10.9.9.8', '+10.9.9.9']);
});

test('the config rule reads the same gating: an announced VIP only a group serves is accepted', () => {
  const only = GROUP.replace(/ {2}- name: other[\s\S]*?(?=routing:)/, '');
  assert.equal(load(only).ok, true);
});
