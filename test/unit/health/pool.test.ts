import { test } from 'node:test';
import assert from 'node:assert/strict';
import { desiredPool } from '../../../src/health/pool.js';
import type { DesiredService, ServiceSpec } from '../../../src/ipvs/types.js';
import { CHECK_DEFAULTS, type HealthCheckConfig, type HealthServiceConfig } from '../../../src/health/types.js';

const spec: ServiceSpec = {
  key: { kind: 'address', family: 'inet', protocol: 'tcp', address: '10.6.2.195', port: 80 },
  scheduler: 'wlc',
  flags: {},
  persistenceTimeoutSec: 0,
  netmask: '255.255.255.255',
};
const tcp: HealthCheckConfig = { type: 'tcp', options: {}, ...CHECK_DEFAULTS };

function service(overrides: Partial<HealthServiceConfig> = {}): HealthServiceConfig {
  return {
    name: 'web-80',
    spec,
    forwarding: 'dr',
    quorum: 1,
    hysteresis: 0,
    onFailure: 'remove',
    realServers: [
      { address: '10.6.2.191', port: 80, weight: 2, checks: [tcp] },
      { address: '10.6.2.192', port: 80, weight: 3, checks: [tcp], upperThreshold: 100 },
      { address: '10.6.2.193', port: 8080, weight: 1, forwarding: 'tun', tunnel: { type: 'gue', port: 6080 }, checks: [] },
    ],
    ...overrides,
  };
}

/** The pool of a service that is not a group: exactly one kernel service. */
function onePool(...args: Parameters<typeof desiredPool>): DesiredService {
  const pools = desiredPool(...args);
  assert.equal(pools.length, 1);
  return pools[0]!;
}

const weights = (d: DesiredService): string[] => d.destinations.map((x) => `${x.address}:${x.port}=${x.weight}`);

test('up servers with their weights; down ones removed; a server without checks is always in', () => {
  const pool = onePool(
    service(),
    new Map([
      ['10.6.2.191:80', { up: true }],
      ['10.6.2.192:80', { up: false }],
    ]),
    true,
  );
  assert.deepEqual(weights(pool), ['10.6.2.191:80=2', '10.6.2.193:8080=1']);
  assert.equal(pool.service, spec);
  assert.deepEqual(pool.destinations[1], {
    address: '10.6.2.193',
    port: 8080,
    weight: 1,
    forwarding: 'tun',
    tunnel: { type: 'gue', port: 6080 },
    upperThreshold: 0,
    lowerThreshold: 0,
  });
  assert.equal(pool.destinations[0]!.forwarding, 'dr', 'the service forwarding is the default');
});

test('a real server never seen by its checks counts as down', () => {
  assert.deepEqual(weights(onePool(service(), new Map(), true)), ['10.6.2.193:8080=1']);
});

test('inhibit keeps a down server at weight 0', () => {
  const pool = onePool(
    service({ onFailure: 'inhibit' }),
    new Map([
      ['10.6.2.191:80', { up: false }],
      ['10.6.2.192:80', { up: true }],
    ]),
    true,
  );
  assert.deepEqual(weights(pool), ['10.6.2.191:80=0', '10.6.2.192:80=3', '10.6.2.193:8080=1']);
  assert.equal(pool.destinations[1]!.upperThreshold, 100);
});

test('dynamic weight wins over the configured weight', () => {
  const pool = onePool(
    service(),
    new Map([
      ['10.6.2.191:80', { up: true, dynamicWeight: 9 }],
      ['10.6.2.192:80', { up: true, dynamicWeight: 0 }],
    ]),
    true,
  );
  assert.deepEqual(weights(pool), ['10.6.2.191:80=9', '10.6.2.192:80=0', '10.6.2.193:8080=1']);
});

test('quorum lost with a sorry server: the sorry server takes over (inhibit keeps the rest at 0)', () => {
  const sorryServer = { address: '10.6.2.200', port: 80 };
  const health = new Map([
    ['10.6.2.191:80', { up: true }],
    ['10.6.2.192:80', { up: false }],
  ]);
  assert.deepEqual(weights(onePool(service({ sorryServer }), health, false)), ['10.6.2.200:80=1']);
  assert.deepEqual(weights(onePool(service({ sorryServer, onFailure: 'inhibit' }), health, false)), [
    '10.6.2.191:80=0',
    '10.6.2.192:80=0',
    '10.6.2.193:8080=0',
    '10.6.2.200:80=1',
  ]);
  assert.deepEqual(
    weights(onePool(service({ sorryServer }), health, true)),
    ['10.6.2.191:80=2', '10.6.2.193:8080=1'],
    'with quorum the sorry server is out',
  );
});

test('quorum lost without a sorry server keeps whatever is still up', () => {
  assert.deepEqual(weights(onePool(service(), new Map([['10.6.2.191:80', { up: true }]]), false)), [
    '10.6.2.191:80=2',
    '10.6.2.193:8080=1',
  ]);
});

test("a real server's own on_failure overrides the service's, both ways", () => {
  const health = new Map([
    ['10.6.2.191:80', { up: false }],
    ['10.6.2.192:80', { up: false }],
  ]);
  const base = service();
  const servers = (first: 'remove' | 'inhibit', second: 'remove' | 'inhibit') => [
    { ...base.realServers[0]!, onFailure: first },
    { ...base.realServers[1]!, onFailure: second },
    base.realServers[2]!,
  ];
  assert.deepEqual(weights(onePool(service({ realServers: servers('inhibit', 'remove') }), health, true)), [
    '10.6.2.191:80=0',
    '10.6.2.193:8080=1',
  ]);
  assert.deepEqual(weights(onePool(service({ onFailure: 'inhibit', realServers: servers('remove', 'inhibit') }), health, true)), [
    '10.6.2.192:80=0',
    '10.6.2.193:8080=1',
  ]);
});

test('sorry server inhibit: at weight 0 while quorum holds, at its weight once quorum is lost', () => {
  const sorryServer = { address: '10.6.2.200', port: 80, weight: 4, inhibit: true };
  const health = new Map([['10.6.2.191:80', { up: true }]]);
  assert.deepEqual(weights(onePool(service({ sorryServer }), health, true)), ['10.6.2.191:80=2', '10.6.2.193:8080=1', '10.6.2.200:80=0']);
  assert.deepEqual(weights(onePool(service({ sorryServer }), health, false)), ['10.6.2.200:80=4']);
  assert.deepEqual(
    weights(onePool(service({ sorryServer: { ...sorryServer, inhibit: false } }), health, true)),
    ['10.6.2.191:80=2', '10.6.2.193:8080=1'],
    'without inhibit the sorry server is out while quorum holds',
  );
});

test('a service group: one pool per kernel service, each with the same real servers', () => {
  const groupKeys = ['10.6.2.195', '10.6.2.196', '10.6.2.197'].map((address) => ({ ...spec.key, address }));
  const pools = desiredPool(service({ groupKeys }), new Map([['10.6.2.191:80', { up: true }]]), true);
  assert.deepEqual(
    pools.map((p) => p.service.key),
    groupKeys,
  );
  for (const p of pools) {
    assert.equal(p.service.scheduler, spec.scheduler);
    assert.deepEqual(weights(p), ['10.6.2.191:80=2', '10.6.2.193:8080=1']);
  }
});
