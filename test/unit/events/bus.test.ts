// A subscriber's bug stays its own: the publisher (often the failover path) and the
// other subscribers carry on, and the error is counted and reported once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus, type AgentEvent } from '../../../src/events.js';

/** Resolves after every queued microtask and one macrotask turn have run. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('a subscriber that throws or rejects is counted and reported, never re-thrown', async () => {
  const reported: Array<{ err: unknown; type: string }> = [];
  const bus = new EventBus('lvs-a', undefined, (err, event) => reported.push({ err, type: event.type }));
  const escaped: unknown[] = [];
  const onUncaught = (err: unknown): void => {
    escaped.push(err);
  };
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  try {
    const delivered: string[] = [];
    bus.subscribe('*', () => {
      throw new Error('metrics bug');
    });
    bus.subscribe('vrrp.*', async () => {
      await turn();
      throw new Error('alerts bug');
    });
    bus.subscribe('*', (e: AgentEvent) => delivered.push(e.type));

    const event = bus.publish({ type: 'vrrp.state', object: 'vrrp/web', from: 'BACKUP', to: 'MASTER' });
    assert.equal(event.type, 'vrrp.state', 'the publisher gets its event back');
    assert.deepEqual(delivered, ['vrrp.state'], 'the subscriber after the broken one still ran');
    await turn();
    await turn();

    assert.deepEqual(escaped, [], 'nothing reached the process');
    assert.equal(bus.subscriberErrors, 2);
    assert.deepEqual(
      reported.map((r) => [r.type, (r.err as Error).message]),
      [
        ['vrrp.state', 'metrics bug'],
        ['vrrp.state', 'alerts bug'],
      ],
    );
  } finally {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  }
});

test('a reporter that itself throws still leaves the publisher alone', () => {
  const bus = new EventBus('lvs-a', undefined, () => {
    throw new Error('broken logger');
  });
  bus.subscribe('*', () => {
    throw new Error('bug');
  });
  assert.doesNotThrow(() => bus.publish({ type: 'quorum.lost', object: 'service/web' }));
  assert.equal(bus.subscriberErrors, 1);
});

test('each subscriber gets the events its patterns match, the first time a type is seen and every time after', () => {
  const bus = new EventBus('lvs-a');
  const got = new Map<string, string[]>();
  const listen = (name: string, patterns: string | string[]): void => {
    got.set(name, []);
    bus.subscribe(patterns, (e) => got.get(name)!.push(e.type));
  };
  listen('realservers', 'realserver.*');
  listen('state', 'vrrp.state');
  listen('all', '*');
  listen('either', ['quorum.*', 'realserver.down']);
  const types = ['realserver.down', 'vrrp.state', 'quorum.lost', 'realserver.up', 'ipvs.drain'] as const;
  for (let round = 0; round < 2; round++) for (const type of types) bus.publish({ type, object: 'x' });
  const twice = (...t: string[]): string[] => [...t, ...t];
  assert.deepEqual(got.get('realservers'), twice('realserver.down', 'realserver.up'));
  assert.deepEqual(got.get('state'), twice('vrrp.state'));
  assert.deepEqual(got.get('all'), twice(...types));
  assert.deepEqual(got.get('either'), twice('realserver.down', 'quorum.lost'));
});
