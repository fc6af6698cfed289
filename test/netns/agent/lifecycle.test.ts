// The agent as an operator runs it (`failoverd run` in a network namespace), with
// a VRRP-only config (the host kernel has no IPVS; the UML tier covers services):
// systemd notifications, election, status API, SIGHUP with an invalid and with a
// changed config, SIGTERM resigning with priority 0 seen on the wire.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DatagramSocket } from '../../../src/net/socket.js';
import { AF_UNIX, SOCK_DGRAM } from '../../../src/net/constants.js';
import { sockaddrUnix } from '../../../src/net/sockaddr.js';
import { Lab } from '../vrrp/lab.js';
import { waitFor } from '../../helpers/wait.js';

// The CLI compiled beside this test (dist/ or a private outDir), not always dist/.
const cli = fileURLToPath(new URL('../../../src/cli.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'failoverd-agent-'));
const lab = new Lab('ag');
after(async () => {
  await lab.cleanup();
  rmSync(work, { recursive: true, force: true });
});

/** Runs the CLI without blocking this process's loop. */
function runCli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

function config(priority: number, extra = '', socket = join(work, 'api.sock')): string {
  return `node: { name: lvs-a }
vrrp:
  - name: web
    interface: eth0
    vrid: 51
    priority: ${priority}
    version: 3
    advert_interval: 100ms
    vips: [10.6.2.195/32]
    garp: { count: 2, interval: 50ms }
${extra}services: []
api: { listen: ${socket}, metrics: 127.0.0.1:9595 }
logging: { format: json }
`;
}

test('failoverd run: READY and WATCHDOG to NOTIFY_SOCKET, MASTER with the VIP, reloads, resigns on SIGTERM', async () => {
  lab.setup([{ name: 'dir', ipv4: '192.0.2.10' }]);
  const observer = await lab.observe();
  const configPath = join(work, 'failoverd.yaml');
  writeFileSync(configPath, config(150));

  const notifyPath = join(work, 'notify.sock');
  const notify = new DatagramSocket(AF_UNIX, SOCK_DGRAM, 0).bind(sockaddrUnix(notifyPath));
  const notes: { text: string }[] = [];
  notify.on('message', (m) => notes.push({ text: m.data.toString() })).receive();
  after(() => notify.close());

  const agent: ChildProcess = spawn('ip', ['netns', 'exec', lab.node('dir').ns, process.execPath, cli, 'run', '--config', configPath], {
    env: { ...process.env, NOTIFY_SOCKET: notifyPath, WATCHDOG_USEC: '400000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  createInterface({ input: agent.stderr! }).on('line', (line) => {
    try {
      logs.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      logs.push({ msg: line });
    }
  });
  const exited = new Promise<number | null>((r) => agent.on('exit', (code) => r(code)));
  after(() => {
    if (agent.exitCode === null) agent.kill('SIGKILL');
  });

  await waitFor(() => notes.some((n) => n.text.split('\n').includes('READY=1')), { what: 'READY=1', timeoutMs: 10_000 });
  await waitFor(() => notes.filter((n) => n.text === 'WATCHDOG=1').length >= 3, { what: 'three WATCHDOG=1 pings', timeoutMs: 5_000 });
  // The pings' spacing (WATCHDOG_USEC/2) is reported by bench/agent/watchdog.ts; the interval
  // the agent derives from WATCHDOG_USEC is unit-tested (test/unit/systemd/notify.test.ts).

  await waitFor(() => lab.addresses('dir').includes('10.6.2.195'), { what: 'the VIP on eth0 (MASTER)', timeoutMs: 5_000 });
  await waitFor(() => observer.announcements().some((a) => a.address === '10.6.2.195'), {
    what: 'a gratuitous ARP for the VIP',
    timeoutMs: 3_000,
  });

  let socket = join(work, 'api.sock');
  // Asynchronous: a test loop blocked in spawnSync stops reading NOTIFY_SOCKET, its queue
  // (net.unix.max_dgram_qlen) fills with WATCHDOG=1, and the agent's next notification is dropped.
  type Status = {
    instances: { name: string; state: string; priority: number; effectivePriority: number }[];
    config: { generation: number };
  };
  const status = async (): Promise<Status> => {
    const r = await runCli(['status', '--socket', socket, '--json']);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as Status;
  };
  assert.equal((await status()).instances[0]!.state, 'MASTER');

  // The agent's own Prometheus endpoint, scraped from inside its namespace.
  const scrape = spawnSync(
    'ip',
    [
      'netns',
      'exec',
      lab.node('dir').ns,
      process.execPath,
      '-e',
      "fetch('http://127.0.0.1:9595/metrics').then(async (r) => process.stdout.write(await r.text()), (e) => { console.error(e); process.exit(1); })",
    ],
    { encoding: 'utf8' },
  );
  assert.equal(scrape.status, 0, scrape.stderr);
  assert.match(scrape.stdout, /^failoverd_vrrp_state\{instance="web",state="MASTER"\} 1$/m);
  assert.match(scrape.stdout, /^failoverd_vrrp_priority\{instance="web"\} 150$/m);
  const sent = /^failoverd_vrrp_adverts_sent_total\{instance="web"\} (\d+)$/m.exec(scrape.stdout);
  assert.ok(sent && Number(sent[1]) > 0, 'adverts sent are counted');
  assert.match(scrape.stdout, /^nodejs_eventloop_lag_seconds /m);
  const masterSince = observer.adverts(51).filter((a) => a.priority === 150).length;

  // An invalid config on reload: logged, the running one stays.
  writeFileSync(configPath, config(150).replace('vrid: 51', 'vrid: 510'));
  agent.kill('SIGHUP');
  await waitFor(() => logs.some((l) => String(l['msg']).includes('vrrp[0].vrid')), {
    what: 'the rejection naming vrrp[0].vrid',
    timeoutMs: 5_000,
  });
  assert.equal((await status()).config.generation, 1);
  assert.equal((await status()).instances[0]!.state, 'MASTER');
  assert.equal(agent.exitCode, null, 'still running');

  // A valid change: applied in place, no state change.
  writeFileSync(configPath, config(140));
  agent.kill('SIGHUP');
  await waitFor(async () => (await status()).config.generation === 2, { what: 'generation 2', timeoutMs: 5_000 });
  const after2 = (await status()).instances[0]!;
  assert.equal(after2.priority, 140);
  assert.equal(after2.state, 'MASTER');
  await waitFor(() => observer.adverts(51).some((a) => a.priority === 140), { what: 'adverts at priority 140', timeoutMs: 2_000 });
  assert.ok(observer.adverts(51).filter((a) => a.priority === 150).length >= masterSince);
  await waitFor(() => notes.some((n) => n.text.startsWith('RELOADING=1')), {
    what: 'RELOADING=1',
    timeoutMs: 5_000,
    detail: () => `got: ${[...new Set(notes.map((n) => n.text.split('\n')[0]))].join(', ')} (${notes.length})`,
  });
  assert.ok(
    logs.some((l) => /^vrrp web: backup -> master/.test(String(l['msg']))),
    'the election is logged',
  );
  assert.ok(!logs.some((l) => /^vrrp web: master ->/.test(String(l['msg']))), 'no state change on reload');

  // The status API moves to a new socket on reload; the old one is gone.
  const oldSocket = socket;
  const movedSocket = join(work, 'moved', 'api.sock');
  mkdirSync(join(work, 'moved'));
  writeFileSync(configPath, config(140, '', movedSocket));
  agent.kill('SIGHUP');
  socket = movedSocket;
  await waitFor(async () => existsSync(movedSocket) && (await runCli(['status', '--socket', movedSocket, '--json'])).status === 0, {
    what: 'the API on the new socket',
    timeoutMs: 5_000,
  });
  assert.equal((await status()).config.generation, 3);
  assert.equal((await status()).instances[0]!.state, 'MASTER');
  assert.ok(!existsSync(oldSocket), 'the old socket file is removed');
  // A socket path that cannot be bound: the reload is rejected and the API stays where it was.
  writeFileSync(configPath, config(130, '', join(configPath, 'api.sock'))); // under a regular file: ENOTDIR
  agent.kill('SIGHUP');
  await waitFor(() => logs.some((l) => String(l['msg']).includes(': api: ')), { what: 'the rejection naming the api', timeoutMs: 5_000 });
  assert.equal((await status()).config.generation, 3, 'the running config stays');
  assert.equal((await status()).instances[0]!.priority, 140);

  agent.kill('SIGTERM');
  assert.equal(await exited, 0);
  await waitFor(() => observer.adverts(51).some((a) => a.priority === 0), { what: 'the priority-0 advert', timeoutMs: 2_000 });
  assert.ok(!lab.addresses('dir').includes('10.6.2.195'), 'VIP removed on stop');
  // The datagram was sent before the exit; its delivery to this socket may come after.
  await waitFor(() => notes.some((n) => n.text.startsWith('STOPPING=1')), {
    what: 'STOPPING=1',
    timeoutMs: 5_000,
    detail: () => `got: ${[...new Set(notes.map((n) => n.text.split('\n')[0]))].join(', ')} (${notes.length})`,
  });
});
