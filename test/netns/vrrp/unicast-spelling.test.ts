// Two real agents (`failoverd run`) in unicast IPv6 mode, each naming its peer's
// link-local address in another spelling than the kernel's (upper case, every
// group written out, leading zeros). Peers are compared as addresses: exactly one
// MASTER, and no advert is dropped as not_a_peer. (Compared as config text, both
// dropped every advert of the other and both were MASTER.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canRunNetns, Lab } from './lab.js';
import { sh } from '../../helpers/shell.js';
import { AgentProcess, sumOf } from '../robustness/agent-process.js';
import { ipToBytes } from '../../../src/net/sockaddr.js';

const skip = canRunNetns();

function linkLocal(ns: string): string {
  const text = sh(['ip', '-n', ns, '-j', '-6', 'addr', 'show', 'dev', 'eth0', 'scope', 'link']);
  const out = JSON.parse(text) as { addr_info: { local: string }[] }[];
  const address = out[0]?.addr_info[0]?.local;
  assert.ok(address, `no link-local address in ${ns}`);
  return address;
}

/** "fe80::5eff:fe99:2" → "FE80:0000:0000:0000:0000:5EFF:FE99:0002". */
function spelledLong(address: string): string {
  const bytes = ipToBytes(address);
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16).padStart(4, '0').toUpperCase());
  return groups.join(':');
}

function config(socket: string, priority: number, peer: string): string {
  return `node: { name: n${priority} }
vrrp:
  - { name: v6, interface: eth0, vrid: 61, priority: ${priority}, version: 3, advert_interval: 100ms,
      unicast_peers: ["${peer}"], vips: ["2001:db8::195/64"], garp: { count: 1 } }
services: []
api: { listen: ${socket}, metrics: false }
logging: { format: json }
`;
}

const TITLE = 'unicast IPv6 peers named in another spelling: the two agents elect exactly one MASTER';
test(TITLE, { skip, timeout: 60_000 }, async () => {
  const lab = new Lab('us');
  const work = mkdtempSync(join(tmpdir(), 'failoverd-spelling-'));
  const agents: AgentProcess[] = [];
  try {
    lab.setup([
      { name: 'a', ipv4: '192.0.2.1' },
      { name: 'b', ipv4: '192.0.2.2' },
    ]);
    const llA = linkLocal(lab.node('a').ns),
      llB = linkLocal(lab.node('b').ns);
    const start = (node: string, priority: number, peer: string): AgentProcess => {
      const socket = join(work, `${node}.sock`);
      const path = join(work, `${node}.yaml`);
      writeFileSync(path, config(socket, priority, peer));
      const agent = AgentProcess.start(lab.node(node).ns, path, socket, {}, 'info');
      agents.push(agent);
      return agent;
    };
    const a = start('a', 200, spelledLong(llB));
    const b = start('b', 100, llA.toUpperCase());
    await a.waitForState('v6', 'MASTER', 15_000);
    await b.waitForState('v6', 'BACKUP', 15_000);

    // Thirty samples over three seconds (30 advert intervals): never two masters.
    const seen: string[] = [];
    for (let i = 0; i < 30; i++) {
      const [sa, sb] = await Promise.all([a.states(), b.states()]);
      seen.push(`${sa['v6']}/${sb['v6']}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual([...new Set(seen)], ['MASTER/BACKUP'], `states of a/b over 3 s: ${seen.join(' ')}`);
    for (const agent of [a, b]) {
      assert.equal(sumOf(await agent.metrics(), 'failoverd_vrrp_adverts_dropped_total', { reason: 'not_a_peer' }), 0);
    }
    const holders = ['a', 'b'].filter((n) => lab.addresses(n).includes('2001:db8::195'));
    assert.deepEqual(holders, ['a'], 'one VIP holder');
  } finally {
    for (const agent of agents) await agent.stop();
    await lab.cleanup();
    rmSync(work, { recursive: true, force: true });
  }
});
