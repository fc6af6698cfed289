// garp.refresh on the wire: a real agent (`failoverd run`) with two master instances on
// one interface, one refreshing its gratuitous ARPs every 2 s and one left at the
// default (0s: no refresh, keepalived's garp_master_refresh default). An observer
// (tcpdump) counts each VIP's gratuitous ARPs: the first VIP's bursts keep coming, never
// faster than the configured interval allows; the second VIP is
// announced once, when its instance becomes master, and never again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canRunNetns, Lab } from './lab.js';
import { AgentProcess } from '../robustness/agent-process.js';
import { waitFor } from '../../helpers/wait.js';

const skip = canRunNetns();
const REFRESHED = '10.6.2.195';
const QUIET = '10.6.2.196';
const COUNT = 2;
const REFRESH_MS = 2000;
const BURSTS = 4;

function config(socket: string): string {
  return `node: { name: refresher }
vrrp:
  - { name: web, interface: eth0, vrid: 51, priority: 150, advert_interval: 1s, vips: [${REFRESHED}/32],
      garp: { count: ${COUNT}, interval: 50ms, refresh: ${REFRESH_MS / 1000}s, delay: 0s } }
  - { name: db, interface: eth0, vrid: 52, priority: 150, advert_interval: 1s, vips: [${QUIET}/32],
      garp: { count: ${COUNT}, interval: 50ms, delay: 0s } }
services: []
api: { listen: ${socket}, metrics: false }
logging: { format: json }
`;
}

test('garp.refresh: a master repeats its GARP burst while master; the default (0s) never does', { skip, timeout: 90_000 }, async (t) => {
  const lab = new Lab('gr');
  const work = mkdtempSync(join(tmpdir(), 'failoverd-garp-refresh-'));
  let agent: AgentProcess | undefined;
  try {
    lab.setup([{ name: 'dir', ipv4: '192.0.2.10' }]);
    const observer = await lab.observe();
    const dir = lab.node('dir');
    const socket = join(work, 'api.sock');
    writeFileSync(join(work, 'failoverd.yaml'), config(socket));
    agent = AgentProcess.start(dir.ns, join(work, 'failoverd.yaml'), socket, {}, 'info');
    await agent.waitForState('web', 'MASTER', 20_000);
    await agent.waitForState('db', 'MASTER', 20_000);
    const garps = (vip: string) => observer.announcements().filter((e) => e.srcMac === dir.mac && e.address === vip);
    // The becoming-master burst, then BURSTS refreshes; the deadline is generous (the
    // machine is shared), the outcome is what counts.
    await waitFor(() => garps(REFRESHED).length >= COUNT * (1 + BURSTS), {
      what: `${BURSTS} refresh bursts for ${REFRESHED}`,
      timeoutMs: 60_000,
      stepMs: 100,
    });

    const refreshed = garps(REFRESHED);
    const quiet = garps(QUIET);
    const spanMs = refreshed.at(-1)!.t - refreshed[0]!.t;
    t.diagnostic(
      `${refreshed.length} GARP frames for ${REFRESHED} over ${Math.round(spanMs)} ms (refresh ${REFRESH_MS} ms, ${COUNT} per burst); ${quiet.length} for ${QUIET}`,
    );
    assert.equal((await agent.states())['web'], 'MASTER');
    assert.equal((await agent.states())['db'], 'MASTER');
    // In wire order, and no faster than the interval allows, with room for a loaded
    // machine: a refresh taken in the wrong unit, or re-armed twice, would be at least
    // twice as many. (The last burst may be under way: counted as a whole one.)
    for (let i = 1; i < refreshed.length; i++) assert.ok(refreshed[i]!.t >= refreshed[i - 1]!.t, 'frames in capture order');
    const bursts = Math.ceil(refreshed.length / COUNT);
    assert.ok(
      bursts <= Math.floor(spanMs / (REFRESH_MS / 2)) + 1,
      `${bursts} bursts in ${Math.round(spanMs)} ms with refresh ${REFRESH_MS} ms`,
    );
    // The instance left at the default was announced once, when it became master.
    assert.ok(
      quiet.length >= 1 && quiet.length <= COUNT,
      `${quiet.length} GARP frames for ${QUIET} (no refresh): its becoming-master burst only`,
    );
  } finally {
    await agent?.stop();
    await lab.cleanup();
    rmSync(work, { recursive: true, force: true });
  }
});
