// Issue 17, defect 4, with the real agent: a flood of address notifications
// overruns the agent's link watcher (the kernel's per-socket drop counter in
// /proc/net/netlink proves it), and the agent still sees its interface go down
// afterwards: MASTER → FAULT. The agent is stopped (SIGSTOP) during the flood, as
// a busy agent would be, so that the overrun happens whatever the machine's speed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab } from '../vrrp/lab.js';

import { AgentProcess } from '../robustness/agent-process.js';
import { run, sh } from '../../helpers/shell.js';
import { waitFor } from '../../helpers/wait.js';

const work = mkdtempSync(join(tmpdir(), 'failoverd-nlflood-'));
const lab = new Lab('nf');
let agent: AgentProcess | undefined;
after(async () => {
  await agent?.stop();
  await lab.cleanup();
  rmSync(work, { recursive: true, force: true });
});

const socket = join(work, 'api.sock');
const configPath = join(work, 'failoverd.yaml');
const VIP = '10.6.2.195';
const FLOOD_ADDRESSES = 8_000;

/** The instance's state; '?' while the API connection is being re-established (the stopped agent dropped it). */
const stateOf = (a: AgentProcess): Promise<string> =>
  a.states().then(
    (s) => s['web'] ?? '?',
    () => '?',
  );

/** Receive-queue drops of the netlink sockets in the namespace that joined multicast groups (the agent's watcher). */
function subscribedSocketDrops(ns: string): number {
  const lines = sh(['ip', 'netns', 'exec', ns, 'cat', '/proc/net/netlink']).trim().split('\n').slice(1);
  let drops = 0;
  for (const line of lines) {
    const [, protocol, , groups, , , , , dropCount] = line.trim().split(/\s+/);
    if (protocol === '0' && groups !== '00000000') drops += Number(dropCount);
  }
  return drops;
}

test('after a notification flood overruns its link watcher, the agent still sees link down → FAULT', async (t) => {
  lab.setup([{ name: 'dir', ipv4: '192.0.2.20' }]);
  const ns = lab.node('dir').ns;
  writeFileSync(
    configPath,
    `node: { name: nlflood }
vrrp:
  - name: web
    interface: eth0
    vrid: 62
    priority: 150
    advert_interval: 100ms
    vips: [${VIP}/32]
services: []
api: { listen: ${socket}, metrics: false }
logging: { format: json }
`,
  );
  agent = AgentProcess.start(ns, configPath, socket);
  const a = agent;
  await a.waitForState('web', 'MASTER', 15_000, 100);
  await waitFor(() => lab.addresses('dir').includes(VIP), { what: 'the VIP on eth0', timeoutMs: 5000 });

  const lines: string[] = [];
  const address = (i: number): string => `10.88.${i >> 8}.${i & 0xff}/32`;
  for (let i = 1; i <= FLOOD_ADDRESSES; i++) lines.push(`addr add ${address(i)} dev eth0`);
  for (let i = 1; i <= FLOOD_ADDRESSES; i++) lines.push(`addr del ${address(i)} dev eth0`);
  const dropsBefore = subscribedSocketDrops(ns);
  const floodStart = Date.now();
  process.kill(a.pid, 'SIGSTOP');
  try {
    run('ip', ['-n', ns, '-batch', '-'], { input: `${lines.join('\n')}\n`, timeoutMs: 120_000 });
  } finally {
    process.kill(a.pid, 'SIGCONT');
  }
  const floodMs = Date.now() - floodStart;
  const drops = subscribedSocketDrops(ns) - dropsBefore;
  // The agent works through what was queued and hears of the overrun.
  await waitFor(async () => (await stateOf(a)) === 'MASTER', { what: 'the agent answering again', timeoutMs: 20_000, stepMs: 100 });
  assert.ok(drops > 0, "the flood overran the agent's watcher (otherwise this test proves nothing)");

  const downAt = Date.now();
  sh(['ip', '-n', ns, 'link', 'set', 'eth0', 'down']);
  await waitFor(async () => (await stateOf(a)) === 'FAULT', { what: 'FAULT after the link went down', timeoutMs: 20_000, stepMs: 50 });
  const faultMs = Date.now() - downAt;
  t.diagnostic(
    `${2 * FLOOD_ADDRESSES} address notifications in ${floodMs} ms, ${drops} dropped by the watcher; ` +
      `link down → FAULT in ${faultMs} ms`,
  );
});
