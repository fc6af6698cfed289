// The udp, dns, smtp, ping checks and the http digest against real Debian servers
// in a server namespace (socat, dnsmasq, exim, the kernel's own ICMP, python3's
// http.server), each with a private config in a temp dir: passes against the server,
// fails when it stops, fails on a wrong answer.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CheckResult } from '../../../src/health/check.js';
import { sh } from '../../helpers/shell.js';
import { selfSignedCertificate } from '../../helpers/tls.js';
import { CheckLab, type LineProcess } from './lab.js';
import { dnsmasqArgv, eximArgv, ServerPrograms } from './servers.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const cli = fileURLToPath(new URL('../../../src/cli.js', import.meta.url));
let lab: CheckLab;
let runner: LineProcess;
let scratch: string;
let nextId = 1;
const servers = new ServerPrograms(() => lab.serverNs);

async function check(
  type: string,
  options: Record<string, unknown>,
  port: number,
  timeoutMs = 1000,
  address = lab.serverAddress,
): Promise<CheckResult> {
  const id = nextId++;
  runner.send(JSON.stringify({ id, type, options, target: { service: 'svc', address, port }, timeoutMs }));
  const answer = JSON.parse(await runner.next((l) => l.startsWith(`{"id":${id},`), timeoutMs + 10_000)) as {
    result: CheckResult;
    error?: string;
  };
  if (answer.error) throw new Error(answer.error);
  return answer.result;
}

