// The IPVS table after the migration, over keepalived's own doc/samples that have a
// virtual_server (vendored in test/fixtures/keepalived/samples, see the NOTE there).
// Each sample gets its own director namespace (IPVS tables are per namespace), all
// linked to one server namespace that holds the samples' real-server addresses and
// answers their checks. keepalived (checker only) builds every table from the sample,
// then failoverd from its import, in the same kernel one after the other; `ipvsadm -Sn`
// of both must be identical and non-empty, with every real server healthy on both sides.
// keepalived's 17 run at once; failoverd's agents (the shipped bundle) start a few at a
// time (BATCH), each batch read and stopped before the next: 17 node processes starting at
// once in UML starved each other and the table reads past minutes.
//
// The importer refuses 15 of the 17 samples (test/fixtures/keepalived/sample-refusals.ts):
// the test asserts each refusal's file:line on the original, then compares the table of
// what `--allow-partial --force` writes (the same YAML, made in-process: a node start per
// import is slow in UML). Every refusal in these samples is one that cannot change the
// table (TABLE_NEUTRAL: mail about real servers, AH, vrrp_strict's no_accept, sync group
// members, omega, UDP_CHECK's silence-is-up where our server answers), so those tables are
// compared whole, except for the real servers whose checker the import reported as not
// carried over (SMTP_CHECK's connect_ip host blocks, one a public address this test does
// not host): left out of the comparison. A refusal of any other kind fails the test.
//
// The samples are rewritten, identically for keepalived and for failoverd, where a check
// cannot pass honestly or "healthy" could not be told from "not checked yet":
//   - every `digest` becomes the MD5 of the page the test's server serves at every path
//     (HTTP_GET.port, SSL_GET, default, inhibit, sample, status_code, virtual_server_group,
//     virtualhost): keeps the HTTP_GET/SSL_GET digest checks, whose pages we cannot produce;
//   - MISC_CHECK's /usr/local/bin/script.sh becomes a script in the test's directory that
//     exits 0, with the sample's arguments (misc_check, misc_check_arg);
//   - quorum_up/quorum_down's /usr/local/sbin scripts become that script (quorum);
//   - `alpha` is added to every virtual_server: every real server starts down and enters
//     the table only when its checks pass, so a full table proves "all healthy" on each side.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Netns, vethPair } from '../../helpers/netns.js';
import { tryRun } from '../../helpers/shell.js';
import { selfSignedCertificate } from '../../helpers/tls.js';
import { waitFor } from '../../helpers/wait.js';
import { eximArgv, ServerPrograms } from '../../netns/checks/servers.js';
import { formatFinding, importKeepalived } from '../../../src/keepalived/import.js';
import { SAMPLE_REFUSALS } from '../../fixtures/keepalived/sample-refusals.js';

// failoverd's side runs what ships (npm run prepare builds it after tsc): it starts in half the
// time of tsc's build in UML (README, "Start-up and footprint"), which is what keeps 17 starts
// within the file's 600 s. A bundle older than tsc's build would test old code: refused below.
const cli = fileURLToPath(new URL('../../../bundle/src/cli.js', import.meta.url));
const tscCli = fileURLToPath(new URL('../../../src/cli.js', import.meta.url));
const samples = fileURLToPath(new URL('../../../../test/fixtures/keepalived/samples/', import.meta.url));
const skip = spawnSync('keepalived', ['--version']).status === 0 ? undefined : 'keepalived is not installed';
const work = mkdtempSync(join(tmpdir(), 'failoverd-uml-ka-samples-'));

interface Sample {
  file: string;
  /** Rules in the healthy table (services and real servers), after `ignore`. */
  rules: number;
  /** Real servers whose checker the import reported as not carried over: left out of the comparison. */
  ignore?: RegExp;
  /** Interfaces the sample's vrrp_instances name, besides eth0. */
  interfaces?: string[];
}

