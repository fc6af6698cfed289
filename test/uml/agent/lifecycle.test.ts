// The agent's lifecycle in a kernel with IPVS, checked with ipvsadm and tcpdump:
// start programs the table; an invalid reload changes nothing; a valid reload
// applies only its difference (edits in place: the kernel's per-destination
// counters survive, which a delete + re-add would reset); kill -9 and restart
// re-creates nothing; SIGTERM resigns (priority 0 on the wire) and drops the VIP
// while the IPVS entries stay (on_stop: keep).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { directorAndClient } from '../../helpers/netns.js';
import { destinationConnections, parseIpvsadmList, type IpvsadmService } from '../../helpers/ipvsadm.js';
import { waitFor } from '../../helpers/wait.js';

// The CLI compiled beside this test (dist/ or a private outDir), not always dist/.
const cli = fileURLToPath(new URL('../../../src/cli.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'failoverd-uml-agent-'));
const { director: dir, client } = directorAndClient('fo-agent');
const agents: ChildProcess[] = [];
after(() => {
  for (const a of agents) if (a.exitCode === null && a.signalCode === null) a.kill('SIGKILL');
  dir.delete();
  client.delete();
  rmSync(work, { recursive: true, force: true });
});

const configPath = join(work, 'failoverd.yaml');
const apiSocket = join(work, 'api.sock');

function config(realServers: string, extra = ''): string {
  return `node: { name: lvs-a }
vrrp:
  - name: web
    interface: eth0
    vrid: 51
    priority: 150
    advert_interval: 100ms
    vips: [10.6.2.195/32]
services:
  - name: web-80
    vip: 10.6.2.195
    port: 80
    scheduler: rr
    forwarding: dr
    real_servers:
${realServers}
${extra}api: { listen: ${apiSocket}, metrics: false }
logging: { format: json }
`;
}
const twoServers = '      - { address: 10.6.2.191, weight: 1 }\n      - { address: 10.6.2.192, weight: 1 }';

function startAgent(): { proc: ChildProcess; logs: string[]; exited: Promise<number | null> } {
  const proc = spawn('ip', ['netns', 'exec', dir.name, process.execPath, cli, 'run', '--config', configPath], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  agents.push(proc);
  const logs: string[] = [];
  createInterface({ input: proc.stderr }).on('line', (l) => logs.push(l));
  return { proc, logs, exited: new Promise((r) => proc.on('exit', (code) => r(code))) };
}

const table = (): IpvsadmService[] => parseIpvsadmList(dir.exec('ipvsadm', ['-Ln']));
const stats = (): Map<string, number> => destinationConnections(dir.exec('ipvsadm', ['-Ln', '--stats']));
const layout = (services: IpvsadmService[]): string[] =>
  services.flatMap((s) => [
    `${s.protocol} ${s.id} ${s.scheduler}`,
    ...s.destinations.map((d) => `  ${d.id} ${d.columns.slice(0, 2).join(' ')}`),
  ]);
const hasVip = (): boolean =>
  dir.ipJson<{ addr_info: { local: string }[] }[]>('addr', 'show', 'dev', 'eth0')[0]!.addr_info.some((a) => a.local === '10.6.2.195');

/** SYNs from the client to the VIP: IPVS schedules each one (the real servers need not exist for the counters). */
function sendConnections(count: number): void {
  client.exec(
    process.execPath,
    [
      '-e',
      `
    const net = require('node:net');
    let left = ${count};
    for (let i = 0; i < ${count}; i++) {
      const s = net.connect({ host: '10.6.2.195', port: 80 });
      s.on('error', () => {});
      setTimeout(() => { s.destroy(); if (--left === 0) process.exit(0); }, 300);
    }`,
    ],
    { timeoutMs: 10_000 },
  );
}

test('start, reload (invalid, then changed), kill -9 + restart, SIGTERM: the live table is never re-created', async () => {
  writeFileSync(configPath, config(twoServers));
  const first = startAgent();
  await waitFor(() => table().length === 1 && table()[0]!.destinations.length === 2, {
    what: 'web-80 with two real servers in ipvsadm',
    timeoutMs: 60_000,
    stepMs: 100,
  });
  assert.deepEqual(layout(table()), ['TCP 10.6.2.195:80 rr', '  10.6.2.191:80 Route 1', '  10.6.2.192:80 Route 1']);
  await waitFor(hasVip, { what: 'the VIP on the director (MASTER)', timeoutMs: 30_000, stepMs: 50 });

  sendConnections(6);
  await waitFor(() => [...stats().values()].every((c) => c >= 3), {
    what: 'connections counted on both real servers',
    timeoutMs: 30_000,
    stepMs: 200,
  });
  const before = stats();

  // Invalid reload: nothing changes, the agent keeps running.
  writeFileSync(configPath, config(twoServers).replace('scheduler: rr', 'scheduler: rrr'));
  first.proc.kill('SIGHUP');
  await waitFor(() => first.logs.some((l) => l.includes('services[0].scheduler')), {
    what: 'the rejection in the log',
    timeoutMs: 30_000,
    stepMs: 50,
  });
  assert.equal(first.proc.exitCode, null);
  assert.deepEqual(layout(table()), ['TCP 10.6.2.195:80 rr', '  10.6.2.191:80 Route 1', '  10.6.2.192:80 Route 1']);

  // Valid reload: one weight changes, one server is added; the others are untouched.
  writeFileSync(
    configPath,
    config(
      '      - { address: 10.6.2.191, weight: 1 }\n      - { address: 10.6.2.192, weight: 3 }\n      - { address: 10.6.2.193, weight: 1 }',
    ),
  );
  first.proc.kill('SIGHUP');
  await waitFor(() => table()[0]?.destinations.length === 3, { what: 'the added real server', timeoutMs: 30_000, stepMs: 50 });
  assert.deepEqual(layout(table()), [
    'TCP 10.6.2.195:80 rr',
    '  10.6.2.191:80 Route 1',
    '  10.6.2.192:80 Route 3',
    '  10.6.2.193:80 Route 1',
  ]);
  const afterReload = stats();
  for (const id of ['10.6.2.191:80', '10.6.2.192:80'])
    assert.ok(
      afterReload.get(id)! >= before.get(id)!,
      `${id} kept its counters across the reload (${before.get(id)} → ${afterReload.get(id)})`,
    );

  // kill -9 and restart: the table is adopted as it is.
  first.proc.kill('SIGKILL');
  await first.exited;
  assert.equal(table()[0]!.destinations.length, 3, 'entries survive the crash');
  const beforeRestart = stats();
  const second = startAgent();
  await waitFor(() => spawnSync(process.execPath, [cli, 'status', '--socket', apiSocket, '--json']).status === 0, {
    what: 'the restarted agent answering',
    timeoutMs: 60_000,
    stepMs: 100,
  });
  await waitFor(hasVip, { what: 'the VIP back on the director', timeoutMs: 30_000, stepMs: 50 });
  assert.deepEqual(layout(table()), [
    'TCP 10.6.2.195:80 rr',
    '  10.6.2.191:80 Route 1',
    '  10.6.2.192:80 Route 3',
    '  10.6.2.193:80 Route 1',
  ]);
  const afterRestart = stats();
  for (const [id, count] of beforeRestart)
    assert.ok(afterRestart.get(id)! >= count, `${id} was not deleted and re-added by the restart (${count} → ${afterRestart.get(id)})`);

  // SIGTERM: priority 0 on the wire, the VIP goes, the IPVS entries stay.
  const dump = spawn('ip', ['netns', 'exec', client.name, 'tcpdump', '-i', 'eth0c', '-n', '-l', '-v', '--immediate-mode', 'ip proto 112'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  agents.push(dump);
  const wire: string[] = [];
  createInterface({ input: dump.stdout }).on('line', (l) => wire.push(l));
  await waitFor(() => wire.some((l) => /prio 150/.test(l)), { what: 'adverts seen by tcpdump', timeoutMs: 30_000, stepMs: 50 });
  second.proc.kill('SIGTERM');
  assert.equal(await second.exited, 0);
  await waitFor(() => wire.some((l) => /prio 0\b/.test(l)), { what: 'the priority-0 advert', timeoutMs: 30_000, stepMs: 50 });
  assert.equal(hasVip(), false, 'VIP removed');
  assert.equal(table()[0]!.destinations.length, 3, 'on_stop: keep leaves the table');
  dump.kill('SIGKILL');
});

test('a reload that brings the first services starts IPVS and programs them', async () => {
  const pair = directorAndClient('fo-agent2');
  const path = join(work, 'second.yaml');
  const socket = join(work, 'second.sock');
  const yaml = (services: string): string => `node: { name: lvs-a }
vrrp:
  - { name: web, interface: eth0, vrid: 52, priority: 150, advert_interval: 100ms, vips: [10.6.2.195/32] }
services: ${services}
api: { listen: ${socket}, metrics: false }
logging: { format: json }
`;
  writeFileSync(path, yaml('[]'));
  const proc = spawn('ip', ['netns', 'exec', pair.director.name, process.execPath, cli, 'run', '--config', path], {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  agents.push(proc);
  try {
    await waitFor(() => spawnSync(process.execPath, [cli, 'status', '--socket', socket, '--json']).status === 0, {
      what: 'the agent answering',
      timeoutMs: 60_000,
      stepMs: 100,
    });
    assert.deepEqual(parseIpvsadmList(pair.director.exec('ipvsadm', ['-Ln'])), []);
    writeFileSync(
      path,
      yaml(`
  - name: web-80
    vip: 10.6.2.195
    port: 80
    scheduler: wlc
    real_servers: [{ address: 10.6.2.191 }, { address: 10.6.2.192, weight: 2 }]`),
    );
    proc.kill('SIGHUP');
    const listing = (): string[] => layout(parseIpvsadmList(pair.director.exec('ipvsadm', ['-Ln'])));
    await waitFor(() => listing().length === 3, { what: 'the service programmed after the reload', timeoutMs: 30_000, stepMs: 100 });
    assert.deepEqual(listing(), ['TCP 10.6.2.195:80 wlc', '  10.6.2.191:80 Route 1', '  10.6.2.192:80 Route 2']);
  } finally {
    proc.kill('SIGKILL');
    pair.director.delete();
    pair.client.delete();
  }
});
