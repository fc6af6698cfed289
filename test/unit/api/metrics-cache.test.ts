// /metrics is rendered at most once per METRICS_CACHE_MS: concurrent scrapes share one
// render, later ones within the period get the same text (a counting registry, a fake clock).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Registry } from 'prom-client';
import { ApiClient } from '../../../src/api/client.js';
import { parseListenAddress } from '../../../src/api/listen.js';
import { ApiServer, METRICS_CACHE_MS } from '../../../src/api/server.js';
import { SharedRender } from '../../../src/api/shared-render.js';
import { FakeClock } from '../../../src/clock.js';
import { fakeAgent } from './fake-agent.js';
import { afterTurns } from '../../helpers/wait.js';

/** A registry that counts its renders; each takes 50 turns of the event loop, so scrapes overlap it. */
function countingRegistry() {
  let renders = 0;
  const registry = {
    contentType: 'text/plain; version=0.0.4; charset=utf-8',
    metrics: () => {
      const n = ++renders;
      return new Promise<string>((resolve) => afterTurns(50, () => resolve(`render_number ${n}\n`)));
    },
  };
  return { registry: registry as unknown as Registry, renders: () => renders };
}

test('scrapes within the period share one render; after it, the next scrape renders again', async (t) => {
  const clock = new FakeClock(1000);
  const counting = countingRegistry();
  const server = new ApiServer(
    { socket: false, metrics: '127.0.0.1:0' },
    { status: fakeAgent().status, metrics: counting.registry, clock },
  );
  await server.start();
  t.after(() => server.stop());
  const address = parseListenAddress(server.listening()[0]!);
  // One client per scrape: each its own connection, all at once.
  const SCRAPES = 20;
  const clients = Array.from({ length: SCRAPES }, () => new ApiClient(address));
  t.after(() => Promise.all(clients.map((c) => c.close())));

  const texts = await Promise.all(clients.map((c) => c.metrics()));
  assert.deepEqual(new Set(texts), new Set(['render_number 1\n']));
  assert.equal(counting.renders(), 1, `${SCRAPES} scrapes, one render`);

  clock.advance(METRICS_CACHE_MS - 1);
  assert.equal(await clients[0]!.metrics(), 'render_number 1\n', 'within the period: the cached text');
  assert.equal(counting.renders(), 1);

  clock.advance(1);
  assert.equal(await clients[1]!.metrics(), 'render_number 2\n', 'after the period: rendered again');
  assert.equal(await clients[2]!.metrics(), 'render_number 2\n');
  assert.equal(counting.renders(), 2);
});

test('SharedRender: one render per period, shared while in flight, a failure kept for the period', async () => {
  const clock = new FakeClock(0);
  let calls = 0;
  let fail = true;
  const shared = new SharedRender(
    async () => {
      calls++;
      if (fail) throw new Error(`render ${calls} failed`);
      return calls;
    },
    1000,
    () => clock.now(),
  );
  const a = shared.get();
  const b = shared.get();
  assert.equal(a, b, 'callers while in flight share the render');
  await assert.rejects(a, /render 1 failed/);
  clock.advance(500);
  await assert.rejects(shared.get(), /render 1 failed/, 'a failure is kept for the period too');
  fail = false;
  clock.advance(500);
  assert.equal(await shared.get(), 2);
  assert.equal(calls, 2);
  // A render that outlasts the period is still shared, not started again.
  let finish!: () => void;
  const render = (): Promise<number> =>
    new Promise((r) => {
      calls++;
      finish = () => r(calls);
    });
  const slow = new SharedRender(render, 1000, () => clock.now());
  const first = slow.get();
  await new Promise((r) => setImmediate(r));
  clock.advance(5000);
  assert.equal(slow.get(), first);
  finish();
  assert.equal(await first, 3);
});
