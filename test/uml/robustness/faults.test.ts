// Faults against the IPVS table, in a kernel with IPVS: another process
// (ipvsadm) deletes and re-adds a destination while the agent applies a reload
// — the agent's ops fail mid-apply, it re-reads, retries, and the table
// converges to the config; and kill -9 with client traffic flowing, then a
// restart — no entry is deleted or re-created (the kernel's per-destination
// connection counters only grow, the connection entries stay).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { directorLab } from '../director.js';
import { destinationConnections, parseIpvsadmList } from '../../helpers/ipvsadm.js';
import { waitFor } from '../../helpers/wait.js';

const { dir, client, work, startAgent } = directorLab('faults');

const configPath = join(work, 'failoverd.yaml');
const socket = join(work, 'api.sock');
const servers = (n: number, weight: (i: number) => number): string =>
  Array.from({ length: n }, (_, i) => `      - { address: 10.6.3.${i + 1}, weight: ${weight(i)} }`).join('\n');

function config(realServers: string): string {
  return `node: { name: lvs-a }
vrrp:
  - { name: web, interface: eth0, vrid: 51, priority: 150, advert_interval: 100ms, vips: [10.6.2.195/32] }
services:
  - name: web-80
    vip: 10.6.2.195
    port: 80
    scheduler: rr
    forwarding: dr
    drain_timeout: 0s
    real_servers:
${realServers}
api: { listen: ${socket}, metrics: false }
logging: { format: json }
`;
}

const table = () => parseIpvsadmList(dir.exec('ipvsadm', ['-Ln']));
const weights = (): Map<string, string> => new Map((table()[0]?.destinations ?? []).map((d) => [d.id, d.columns[1]!]));
const conns = (): Map<string, number> => destinationConnections(dir.exec('ipvsadm', ['-Ln', '--stats']));

