import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import type { ServerResponse } from 'node:http';
import { FakeClock } from '../../../src/clock.js';
import { EventBus, type AgentEvent, type EventInput } from '../../../src/events.js';
import { WebhookDispatcher } from '../../../src/alerts/webhooks.js';
import type { WebhookEndpointStats } from '../../../src/alerts/webhook-endpoint.js';
import { undiciTransport, type WebhookTransport } from '../../../src/alerts/transport.js';
import { verifySignature } from '../../../src/alerts/signature.js';
import { ok, startReceiver, type Received } from './receiver.js';
import { afterTurns, waitFor } from '../../helpers/wait.js';

const takeover: EventInput = {
  type: 'vrrp.state',
  object: 'vrrp/web',
  from: 'BACKUP',
  to: 'MASTER',
  reason: 'master down timer expired',
  data: { priority: 150 },
};

test('each delivery is the AgentEvent as JSON, signed the Standard Webhooks way (verified by the standardwebhooks package)', async (t) => {
  const receiver = await startReceiver((_r, _i, res) => ok(res));
  t.after(() => receiver.close());
  const wallStart = Date.UTC(2026, 0, 1);
  const clock = new FakeClock(0, wallStart);
  const bus = new EventBus('lvs-a', () => clock.wallNow());
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const dispatcher = new WebhookDispatcher(bus, [{ url: `${receiver.url}?token=abc`, secrets: [secret], events: ['vrrp.*'] }], { clock });
  t.after(() => dispatcher.close());
  const published = bus.publish(takeover);
  bus.publish({ type: 'realserver.down', object: 'service/web-80/10.6.2.191:80' }); // filtered out
  await waitFor(() => receiver.received.length === 1, { what: 'one delivery' });
  await dispatcher.idle();

  const [r] = receiver.received;
  assert.equal(r!.headers['webhook-timestamp'], String(wallStart / 1000));
  assert.equal(r!.headers['webhook-id'], published.id);
  assert.match(r!.headers['webhook-signature'] as string, /^v1,[A-Za-z0-9+/]{43}=$/);
  // The independent verifier checks the timestamp against Date.now(): it reads the fake wall clock's time.
  t.mock.timers.enable({ apis: ['Date'], now: clock.wallNow() });
  // The receiver's side, with the Standard Webhooks reference library and no failoverd code:
  assert.deepEqual(new Webhook(secret).verify(r!.body, r!.headers as Record<string, string>), published);
  // A replay under a fresh id (to slip past de-duplication) or with a changed body fails.
  assert.throws(
    () => new Webhook(secret).verify(r!.body, { ...r!.headers, 'webhook-id': 'evt_other' } as unknown as Record<string, string>),
    WebhookVerificationError,
  );
  assert.throws(() => new Webhook(secret).verify(`${r!.body} `, r!.headers as Record<string, string>), WebhookVerificationError);
  assert.throws(
    () => new Webhook(`whsec_${randomBytes(24).toString('base64')}`).verify(r!.body, r!.headers as Record<string, string>),
    WebhookVerificationError,
  );
  t.mock.timers.reset();
  assert.equal(r!.headers['content-type'], 'application/json');
  assert.equal(r!.headers['x-failoverd-event-type'], 'vrrp.state');
  assert.equal(r!.headers['x-failoverd-delivery-attempt'], '1');
  const body = JSON.parse(r!.body) as AgentEvent;
  assert.deepEqual(body, published);
  assert.deepEqual(Object.keys(body).sort(), ['data', 'from', 'id', 'node', 'object', 'reason', 'time', 'to', 'type']);
  assert.equal(body.time, new Date(wallStart).toISOString());

  // The exported verifier agrees, rejects tampering and stale timestamps (replays).
  const [id, ts, sig] = [r!.headers['webhook-id'], r!.headers['webhook-timestamp'], r!.headers['webhook-signature']] as string[];
  const now = Number(ts);
  assert.equal(verifySignature(secret, id!, ts!, r!.body, sig!, { nowSec: now }), true);
  assert.equal(verifySignature(secret, 'evt_other', ts!, r!.body, sig!, { nowSec: now }), false);
  assert.equal(verifySignature(secret, id!, ts!, `${r!.body} `, sig!, { nowSec: now }), false);
  assert.equal(verifySignature(secret, id!, ts!, r!.body, sig!, { nowSec: now + 301 }), false);
  // Neither the name nor the status carries the URL's path or query (tokens live there).
  const origin = new URL(receiver.url).origin;
  assert.deepEqual(dispatcher.stats()[0], {
    name: `${origin}/…`,
    url: `${origin}/…`,
    queueDepth: 0,
    inFlight: false,
    delivered: 1,
    failed: 0,
    attemptFailures: 0,
    dropped: 0,
    lastSuccessAt: new Date(wallStart).toISOString(),
  });
});

