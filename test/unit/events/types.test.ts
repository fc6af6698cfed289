// The event types are one const list: the build refuses any other name, and the list
// in docs/alerts.md (what webhook receivers and notify programs are promised) is it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EVENT_TYPES, EventBus, eventTypeMatches } from '../../../src/events.js';

const ALERTS_DOC = fileURLToPath(new URL('../../../../docs/alerts.md', import.meta.url));

test('docs/alerts.md lists exactly the event types the agent publishes, in the same order', () => {
  const row = readFileSync(ALERTS_DOC, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('| `type`'));
  assert.ok(row, 'the `type` row of the event table in docs/alerts.md');
  const documented = [...row.split('|')[2]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
  assert.deepEqual(documented, [...EVENT_TYPES]);
});

test('event type names are unique, dotted, and every family has a wildcard that selects it', () => {
  assert.equal(new Set(EVENT_TYPES).size, EVENT_TYPES.length);
  for (const type of EVENT_TYPES) {
    assert.match(type, /^[a-z]+\.[a-z-]+$/, type);
    assert.ok(eventTypeMatches(`${type.split('.')[0]}.*`, type), type);
  }
});

test('a misspelt event type does not compile', () => {
  const bus = new EventBus('lvs-a', () => new Date(0));
  const seen: string[] = [];
  bus.subscribe('*', (e) => {
    seen.push(e.type);
  });
  // @ts-expect-error — 'vrrp.stat' is not an EventType (tsc fails here if `type` ever widens to string)
  bus.publish({ type: 'vrrp.stat', object: 'vrrp/web' });
  bus.publish({ type: 'vrrp.state', object: 'vrrp/web' });
  assert.deepEqual(seen, ['vrrp.stat', 'vrrp.state']);
});
