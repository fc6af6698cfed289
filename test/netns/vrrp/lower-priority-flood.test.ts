// A real master agent (`failoverd run`) under 1,000 forged priority-1 adverts sent
// within one advert interval from an attacker namespace on the same bridge. An
// observer (tcpdump) counts what the master sends: its answers are rate-limited
// (one advert per interval, one GARP burst), and it stays master.
// (Before: 1,000 answering adverts and 5,004 GARP frames.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canRunNetns, Lab } from './lab.js';
import { sh } from '../../helpers/shell.js';
import { AgentProcess, sumOf } from '../robustness/agent-process.js';
import { Injector } from '../robustness/injector.js';
import { encodeAdvert } from '../../../src/vrrp/packet.js';

const skip = canRunNetns();
const FORGED = 1000;
const VIP = '10.6.2.195';
const INTERVAL_MS = 1000;
const GARP_COUNT = 5;

function config(socket: string): string {
  return `node: { name: flooded }
vrrp:
  - { name: web, interface: eth0, vrid: 51, priority: 150, version: 3, advert_interval: ${INTERVAL_MS}ms, vips: [${VIP}/32],
      garp: { count: ${GARP_COUNT}, interval: 20ms, refresh: 0s, delay: 0s } }
services: []
api: { listen: ${socket}, metrics: false }
logging: { format: json }
`;
}

function ifindex(ns: string, name: string): number {
  return (JSON.parse(sh(['ip', '-n', ns, '-j', 'link', 'show', name])) as { ifindex: number }[])[0]!.ifindex;
}

const TITLE = '1,000 forged priority-1 adverts in one interval: the master answers once, with one GARP burst';
test(TITLE, { skip, timeout: 60_000 }, async (t) => {
  const lab = new Lab('lp');
  const work = mkdtempSync(join(tmpdir(), 'failoverd-lowprio-'));
  let agent: AgentProcess | undefined;
  try {
    lab.setup([
      { name: 'dir', ipv4: '192.0.2.10' },
      { name: 'atk', ipv4: '192.0.2.66' },
    ]);
    const observer = await lab.observe();
    const dir = lab.node('dir'),
      atk = lab.node('atk');
    const socket = join(work, 'api.sock');
    writeFileSync(join(work, 'failoverd.yaml'), config(socket));
    agent = AgentProcess.start(dir.ns, join(work, 'failoverd.yaml'), socket, {}, 'info');
    await agent.waitForState('web', 'MASTER', 15_000);
    // Past the becoming-master burst, so every frame counted below answers the flood.
    await new Promise((r) => setTimeout(r, 1500));

    const injector = new Injector(`/run/netns/${atk.ns}`, 'eth0', ifindex(atk.ns, 'eth0'));
    t.after(() => injector.close());
    const payload = encodeAdvert(
      { version: 3, vrid: 51, priority: 1, intervalCs: 100, addresses: [VIP] },
      { family: 4, source: atk.ipv4, destination: '224.0.0.18' },
    );
    const datagram = Injector.datagram({ source: atk.ipv4, destination: '224.0.0.18', ttl: 255, payload });
    const receivedBefore = sumOf(await agent.metrics(), 'failoverd_vrrp_adverts_received_total');
    // Paced (10 every ~8 ms, about 0.9 s in all) so that tcpdump keeps up and counts every frame.
    const floodStart = Date.now();
    for (let i = 0; i < FORGED; i += 10) {
      for (let j = 0; j < 10; j++) injector.send(datagram);
      await new Promise((r) => setTimeout(r, 8));
    }
    const floodEnd = Date.now();
    const floodMs = floodEnd - floodStart;
    // Count until one advert interval past the flood. The rate limits are per interval, so
    // what the master may send follows from how long the flood really took (on a loaded
    // host, pacing stretches it past one interval).
    await new Promise((r) => setTimeout(r, INTERVAL_MS));
    const windowEnd = floodEnd + INTERVAL_MS;
    const intervalsTouched = Math.ceil((windowEnd - floodStart) / INTERVAL_MS);
    const burstsAllowed = Math.floor(floodMs / INTERVAL_MS) + 1;
    const fromMaster = (e: { srcMac: string; t: number }): boolean => e.srcMac === dir.mac && e.t >= floodStart && e.t < windowEnd;
    const adverts = observer.adverts(51).filter((e) => fromMaster(e) && e.source === dir.ipv4);
    const forgedSeen = observer.adverts(51).filter((e) => e.source === atk.ipv4 && e.t >= floodStart).length;
    const garps = observer.announcements().filter((e) => fromMaster(e) && e.address === VIP);
    const received = sumOf(await agent.metrics(), 'failoverd_vrrp_adverts_received_total') - receivedBefore;
    t.diagnostic(
      `flood of ${FORGED} sent in ${floodMs} ms: ${received} accepted by the agent, ` +
        `${forgedSeen} seen by the observer; ` +
        `the master sent ${adverts.length} adverts and ${garps.length} GARP frames in ${windowEnd - floodStart} ms`,
    );
    assert.equal(received, FORGED, 'every forged advert reached the master and was accepted as an advert');
    assert.ok(forgedSeen >= FORGED * 0.9, `the observer kept up with the flood (saw ${forgedSeen})`);
    // Per interval: its scheduled advert plus at most one answer.
    assert.ok(adverts.length <= 2 * intervalsTouched, `${adverts.length} adverts in ${intervalsTouched} intervals`);
    assert.ok(
      garps.length <= GARP_COUNT * burstsAllowed,
      `${garps.length} GARP frames: at most one burst of ${GARP_COUNT} per interval the flood lasted (${burstsAllowed})`,
    );
    assert.equal((await agent.states())['web'], 'MASTER');
    assert.ok(lab.addresses('dir').includes(VIP));
  } finally {
    await agent?.stop();
    await lab.cleanup();
    rmSync(work, { recursive: true, force: true });
  }
});
