// The check plugins against real servers in a network namespace: a checker
// namespace probes a server namespace over a veth pair. The exec checks run in a
// PID namespace whose init (bash) reaps orphans, as systemd does on a real host.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCheckPlugins } from '../../../checks/index.js';
import type { CheckResult } from '../../../src/health/check.js';
import { CheckLab, type LineProcess } from './lab.js';
import { sh } from '../../helpers/shell.js';
import { selfSignedCertificate } from '../../helpers/tls.js';
import { waitFor } from '../../helpers/wait.js';

const here = fileURLToPath(new URL('.', import.meta.url));
let lab: CheckLab;
let server: LineProcess;
let runner: LineProcess;
let scratch: string;
let nextId = 1;

/** settledAfterAbort: the check settled once its signal was aborted at the timeout, before the runner's late mark (see check-runner.ts). */
interface Answer {
  result: CheckResult;
  elapsedMs: number;
  settledAfterAbort: boolean;
}

async function check(
  type: string,
  options: Record<string, unknown>,
  port: number,
  timeoutMs = 1000,
  address = lab.serverAddress,
): Promise<Answer> {
  const id = nextId++;
  runner.send(JSON.stringify({ id, type, options, target: { service: 'web', address, port }, timeoutMs }));
  const line = await runner.next((l) => l.startsWith(`{"id":${id},`), timeoutMs + 10_000);
  const answer = JSON.parse(line) as Answer & { error?: string };
  if (answer.error) throw new Error(answer.error);
  return answer;
}

before(async () => {
  assert.ok(sh(['which', 'openssl'], { check: false }).trim(), 'openssl must be installed (apt-get install openssl)');
  scratch = mkdtempSync(join(tmpdir(), 'failoverd-checks-'));
  lab = new CheckLab('k');
  selfSignedCertificate(scratch, 'rs.failoverd.test', ['DNS:rs.failoverd.test', `IP:${lab.serverAddress}`]);
  server = lab.start(lab.serverNs, [
    join(here, 'fixture-server.js'),
    lab.serverAddress,
    join(scratch, 'cert.pem'),
    join(scratch, 'key.pem'),
    lab.serverAddress6,
  ]);
  await server.next((l) => l === 'ready');
  runner = lab.start(
    lab.checkerNs,
    [join(here, 'check-runner.js')],
    ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc', 'bash', '-c', '"$0" "$@"; exit $?'],
  );
});