// Every sample in test/fixtures/keepalived/samples with a virtual_server.
const SAMPLES: Sample[] = [
  { file: 'keepalived.conf.HTTP_GET.port', rules: 2 },
  { file: 'keepalived.conf.IPv6', rules: 2 }, // IPv6_group is defined but no virtual_server uses it
  { file: 'keepalived.conf.PING_CHECK', rules: 2 },
  // 172.16.1.11 and .12: each SMTP_CHECK host block is a connect_ip failoverd does not check.
  { file: 'keepalived.conf.SMTP_CHECK', rules: 2, ignore: / -r 172\.16\.1\.1[12]:/ },
  { file: 'keepalived.conf.SSL_GET', rules: 4 },
  { file: 'keepalived.conf.UDP_CHECK', rules: 2 },
  { file: 'keepalived.conf.default', rules: 3 + 5 }, // the sorry server out
  { file: 'keepalived.conf.fwmark', rules: 3 },
  { file: 'keepalived.conf.inhibit', rules: 2 },
  { file: 'keepalived.conf.misc_check', rules: 2 },
  { file: 'keepalived.conf.misc_check_arg', rules: 2 },
  { file: 'keepalived.conf.quorum', rules: 11 },
  { file: 'keepalived.conf.sample', rules: 2 }, // the sorry server out
  { file: 'keepalived.conf.status_code', rules: 2 },
  // 13 services (3 address:port, 192.168.200.3-10 port 80, 2 fwmarks), each with 2 real servers.
  { file: 'keepalived.conf.virtual_server_group', rules: 13 * 3 },
  { file: 'keepalived.conf.virtualhost', rules: 2 },
  { file: 'keepalived.conf.vrrp.lvs_syncd', rules: 2, interfaces: ['eth1'] },
];

/**
 * The refusals that cannot change the IPVS table, with what makes them so here. A connect_ip
 * refusal changes which address is checked, so its real server must be in the sample's `ignore`.
 */
const TABLE_NEUTRAL: RegExp[] = [
  /^real_server \S+ \d+: keepalived would mail this real server's UP and DOWN/, // mail, not the table
  /^auth_type AH: /, // VRRP adverts
  /^vrrp_strict: keepalived runs this instance in no_accept mode/, // firewall rules for the VIPs
  /^VI_\d+: not understood in vrrp_sync_group/, // which VRRP instances fail over together
  /^omega: /, // quorum_down at shutdown
  /^UDP_CHECK: without require_reply/, // silence counts as up in keepalived; our UDP server answers
];
const CONNECT_IP = /^connect_ip \S+: failoverd checks the real server's own address/;

/** failoverd's agents started at once: 17 at once starved UML past minutes (see the header). */
const BATCH = 6;
/**
 * Every wait ends by then (from the file's start), under the file's 600 s: a slow run fails naming the samples not yet
 * healthy (with their tables and failoverd's log) instead of a bare timeout.
 */
const BUDGET_MS = 540_000;
const fileStart = Date.now();

/** The page the test's web server serves at every path, on every port, with or without TLS. */
const PAGE = 'failoverd: keepalived doc/samples table test\n';
const DIGEST = createHash('md5').update(PAGE).digest('hex');

// Where the samples' checks go: each address is on the server namespace's lo.
const REAL_SERVERS = [
  '192.168.201.100',
  '192.168.201.101',
  ...[1, 2, 3, 4, 5, 6].map((i) => `192.168.200.${i}`),
  ...[1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((i) => `10.0.0.${i}`),
  '172.16.1.10',
  '172.16.1.11',
  '172.16.1.12',
];
const REAL_SERVERS_V6 = ['ae00::10'];

const started: ChildProcess[] = [];
const directors: Netns[] = [];
let serverNs: Netns | undefined;
const programs = new ServerPrograms(() => serverNs?.name ?? '');
after(async () => {
  await programs.stopAll();
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const d of directors) killCheckerChild(d);
  for (const d of directors) d.delete();
  serverNs?.delete();
  rmSync(work, { recursive: true, force: true });
});

