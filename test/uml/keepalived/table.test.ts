// The IPVS table after the migration: keepalived (checker only) builds its table from
// a keepalived.conf, then failoverd builds its table from the import of the same file,
// in the same kernel one after the other. With every real server healthy, `ipvsadm -Sn`
// of both must be identical (the import reported nothing as not carried over). checks.conf's
// real servers are healthy only by their checkers (PING, UDP, DNS, SMTP) passing.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Netns } from '../../helpers/netns.js';
import { waitFor } from '../../helpers/wait.js';
import { dnsmasqArgv, eximArgv, ServerPrograms } from '../../netns/checks/servers.js';

const cli = fileURLToPath(new URL('../../../src/cli.js', import.meta.url));
const fixtures = fileURLToPath(new URL('../../../../test/fixtures/keepalived/table/', import.meta.url));
const skip = spawnSync('keepalived', ['--version']).status === 0 ? undefined : 'keepalived is not installed';
const work = mkdtempSync(join(tmpdir(), 'failoverd-uml-ka-table-'));
const started: ChildProcess[] = [];
let director: Netns | undefined;
const programs = new ServerPrograms(() => director?.name ?? '');
after(async () => {
  await programs.stopAll();
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  // keepalived's checker child outlives a killed parent: its pid file names it.
  try {
    const pid = Number(readFileSync(join(work, 'checkers.pid'), 'utf8').trim());
    if (pid > 1 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('keepalived')) process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  director?.delete();
  rmSync(work, { recursive: true, force: true });
});

/** `ipvsadm -Sn` as a sorted list of rules: the kernel lists services in hash order. */
function savedTable(ns: Netns): string[] {
  return ns
    .exec('ipvsadm', ['-Sn'])
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .sort();
}

async function stableTable(ns: Netns, rules: number, what: string): Promise<string[]> {
  let last: string[] = [];
  // Settled: the same table on ten reads in a row (one every 250 ms), counted rather than timed.
  let sameReads = 0;
  await waitFor(
    () => {
      const now = savedTable(ns);
      if (now.join('\n') !== last.join('\n')) {
        last = now;
        sameReads = 0;
      } else sameReads++;
      return now.length >= rules && sameReads >= 10;
    },
    { what: `${what}: ${rules} rules, the same on ten reads in a row`, timeoutMs: 150_000, stepMs: 250 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; the table: ${last.join(' | ')}`);
  });
  return last;
}

async function exitOf(p: ChildProcess, timeoutMs: number): Promise<void> {
  await Promise.race([new Promise((ok) => p.once('exit', ok)), new Promise((ok) => setTimeout(ok, timeoutMs))]);
}

/** The servers checks.conf's checkers probe, on addresses of the director's own namespace. */
function startCheckedServers(ns: Netns): void {
  for (const a of ['10.6.2.201', '10.6.2.202', '10.6.2.203', '10.6.2.204']) ns.ip('addr', 'add', `${a}/24`, 'dev', 'eth0p');
  // One socket answers every probe: socat's fork mode left some of keepalived's probes unanswered here.
  const echo =
    "const s = require('node:dgram').createSocket('udp4'); s.on('message', (m, r) => s.send(m, r.port, r.address)); s.bind(7001, '10.6.2.202');";
  ns.spawn(process.execPath, ['-e', echo]);
  programs.start('dnsmasq', dnsmasqArgv('10.6.2.203', join(work, 'dnsmasq.pid'), ['--host-record=web.failoverd.test,10.1.2.3']));
  // exim opens its log with its own group: the directories on the way must let it through.
  chmodSync(work, 0o755);
  programs.start('exim', eximArgv(join(work, 'exim'), ['local_interfaces = <; 10.6.2.204.25', 'tls_advertise_hosts =']));
}

const CASES = [
  // WEB_TLS: 5 kernel services + 3 services + WEB_DR: 7 kernel services;
  // 2 + 5*2 + 2 + 1 real servers, and WEB_DR's 2 real servers and sorry server (weight 0) in each of its 7.
  { file: 'lvs.conf', rules: 8 + 15 + 7 + 7 * 3 },
  // PING_CHECK, UDP_CHECK, DNS_CHECK, SMTP_CHECK: 4 services, 4 real servers, each added only once its check passed.
  { file: 'checks.conf', rules: 4 + 4, servers: startCheckedServers, timeouts: 'Timeout (tcp tcpfin udp): 1000 30 120' },
];

for (const { file, rules, servers, timeouts } of CASES) {
  test(`keepalived and failoverd build the same IPVS table from ${file} and its import`, { skip, timeout: 420_000 }, async () => {
    director = Netns.create('ka-table');
    director.ip('link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p');
    director.ip('addr', 'add', '10.6.2.190/24', 'dev', 'eth0');
    director.ip('link', 'set', 'eth0', 'up');
    director.ip('link', 'set', 'eth0p', 'up');
    servers?.(director);
    const conf = `${fixtures}${file}`;

    const imported = join(work, `${file}.yaml`);
    const r = spawnSync(process.execPath, [cli, 'import-keepalived', conf, '--output', imported], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /NOT CARRIED OVER/);

    const keepalived = spawn(
      'ip',
      [
        'netns',
        'exec',
        director.name,
        'keepalived',
        '-n',
        '-l',
        '-D',
        '--check',
        '-f',
        conf,
        '-p',
        join(work, 'keepalived.pid'),
        '-c',
        join(work, 'checkers.pid'),
      ],
      { stdio: ['ignore', 'ignore', 'ignore'] },
    );
    started.push(keepalived);
    const keepalivedFrom = Date.now();
    const fromKeepalived = await stableTable(director, rules, 'keepalived');
    const keepalivedMs = Date.now() - keepalivedFrom;
    const timeoutsFromKeepalived = director.exec('ipvsadm', ['-L', '--timeout']).trim();
    keepalived.kill('SIGTERM');
    await exitOf(keepalived, 15_000);
    director.exec('ipvsadm', ['-C']);
    assert.deepEqual(savedTable(director), []);
    // The kernel's defaults again (tcp 900, tcpfin 120, udp 300), so failoverd has to set lvs_timeouts itself.
    director.exec('ipvsadm', ['--set', '900', '120', '300']);

    writeFileSync(imported, `${readFileSync(imported, 'utf8')}api:\n  listen: ${join(work, `${file}.sock`)}\n  metrics: false\n`);
    const agent = spawn('ip', ['netns', 'exec', director.name, process.execPath, cli, 'run', '--config', imported], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    started.push(agent);
    let agentLog = '';
    agent.stderr.on('data', (d: Buffer) => {
      agentLog = (agentLog + d.toString()).slice(-3000);
    });
    const failoverdFrom = Date.now();
    const fromFailoverd = await stableTable(director, rules, 'failoverd').catch((err: Error) => {
      throw new Error(`${err.message}; failoverd said: ${agentLog.slice(-1500)}`);
    });
    const timeoutsFromFailoverd = director.exec('ipvsadm', ['-L', '--timeout']).trim();
    agent.kill('SIGTERM');
    await exitOf(agent, 15_000);

    const failoverdMs = Date.now() - failoverdFrom;
    process.stdout.write(
      `# ${fromKeepalived.length} rules from keepalived in ${keepalivedMs} ms, ` +
        `${fromFailoverd.length} from failoverd in ${failoverdMs} ms (each including ten unchanged reads)\n`,
    );
    assert.deepEqual(fromFailoverd, fromKeepalived);
    // lvs_timeouts: keepalived set them, and failoverd set them again after the reset.
    if (timeouts) assert.equal(timeoutsFromKeepalived, timeouts);
    assert.equal(timeoutsFromFailoverd, timeoutsFromKeepalived);
    await programs.stopAll();
    director.delete();
    director = undefined;
  });
}
