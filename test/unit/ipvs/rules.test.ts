// The IPVS rules (src/ipvs/rules.ts) judge a service spec and its destinations without a
// config file, in the YAML's keys; the config layer places them at file:line
// (test/unit/config/cross.test.ts checks the placed lines).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ipvsServiceProblems } from '../../../src/ipvs/rules.js';
import type { DestinationSpec, ServiceSpec } from '../../../src/ipvs/types.js';

const spec = (over: Partial<ServiceSpec> = {}): ServiceSpec => ({
  key: { kind: 'address', family: 'inet', protocol: 'tcp', address: '10.6.2.195', port: 80 },
  scheduler: 'wlc',
  flags: {},
  persistenceTimeoutSec: 0,
  netmask: '255.255.255.255',
  ...over,
});
const dest = (over: Partial<DestinationSpec> = {}): DestinationSpec => ({
  address: '10.6.2.191',
  port: 80,
  weight: 1,
  forwarding: 'dr',
  upperThreshold: 0,
  lowerThreshold: 0,
  ...over,
});

test('a valid service and its destinations have no problems', () => {
  assert.deepEqual(ipvsServiceProblems(spec(), [dest(), dest({ address: '10.6.2.192' })]), []);
  assert.deepEqual(ipvsServiceProblems(spec({ scheduler: 'mh', flags: { schedFallback: true, schedPort: true } }), []), []);
});

test('every IPVS rule names the YAML key it is about', () => {
  const problems = ipvsServiceProblems(spec({ flags: { schedPort: true, onePacket: true }, netmask: 64 }), [
    dest(),
    dest(),
    dest({ address: '2001:db8::1', port: 81 }),
    dest({ port: 82, tunnel: { type: 'ipip' } }),
    dest({ port: 83, upperThreshold: 5, lowerThreshold: 6 }),
  ]);
  assert.deepEqual(
    problems.map((p) => p.path.join('.')),
    [
      'scheduler_flags',
      'one_packet',
      'persistence_netmask',
      'real_servers.1.address',
      'real_servers.2.address',
      'real_servers.3.tunnel',
      'real_servers.4.lower_threshold',
    ],
  );
});