test('a retried delivery keeps its id and verifies afresh; during a key rotation either key verifies', async (t) => {
  let failuresLeft = 1;
  const receiver = await startReceiver((_r, _i, res) => ok(res, failuresLeft-- > 0 ? 503 : 200));
  t.after(() => receiver.close());
  const clock = new FakeClock();
  const bus = new EventBus('lvs-a', () => clock.wallNow());
  const oldKey = `whsec_${randomBytes(32).toString('base64')}`;
  const newKey = `whsec_${randomBytes(32).toString('base64')}`;
  const rawKey = 'a plain shared secret';
  const dispatcher = new WebhookDispatcher(
    bus,
    [{ name: 'ops', url: receiver.url, secrets: [oldKey, newKey, rawKey], retries: 1, backoff: { initialMs: 2000, maxMs: 2000 } }],
    { clock, random: () => 1 - 1e-9 },
  );
  t.after(() => dispatcher.close());
  const published = bus.publish(takeover);
  await waitFor(() => receiver.received.length === 1 && clock.pendingTimers() === 1, { what: 'the first attempt and its retry timer' });
  clock.advance(2000);
  await waitFor(() => receiver.received.length === 2, { what: 'the retry' });
  await dispatcher.idle();
  const [first, retry] = receiver.received as [Received, Received];
  assert.equal(first.headers['webhook-id'], published.id);
  assert.equal(retry.headers['webhook-id'], published.id);
  assert.equal(Number(retry.headers['webhook-timestamp']) - Number(first.headers['webhook-timestamp']), 2);
  assert.equal((retry.headers['webhook-signature'] as string).split(' ').length, 3);
  // The verifier checks timestamps against Date.now(): it reads the fake wall clock's time.
  t.mock.timers.enable({ apis: ['Date'], now: clock.wallNow() });
  for (const r of [first, retry]) {
    const headers = r.headers as Record<string, string>;
    assert.deepEqual(new Webhook(oldKey).verify(r.body, headers), published);
    assert.deepEqual(new Webhook(newKey).verify(r.body, headers), published);
    assert.deepEqual(new Webhook(rawKey, { format: 'raw' }).verify(r.body, headers), published);
  }
  // The first attempt's signature does not carry over to the retry's timestamp.
  assert.throws(
    () =>
      new Webhook(newKey).verify(retry.body, {
        ...retry.headers,
        'webhook-signature': first.headers['webhook-signature'],
      } as unknown as Record<string, string>),
    WebhookVerificationError,
  );
  t.mock.timers.reset();
  assert.equal(dispatcher.stats()[0]!.name, 'ops');
});

test('a 500-ing endpoint is retried with exponential backoff and jitter, exactly as the injected clock and random say', async (t) => {
  let failuresLeft = 3;
  const receiver = await startReceiver((_r, _i, res) => ok(res, failuresLeft-- > 0 ? 500 : 200));
  t.after(() => receiver.close());
  const clock = new FakeClock();
  const bus = new EventBus('lvs-a', () => clock.wallNow());
  const randoms = [0, 1 - 1e-9, 0.5];
  // Every attempt passes through here, so "no retry yet" is a count, not a pause.
  let attempts = 0;
  const transport: WebhookTransport = (req) => {
    attempts++;
    return undiciTransport(req);
  };
  const dispatcher = new WebhookDispatcher(bus, [{ url: receiver.url, retries: 5, backoff: { initialMs: 1000, maxMs: 60_000 } }], {
    clock,
    random: () => randoms.shift()!,
    transport,
  });
  t.after(() => dispatcher.close());
  bus.publish(takeover);
  // Retry n waits nominal = 1000 * 2^(n-1), jittered into [nominal/2, nominal]:
  // random 0 → 500 ms, random ~1 → 2000 ms, random 0.5 → 3000 ms.
  const expectedDelays = [500, 2000, 3000];
  for (let i = 0; i < expectedDelays.length; i++) {
    await waitFor(() => receiver.received.length === i + 1 && clock.pendingTimers() === 1, {
      what: `attempt ${i + 1} and its retry timer`,
    });
    clock.advance(expectedDelays[i]! - 1);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(clock.pendingTimers(), 1, `the retry timer still waits at ${expectedDelays[i]! - 1}ms`);
    assert.equal(attempts, i + 1, `no retry before ${expectedDelays[i]}ms`);
    clock.advance(1);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(attempts, i + 2, `retry ${i + 1} starts at ${expectedDelays[i]}ms`);
    await waitFor(() => receiver.received.length === i + 2, { what: `retry ${i + 1} right at ${expectedDelays[i]}ms` });
  }
  await dispatcher.idle();
  assert.deepEqual(
    receiver.received.map((r) => r.headers['x-failoverd-delivery-attempt']),
    ['1', '2', '3', '4'],
  );
  // Same event id on every attempt, so receivers can deduplicate.
  assert.equal(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size, 1);
  const stats = dispatcher.stats()[0]!;
  assert.equal(stats.delivered, 1);
  assert.equal(stats.attemptFailures, 3);
  assert.equal(stats.failed, 0);
  assert.equal(stats.lastError, 'HTTP 500');
});

