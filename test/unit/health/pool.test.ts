import { test } from 'node:test';
import assert from 'node:assert/strict';
import { desiredPool } from '../../../src/health/pool.js';
import type { ServiceSpec } from '../../../src/ipvs/types.js';
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

const weights = (d: ReturnType<typeof desiredPool>): string[] => d.destinations.map((x) => `${x.address}:${x.port}=${x.weight}`);

test('up servers with their weights; down ones removed; a server without checks is always in', () => {
  const pool = desiredPool(
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
  assert.deepEqual(weights(desiredPool(service(), new Map(), true)), ['10.6.2.193:8080=1']);
});

test('inhibit keeps a down server at weight 0', () => {
  const pool = desiredPool(
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
  const pool = desiredPool(
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
  assert.deepEqual(weights(desiredPool(service({ sorryServer }), health, false)), ['10.6.2.200:80=1']);
  assert.deepEqual(weights(desiredPool(service({ sorryServer, onFailure: 'inhibit' }), health, false)), [
    '10.6.2.191:80=0',
    '10.6.2.192:80=0',
    '10.6.2.193:8080=0',
    '10.6.2.200:80=1',
  ]);
  assert.deepEqual(
    weights(desiredPool(service({ sorryServer }), health, true)),
    ['10.6.2.191:80=2', '10.6.2.193:8080=1'],
    'with quorum the sorry server is out',
  );
});

test('quorum lost without a sorry server keeps whatever is still up', () => {
  assert.deepEqual(weights(desiredPool(service(), new Map([['10.6.2.191:80', { up: true }]]), false)), [
    '10.6.2.191:80=2',
    '10.6.2.193:8080=1',
  ]);
});