after(() => {
  lab?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

test('tcp: connects to a listening port, or connect_port, from bind_to', async () => {
  const a = await check('tcp', {}, 8004);
  assert.equal(a.result.ok, true, a.result.reason);
  assert.equal(a.result.reason, 'connected to port 8004');
  assert.ok(Number.isFinite(a.result.latencyMs) && a.result.latencyMs >= 0, `latency ${a.result.latencyMs}`);
  assert.equal((await check('tcp', { connect_port: 8005 }, 9999)).result.ok, true);
  assert.equal((await check('tcp', { bind_to: lab.checkerAddress2 }, 8004)).result.ok, true);
  const unbindable = await check('tcp', { bind_to: '10.201.0.77' }, 8004);
  assert.equal(unbindable.result.ok, false);
  assert.match(unbindable.result.reason, /EADDRNOTAVAIL/);
});

test('tcp: send a payload and expect a response pattern', async () => {
  const a = await check('tcp', { send: 'PING\r\n', expect: '^\\+PONG' }, 8005);
  assert.equal(a.result.ok, true, a.result.reason);
  const hang = await check('tcp', { send: 'PING\r\n', expect: '^\\+PONG' }, 8003, 400);
  assert.equal(hang.result.ok, false);
  assert.equal(hang.result.reason, 'response: timeout after 400ms');
});

test('a server that hangs after accept: tcp connect passes, http times out at the timeout', async () => {
  assert.equal((await check('tcp', {}, 8003)).result.ok, true);
  const a = await check('http', {}, 8003, 500);
  assert.equal(a.result.ok, false);
  assert.equal(a.result.reason, 'response: timeout after 500ms');
  assert.ok(a.settledAfterAbort, 'settled by the abort at the timeout, not by anything later');
});

test('an address nobody answers (no ARP reply): tcp and http time out while connecting, and settle at once', async () => {
  for (const type of ['tcp', 'http', 'https']) {
    const a = await check(type, {}, 80, 300, '10.201.0.99');
    assert.equal(a.result.ok, false);
    assert.equal(a.result.reason, 'connect: timeout after 300ms', type);
    assert.ok(a.settledAfterAbort, `${type} settled by the abort at the timeout (not the kernel's connect timeout)`);
  }
  // The next check of the same target starts clean.
  const again = await check('http', {}, 80, 300, '10.201.0.99');
  assert.equal(again.result.reason, 'connect: timeout after 300ms');
});

test('http: a connect aborted at the timeout leaves no socket behind', async () => {
  // Before the probe had its own connector, the half-open socket lived on for
  // undici's 10 s connect timeout; at thousands of checks a second that piles up.
  const a = await check('http', {}, 80, 300, '10.201.0.98');
  assert.equal(a.result.reason, 'connect: timeout after 300ms');
  let left = '';
  await waitFor(
    () => (left = sh(['ip', 'netns', 'exec', lab.checkerNs, 'ss', '-Htn', 'state', 'syn-sent', 'dst', '10.201.0.98']).trim()) === '',
    { what: 'no SYN-SENT socket towards the unanswered address', timeoutMs: 5000, stepMs: 50 },
  ).catch(() => undefined);
  assert.equal(left, '', 'no SYN-SENT socket towards the unanswered address');
});

test('http over IPv6, from bind_to; refused over IPv6', async () => {
  const a = await check('http', {}, 8001, 1000, lab.serverAddress6);
  assert.equal(a.result.ok, true, a.result.reason);
  for (const from of [lab.checkerAddress6, lab.checkerAddress6b]) {
    const b = await check('http', { bind_to: from, expect_body: `peer=${from} ` }, 8001, 1000, lab.serverAddress6);
    assert.equal(b.result.ok, true, b.result.reason);
  }
  const refused = await check('http', {}, 8002, 1000, lab.serverAddress6);
  assert.equal(refused.result.ok, false);
  assert.match(refused.result.reason, /^connect: ECONNREFUSED$/);
});

test('a server that stops: connection refused', async () => {
  assert.equal((await check('http', {}, 8004)).result.ok, true);
  server.send('stop 8004');
  await server.next((l) => l === 'stopped 8004');
  const tcp = await check('tcp', {}, 8004);
  assert.equal(tcp.result.ok, false);
  assert.equal(tcp.result.reason, 'connect: ECONNREFUSED');
  const http = await check('http', {}, 8004);
  assert.equal(http.result.ok, false);
  assert.match(http.result.reason, /ECONNREFUSED/);
});

test('http: status 500 fails unless listed; ranges; redirects are not followed', async () => {
  const a = await check('http', {}, 8002);
  assert.equal(a.result.ok, false);
  assert.equal(a.result.reason, 'status 500 not in 200-299');
  assert.equal((await check('http', { expect_status: [200, '500-503'] }, 8002)).result.ok, true);
  const r = await check('http', { path: '/redirect' }, 8001);
  assert.equal(r.result.reason, 'status 302 not in 200-299');
  assert.equal((await check('http', { path: '/redirect', expect_status: [302] }, 8001)).result.ok, true);
});

test('http: method, Host and extra headers reach the server', async () => {
  const a = await check(
    'http',
    {
      host: 'www.example.test',
      headers: { 'x-probe': 'failoverd' },
      expect_body: 'host=www\\.example\\.test peer=10\\.201\\.0\\.1 probe=failoverd',
    },
    8001,
  );
  assert.equal(a.result.ok, true, a.result.reason);
  const b = await check('http', { bind_to: lab.checkerAddress2, expect_body: 'peer=10\\.201\\.0\\.3' }, 8001);
  assert.equal(b.result.ok, true, b.result.reason);
  const unbindable = await check('http', { bind_to: '10.201.0.77' }, 8001);
  assert.equal(unbindable.result.reason, 'connect: EADDRNOTAVAIL');
  const head = await check('http', { method: 'HEAD' }, 8001);
  assert.equal(head.result.ok, true, head.result.reason);
});

test('http: every check is a fresh connection, closed afterwards (no keep-alive)', async () => {
  server.send('conns');
  const before = JSON.parse(await server.next((l) => l.startsWith('{"total"'))) as { total: number };
  for (let i = 0; i < 5; i++) assert.equal((await check('http', {}, 8001)).result.ok, true);
  // The server sees the last close a moment later: ask until it has (or the deadline passes).
  let afterCounts = { total: 0, open: -1 };
  await waitFor(
    async () => {
      server.send('conns');
      afterCounts = JSON.parse(await server.next((l) => l.startsWith('{"total"'))) as { total: number; open: number };
      return afterCounts.open === 0;
    },
    { what: 'the server to see every connection closed', timeoutMs: 5000, stepMs: 50 },
  ).catch(() => undefined);
  assert.equal(afterCounts.total - before.total, 5);
  assert.equal(afterCounts.open, 0);
});

test('http: the check ends its connection with a reset, as the tcp check does: it leaves no TIME_WAIT behind on either side', async () => {
  const timeWait = (): Set<string> =>
    new Set([
      ...sh(['ip', 'netns', 'exec', lab.checkerNs, 'ss', '-Htan', 'state', 'time-wait', '( dport = :8001 )']).split('\n'),
      ...sh(['ip', 'netns', 'exec', lab.serverNs, 'ss', '-Htan', 'state', 'time-wait', '( sport = :8001 )']).split('\n'),
    ]);
  const before = timeWait();
  for (let i = 0; i < 5; i++) assert.equal((await check('http', {}, 8001)).result.ok, true);
  assert.deepEqual(
    [...timeWait()].filter((line) => line && !before.has(line)),
    [],
  );
});

test('http keepalive: one connection carries the checks and stays open', async () => {
  server.send('conns');
  const before = JSON.parse(await server.next((l) => l.startsWith('{"total"'))) as { total: number; open: number };
  for (let i = 0; i < 5; i++) assert.equal((await check('http', { keepalive: true }, 8001)).result.ok, true);
  server.send('conns');
  const afterCounts = JSON.parse(await server.next((l) => l.startsWith('{"total"'))) as { total: number; open: number };
  assert.equal(afterCounts.total - before.total, 1);
  assert.equal(afterCounts.open - before.open, 1);
});

test('http: a body that stops matching (regex and SHA-256 digest); body read is capped', async () => {
  const digest = createHash('sha256')
    .update(`hello from fixture host=${lab.serverAddress}:8001 peer=${lab.checkerAddress} probe=`)
    .digest('hex');
  assert.equal((await check('http', { expect_body: '^hello' }, 8001)).result.ok, true);
  const d = await check('http', { digest }, 8001);
  assert.equal(d.result.ok, true, d.result.reason);
  server.send('flip');
  await server.next((l) => l === 'flipped');
  const a = await check('http', { expect_body: '^hello' }, 8001);
  assert.equal(a.result.ok, false);
  assert.match(a.result.reason, /^body "broken host=.*" does not match \/\^hello\/$/);
  const b = await check('http', { digest }, 8001);
  assert.equal(b.result.ok, false);
  assert.match(b.result.reason, /^body sha256 [0-9a-f]{12}… differs from digest/);
  const big = await check('http', { path: '/big', digest: 'a'.repeat(64), max_body_bytes: 4096 }, 8001);
  assert.equal(big.result.reason, 'body longer than max_body_bytes 4096, cannot check digest');
  const bigMatch = await check('http', { path: '/big', expect_body: '^a{4096}$', max_body_bytes: 4096 }, 8001);
  assert.equal(bigMatch.result.ok, true, 'the regex sees exactly the first max_body_bytes');
});

test('https: self-signed certificate fails with verify on, passes with verify off or its CA; SNI is checked', async () => {
  const on = await check('https', {}, 8443);
  assert.equal(on.result.ok, false);
  assert.match(on.result.reason, /self[- ]signed/i);
  const off = await check('https', { tls_verify: false, expect_body: 'secure hello' }, 8443);
  assert.equal(off.result.ok, true, off.result.reason);
  const ca = await check('https', { ca_file: join(scratch, 'cert.pem') }, 8443);
  assert.equal(ca.result.ok, true, ca.result.reason);
  const sni = await check('https', { ca_file: join(scratch, 'cert.pem'), tls_server_name: 'rs.failoverd.test' }, 8443);
  assert.equal(sni.result.ok, true, sni.result.reason);
  const wrong = await check('https', { ca_file: join(scratch, 'cert.pem'), tls_server_name: 'other.failoverd.test' }, 8443);
  assert.equal(wrong.result.ok, false);
  assert.match(wrong.result.reason, /altnames|ERR_TLS_CERT_ALTNAME_INVALID/);
});

test('exec: target in the environment; exit 0 up, 1 down; misc_dynamic weight = code − 2', async () => {
  const env = await check(
    'exec',
    { command: 'test "$FAILOVERD_ADDRESS:$FAILOVERD_PORT:$FAILOVERD_SERVICE:$FAILOVERD_FAMILY" = "10.201.0.2:8001:web:inet" && echo fine' },
    8001,
  );
  assert.equal(env.result.ok, true, env.result.reason);
  assert.equal(env.result.reason, 'exit 0: fine');
  const down = await check('exec', { command: ['/bin/sh', '-c', 'echo backend gone >&2; exit 1'] }, 8001);
  assert.deepEqual([down.result.ok, down.result.reason], [false, 'exit 1: backend gone']);
  const dyn = await check('exec', { command: 'exit 12', misc_dynamic: true }, 8001);
  assert.deepEqual([dyn.result.ok, dyn.result.weight], [true, 10]);
  const plain = await check('exec', { command: 'exit 12' }, 8001);
  assert.equal(plain.result.ok, false, 'without misc_dynamic any non-zero exit is down');
  const missing = await check('exec', { command: ['/nonexistent/check'] }, 8001);
  assert.equal(missing.result.ok, false);
  assert.match(missing.result.reason, /cannot run \/nonexistent\/check: ENOENT$/);
});

test('exec: a hanging program is killed with its whole process group at the timeout, and nothing is left (/proc)', async () => {
  const pidFile = join(scratch, 'exec-pids');
  // The script starts two grandchildren (one that ignores SIGTERM) and then hangs.
  const script = `echo $$ > ${pidFile}; (trap '' TERM; sleep 300) & echo $! >> ${pidFile}; sleep 300 & echo $! >> ${pidFile}; wait`;
  const a = await check('exec', { command: script }, 8001, 500);
  assert.equal(a.result.ok, false);
  assert.equal(a.result.reason, 'killed (process group) after timeout after 500ms');
  assert.ok(a.settledAfterAbort, 'resolved by the abort at the timeout, with the group killed');
  const pids = readFileSync(pidFile, 'utf8').trim().split('\n');
  assert.equal(pids.length, 3);
  // Inside the checker's PID namespace: the program was reaped by the check, its
  // orphans by init; no process and no zombie remains.
  let states: Record<string, string> = {};
  await waitFor(
    async () => {
      const id = nextId++;
      runner.send(JSON.stringify({ id, procStates: pidFile }));
      states = (JSON.parse(await runner.next((l) => l.startsWith(`{"id":${id},`))) as { states: Record<string, string> }).states;
      return Object.values(states).every((s) => s === 'gone');
    },
    { what: 'the program and its orphans gone', timeoutMs: 5000, stepMs: 50 },
  ).catch(() => undefined);
  assert.deepEqual(Object.values(states), ['gone', 'gone', 'gone'], JSON.stringify(states));
});

test('exec in this process: the program is reaped by the check itself, its group is dead', async () => {
  // Outside a PID namespace the orphans go to this host's init, which may not
  // reap; what the check owns is the program's own exit status and the group.
  const plugins = await loadCheckPlugins();
  const exec = plugins.get('exec')!;
  const pidFile = join(scratch, 'exec-pids-host');
  writeFileSync(pidFile, '');
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error('timeout after 300ms')), 300);
  const result = await exec.run(
    { service: 'web', address: '127.0.0.1', port: 80 },
    exec.options.parse({ command: `echo $$ > ${pidFile}; sleep 300 & echo $! >> ${pidFile}; wait` }),
    controller.signal,
  );
  assert.equal(result.ok, false);
  const [program, grandchild] = readFileSync(pidFile, 'utf8').trim().split('\n');
  assert.equal(existsSync(`/proc/${program}`), false, 'the program itself is reaped, not a zombie');
  const state = existsSync(`/proc/${grandchild}/stat`) ? readFileSync(`/proc/${grandchild}/stat`, 'utf8').split(') ')[1]![0] : 'gone';
  assert.ok(state === 'gone' || state === 'Z', `grandchild state ${state}: killed with the group`);
});
