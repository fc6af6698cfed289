// The drains laid over the health monitor's pools: a drained real server at weight 0,
// and a pool handed over again unchanged comes out as the same object (the reconciler
// takes identity as "nothing changed"), until the drains change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PoolGate } from '../../../src/agent/pool-gate.js';
import { serviceKeyId } from '../../../src/ipvs/types.js';
import { dest, service, tcpKey } from '../ipvs/builders.js';

const WEB = tcpKey('10.6.2.195', 80);
const API = tcpKey('10.6.2.196', 443);
const names = { [serviceKeyId(WEB)]: 'web', [serviceKeyId(API)]: 'api' };
const pools = () => [
  { service: service(WEB), destinations: [dest('10.6.2.191', 80, { weight: 3 }), dest('10.6.2.192')] },
  { service: service(API), destinations: [dest('10.6.2.193', 443)] },
];

test('a drained real server is at weight 0; the pools without a drain are the very objects given', () => {
  const gate = new PoolGate();
  const given = pools();
  gate.setPools(given, names);
  assert.equal(gate.effective(), given, 'no drains at all: the list as given');
  gate.setDrained('web', '10.6.2.191', 80, 'admin', true);
  const drained = gate.effective();
  assert.deepEqual(
    drained[0]!.destinations.map((d) => d.weight),
    [0, 1],
  );
  assert.equal(drained[1], given[1], 'a service with no drained real server is its pool as given');
  assert.equal(given[0]!.destinations[0]!.weight, 3, 'the pool given is not changed');
});

test('the same pools give the same objects until a drain or a maintenance changes', () => {
  const gate = new PoolGate();
  const given = pools();
  gate.setPools(given, names);
  gate.setDrained('web', '10.6.2.191', 80, 'admin', true);
  const first = gate.effective();
  gate.setPools([...given], names);
  const second = gate.effective();
  assert.equal(second[0], first[0]);
  assert.equal(second[1], first[1]);

  gate.setDrained('web', '10.6.2.192', 80, 'schedule', true);
  assert.deepEqual(
    gate.effective()[0]!.destinations.map((d) => d.weight),
    [0, 0],
  );
  gate.setDrained('web', '10.6.2.191', 80, 'admin', false);
  assert.deepEqual(
    gate.effective()[0]!.destinations.map((d) => d.weight),
    [3, 0],
  );
  gate.setMaintenance('api', true, new Date(0));
  assert.deepEqual(
    gate.effective()[1]!.destinations.map((d) => d.weight),
    [0],
  );
  gate.keepMaintenance(new Set(['web']));
  assert.deepEqual(
    gate.effective()[1]!.destinations.map((d) => d.weight),
    [1],
  );
});

test('a service renamed by a reload is drained under its new name', () => {
  const gate = new PoolGate();
  const given = pools();
  gate.setPools(given, names);
  gate.setDrained('www', '10.6.2.192', 80, 'admin', true);
  assert.deepEqual(
    gate.effective()[0]!.destinations.map((d) => d.weight),
    [3, 1],
  );
  gate.setPools(given, { ...names, [serviceKeyId(WEB)]: 'www' });
  assert.deepEqual(
    gate.effective()[0]!.destinations.map((d) => d.weight),
    [3, 0],
  );
});
