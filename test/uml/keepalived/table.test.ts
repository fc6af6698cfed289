// The IPVS table after the migration: keepalived (checker only) builds its table from
// a keepalived.conf, then failoverd builds its table from the import of the same file,
// in the same kernel one after the other. With every real server healthy, `ipvsadm -Sn`
// of both must be identical (the import reported nothing as not carried over).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Netns } from '../../helpers/netns.js';
import { waitFor } from '../../helpers/wait.js';

const cli = fileURLToPath(new URL('../../../src/cli.js', import.meta.url));
const fixtures = fileURLToPath(new URL('../../../../test/fixtures/keepalived/table/', import.meta.url));
const skip = spawnSync('keepalived', ['--version']).status === 0 ? undefined : 'keepalived is not installed';
const work = mkdtempSync(join(tmpdir(), 'failoverd-uml-ka-table-'));
const started: ChildProcess[] = [];
let director: Netns | undefined;
after(() => {
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

test('keepalived and failoverd build the same IPVS table from lvs.conf and its import', { skip, timeout: 420_000 }, async () => {
  director = Netns.create('ka-table');
  director.ip('link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p');
  director.ip('addr', 'add', '10.6.2.190/24', 'dev', 'eth0');
  director.ip('link', 'set', 'eth0', 'up');
  director.ip('link', 'set', 'eth0p', 'up');
  const conf = `${fixtures}lvs.conf`;
  // WEB_TLS: 5 kernel services + 3 services + WEB_DR: 7 kernel services;
  // 2 + 5*2 + 2 + 1 real servers, and WEB_DR's 2 real servers and sorry server (weight 0) in each of its 7.
  const rules = 8 + 15 + 7 + 7 * 3;

  const imported = join(work, 'failoverd.yaml');
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
  keepalived.kill('SIGTERM');
  await exitOf(keepalived, 15_000);
  director.exec('ipvsadm', ['-C']);
  assert.deepEqual(savedTable(director), []);

  writeFileSync(imported, `${readFileSync(imported, 'utf8')}api:\n  listen: ${join(work, 'api.sock')}\n  metrics: false\n`);
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
  agent.kill('SIGTERM');
  await exitOf(agent, 15_000);

  const failoverdMs = Date.now() - failoverdFrom;
  process.stdout.write(
    `# ${fromKeepalived.length} rules from keepalived in ${keepalivedMs} ms, ` +
      `${fromFailoverd.length} from failoverd in ${failoverdMs} ms (each including ten unchanged reads)\n`,
  );
  assert.deepEqual(fromFailoverd, fromKeepalived);
});
