// The listeners' bounds, driven with short configured limits: slow senders and silent
// connections are cut off with a 408, connections past maxConnections are refused, and
// a fresh connection is served once they close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseListenAddress, type ListenAddress } from '../../../src/api/listen.js';
import { ApiServer, type HttpLimits } from '../../../src/api/server.js';
import { EventBus } from '../../../src/events.js';
import { Metrics } from '../../../src/metrics/metrics.js';

import { fakeAgent } from './fake-agent.js';
import { connectTo, rawRequest, type RawAnswer } from './raw-http.js';
import { waitFor } from '../../helpers/wait.js';

async function startApi(t: { after(fn: () => unknown): void }, limits: Partial<HttpLimits>) {
  const dir = mkdtempSync(join(tmpdir(), 'failoverd-api-'));
  const socket = join(dir, 'failoverd.sock');
  const agent = fakeAgent();
  const metrics = new Metrics(new EventBus('lvs-a'), agent.sources, { defaultMetrics: false });
  const server = new ApiServer({ socket, metrics: '127.0.0.1:0', limits }, { status: agent.status, metrics: metrics.registry });
  await server.start();
  t.after(async () => {
    await server.stop();
    metrics.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const [, metricsAddress] = server.listening();
  return { socket: { kind: 'unix', path: socket } as ListenAddress, metrics: parseListenAddress(metricsAddress!) };
}

const SHORT = { headersTimeoutMs: 300, requestTimeoutMs: 600, keepAliveTimeoutMs: 200, idleTimeoutMs: 5000 };
// The slow senders below would go on for 10 s (200 pieces, 50 ms apart); the limits cut them long before.
const SLOW = { pieces: 200, gapMs: 50, waitMs: 15_000 };

test('a slowloris sender, a slow body and a silent connection are cut off', async (t) => {
  const api = await startApi(t, SHORT);
  /** Closed by the server before the sender was done; the 408 may be lost to a reset if it was still sending. */
  const cutOff = (answer: RawAnswer, what: string): void => {
    assert.equal(answer.ended, 'closed', `the server closed the ${what}`);
    assert.ok(answer.sent < SLOW.pieces, `${what}: cut off after ${answer.sent} of ${SLOW.pieces + 1} pieces`);
    if (answer.status !== undefined) assert.equal(answer.status, 408, answer.text);
  };
  for (const address of [api.socket, api.metrics]) {
    const slowHeaders = Array.from({ length: SLOW.pieces }, (_, i) => `X-Slow-${i}: a\r\n`);
    const head = ['GET /metrics HTTP/1.1\r\nHost: x\r\n', ...slowHeaders];
    cutOff(await rawRequest(address, head, SLOW.waitMs, SLOW.gapMs), 'slowloris headers');
    if (address.kind === 'unix') {
      // Only the socket reads request bodies (admin actions).
      const body = ['POST /admin/drain HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n', ...Array<string>(SLOW.pieces).fill(' ')];
      cutOff(await rawRequest(address, body, SLOW.waitMs, SLOW.gapMs), 'slow body');
      // A body that stops coming: nothing is being sent when the server answers, so the 408 arrives.
      const stalled = await rawRequest(address, body.slice(0, 3), SLOW.waitMs, SLOW.gapMs);
      assert.equal(stalled.ended, 'closed', 'the server closed the stalled body');
      assert.equal(stalled.status, 408, stalled.text);
      assert.match(stalled.text, /"error":"request not received in time"/);
    }
    const silent = await rawRequest(address, [], SLOW.waitMs);
    assert.equal(silent.ended, 'closed', 'the server closed the silent connection');
    assert.equal(silent.status, 408, silent.text);

    // A kept-alive connection that sends nothing more is closed after keepAliveTimeout.
    const kept = await rawRequest(address, ['GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'], SLOW.waitMs);
    assert.equal(kept.status, 200);
    assert.equal(kept.ended, 'closed', 'the idle kept-alive connection was closed');
  }
});

function openConnection(address: ListenAddress): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connectTo(address);
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

test('connections past maxConnections are refused; a fresh one is served after they close', async (t) => {
  const LIMIT = 4;
  const api = await startApi(t, { maxConnections: LIMIT });
  for (const address of [api.socket, api.metrics]) {
    const held: Socket[] = [];
    t.after(() => held.forEach((s) => s.destroy()));
    for (let i = 0; i < LIMIT; i++) {
      const s = await openConnection(address);
      s.on('error', () => undefined);
      // An unfinished request: the connection stays open (long default timeouts).
      s.write('GET /metrics HTTP/1.1\r\n');
      held.push(s);
    }
    // Accepted in connection order, so this one is the fifth.
    const refused = await rawRequest(address, ['GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'], 5000);
    assert.equal(refused.ended, 'closed', 'the connection past the limit was closed');
    assert.equal(refused.status, undefined, 'and not served');

    for (const s of held.splice(0)) s.destroy();
    // The server notices the closes asynchronously; a fresh connection is served once it has.
    let attempts = 0;
    await waitFor(
      async () => {
        attempts++;
        const fresh = await rawRequest(address, ['GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'], 5000);
        return fresh.status === 200;
      },
      { what: 'a fresh connection served', timeoutMs: 10_000, stepMs: 20 },
    );
    t.diagnostic(`${address.kind}: served on attempt ${attempts}`);
  }
});
