// A VIP on another interface than the instance's (keepalived's `dev`), with the
// real agent in a namespace: as MASTER it puts the inside address on eth1 (and
// only there) and announces it from eth1's MAC, seen by tcpdump on eth1; on
// SIGTERM it removes it from eth1. Checked with `ip -j addr` and tcpdump.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Lab } from './lab.js';
import { sh } from '../../helpers/shell.js';

import { AgentProcess } from '../robustness/agent-process.js';
import { waitFor } from '../../helpers/wait.js';

const work = mkdtempSync(join(tmpdir(), 'failoverd-vip-interface-'));
const lab = new Lab('vi');
let agent: AgentProcess | undefined;
after(async () => {
  await agent?.stop();
  await lab.cleanup();
  rmSync(work, { recursive: true, force: true });
});

const addressesOn = (ns: string, dev: string): string[] =>
  (JSON.parse(sh(['ip', '-n', ns, '-j', 'addr', 'show', 'dev', dev])) as { addr_info: { local: string; prefixlen: number }[] }[]).flatMap(
    (l) => l.addr_info.map((a) => `${a.local}/${a.prefixlen}`),
  );

test('a VIP with its own interface goes on that interface, is announced from its MAC, and leaves it on stop', async () => {
  lab.setup([{ name: 'dir', ipv4: '192.0.2.51' }]);
  const ns = lab.node('dir').ns;
  const insideMac = '02:00:5e:99:01:01';
  sh(['ip', '-n', ns, 'link', 'add', 'eth1', 'address', insideMac, 'type', 'veth', 'peer', 'name', 'eth1-peer']);
  sh(['ip', '-n', ns, 'addr', 'add', '10.9.0.2/24', 'dev', 'eth1']);
  sh(['ip', '-n', ns, 'link', 'set', 'eth1-peer', 'up']);
  sh(['ip', '-n', ns, 'link', 'set', 'eth1', 'up']);

  const arp: { mac: string; address: string }[] = [];
  const capture = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '-i', 'eth1', '-n', '-e', '-l', '--immediate-mode', 'arp'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  after(() => {
    if (capture.exitCode === null) capture.kill('SIGTERM');
  });
  createInterface({ input: capture.stdout }).on('line', (line) => {
    const m = /^\S+ (\S+) > \S+,.*Request who-has (\S+) (?:\(\S+\) )?tell (\S+),/.exec(line);
    if (m && m[2] === m[3]) arp.push({ mac: m[1]!, address: m[2]! });
  });
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('tcpdump did not start')), 5000);
    capture.stderr.on('data', (d: Buffer) => {
      if (d.toString().includes('listening on')) {
        clearTimeout(timer);
        ok();
      }
    });
  });

  const socket = join(work, 'api.sock');
  const configPath = join(work, 'failoverd.yaml');
  writeFileSync(
    configPath,
    `node: { name: vi }
vrrp:
  - name: web
    interface: eth0
    vrid: 64
    priority: 150
    advert_interval: 100ms
    vips: [10.6.2.195/32, { address: 10.9.0.1/24, interface: eth1 }]
    garp: { count: 2, interval: 50ms, delay: 0s }
services: []
api: { listen: ${socket}, metrics: false }
logging: { format: json }
`,
  );
  agent = AgentProcess.start(ns, configPath, socket);
  const a = agent;
  await a.waitForState('web', 'MASTER', 15_000);
  await waitFor(() => addressesOn(ns, 'eth1').includes('10.9.0.1/24'), { what: 'the inside VIP on eth1', timeoutMs: 3000 });
  assert.ok(addressesOn(ns, 'eth0').includes('10.6.2.195/32'), 'the outside VIP on eth0');
  assert.ok(!addressesOn(ns, 'eth0').includes('10.9.0.1/24'), 'the inside VIP not on eth0');
  assert.ok(!addressesOn(ns, 'eth1').includes('10.6.2.195/32'), 'the outside VIP not on eth1');
  assert.ok(!a.logged('not supported'), 'no warning about per-VIP interfaces');
  await waitFor(() => arp.filter((e) => e.address === '10.9.0.1').length >= 2, {
    what: 'two gratuitous ARPs for the inside VIP on eth1',
    timeoutMs: 3000,
  });
  assert.ok(
    arp.filter((e) => e.address === '10.9.0.1').every((e) => e.mac === insideMac),
    `announced from eth1's MAC: ${JSON.stringify(arp)}`,
  );
  assert.ok(!arp.some((e) => e.address === '10.6.2.195'), 'the outside VIP is not announced on eth1');

  await a.stop();
  assert.ok(!addressesOn(ns, 'eth1').includes('10.9.0.1/24'), 'removed from eth1 on stop');
  assert.ok(!addressesOn(ns, 'eth0').includes('10.6.2.195/32'), 'removed from eth0 on stop');
  assert.ok(addressesOn(ns, 'eth1').includes('10.9.0.2/24'), "the interface's own address stays");
});