/** Runs a check until it passes (a server just started), for at most `deadlineMs`. */
async function untilUp(
  type: string,
  options: Record<string, unknown>,
  port: number,
  deadlineMs = 15_000,
  address?: string,
): Promise<CheckResult> {
  const until = Date.now() + deadlineMs;
  let last: CheckResult | undefined;
  for (let i = 0; i < 200 && Date.now() < until; i++) {
    last = await check(type, options, port, 1000, address);
    if (last.ok) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${type} never passed: ${last?.reason}`);
}

before(() => {
  for (const program of ['socat', 'dnsmasq', 'exim4', 'python3', 'openssl', 'keepalived']) {
    assert.ok(
      sh(['which', program], { check: false }).trim(),
      `${program} must be installed (src/lab/system-packages.ts lists its package)`,
    );
  }
  scratch = mkdtempSync(join(tmpdir(), 'failoverd-protocols-'));
  chmodSync(scratch, 0o755);
  lab = new CheckLab('p');
  runner = lab.start(lab.checkerNs, [join(here, 'check-runner.js')]);
});

after(async () => {
  await servers.stopAll();
  lab?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

// ---------------------------------------------------------------- udp

test('udp: a reply passes; a wrong reply, no reply and a stopped server (ICMP port unreachable) fail', async () => {
  // An echo server: each datagram goes back as it came.
  servers.start('udp-echo', ['socat', '-T', '2', `UDP4-RECVFROM:7001,bind=${lab.serverAddress},fork`, 'EXEC:/bin/cat']);
  // A server that takes datagrams and never answers.
  servers.start('udp-silent', ['socat', '-u', `UDP4-RECV:7002,bind=${lab.serverAddress}`, 'OPEN:/dev/null,append']);
  const up = await untilUp('udp', { send: 'PING udp\n', expect: '^PING udp' }, 7001);
  assert.match(up.reason, /^reply of 9 bytes from port 7001$/);
  assert.equal((await check('udp', { send_hex: '50494e47', expect_hex: '5049' }, 7001)).ok, true);
  assert.equal((await check('udp', { send: 'x', bind_to: lab.checkerAddress2 }, 7001)).ok, true);

  const wrong = await check('udp', { send: 'PING udp\n', expect: '^PONG' }, 7001);
  assert.deepEqual([wrong.ok, wrong.reason], [false, 'reply "PING udp" does not match /^PONG/']);
  const wrongHex = await check('udp', { send: 'PING', expect_hex: '504f4e47' }, 7001);
  assert.deepEqual([wrongHex.ok, wrongHex.reason], [false, 'reply 50494e47 does not start with 504f4e47']);

  const silent = await check('udp', { send: 'PING' }, 7002, 400);
  assert.deepEqual([silent.ok, silent.reason], [false, 'no reply: timeout after 400ms']);

  await servers.stop('udp-echo');
  const stopped = await check('udp', { send: 'PING' }, 7001);
  assert.deepEqual([stopped.ok, stopped.reason], [false, 'reply: ICMP port unreachable (ECONNREFUSED)']);
  await servers.stop('udp-silent');
});

// ---------------------------------------------------------------- dns

function startDnsmasq(): void {
  const big = Array.from({ length: 4 }, (_, i) => `--txt-record=big.failoverd.test,${String(i).repeat(200)}`);
  servers.start(
    'dnsmasq',
    dnsmasqArgv(lab.serverAddress, join(scratch, 'dnsmasq.pid'), [
      '--host-record=web.failoverd.test,10.1.2.3,fd00::3',
      '--host-record=web.failoverd.test,10.1.2.4',
      '--cname=alias.failoverd.test,web.failoverd.test',
      '--mx-host=failoverd.test,mx.failoverd.test,10',
      '--txt-record=failoverd.test,v=spf1 -all',
      ...big,
    ]),
  );
}

test('dns (dnsmasq): A, AAAA, CNAME, MX, TXT, PTR answers; exact and contains; NXDOMAIN', async () => {
  startDnsmasq();
  const a = await untilUp('dns', { name: 'web.failoverd.test', expect_answers: ['10.1.2.3', '10.1.2.4'] }, 53);
  assert.equal(a.reason, 'NOERROR, 2 A records over udp');
  const cases: Array<[Record<string, unknown>, boolean]> = [
    [{ name: 'web.failoverd.test', query_type: 'AAAA', expect_answers: ['fd00:0:0:0:0:0:0:3'] }, true],
    [{ name: 'alias.failoverd.test', query_type: 'CNAME', expect_answers: ['web.failoverd.test.'] }, true],
    [{ name: 'alias.failoverd.test', expect_answers: ['10.1.2.3'], answers_match: 'contains' }, true],
    [{ name: 'failoverd.test', query_type: 'MX', expect_answers: ['10 MX.failoverd.test'] }, true],
    [{ name: 'failoverd.test', query_type: 'TXT', expect_answers: ['v=spf1 -all'] }, true],
    [{ name: '3.2.1.10.in-addr.arpa', query_type: 'PTR', expect_answers: ['web.failoverd.test'] }, true],
    [{ name: 'nothing.failoverd.test', expect_rcode: 'NXDOMAIN' }, true],
    [{ name: 'web.failoverd.test', recursion_desired: false }, true],
  ];
  for (const [options, ok] of cases) {
    const r = await check('dns', options, 53);
    assert.equal(r.ok, ok, `${JSON.stringify(options)}: ${r.reason}`);
  }
});

test('dns: a wrong record, a missing name and a truncated answer (TCP fallback)', async () => {
  const wrong = await check('dns', { name: 'web.failoverd.test', expect_answers: ['10.1.2.3'] }, 53);
  assert.deepEqual([wrong.ok, wrong.reason], [false, 'web.failoverd.test A: answers ["10.1.2.3", "10.1.2.4"]: unexpected "10.1.2.4"']);
  const missing = await check('dns', { name: 'web.failoverd.test', expect_answers: ['10.9.9.9'], answers_match: 'contains' }, 53);
  assert.equal(missing.ok, false);
  assert.match(missing.reason, /missing "10\.9\.9\.9"$/);
  const nx = await check('dns', { name: 'nothing.failoverd.test' }, 53);
  assert.deepEqual([nx.ok, nx.reason], [false, 'rcode NXDOMAIN, expected NOERROR']);
  // Four 200-byte TXT records do not fit a 512-byte UDP reply: the check asks again over TCP.
  const big = await check(
    'dns',
    { name: 'big.failoverd.test', query_type: 'TXT', answers_match: 'contains', expect_answers: ['0'.repeat(200), '3'.repeat(200)] },
    53,
  );
  assert.equal(big.ok, true, big.reason);
  assert.equal(big.reason, 'NOERROR, 4 TXT records over tcp');
});

test('dns: a stopped server fails (ICMP port unreachable)', async () => {
  await servers.stop('dnsmasq');
  const r = await check('dns', { name: 'web.failoverd.test' }, 53);
  assert.deepEqual([r.ok, r.reason], [false, 'udp query: ICMP port unreachable (ECONNREFUSED)']);
});

// ---------------------------------------------------------------- smtp

async function startExim(name: string, extra = ''): Promise<string> {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  selfSignedCertificate(dir, 'mx.failoverd.test', ['DNS:mx.failoverd.test']);
  chmodSync(join(dir, 'key.pem'), 0o644);
  const main = [
    `local_interfaces = <; ${lab.serverAddress}.25`,
    'smtp_banner = mx.failoverd.test ESMTP failoverd-test',
    'tls_advertise_hosts = *',
    `tls_certificate = ${dir}/cert.pem`,
    `tls_privatekey = ${dir}/key.pem`,
    ...(extra ? [extra] : []),
  ];
  const acl = [
    'no_connect:',
    '  deny message = not today',
    'no_ehlo:',
    '  deny condition = ${if match{$smtp_command}{\\N^(?i)ehlo\\N}}',
    '  accept',
    'no_helo:',
    '  deny condition = ${if match{$smtp_command}{\\N^(?i)helo\\N}}',
    '  accept',
  ];
  servers.start(name, eximArgv(dir, main, acl));
  return dir;
}

test('smtp (exim): banner, EHLO, STARTTLS with certificate checks, QUIT', async () => {
  const dir = await startExim('exim');
  const up = await untilUp('smtp', { helo_name: 'checker.failoverd.test' }, 25);
  assert.equal(up.reason, '220 banner, EHLO 250, QUIT 221 on port 25');
  assert.equal((await check('smtp', { expect_banner: 'ESMTP failoverd-test$' }, 25)).ok, true);
  const tls = await check('smtp', { starttls: true, ca_file: join(dir, 'cert.pem'), tls_server_name: 'mx.failoverd.test' }, 25);
  assert.equal(tls.ok, true, tls.reason);
  assert.match(tls.reason, /^220 banner, EHLO 250, TLSv1\.[23], QUIT 221 on port 25$/);
  assert.equal((await check('smtp', { starttls: true, tls_verify: false }, 25)).ok, true);
  const unverified = await check('smtp', { starttls: true }, 25);
  assert.equal(unverified.ok, false);
  assert.match(unverified.reason, /^TLS handshake: .*self[- ]signed/i);
  const wrongName = await check('smtp', { starttls: true, ca_file: join(dir, 'cert.pem'), tls_server_name: 'other.failoverd.test' }, 25);
  assert.equal(wrongName.ok, false);
  assert.match(wrongName.reason, /^TLS handshake: .*ALTNAME/);
  // exim's own log: the checks said EHLO and left with QUIT (no "lost connection").
  const log = readFileSync(join(dir, 'log', 'mainlog'), 'utf8');
  assert.doesNotMatch(log, /unexpected disconnection|lost connection/, log);
});

test('smtp: a wrong banner fails: an unexpected text, a 550 refusal; HELO after an EHLO refusal', async () => {
  const text = await check('smtp', { expect_banner: '^postfix' }, 25);
  assert.deepEqual([text.ok, text.reason], [false, 'banner 220 "mx.failoverd.test ESMTP failoverd-test" does not match /^postfix/']);
  await servers.stop('exim');
  await startExim('exim-refusing', 'acl_smtp_connect = no_connect');
  const refused = await untilDown('smtp', {}, 25, /^banner 5\d\d/);
  assert.deepEqual([refused.ok, refused.reason], [false, 'banner 550 "not today", expected 220']);
  await servers.stop('exim-refusing');
  await startExim('exim-no-ehlo', 'acl_smtp_helo = no_ehlo');
  const helo = await untilUp('smtp', {}, 25);
  assert.equal(helo.reason, '220 banner, HELO 250, QUIT 221 on port 25');
  const noTls = await check('smtp', { starttls: true, tls_verify: false }, 25);
  assert.equal(noTls.ok, false, 'STARTTLS needs EHLO');
  assert.match(noTls.reason, /^EHLO: 550 /);
  const heloOnly = await check('smtp', { greeting: 'helo' }, 25);
  assert.deepEqual([heloOnly.ok, heloOnly.reason], [true, '220 banner, HELO 250, QUIT 221 on port 25']);
});

test("smtp greeting: helo says HELO only, as keepalived's SMTP_CHECK (an exim that refuses HELO tells)", async () => {
  await servers.stop('exim-no-ehlo');
  await startExim('exim-no-helo', 'acl_smtp_helo = no_helo');
  const ehlo = await untilUp('smtp', {}, 25);
  assert.equal(ehlo.reason, '220 banner, EHLO 250, QUIT 221 on port 25');
  const helo = await check('smtp', { greeting: 'helo' }, 25);
  assert.equal(helo.ok, false);
  assert.match(helo.reason, /^HELO: 550 /);
  await servers.stop('exim-no-helo');
  await startExim('exim-no-ehlo', 'acl_smtp_helo = no_ehlo');
  await untilUp('smtp', { greeting: 'helo' }, 25);
});

test('smtp: a stopped server fails', async () => {
  await servers.stop('exim-no-ehlo');
  // exim's daemon exits first; a connection already queued on its listener can still be
  // reset ('banner: ECONNRESET') until the last child is gone, and then connect is refused.
  const r = await untilDown('smtp', {}, 25, /^connect: ECONNREFUSED$/);
  assert.deepEqual([r.ok, r.reason], [false, 'connect: ECONNREFUSED']);
});

async function untilDown(type: string, options: Record<string, unknown>, port: number, reason: RegExp): Promise<CheckResult> {
  const until = Date.now() + 15_000;
  let last: CheckResult | undefined;
  for (let i = 0; i < 200 && Date.now() < until; i++) {
    last = await check(type, options, port);
    if (!last.ok && reason.test(last.reason)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${type} never failed with ${reason}: ${last?.reason}`);
}

