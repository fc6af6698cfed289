// The http check's own response reader against hand-written responses on the wire
// (wire-server.ts, in a server namespace), with curl as the independent reader:
// where curl reads a status and a body, the check reads the same ones; where the
// response is broken, the check fails at once with a reason that says how. And the
// https check's connect aborted at the timeout, or its handshake, leaves no socket.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CheckResult } from '../../../src/health/check.js';
import { sh, tryRun } from '../../helpers/shell.js';
import { waitFor } from '../../helpers/wait.js';
import { CheckLab, type LineProcess } from './lab.js';

const here = fileURLToPath(new URL('.', import.meta.url));
let lab: CheckLab;
let runner: LineProcess;
let scratch: string;
let nextId = 1;

async function check(
  type: string,
  options: Record<string, unknown>,
  port: number,
  timeoutMs = 2000,
  address = lab.serverAddress,
): Promise<{ result: CheckResult; settledAfterAbort: boolean }> {
  const id = nextId++;
  runner.send(JSON.stringify({ id, type, options, target: { service: 'web', address, port }, timeoutMs }));
  const answer = JSON.parse(await runner.next((l) => l.startsWith(`{"id":${id},`), timeoutMs + 10_000)) as {
    result: CheckResult;
    settledAfterAbort: boolean;
    error?: string;
  };
  if (answer.error) throw new Error(answer.error);
  return answer;
}

/** curl from the checker namespace: its exit code, the status it read and the body it wrote. */
function curl(port: number): { exit: number; status: string; body: string } {
  const file = join(scratch, `curl-${port}`);
  rmSync(file, { force: true });
  const r = tryRun('ip', [
    'netns',
    'exec',
    lab.checkerNs,
    'curl',
    '-s',
    '--max-time',
    '5',
    '-o',
    file,
    '-w',
    '%{http_code}',
    `http://${lab.serverAddress}:${port}/`,
  ]);
  let body = '';
  try {
    body = readFileSync(file, 'latin1');
  } catch {
    /* nothing written */
  }
  return { exit: r.status, status: r.stdout.trim(), body };
}

const sha256 = (text: string): string => createHash('sha256').update(text, 'latin1').digest('hex');

before(async () => {
  assert.ok(sh(['which', 'curl'], { check: false }).trim(), 'curl must be installed (apt-get install curl)');
  scratch = mkdtempSync(join(tmpdir(), 'failoverd-http-wire-'));
  lab = new CheckLab('w');
  const server = lab.start(lab.serverNs, [join(here, 'wire-server.js'), lab.serverAddress]);
  await server.next((l) => l === 'ready');
  runner = lab.start(lab.checkerNs, [join(here, 'check-runner.js')]);
});

after(() => {
  lab?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

test('a chunked body, the status line split across segments: the check reads the status and body curl reads', async () => {
  const c = curl(9001);
  assert.deepEqual([c.exit, c.status, c.body], [0, '200', 'chunked body!']);
  const a = await check('http', { digest: sha256(c.body), expect_body: `^${c.body}$` }, 9001);
  assert.equal(a.result.ok, true, a.result.reason);
  assert.equal(a.result.reason, 'status 200, body matches');
  const wrong = await check('http', { digest: sha256('something else') }, 9001);
  assert.equal(wrong.result.ok, false);
  assert.match(wrong.result.reason, /^body sha256 [0-9a-f]{12}… differs from digest/);
});

test('an interim 100 Continue is skipped: the final status and body are the ones curl reads', async () => {
  const c = curl(9002);
  assert.deepEqual([c.exit, c.status, c.body], [0, '201', 'made!']);
  const a = await check('http', { expect_status: [Number(c.status)], digest: sha256(c.body) }, 9002);
  assert.equal(a.result.ok, true, a.result.reason);
  assert.equal((await check('http', { expect_status: [200] }, 9002)).result.reason, 'status 201 not in 200');
});

test('a body cut short by the close: curl reports a partial transfer, a body check fails and says how far it got', async () => {
  const c = curl(9003);
  assert.equal(c.exit, 18, 'curl: CURLE_PARTIAL_FILE');
  assert.equal(c.body, 'partial');
  const body = await check('http', { expect_body: 'partial' }, 9003);
  assert.equal(body.result.ok, false);
  assert.equal(body.result.reason, 'body: closed by the server after 7 of 100 body bytes');
  // Without a body to check, the status decides, as before.
  assert.equal((await check('http', {}, 9003)).result.ok, true);
});

test('what is not an HTTP/1.x response fails at once, not at the timeout', async () => {
  const c = curl(9004);
  assert.notEqual(c.exit, 0, 'curl refuses it too');
  const a = await check('http', {}, 9004, 3000);
  assert.equal(a.result.ok, false);
  assert.equal(a.result.reason, 'response: not an HTTP/1.x response: "SSH-2.0-OpenSSH_9.2\\r\\n"');
  assert.equal(a.settledAfterAbort, false);
});

test('oversized headers and a close without an answer are clear down reasons', async () => {
  const big = await check('http', {}, 9005);
  assert.equal(big.result.reason, 'response: response headers longer than 16384 bytes');
  const closed = await check('http', {}, 9006);
  assert.equal(closed.result.ok, false);
  assert.equal(closed.result.reason, 'response: closed by the server before any response');
});

test('https: a server that never handshakes times out in the handshake; the check closes its connection', async () => {
  const a = await check('https', { tls_verify: false }, 9007, 400);
  assert.equal(a.result.reason, 'tls handshake: timeout after 400ms');
  assert.ok(a.settledAfterAbort);
  let left = '';
  // Closed from this side (FIN sent): nothing established remains, whatever the silent server does.
  const established = ['ip', 'netns', 'exec', lab.checkerNs, 'ss', '-Htn', 'state', 'established', 'dst', `${lab.serverAddress}:9007`];
  await waitFor(() => (left = sh(established).trim()) === '', {
    what: 'no established connection left towards the server that never handshakes',
    timeoutMs: 5000,
    stepMs: 50,
  }).catch(() => undefined);
  assert.equal(left, '');
});

test('https: a connect aborted at the timeout leaves no socket behind', async () => {
  // A neighbour entry to a MAC nobody has: the SYNs go out and are never answered,
  // with no ARP failure to end the connect early, so the kernel would keep the socket
  // in SYN-SENT for its whole SYN-retry time. undici's TLS connector kept it until its
  // own 10 s connect timeout.
  const silent = '10.201.0.97';
  const dev = /\bdev (\S+)/.exec(sh(['ip', '-n', lab.checkerNs, 'route', 'get', silent]))![1]!;
  sh(['ip', '-n', lab.checkerNs, 'neigh', 'replace', silent, 'lladdr', '02:00:00:00:00:97', 'dev', dev, 'nud', 'permanent']);
  const a = await check('https', {}, 443, 300, silent);
  assert.equal(a.result.reason, 'connect: timeout after 300ms');
  let left = '';
  await waitFor(() => (left = sh(['ip', 'netns', 'exec', lab.checkerNs, 'ss', '-Htn', 'state', 'syn-sent', 'dst', silent]).trim()) === '', {
    what: 'no SYN-SENT socket towards the silent address',
    timeoutMs: 5000,
    stepMs: 50,
  }).catch(() => undefined);
  assert.equal(left, '', 'no SYN-SENT socket towards the silent address');
});