test('after the last retry the event is given up (counted) and the next one goes out; 4xx is not retried', async (t) => {
  const receiver = await startReceiver((r, _i, res) => ok(res, JSON.parse(r.body).object === 'vrrp/bad' ? 400 : 503));
  t.after(() => receiver.close());
  const clock = new FakeClock();
  const bus = new EventBus('lvs-a', () => clock.wallNow());
  const dispatcher = new WebhookDispatcher(bus, [{ url: receiver.url, retries: 2, backoff: { initialMs: 100, maxMs: 100 } }], {
    clock,
    random: () => 0,
  });
  t.after(() => dispatcher.close());
  bus.publish({ ...takeover, object: 'vrrp/bad' });
  bus.publish(takeover);
  await waitFor(() => receiver.received.length === 2 && clock.pendingTimers() === 1, { what: 'the 400 once, then the 503' });
  for (let i = 0; i < 2; i++) {
    clock.advance(50);
    await waitFor(() => receiver.received.length === 3 + i && (i === 1 || clock.pendingTimers() === 1), { what: `retry ${i + 1}` });
  }
  await dispatcher.idle();
  const stats = dispatcher.stats()[0]!;
  assert.equal(stats.failed, 2);
  assert.equal(stats.delivered, 0);
  assert.equal(stats.attemptFailures, 4);
});

test('a hanging endpoint never delays a simulated VRRP takeover: publishing only enqueues', async (t) => {
  const hung: ServerResponse[] = [];
  const hanging = await startReceiver((_r, _i, res) => {
    hung.push(res);
  });
  const healthy = await startReceiver((_r, _i, res) => ok(res));
  t.after(async () => {
    await hanging.close();
    await healthy.close();
  });
  const bus = new EventBus('lvs-a');
  let requests = 0;
  // Requests in flight to the hanging receiver, counted where they are made.
  let toHanging = 0;
  let mostToHanging = 0;
  const transport: WebhookTransport = async (req) => {
    requests++;
    if (req.url !== hanging.url) return undiciTransport(req);
    mostToHanging = Math.max(mostToHanging, ++toHanging);
    try {
      return await undiciTransport(req);
    } finally {
      toHanging--;
    }
  };
  const dispatcher = new WebhookDispatcher(
    bus,
    [{ url: hanging.url, timeoutMs: 400, retries: 0, queueSize: 10_000 }, { url: healthy.url }],
    { transport },
  );
  t.after(() => dispatcher.close());

  bus.publish(takeover);
  await waitFor(() => hung.length === 1 && healthy.received.length === 1, { what: 'the hanging receiver to hold a request' });

  // The takeover publishes its transitions (as VRRP does) while the first receiver hangs:
  // every one is queued, and not one request is made before publish returns.
  // (How long publishing takes, and the event loop's lag meanwhile: bench/alerts/publish.ts.)
  const requestsBefore = requests;
  for (let i = 0; i < 1000; i++) bus.publish({ ...takeover, reason: `burst ${i}` });
  assert.equal(requests, requestsBefore, 'publish made no request');
  const [hangingStats, healthyStats] = dispatcher.stats() as [WebhookEndpointStats, WebhookEndpointStats];
  assert.equal(hangingStats.queueDepth, 1000);
  assert.equal(hangingStats.inFlight, true);
  assert.equal(healthyStats.queueDepth, 1000);

  // The healthy receiver is not held back by the hanging one.
  await waitFor(() => healthy.received.length === 1001, { what: 'healthy receiver got everything', timeoutMs: 45_000 });
  // And the hanging one times out after 400 ms and moves on, one request in flight at a time.
  await waitFor(() => dispatcher.stats()[0]!.failed >= 2, { what: 'two hanging deliveries to time out' });
  assert.equal(mostToHanging, 1, 'the hanging endpoint has one request in flight at a time');
  assert.match(dispatcher.stats()[0]!.lastError ?? '', /^timeout after 400ms$/);
});

