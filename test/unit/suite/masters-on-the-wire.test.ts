// The netns tests judge "never two masters" by counting adverts on the wire, not by
// timing them (test/netns/vrrp/masters.ts): this holds the counter to its claims.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mastersOnTheWire } from '../../netns/vrrp/masters.js';

const A = '192.0.2.1';
const B = '192.0.2.2';
/** "AAA0BBB" → adverts: A/B live (priority 100), 0 = the previous router's priority 0. */
function wire(spec: string): { source: string; priority: number }[] {
  let last = A;
  return [...spec].map((c) => {
    if (c === '0') return { source: last, priority: 0 };
    last = c === 'A' ? A : B;
    return { source: last, priority: 100 };
  });
}

test('a graceful handover: A, then B, nothing in between', () => {
  assert.deepEqual(mastersOnTheWire(wire('AAAA0BBBB')), { masters: [A, B], worstOverlap: 0 });
});

test('a preemption with the advert in flight counts one overlap', () => {
  assert.deepEqual(mastersOnTheWire(wire('AAAABABBB')), { masters: [A, B], worstOverlap: 1 });
});

test('two masters side by side show as the overlap they are', () => {
  assert.deepEqual(mastersOnTheWire(wire('AAAABABABABBB')), { masters: [A, B], worstOverlap: 5 });
  assert.deepEqual(mastersOnTheWire(wire('AAAABABAB')).worstOverlap, 3, 'at the end, with no settled master after');
});

test('a master that comes back is listed again, however short its turn', () => {
  assert.deepEqual(mastersOnTheWire(wire('AAA0BBB0AAA')).masters, [A, B, A]);
  assert.deepEqual(mastersOnTheWire(wire('AAA0B0AAA')).masters, [A, B, A]);
});

test('a stray advert from a router that does not take over shows as a master of its own', () => {
  assert.deepEqual(mastersOnTheWire(wire('AAABAAA')), { masters: [A, B, A], worstOverlap: 0 });
  assert.deepEqual(mastersOnTheWire(wire('AAAABBABBB')), { masters: [A, B, A, B], worstOverlap: 0 }, 'two back from the old master');
});