// ---------------------------------------------------------------- ping

test("ping: IPv4 and IPv6 echo replies from the server's kernel; an address that ignores echo fails", async () => {
  const v4 = await check('ping', {}, 0);
  assert.deepEqual([v4.ok, v4.reason], [true, `ICMP echo reply from ${lab.serverAddress}, 56 bytes`]);
  const v6 = await check('ping', { payload_bytes: 1000 }, 0, 1000, lab.serverAddress6);
  assert.deepEqual([v6.ok, v6.reason], [true, `ICMPv6 echo reply from ${lab.serverAddress6}, 1000 bytes`]);
  assert.equal((await check('ping', { bind_to: lab.checkerAddress2 }, 0)).ok, true);
  assert.equal((await check('ping', { bind_to: lab.checkerAddress6b }, 0, 1000, lab.serverAddress6)).ok, true);
  // The server stops answering echo requests (its kernel drops them).
  sh(['ip', 'netns', 'exec', lab.serverNs, 'sysctl', '-qw', 'net.ipv4.icmp_echo_ignore_all=1', 'net.ipv6.icmp.echo_ignore_all=1']);
  try {
    const silent4 = await check('ping', {}, 0, 400);
    assert.deepEqual([silent4.ok, silent4.reason], [false, 'no ICMP echo reply: timeout after 400ms']);
    const silent6 = await check('ping', {}, 0, 400, lab.serverAddress6);
    assert.deepEqual([silent6.ok, silent6.reason], [false, 'no ICMPv6 echo reply: timeout after 400ms']);
  } finally {
    sh(['ip', 'netns', 'exec', lab.serverNs, 'sysctl', '-qw', 'net.ipv4.icmp_echo_ignore_all=0', 'net.ipv6.icmp.echo_ignore_all=0']);
  }
  assert.equal((await check('ping', {}, 0)).ok, true);
});