/** keepalived's checker child outlives a killed parent: its pid file names it. */
function killCheckerChild(d: Netns): void {
  try {
    const pid = Number(readFileSync(join(work, `${d.name}.checkers.pid`), 'utf8').trim());
    if (pid > 1 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('keepalived')) process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/** The sample as both sides get it (see the header). */
function rewritten(text: string, okScript: string): string {
  return text
    .replace(/^(\s*digest\s+)[0-9a-f]{32}/gm, `$1${DIGEST}`)
    .replace(/\/usr\/local\/bin\/script\.sh/g, okScript)
    .replace(/\/usr\/local\/sbin\/quorum-(up|down)\.sh/g, okScript)
    .replace(/^(virtual_server\s[^\n]*\{)[ \t]*$/gm, '$1\n    alpha');
}

/** `ipvsadm -Sn` as a sorted list of rules (the kernel lists services in hash order), less the ignored ones. */
function savedTable(ns: Netns, ignore?: RegExp): string[] {
  return rules(ns.exec('ipvsadm', ['-Sn']), ignore);
}

function rules(saved: string, ignore?: RegExp): string[] {
  return saved
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !ignore?.test(l))
    .sort();
}

/**
 * The listed directors' `ipvsadm -Sn`, read by one shell: a process start per director is slow
 * in UML under load. undefined when the read did not complete (starved past its timeout):
 * that poll counts for nothing.
 */
function savedTables(batch: number[]): string[][] | undefined {
  const script = batch.map((i) => `echo '==='; ip netns exec ${directors[i]!.name} ipvsadm -Sn`).join('; ');
  const r = tryRun('sh', ['-c', script], { timeoutMs: 120_000 });
  if (r.status !== 0) return undefined;
  const parts = r.stdout.split('===\n').slice(1);
  return batch.map((i, n) => rules(parts[n] ?? '', SAMPLES[i]!.ignore));
}

/**
 * The listed directors' tables, once each has its healthy rule count with no real server at
 * weight 0 (with alpha, a real server enters only when its checks pass) and holds it for three reads.
 */
async function healthyTables(side: string, batch: number[], deadline: number, said: (i: number) => string): Promise<string[][]> {
  const last: string[][] = batch.map(() => []);
  const sameReads = batch.map(() => 0);
  const healthy = (n: number): boolean =>
    last[n]!.length === SAMPLES[batch[n]!]!.rules && !last[n]!.some((l) => / -w 0\b/.test(l)) && sameReads[n]! >= 2;
  await waitFor(
    () => {
      const now = savedTables(batch);
      if (!now) return false;
      batch.forEach((_, n) => {
        if (now[n]!.join('\n') === last[n]!.join('\n')) sameReads[n]!++;
        else sameReads[n] = 0;
        last[n] = now[n]!;
      });
      return batch.every((_, n) => healthy(n));
    },
    { what: `${side}: every sample's table healthy`, timeoutMs: Math.max(1000, deadline - Date.now()), stepMs: 2000 },
  ).catch((err: Error) => {
    const notYet = batch.map((i, n) =>
      healthy(n)
        ? ''
        : `\n${SAMPLES[i]!.file} (${last[n]!.length} of ${SAMPLES[i]!.rules} rules, ${sameReads[n]} same reads): ${last[n]!.join(' | ')}${said(i)}`,
    );
    throw new Error(`${err.message}; not yet:${notYet.join('')}`);
  });
  return last;
}

/** "identical (N rules)", or the rules only one side has. */
function comparison(keepalived: string[], failoverd: string[]): string {
  const only = (a: string[], b: string[]) => a.filter((l) => !b.includes(l)).join(' | ') || 'nothing';
  return keepalived.join('\n') === failoverd.join('\n')
    ? `identical (${keepalived.length} rules)`
    : `DIFFERENT: keepalived only ${only(keepalived, failoverd)}; failoverd only ${only(failoverd, keepalived)}`;
}

async function exitOf(p: ChildProcess, timeoutMs: number): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  await Promise.race([new Promise((ok) => p.once('exit', ok)), new Promise((ok) => setTimeout(ok, timeoutMs))]);
}

function startServers(): void {
  serverNs = Netns.create('ka-samples-srv');
  for (const a of REAL_SERVERS) serverNs.ip('addr', 'add', `${a}/32`, 'dev', 'lo');
  for (const a of REAL_SERVERS_V6) serverNs.ip('-6', 'addr', 'add', `${a}/128`, 'dev', 'lo');
  selfSignedCertificate(work, 'www.firewall.loc', ['DNS:www.firewall.loc']);
  // One listener per port takes plain HTTP and TLS alike (by the first byte: 0x16 opens a
  // TLS handshake): 192.168.201.100:80 is HTTP_GET in SSL_GET and SSL_GET in virtualhost.
  // TLS gets a stream that replays the first bytes: on a net.Socket it would read the
  // kernel socket directly and miss them.
  const web = `
const { readFileSync } = require('node:fs');
const { Duplex } = require('node:stream');
const net = require('node:net'), http = require('node:http'), https = require('node:https'), dgram = require('node:dgram');
const page = ${JSON.stringify(PAGE)};
const answer = (req, res) => { res.writeHead(200, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(page), connection: 'close' }); res.end(page); };
const plain = http.createServer(answer);
const tls = https.createServer({ key: readFileSync(${JSON.stringify(join(work, 'key.pem'))}), cert: readFileSync(${JSON.stringify(join(work, 'cert.pem'))}) }, answer);
function replaying(socket, first) {
  const stream = new Duplex({
    read() { socket.resume(); },
    write(chunk, encoding, done) { socket.write(chunk, encoding, done); },
    final(done) { socket.end(); done(); },
    destroy(err, done) { socket.destroy(); done(err); },
  });
  stream.push(first);
  socket.on('data', (chunk) => { if (!stream.push(chunk)) socket.pause(); });
  socket.on('end', () => stream.push(null));
  socket.on('close', () => stream.destroy());
  return stream;
}
for (const port of [80, 443, 444, 1358]) {
  net.createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', (first) => {
      if (first[0] === 0x16) {
        socket.pause();
        tls.emit('connection', replaying(socket, first));
        return;
      }
      socket.pause();
      socket.unshift(first);
      plain.emit('connection', socket);
      socket.resume();
    });
  }).listen({ port, host: '::', ipv6Only: false });
}
const udp = dgram.createSocket('udp4');
udp.on('message', (m, r) => udp.send(m, r.port, r.address));
udp.bind(1358);
`;
  writeFileSync(join(work, 'web.cjs'), web);
  programs.start('web', [process.execPath, join(work, 'web.cjs')]);
  // exim opens its log with its own group: the directories on the way must let it through.
  chmodSync(work, 0o755);
  // Only on the SMTP_CHECK real servers: keepalived's real-server alert mails (smtp_server 192.168.200.1) find no server.
  const smtp = ['172.16.1.10', '172.16.1.11', '172.16.1.12', 'ae00::10'].map((a) => `${a}.25`).join(' ; ');
  programs.start('exim', eximArgv(join(work, 'exim'), [`local_interfaces = <; ${smtp}`, 'tls_advertise_hosts =']));
}

function startDirector(i: number, sample: Sample): Netns {
  const d = Netns.create(`ka-s${i}`);
  directors.push(d);
  vethPair({ ns: d, name: 'eth0' }, { ns: serverNs!, name: `d${i}` });
  d.ip('addr', 'add', `10.7.${i}.1/30`, 'dev', 'eth0');
  serverNs!.ip('addr', 'add', `10.7.${i}.2/30`, 'dev', `d${i}`);
  d.ip('-6', 'addr', 'add', `fd07:${i}::1/64`, 'dev', 'eth0', 'nodad');
  serverNs!.ip('-6', 'addr', 'add', `fd07:${i}::2/64`, 'dev', `d${i}`, 'nodad');
  d.ip('route', 'add', 'default', 'via', `10.7.${i}.2`);
  d.ip('-6', 'route', 'add', 'default', 'via', `fd07:${i}::2`);
  for (const [n, name] of (sample.interfaces ?? []).entries()) {
    vethPair({ ns: d, name }, { ns: d, name: `${name}p` });
    d.ip('addr', 'add', `10.8.${i}.${n + 1}/24`, 'dev', name);
  }
  return d;
}

test('the table test covers every sample with a virtual_server', { skip }, () => {
  const withVs = readdirSync(samples)
    .filter((f) => /^virtual_server\s/m.test(readFileSync(`${samples}${f}`, 'utf8')))
    .sort();
  assert.deepEqual(
    SAMPLES.map((s) => s.file),
    withVs,
  );
});

test(
  "keepalived's doc/samples: keepalived and failoverd build the same IPVS table, every real server healthy",
  { skip, timeout: 590_000 }, // BUDGET_MS for the waits, the rest for starting and stopping
  async () => {
    const deadline = fileStart + BUDGET_MS;
    assert.ok(
      existsSync(cli) && statSync(cli).mtimeMs >= statSync(tscCli).mtimeMs,
      `${cli} is missing or older than tsc's build: run "npm run prepare" (or node packaging/bundle.mjs after tsc)`,
    );
    const okScript = join(work, 'ok.sh');
    writeFileSync(okScript, '#!/bin/sh\nexit 0\n');
    chmodSync(okScript, 0o755);
    startServers();

    const inputs: string[] = [];
    const imports: string[] = [];
    for (const [i, s] of SAMPLES.entries()) {
      // The refusal on the sample as keepalived ships it.
      const original = importKeepalived(readFileSync(`${samples}${s.file}`, 'utf8'), s.file, { instance: 'director-b' });
      assert.deepEqual(
        original.lossy.map((f) => `${f.file}:${f.line}`),
        (SAMPLE_REFUSALS[s.file] ?? []).map((line) => `${s.file}:${line}`),
        s.file,
      );
      for (const f of original.lossy) {
        const neutral = TABLE_NEUTRAL.some((re) => re.test(f.message)) || (CONNECT_IP.test(f.message) && s.ignore !== undefined);
        assert.ok(neutral, `${formatFinding(f)}: not known to leave the table alone; the comparison would not be whole`);
      }
      if (original.lossy.length) {
        process.stdout.write(
          `# ${s.file}: refused at ${original.lossy.map((f) => f.line).join(', ')}; compared as --allow-partial --force writes it\n`,
        );
      }

      const input = join(work, s.file);
      writeFileSync(input, rewritten(readFileSync(`${samples}${s.file}`, 'utf8'), okScript));
      inputs.push(input);
      const r = importKeepalived(readFileSync(input, 'utf8'), s.file, { instance: 'director-b' });
      // The rewrite adds no refusal and takes none away (the added alpha lines shift the lines).
      assert.deepEqual(
        r.lossy.map((f) => f.message),
        original.lossy.map((f) => f.message),
        s.file,
      );
      // What --allow-partial --force writes: the YAML with a NOT CARRIED OVER comment at each lossy spot.
      assert.equal((r.yaml.match(/# NOT CARRIED OVER: /g) ?? []).length, original.lossy.length, s.file);
      const output = join(work, `${s.file}.yaml`);
      writeFileSync(output, `${r.yaml}api:\n  listen: ${join(work, `${s.file}.sock`)}\n  metrics: false\n`);
      imports.push(output);
      startDirector(i, s);
    }
    const all = SAMPLES.map((_, i) => i);

    const keepaliveds = all.map((i) => {
      const d = directors[i]!;
      const p = spawn(
        'ip',
        ['netns', 'exec', d.name, 'keepalived', '-n', '-l', '-D', '--check', '-f', inputs[i]!].concat([
          '-p',
          join(work, `${d.name}.pid`),
          '-c',
          join(work, `${d.name}.checkers.pid`),
        ]),
        { stdio: ['ignore', 'ignore', 'ignore'] },
      );
      started.push(p);
      return p;
    });
    const keepalivedFrom = Date.now();
    const fromKeepalived = await healthyTables('keepalived', all, deadline, () => '');
    const keepalivedMs = Date.now() - keepalivedFrom;
    process.stdout.write(`# keepalived: all ${SAMPLES.length} tables healthy in ${keepalivedMs} ms\n`);
    for (const p of keepaliveds) p.kill('SIGTERM');
    for (const p of keepaliveds) await exitOf(p, 15_000);
    for (const d of directors) {
      killCheckerChild(d);
      d.exec('ipvsadm', ['-C']);
      assert.deepEqual(savedTable(d), []);
    }

    const fromFailoverd: string[][] = [];
    const batchMs: number[] = [];
    for (let first = 0; first < SAMPLES.length; first += BATCH) {
      const batch = all.slice(first, first + BATCH);
      const logs = new Map<number, string>();
      const agents = batch.map((i) => {
        const p = spawn('ip', ['netns', 'exec', directors[i]!.name, process.execPath, cli, 'run', '--config', imports[i]!], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        started.push(p);
        const keep = (d: Buffer) => logs.set(i, ((logs.get(i) ?? '') + d.toString()).slice(-3000));
        p.stdout.on('data', keep);
        p.stderr.on('data', keep);
        return p;
      });
      const from = Date.now();
      const tables = await healthyTables(`failoverd (samples ${first + 1}-${first + batch.length})`, batch, deadline, (i) => {
        return `\n  failoverd said: ${(logs.get(i) ?? '').slice(-1500)}`;
      });
      batchMs.push(Date.now() - from);
      process.stdout.write(`# failoverd: samples ${first + 1}-${first + batch.length} healthy in ${batchMs.at(-1)} ms\n`);
      fromFailoverd.push(...tables);
      // Said as each batch ends, so that a later batch's timeout does not hide what this one found.
      batch.forEach((i, n) => process.stdout.write(`# ${SAMPLES[i]!.file}: ${comparison(fromKeepalived[i]!, tables[n]!)}\n`));
      for (const p of agents) p.kill('SIGTERM');
      for (const p of agents) await exitOf(p, 15_000);
    }

    process.stdout.write(
      `# ${SAMPLES.length} samples, ${fromKeepalived.flat().length} rules: healthy from keepalived in ${keepalivedMs} ms (all at once), ` +
        `from failoverd in ${batchMs.join(' + ')} ms (batches of ${BATCH}; each including three unchanged reads)\n`,
    );
    SAMPLES.forEach((s, i) => {
      // Not vacuous: a service and at least one real server on keepalived's side.
      assert.ok(fromKeepalived[i]!.some((l) => /^-A /.test(l)) && fromKeepalived[i]!.some((l) => /^-a /.test(l)), s.file);
      assert.deepEqual(fromFailoverd[i], fromKeepalived[i], s.file);
    });
  },
);
