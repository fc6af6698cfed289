// Malformed requests through real listeners: each gets a 4xx (or is cut off), nothing
// escapes the request handler as an exception or rejection, and the next request is served.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseListenAddress, type ListenAddress } from '../../../src/api/listen.js';
import { ApiServer } from '../../../src/api/server.js';
import { EventBus } from '../../../src/events.js';
import { Metrics } from '../../../src/metrics/metrics.js';
import { fakeAgent } from './fake-agent.js';
import { rawRequest } from './raw-http.js';

/** Every exception or rejection that escapes to the process while `fn` runs. */
async function escapes(fn: () => Promise<void>): Promise<unknown[]> {
  const escaped: unknown[] = [];
  const record = (err: unknown): void => {
    escaped.push(err);
  };
  process.on('unhandledRejection', record);
  process.on('uncaughtException', record);
  try {
    await fn();
    // A rejection is reported after the microtask queue drains: two turns of the loop.
    for (let turn = 0; turn < 2; turn++) await new Promise((r) => setImmediate(r));
  } finally {
    process.off('unhandledRejection', record);
    process.off('uncaughtException', record);
  }
  return escaped;
}

async function startApi(t: { after(fn: () => unknown): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'failoverd-api-'));
  const socket = join(dir, 'failoverd.sock');
  const agent = fakeAgent();
  const bus = new EventBus('lvs-a');
  const metrics = new Metrics(bus, agent.sources, { defaultMetrics: false });
  const server = new ApiServer(
    { socket, metrics: '127.0.0.1:0' },
    { status: agent.status, admin: agent.admin, metrics: metrics.registry, bus },
  );
  await server.start();
  t.after(async () => {
    await server.stop();
    metrics.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const [, metricsAddress] = server.listening();
  return { socket: { kind: 'unix', path: socket } as ListenAddress, metrics: parseListenAddress(metricsAddress!) };
}

const GET_METRICS = 'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';

test('GET //x:99999 gets a 400 on the metrics port and the unix socket, and the next request is served', async (t) => {
  const api = await startApi(t);
  const escaped = await escapes(async () => {
    for (const address of [api.metrics, api.socket]) {
      const crash = await rawRequest(address, ['GET //x:99999 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
      assert.equal(crash.status, 400, crash.text);
      assert.match(crash.text, /"error"/);
      const next = await rawRequest(address, [GET_METRICS]);
      assert.equal(next.status, 200, next.text);
    }
  });
  assert.deepEqual(escaped, [], 'nothing escaped the request handler');
});

const H = 'Host: x\r\nConnection: close\r\n';
const DRAIN = `POST /admin/drain HTTP/1.1\r\n${H}`;
const post = (path: string, body: string | Buffer, headers = ''): (string | Buffer)[] => [
  `POST ${path} HTTP/1.1\r\n${H}${headers}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`,
  body,
];

/** [what, bytes, expected status] — one of each kind of malformed request. */
const MALFORMED: [string, (string | Buffer)[], number][] = [
  ['garbage request line', ['GARBAGE\r\n\r\n'], 400],
  ['no target', ['GET\r\n\r\n'], 400],
  ['unknown HTTP version', [`GET /status HTTP/9.9\r\n${H}\r\n`], 400],
  ['unknown method', [`BREW /status HTTP/1.1\r\n${H}\r\n`], 400],
  ['lower-case method', [`get /status HTTP/1.1\r\n${H}\r\n`], 400],
  ['binary', [Buffer.from([0, 1, 2, 0xff, 0xfe, 13, 10, 13, 10])], 400],
  ['no Host header', ['GET /status HTTP/1.1\r\nConnection: close\r\n\r\n'], 400],
  ['host and bad port', [`GET //x:99999 HTTP/1.1\r\n${H}\r\n`], 400],
  ['bare //', [`GET // HTTP/1.1\r\n${H}\r\n`], 400],
  ['asterisk', [`GET * HTTP/1.1\r\n${H}\r\n`], 400],
  ['absolute URL with bad port', [`GET http://x:99999/status HTTP/1.1\r\n${H}\r\n`], 400],
  ['non-ASCII target', [Buffer.from(`GET /st\xe9tus HTTP/1.1\r\n${H}\r\n`, 'latin1')], 400],
  ['bad percent escape', [`GET /%zz HTTP/1.1\r\n${H}\r\n`], 404],
  ['huge URL', [`GET /${'a'.repeat(20_000)} HTTP/1.1\r\n${H}\r\n`], 431],
  ['huge header', [`GET /status HTTP/1.1\r\n${H}X-Big: ${'b'.repeat(20_000)}\r\n\r\n`], 431],
  ['CR inside a header value', [`GET /status HTTP/1.1\r\n${H}X-A: a\rb\r\n\r\n`], 400],
  ['LF-injected header name', [`GET /status HTTP/1.1\r\n${H}X-A\nEvil: b\r\n\r\n`], 400],
  ['space in a header name', [`GET /status HTTP/1.1\r\n${H}X A: b\r\n\r\n`], 400],
  ['header without colon', [`GET /status HTTP/1.1\r\n${H}NoColon\r\n\r\n`], 400],
  ['negative Content-Length', [`POST /admin/drain HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`], 400],
  ['two Content-Lengths', [`${DRAIN}Content-Length: 1\r\nContent-Length: 2\r\n\r\nab`], 400],
  ['Content-Length and chunked', [`${DRAIN}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`], 400],
  ['bad chunk size', [`${DRAIN}Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`], 400],
  ['chunk longer than said', [`${DRAIN}Transfer-Encoding: chunked\r\n\r\n1\r\n{}\r\n0\r\n\r\n`], 400],
  ['unknown transfer coding', [`${DRAIN}Transfer-Encoding: gzip\r\n\r\n{}`], 400],
  ['body too large', post('/admin/drain', `{"service":"${'s'.repeat(70_000)}"}`), 413],
  ['invalid JSON', post('/admin/drain', '{"service": '), 400],
  ['JSON array', post('/admin/drain', '[1,2]'), 400],
  ['not UTF-8', post('/admin/drain', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])), 400],
  ['wrong field types', post('/admin/drain', '{"service": 1, "real_server": []}'), 400],
  ['unknown admin action', post('/admin/reboot', '{}'), 404],
  ['DELETE on /status', [`DELETE /status HTTP/1.1\r\n${H}\r\n`], 405],
  ['GET on an admin action', [`GET /admin/drain HTTP/1.1\r\n${H}\r\n`], 405],
  ['unknown path', [`GET /nope HTTP/1.1\r\n${H}\r\n`], 404],
];

test('every kind of malformed request gets its 4xx JSON error, and nothing escapes', async (t) => {
  const api = await startApi(t);
  const seen: string[] = [];
  const wrong: string[] = [];
  const escaped = await escapes(async () => {
    for (const [what, chunks, expected] of MALFORMED) {
      const answer = await rawRequest(api.socket, chunks);
      seen.push(`${what}: ${answer.status ?? answer.ended}`);
      const jsonError = /\r\n\r\n\{\s*"error":\s*"(?:[^"\\]|\\.)+"\s*\}\n$/.test(answer.text);
      if (answer.status !== expected || !jsonError) {
        wrong.push(`${what}: expected ${expected}, got ${answer.text.slice(0, 300)}`);
      }
    }
    assert.deepEqual(wrong, [], 'each answered with its status and a JSON error');
    assert.equal((await rawRequest(api.socket, [GET_METRICS])).status, 200, 'still serving');
  });
  assert.deepEqual(escaped, [], `nothing escaped (${seen.join('; ')})`);
});
