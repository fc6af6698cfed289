// Issue 13, on the wire: `failoverd status resign` and `force-backup` move the VIP to a
// real keepalived 2.2.x peer configured `nopreempt`. A lowered priority alone never
// does (a master does not step down for its own priority, and a nopreempt backup does
// not preempt); the master must resign with a priority-0 advert. Director A runs
// `failoverd run` (priority 150, preempt: false), director B keepalived (priority 100,
// nopreempt). Checked independently: keepalived's own "Entering MASTER STATE", the VIP
// as `ip addr` shows it in each namespace, and the adverts tcpdump saw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../../helpers/wait.js';
import { canRunNetns, Lab, type RouterProcess } from '../vrrp/lab.js';
import { AgentProcess, CLI } from '../robustness/agent-process.js';

const skip = canRunNetns() ?? (spawnSync('keepalived', ['--version']).status === 0 ? undefined : 'keepalived is not installed');
const A = '192.0.2.1';
const B = '192.0.2.2';
const VIP = '192.0.2.195';
const INTERVAL_MS = 1000;

/** The one bounded wait (test/helpers/wait.ts), in this file's argument order. */
const until = (what: string, timeoutMs: number, predicate: () => boolean | Promise<boolean>): Promise<void> =>
  waitFor(predicate, { what, timeoutMs, stepMs: 50 });

/** `failoverd status ARGS --socket SOCK`, as an operator runs it. */
function cli(args: string[], socket: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'status', ...args, '--socket', socket], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const keepalivedState = (r: RouterProcess): string | undefined => r.events.filter((e) => e.event === 'state').at(-1)?.to;

test('resign and force-backup move the VIP to a keepalived peer with nopreempt', { skip, timeout: 150_000 }, async () => {
  const lab = new Lab('kadm');
  let agent: AgentProcess | undefined;
  try {
    lab.setup([
      { name: 'a', ipv4: A },
      { name: 'b', ipv4: B },
    ]);
    const observer = await lab.observe();
    const socket = join(lab.work, 'a.sock');
    const config = join(lab.work, 'a.yaml');
    writeFileSync(
      config,
      `node: { name: lvs-a }
vrrp:
  - name: web
    interface: eth0
    vrid: 51
    version: 2
    priority: 150
    advert_interval: 1s
    preempt: false
    vips: [${VIP}/32]
services: []
api: { listen: ${socket}, metrics: false }
logging: { format: json }
`,
    );
    const keepalivedBody = `  state BACKUP\n  nopreempt\n  virtual_router_id 51\n  priority 100\n  advert_int 1\n  virtual_ipaddress {\n    ${VIP}/32\n  }`;
    const holds = (node: 'a' | 'b'): boolean => lab.addresses(node).includes(VIP);
    const downMs = 4 * INTERVAL_MS + 6000; // master-down interval, skew and a process start on a busy machine

    // A alone becomes master; then keepalived on B starts as a nopreempt backup.
    agent = AgentProcess.start(lab.node('a').ns, config, socket, {}, 'info');
    await agent.waitForState('web', 'MASTER', 15_000 + downMs);
    let k = lab.keepalived('b', 'VI_WEB', keepalivedBody);
    await until('keepalived on B in BACKUP', downMs, () => keepalivedState(k) === 'backup');
    await new Promise((r) => setTimeout(r, 3 * INTERVAL_MS));
    assert.ok(holds('a') && !holds('b'), 'A holds the VIP, B does not');
    assert.equal(keepalivedState(k), 'backup', 'nopreempt keepalived (lower priority) stays BACKUP');

    // 1. resign: one priority-0 advert; keepalived takes over after its skew time.
    const resignAt = Date.now();
    const resigned = await cli(['resign', 'web'], socket);
    assert.equal(resigned.code, 0, resigned.stderr);
    assert.match(resigned.stdout, /web resigned: MASTER -> BACKUP/);
    await until('keepalived MASTER after resign', downMs, () => keepalivedState(k) === 'master');
    await until('the VIP on B only', downMs, () => holds('b') && !holds('a'));
    const resignTakeoverMs = Date.now() - resignAt;
    await new Promise((r) => setTimeout(r, 4 * INTERVAL_MS));
    assert.equal((await agent.states()).web, 'BACKUP', 'A (preempt: false) stays BACKUP under the normal rules');
    assert.ok(holds('b') && !holds('a'), 'the VIP stays on B');
    assert.ok(
      observer.adverts(51).some((e) => e.source === A && e.priority === 0 && e.t >= resignAt - 1000),
      'A sent priority 0',
    );

    // A graceful stop of keepalived (priority 0) gives the VIP back to A; keepalived comes back as BACKUP.
    k.kill('SIGTERM');
    await Promise.race([k.exited, new Promise((r) => setTimeout(r, 10_000))]);
    await agent.waitForState('web', 'MASTER', downMs);
    await until('the VIP on A only', downMs, () => holds('a') && !holds('b'));
    k = lab.keepalived('b', 'VI_WEB', keepalivedBody);
    await until('keepalived on B in BACKUP again', downMs, () => keepalivedState(k) === 'backup');
    await new Promise((r) => setTimeout(r, 2 * INTERVAL_MS));

    // 2. force-backup: resigns, then holds priority 1 while keepalived keeps the VIP.
    const forceAt = Date.now();
    const forced = await cli(['force-backup', 'web', '--for', '60s'], socket);
    assert.equal(forced.code, 0, forced.stderr);
    await until('keepalived MASTER after force-backup', downMs, () => keepalivedState(k) === 'master');
    await until('the VIP on B only', downMs, () => holds('b') && !holds('a'));
    const forceTakeoverMs = Date.now() - forceAt;
    const status = (await agent.status()).instances[0]!;
    assert.deepEqual([status.state, status.effectivePriority, status.master], ['BACKUP', 1, B]);
    assert.ok(status.forcedBackupUntil !== undefined);
    const afterForce = observer
      .adverts(51)
      .filter((e) => e.source === A && e.t >= forceAt - 1000)
      .map((e) => e.priority);
    assert.ok(afterForce.includes(0), `A resigned with priority 0 (A sent ${afterForce.join(',')})`);

    const released = await cli(['release', 'web'], socket);
    assert.equal(released.code, 0, released.stderr);
    await new Promise((r) => setTimeout(r, 4 * INTERVAL_MS));
    assert.equal((await agent.status()).instances[0]?.effectivePriority, 150, 'released: the configured priority is back');
    assert.ok(holds('b') && !holds('a'), 'with preempt: false on A the VIP stays on B after the release');
    process.stdout.write(
      `# keepalived nopreempt took the VIP ${resignTakeoverMs} ms after resign, ${forceTakeoverMs} ms after force-backup (advert interval ${INTERVAL_MS} ms, CLI start included)\n`,
    );
  } finally {
    await agent?.stop();
    await lab.cleanup();
  }
});