test('the queue is bounded: the oldest waiting events are dropped and counted, the in-flight one is kept', async (t) => {
  const held: ServerResponse[] = [];
  const receiver = await startReceiver((_r, _i, res) => {
    held.push(res);
  });
  t.after(() => receiver.close());
  const bus = new EventBus('lvs-a');
  const dispatcher = new WebhookDispatcher(bus, [{ url: receiver.url, queueSize: 5, retries: 0, timeoutMs: 10_000 }]);
  t.after(() => dispatcher.close());
  bus.publish({ ...takeover, reason: 'n0' });
  await waitFor(() => held.length === 1, { what: 'n0 in flight' });
  for (let i = 1; i <= 20; i++) bus.publish({ ...takeover, reason: `n${i}` });
  assert.equal(dispatcher.stats()[0]!.dropped, 15);
  assert.equal(dispatcher.stats()[0]!.queueDepth, 5);
  // Release each request as it arrives.
  ok(held[0]!);
  for (let i = 1; i <= 5; i++) {
    await waitFor(() => held.length === i + 1, { what: `request ${i + 1}` });
    ok(held[i]!);
  }
  await dispatcher.idle();
  assert.deepEqual(
    receiver.received.map((r) => JSON.parse(r.body).reason),
    ['n0', 'n16', 'n17', 'n18', 'n19', 'n20'],
  );
  assert.equal(dispatcher.stats()[0]!.delivered, 6);
});

test('delivery is ordered per endpoint with one request in flight, even when the receiver answers at random speeds', async (t) => {
  // Each answer waits a different number of event-loop turns (0 to 12), not a time.
  const receiver = await startReceiver((_r, i, res) => {
    afterTurns((i * 7919) % 13, () => ok(res));
  });
  t.after(() => receiver.close());
  const bus = new EventBus('lvs-a');
  const dispatcher = new WebhookDispatcher(bus, [{ url: receiver.url }]);
  t.after(() => dispatcher.close());
  for (let i = 0; i < 60; i++) {
    bus.publish({ ...takeover, reason: String(i) });
    if (i % 7 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await waitFor(() => receiver.received.length === 60, { what: 'all 60' });
  assert.deepEqual(
    receiver.received.map((r) => Number(JSON.parse(r.body).reason)),
    [...Array(60).keys()],
  );
  assert.equal(receiver.maxConcurrent(), 1);
});

test('templates: Slack-style {"text"} and a generic JSON body with placeholders', async (t) => {
  const receiver = await startReceiver((_r, _i, res) => ok(res));
  t.after(() => receiver.close());
  const bus = new EventBus('lvs-a');
  const dispatcher = new WebhookDispatcher(bus, [
    { url: `${receiver.url}?slack`, template: 'slack' },
    {
      url: `${receiver.url}?custom`,
      template: {
        body: {
          title: '{{object}} is {{to}}',
          priority: '{{data.priority}}',
          node: '{{node}}',
          tags: ['failoverd', '{{type}}'],
          missing: '{{nope}}',
        },
      },
    },
  ]);
  t.after(() => dispatcher.close());
  bus.publish(takeover);
  await waitFor(() => receiver.received.length === 2, { what: 'both' });
  const bodies = receiver.received.map((r) => JSON.parse(r.body)).sort((a, b) => (a.text ? -1 : b.text ? 1 : 0));
  assert.deepEqual(bodies[0], { text: '[lvs-a] vrrp.state vrrp/web: BACKUP → MASTER (master down timer expired)' });
  assert.deepEqual(bodies[1], {
    title: 'vrrp/web is MASTER',
    priority: 150,
    node: 'lvs-a',
    tags: ['failoverd', 'vrrp.state'],
    missing: null,
  });
});