test('ping: an unreachable network fails at once with the ICMP error or the route error', async () => {
  // A route that answers with ICMP "host unreachable" (a prohibit/unreachable route in the checker).
  sh(['ip', '-n', lab.checkerNs, 'route', 'add', 'unreachable', '10.202.0.0/24']);
  const r = await check('ping', {}, 0, 1000, '10.202.0.1');
  assert.equal(r.ok, false);
  assert.match(r.reason, /EHOSTUNREACH|host unreachable/);
});

test('ping: many checks at once each get their own reply (identifier and sequence)', async () => {
  const runs = await Promise.all(
    Array.from({ length: 20 }, (_, i) => check('ping', {}, 0, 2000, i % 2 ? lab.serverAddress : lab.serverAddress6)),
  );
  assert.deepEqual(
    runs.filter((r) => !r.ok).map((r) => r.reason),
    [],
  );
});

// ---------------------------------------------------------------- http digest, genhash

function genhash(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('ip', ['netns', 'exec', lab.checkerNs, process.execPath, cli, 'genhash', ...args], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('http digest: failoverd genhash prints what keepalived --genhash prints; the check passes, fails on a changed page', async () => {
  const site = join(scratch, 'site');
  mkdirSync(site);
  const page = `<html><body>failoverd digest ${'x'.repeat(3000)}</body></html>\n`;
  writeFileSync(join(site, 'index.html'), page);
  servers.start('http', ['python3', '-m', 'http.server', '8080', '--bind', lab.serverAddress, '--directory', site]);
  await untilUp('http', { path: '/index.html' }, 8080);
  const url = `http://${lab.serverAddress}:8080/index.html`;
  const ours = genhash([url]);
  assert.equal(ours.status, 0, ours.stderr);
  const md5 = createHash('md5').update(page).digest('hex');
  assert.equal(ours.stdout, `${md5}\n`);
  assert.match(ours.stderr, /^status 200, 3\d{3} body bytes\n$/);
  // keepalived's genhash sometimes reports "Connection failed" on a fast local server: a few tries.
  let theirs = '';
  for (let i = 0; i < 10 && !/^[0-9a-f]{32}$/m.test(theirs); i++) {
    theirs = sh(
      ['ip', 'netns', 'exec', lab.checkerNs, 'keepalived', '--genhash', '-s', lab.serverAddress, '-p', '8080', '-u', '/index.html'],
      { check: false },
    );
  }
  assert.equal(/^[0-9a-f]{32}$/m.exec(theirs)?.[0], md5, `keepalived --genhash said: ${theirs}`);

  const good = await check('http', { path: '/index.html', digest: md5 }, 8080);
  assert.deepEqual([good.ok, good.reason], [true, 'status 200, body matches']);
  assert.equal((await check('http', { path: '/index.html', digest: md5.toUpperCase() }, 8080)).ok, true);
  writeFileSync(join(site, 'index.html'), page.replace('failoverd', 'changed!!'));
  const changed = await check('http', { path: '/index.html', digest: md5 }, 8080);
  assert.equal(changed.ok, false);
  assert.match(changed.reason, /^body md5 [0-9a-f]{12}… differs from digest [0-9a-f]{12}…$/);
  const sha = genhash(['--sha256', url]);
  assert.equal((await check('http', { path: '/index.html', digest: sha.stdout.trim() }, 8080)).ok, true);

  await servers.stop('http');
  const stopped = await check('http', { path: '/index.html', digest: md5 }, 8080);
  assert.equal(stopped.ok, false);
  assert.match(stopped.reason, /ECONNREFUSED/);
  const refused = genhash([url]);
  assert.deepEqual([refused.status, refused.stdout], [1, '']);
  assert.match(refused.stderr, /ECONNREFUSED/);
});

test('failoverd genhash: usage errors exit 2 and name the problem', () => {
  for (const [args, message] of [
    [[], /a URL is needed/],
    [['--bogus', 'http://x/'], /unknown option --bogus/],
    [['ftp://x/'], /http:\/\/ or https:\/\//],
    [['--timeout', 'soon', 'http://x/'], /--timeout: expected a duration/],
    [['--bind-to', 'eth0', 'http://x/'], /--bind-to: /],
  ] as Array<[string[], RegExp]>) {
    const r = genhash(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});