test('a destination deleted and re-added by ipvsadm while the agent applies a reload: retried, and the table converges', async (t) => {
  writeFileSync(configPath, config(servers(4, () => 1)));
  const agent = startAgent(configPath, { logLevel: 'debug' });
  await waitFor(() => weights().size === 4, { what: 'four destinations', timeoutMs: 60_000, stepMs: 100 });

  // The reload edits every weight and adds 36 destinations; meanwhile ipvsadm keeps deleting and
  // re-adding 10.6.3.1 (at weight 1) and deleting 10.6.3.2, so edits and adds meet ENOENT / EEXIST.
  const fight = spawn(
    'ip',
    [
      'netns',
      'exec',
      dir.name,
      'sh',
      '-c',
      'end=$(( $(date +%s) + 4 )); n=0; while [ $(date +%s) -lt $end ]; do ipvsadm -d -t 10.6.2.195:80 -r 10.6.3.1:80 2>/dev/null; ipvsadm -a -t 10.6.2.195:80 -r 10.6.3.1:80 -g -w 1 2>/dev/null; ipvsadm -d -t 10.6.2.195:80 -r 10.6.3.2:80 2>/dev/null; n=$((n+1)); done; echo $n',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let rounds = '';
  fight.stdout.on('data', (d: Buffer) => {
    rounds += d.toString();
  });
  const fightDone = new Promise((r) => fight.once('close', r));
  await new Promise((r) => setTimeout(r, 300));
  writeFileSync(configPath, config(servers(40, (i) => 2 + (i % 3))));
  agent.kill('SIGHUP');
  await fightDone;
  const fightEnded = Date.now();

  // After the fight: exactly the configured table, at the latest by the next audit (10 s).
  const want = new Map(Array.from({ length: 40 }, (_, i) => [`10.6.3.${i + 1}:80`, String(2 + (i % 3))]));
  await waitFor(() => JSON.stringify([...weights()].sort()) === JSON.stringify([...want].sort()), {
    what: 'the table equal to the config',
    timeoutMs: 60_000,
    stepMs: 200,
  });
  const convergedMs = Date.now() - fightEnded;
  const retried = agent.logs.filter((l) => String(l['msg']).includes('failed mid-apply')).length;
  const drift = agent.logs.filter((l) => String(l['msg']).includes('IPVS drift')).length;
  t.diagnostic(
    `${rounds.trim()} delete/re-add rounds by ipvsadm; ${retried} mid-apply retries, ${drift} drift repairs; converged ${convergedMs} ms after the fight ended`,
  );
  assert.ok(retried + drift > 0, 'the concurrent changes were seen (a retry or a drift repair), so the race was exercised');
  assert.ok(agent.running, 'the agent kept running');
  assert.equal((await agent.status()).config?.generation, 2);
  await agent.stop();
});

test('kill -9 with traffic flowing, then restart: no IPVS entry deleted or re-created, connections stay', async (t) => {
  writeFileSync(configPath, config(servers(3, () => 1)));
  const first = startAgent(configPath, { logLevel: 'debug' });
  await waitFor(() => weights().size === 3 && [...weights().values()].every((w) => w === '1'), {
    what: 'three destinations at weight 1',
    timeoutMs: 60_000,
    stepMs: 100,
  });
  await waitFor(
    () =>
      dir.ipJson<{ addr_info: { local: string }[] }[]>('addr', 'show', 'dev', 'eth0')[0]!.addr_info.some((a) => a.local === '10.6.2.195'),
    { what: 'the VIP (MASTER)', timeoutMs: 30_000, stepMs: 50 },
  );

  // Traffic: the client opens connections to the VIP continuously (SYNs; IPVS schedules each).
  const traffic = spawn(
    'ip',
    [
      'netns',
      'exec',
      client.name,
      process.execPath,
      '-e',
      `
    const net = require('node:net');
    let opened = 0;
    const timer = setInterval(() => {
      for (let i = 0; i < 5; i++) { const s = net.connect({ host: '10.6.2.195', port: 80 }); s.on('error', () => {}); opened++; setTimeout(() => s.destroy(), 2000); }
    }, 20);
    process.on('SIGTERM', () => { clearInterval(timer); console.log(opened); process.exit(0); });`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let opened = '';
  traffic.stdout.on('data', (d: Buffer) => {
    opened += d.toString();
  });
  const trafficDone = new Promise((r) => traffic.once('close', r));
  await waitFor(() => [...conns().values()].every((c) => c >= 5), {
    what: 'connections scheduled on every destination',
    timeoutMs: 30_000,
    stepMs: 100,
  });

  const samples: Map<string, number>[] = [conns()];
  first.kill('SIGKILL');
  await first.exited;
  const layout = JSON.stringify([...weights()]);
  samples.push(conns());
  const second = startAgent(configPath, { logLevel: 'debug' });
  await second.waitForState('web', 'MASTER', 20_000, 100);
  for (let i = 0; i < 10; i++) {
    samples.push(conns());
    await new Promise((r) => setTimeout(r, 200));
  }
  traffic.kill('SIGTERM');
  await trafficDone;
  assert.equal(JSON.stringify([...weights()]), layout, 'the same destinations and weights after the restart');
  // A delete + re-add would reset a destination's connection counter to 0: they only grow.
  for (let i = 1; i < samples.length; i++) {
    for (const [id, c] of samples[i - 1]!)
      assert.ok((samples[i]!.get(id) ?? -1) >= c, `${id}: connections counter ${c} → ${samples[i]!.get(id)} (sample ${i})`);
  }
  const grew = [...samples.at(-1)!].every(([id, c]) => c > samples[0]!.get(id)!);
  assert.ok(grew, 'traffic kept being scheduled on every destination across the kill and restart');
  const entries = dir
    .exec('ipvsadm', ['-Lnc'])
    .split('\n')
    .filter((l) => l.includes('10.6.2.195:80')).length;
  t.diagnostic(
    `client opened ${opened.trim()} connections; counters ${JSON.stringify(Object.fromEntries(samples[0]!))} → ${JSON.stringify(Object.fromEntries(samples.at(-1)!))}; ${entries} connection entries in the table after the restart`,
  );
  assert.ok(entries > 0, 'connection entries survived');
  await second.stop();
});
