// Health checks driving a real IPVS table (UML kernel): a DR service with two real
// servers, each in its own namespace behind a bridge in the director namespace.
// Stop one server: it leaves the table (or drops to weight 0 with inhibit) after
// fall failures in a row; start it: it returns after rise successes. The test waits
// on the table with a generous deadline and asserts outcomes, never how long it took.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { CHECK_DEFAULTS, type HealthServiceConfig } from '../../../src/health/types.js';
import { LineProcess } from '../../netns/checks/lab.js';
import { run } from '../../helpers/shell.js';
import { waitFor } from '../../helpers/wait.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const tag = `h${process.pid}`;
const lvs = `lvs-${tag}`;
const rsNs = [`rs1-${tag}`, `rs2-${tag}`];
const rsAddr = ['10.6.2.191', '10.6.2.192'];
const VIP = '10.6.2.195';
const INTERVAL = 500;
const TIMEOUT = 300;
const RISE = 2;
const FALL = 2;

const servers: Array<ChildProcess | undefined> = [undefined, undefined];

function startServer(i: number): Promise<void> {
  const code = `require('node:http').createServer((q, s) => s.end('ok')).listen(80, '${rsAddr[i]}', () => console.log('listening'))`;
  const child = spawn('ip', ['netns', 'exec', rsNs[i]!, process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  servers[i] = child;
  return new Promise((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (c) => reject(new Error(`real server ${i} exited ${c}`)));
  });
}

function stopServer(i: number): Promise<void> {
  const child = servers[i];
  servers[i] = undefined;
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** Real servers in the IPVS table of the director namespace: "10.6.2.191:80" → weight. */
function ipvsTable(): Map<string, number> {
  const out = run('ip', ['netns', 'exec', lvs, 'ipvsadm', '-Ln']);
  const table = new Map<string, number>();
  for (const m of out.matchAll(/->\s+(\d+\.\d+\.\d+\.\d+:\d+)\s+Route\s+(\d+)/g)) table.set(m[1]!, Number(m[2]));
  return table;
}

/** Waits (generous deadline) until the director's IPVS table satisfies `cond`. */
async function tableReaches(what: string, cond: (t: Map<string, number>) => boolean): Promise<void> {
  let last = new Map<string, number>();
  await waitFor(() => cond((last = ipvsTable())), { what, timeoutMs: 30_000, detail: () => `table: ${JSON.stringify([...last])}` });
}

function service(onFailure: 'remove' | 'inhibit'): HealthServiceConfig {
  return {
    name: 'web-80',
    spec: {
      key: { kind: 'address', family: 'inet', protocol: 'tcp', address: VIP, port: 80 },
      scheduler: 'wlc',
      flags: {},
      persistenceTimeoutSec: 0,
      netmask: '255.255.255.255',
    },
    forwarding: 'dr',
    quorum: 1,
    hysteresis: 0,
    onFailure,
    realServers: rsAddr.map((address) => ({
      address,
      port: 80,
      weight: 1,
      checks: [
        {
          ...CHECK_DEFAULTS,
          type: 'http',
          options: { path: '/healthz' },
          intervalMs: INTERVAL,
          timeoutMs: TIMEOUT,
          rise: RISE,
          fall: FALL,
          initial: 'down' as const,
        },
      ],
    })),
  };
}

function startDirector(onFailure: 'remove' | 'inhibit'): LineProcess {
  const child = spawn('ip', ['netns', 'exec', lvs, process.execPath, join(here, 'director.js'), JSON.stringify([service(onFailure)])], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return new LineProcess(child);
}

async function stopDirector(d: LineProcess): Promise<void> {
  d.child.stdin!.end();
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      d.kill();
      resolve();
    }, 5000);
    d.child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

before(async () => {
  run('ip', ['netns', 'add', lvs]);
  run('ip', ['-n', lvs, 'link', 'add', 'br0', 'type', 'bridge']);
  run('ip', ['-n', lvs, 'addr', 'add', '10.6.2.10/24', 'dev', 'br0']);
  run('ip', ['-n', lvs, 'link', 'set', 'br0', 'up']);
  run('ip', ['-n', lvs, 'link', 'set', 'lo', 'up']);
  for (let i = 0; i < 2; i++) {
    const ns = rsNs[i]!;
    run('ip', ['netns', 'add', ns]);
    run('ip', ['-n', lvs, 'link', 'add', `v${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    run('ip', ['-n', lvs, 'link', 'set', `v${i}`, 'master', 'br0', 'up']);
    run('ip', ['-n', ns, 'addr', 'add', `${rsAddr[i]}/24`, 'dev', 'eth0']);
    run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    // DR real server: the VIP on lo, never answering ARP for it.
    run('ip', ['-n', ns, 'addr', 'add', `${VIP}/32`, 'dev', 'lo']);
    run('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2']);
    await startServer(i);
  }
});

after(async () => {
  await stopServer(0);
  await stopServer(1);
  for (const ns of [lvs, ...rsNs]) spawnSync('ip', ['netns', 'del', ns]);
});

for (const onFailure of ['remove', 'inhibit'] as const) {
  test(`DR service, on_failure ${onFailure}: a stopped real server ${onFailure === 'remove' ? 'leaves the table' : 'drops to weight 0'} after fall failures, and returns after rise successes`, async () => {
    if (!servers[0]) await startServer(0);
    const director = startDirector(onFailure);
    try {
      const ready = JSON.parse(await director.next((l) => l.includes('"ready"'))) as { sink: string };
      console.log(`# pools applied through: ${ready.sink}`);
      // Both proven up (alpha start): rise successes at the interval.
      await tableReaches('both real servers up', (t) => t.get('10.6.2.191:80') === 1 && t.get('10.6.2.192:80') === 1);

      await stopServer(0);
      // No new connections from the moment its weight is 0 (the reconciler drains a
      // removed server at weight 0 before deleting it); with remove it must then go.
      await tableReaches('10.6.2.191 out of rotation', (t) => (t.get('10.6.2.191:80') ?? 0) === 0 && t.get('10.6.2.192:80') === 1);
      if (onFailure === 'remove') await tableReaches('10.6.2.191 deleted', (t) => !t.has('10.6.2.191:80'));
      else assert.equal(ipvsTable().get('10.6.2.191:80'), 0, 'inhibit keeps it at weight 0');
      const down = JSON.parse(await director.next((l) => l.includes('"realserver.down"'))) as { event: { object: string; reason: string } };
      assert.equal(down.event.object, 'service/web-80/10.6.2.191:80');
      assert.match(down.event.reason, /^http: .*ECONNREFUSED.* \(2 failures in a row\)$/);

      await startServer(0);
      await tableReaches('10.6.2.191 back', (t) => t.get('10.6.2.191:80') === 1);
      const up = JSON.parse(await director.next((l) => l.includes('"realserver.up"') && l.includes('10.6.2.191'))) as {
        event: { reason: string };
      };
      assert.match(up.event.reason, /\(2 successes in a row\)$/);
    } finally {
      await stopDirector(director);
    }
    // The director removed its service on the way out.
    assert.equal(ipvsTable().size, 0);
  });
}
