// seedFromKernel: the kernel's IPVS table at start + the plan → the real servers that
// begin up. Pure; the agent's use of it is restart-seed.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seedFromKernel } from '../../../src/agent/kernel-seed.js';
import { CHECK_DEFAULTS, type HealthCheckConfig, type HealthServiceConfig } from '../../../src/health/types.js';
import type { ActualService, ServiceSpec } from '../../../src/ipvs/types.js';
import { actual, actualDest, dest, service, tcpKey } from '../ipvs/builders.js';

const AT = new Date('2026-12-06T14:00:00.000Z');
const check = (type = 'tcp', options: Record<string, unknown> = {}): HealthCheckConfig => ({ ...CHECK_DEFAULTS, type, options });
const mh = (address = '10.9.9.9', port = 7000): ServiceSpec =>
  service(tcpKey(address, port), 'mh', { flags: { persistent: false, onePacket: false, schedFallback: false, schedPort: true } });

function svc(over: Partial<HealthServiceConfig> = {}, addresses = ['10.9.1.21', '10.9.1.22']): HealthServiceConfig {
  return {
    name: 'echo',
    spec: mh(),
    forwarding: 'dr',
    quorum: 1,
    hysteresis: 0,
    onFailure: 'remove',
    realServers: addresses.map((address) => ({ address, port: 7000, weight: 1, checks: [check()] })),
    ...over,
  };
}

const kernel = (spec: ServiceSpec, weights: Record<string, number>, forwarding: 'dr' | 'nat' = 'dr'): ActualService =>
  actual(
    spec,
    Object.entries(weights).map(([a, weight]) => actualDest(dest(a, 7000, { weight, forwarding }), 5, 2)),
  );

const seeded = (seed: ReturnType<typeof seedFromKernel>) =>
  seed.map((s) => [s.name, s.quorumUp, s.liveWeight, s.realServers.map((rs) => `${rs.address}=${rs.weight}`)]);

test('a real server at weight > 0 begins up, each check at zero failures; one at weight 0 or absent is left to its config', () => {
  const seed = seedFromKernel(
    [svc({}, ['10.9.1.21', '10.9.1.22', '10.9.1.23'])],
    [kernel(mh(), { '10.9.1.21': 1, '10.9.1.22': 0, '10.9.1.99': 1 })],
    AT,
  );
  assert.deepEqual(seeded(seed), [['echo', true, 1, ['10.9.1.21=1']]]);
  const rs = seed[0]!.realServers[0]!;
  assert.deepEqual(rs.checks, [{ type: 'tcp', up: true, successes: 0, failures: 0 }]);
  assert.equal(rs.up, true);
  assert.equal(rs.since, AT.toISOString());
  assert.match(rs.reason, /adopted from the kernel's IPVS table at start \(weight 1\)/);
});

test('nothing in the kernel, or nothing up there: no seed for the service', () => {
  assert.deepEqual(seedFromKernel([svc()], [], AT), []);
  assert.deepEqual(seedFromKernel([svc()], [kernel(mh(), { '10.9.1.21': 0 })], AT), []);
  assert.deepEqual(seedFromKernel([svc()], [kernel(mh('10.9.9.8'), { '10.9.1.21': 1 })], AT), [], 'another service');
});

test('a changed scheduler or scheduler flags: the kernel is no evidence for the new service', () => {
  assert.deepEqual(seedFromKernel([svc()], [kernel(service(tcpKey('10.9.9.9', 7000), 'wlc'), { '10.9.1.21': 1 })], AT), []);
  const noPort = service(tcpKey('10.9.9.9', 7000), 'mh');
  assert.deepEqual(seedFromKernel([svc()], [kernel(noPort, { '10.9.1.21': 1 })], AT), [], 'mh without port hashing');
});

test('a changed forwarding method: that real server is not seeded (the service default or its own)', () => {
  assert.deepEqual(seedFromKernel([svc()], [kernel(mh(), { '10.9.1.21': 1, '10.9.1.22': 1 }, 'nat')], AT), []);
  const own = svc();
  own.realServers[1] = { ...own.realServers[1]!, forwarding: 'nat' };
  assert.deepEqual(seeded(seedFromKernel([own], [kernel(mh(), { '10.9.1.21': 1, '10.9.1.22': 1 })], AT)), [
    ['echo', true, 1, ['10.9.1.21=1']],
  ]);
});

test('weight: the configured one, unless a check may set it (exec misc_dynamic), then the kernel`s', () => {
  const plain = svc({}, ['10.9.1.21']);
  plain.realServers[0]!.weight = 3;
  assert.deepEqual(seeded(seedFromKernel([plain], [kernel(mh(), { '10.9.1.21': 7 })], AT)), [['echo', true, 3, ['10.9.1.21=3']]]);
  const dynamic = svc({}, ['10.9.1.21']);
  dynamic.realServers[0]!.checks = [check('exec', { command: '/bin/true', misc_dynamic: true })];
  assert.deepEqual(seeded(seedFromKernel([dynamic], [kernel(mh(), { '10.9.1.21': 7 })], AT)), [['echo', true, 7, ['10.9.1.21=7']]]);
});

test('quorum from what is seeded (and real servers without checks, always up); those are not in the seed', () => {
  const s = svc({ quorum: 3 }, ['10.9.1.21', '10.9.1.22', '10.9.1.23']);
  s.realServers[2]!.checks = [];
  assert.deepEqual(seeded(seedFromKernel([s], [kernel(mh(), { '10.9.1.21': 1, '10.9.1.23': 1 })], AT)), [
    ['echo', false, 2, ['10.9.1.21=1']],
  ]);
  assert.deepEqual(seeded(seedFromKernel([s], [kernel(mh(), { '10.9.1.21': 1, '10.9.1.22': 1, '10.9.1.23': 1 })], AT)), [
    ['echo', true, 3, ['10.9.1.21=1', '10.9.1.22=1']],
  ]);
});

test('a service group: seeded only when every key is in the kernel, a real server only when it is up in each', () => {
  const group = svc({ groupKeys: [tcpKey('10.9.9.9', 7000), tcpKey('10.9.9.9', 7001)] });
  const [a, b] = [mh('10.9.9.9', 7000), mh('10.9.9.9', 7001)];
  assert.deepEqual(seedFromKernel([group], [kernel(a, { '10.9.1.21': 1 })], AT), [], 'a key missing');
  assert.deepEqual(
    seeded(seedFromKernel([group], [kernel(a, { '10.9.1.21': 1, '10.9.1.22': 1 }), kernel(b, { '10.9.1.21': 1, '10.9.1.22': 0 })], AT)),
    [['echo', true, 1, ['10.9.1.21=1']]],
  );
});

test('IPv6: addresses compare in canonical form', () => {
  const key = tcpKey('2001:db8::9', 7000);
  const s = svc({ spec: { ...mh(), key, netmask: 128 } }, ['2001:0db8:0:0::21']);
  const k = actual({ ...mh(), key: tcpKey('2001:db8:0::9', 7000), netmask: 128 }, [actualDest(dest('2001:db8::21', 7000))]);
  assert.deepEqual(seeded(seedFromKernel([s], [k], AT)), [['echo', true, 1, ['2001:0db8:0:0::21=1']]]);
});
