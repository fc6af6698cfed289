// A service group (vips: a range) in the real agent, checked with ipvsadm: one kernel
// service per address, each with the real servers; a failing real server is inhibited
// (its own on_failure) or removed (the service's) in every service of the group; a reload
// that drops an address deletes only that kernel service (the others keep their counters,
// which a delete + re-add would reset); `failoverd status` shows the group as one service.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createDrTopology, DR_VIP, type DrTopology } from '../../helpers/dr-topology.js';
import { destinationConnections } from '../../helpers/ipvsadm.js';
import { waitFor } from '../../helpers/wait.js';

const cli = fileURLToPath(new URL('../../../src/cli.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'failoverd-uml-group-'));
const configPath = join(work, 'failoverd.yaml');
const apiSocket = join(work, 'api.sock');
const PORT = 7000;
const agents: ChildProcess[] = [];
let lab: DrTopology | undefined;
after(() => {
  for (const a of agents) if (a.exitCode === null && a.signalCode === null) a.kill('SIGKILL');
  lab?.close();
  rmSync(work, { recursive: true, force: true });
});

function config(vips: string): string {
  return `node: { name: lvs-a }
services:
  - name: web
    vips: [${vips}]
    port: ${PORT}
    vip_standalone: true
    scheduler: rr
    forwarding: dr
    check: { type: tcp, interval: 500ms, timeout: 400ms, rise: 1, fall: 1 }
    real_servers:
      - { address: 10.6.2.191, on_failure: inhibit }
      - { address: 10.6.2.192 }
api: { listen: ${apiSocket}, metrics: false }
logging: { format: json }
`;
}

/** `ipvsadm -Sn`, one rule a line, sorted (the kernel lists services in hash order). */
function saved(): string[] {
  return lab!.director
    .exec('ipvsadm', ['-Sn'])
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .sort();
}

/** The rules of a group over `addresses`, with `servers` as "ADDRESS WEIGHT". */
function expected(addresses: string[], servers: string[]): string[] {
  return addresses
    .flatMap((vip) => [
      `-A -t ${vip}:${PORT} -s rr`,
      ...servers.map((s) => {
        const [address, weight] = s.split(' ');
        return `-a -t ${vip}:${PORT} -r ${address}:${PORT} -g -w ${weight}`;
      }),
    ])
    .sort();
}

async function tableBecomes(want: string[], what: string): Promise<void> {
  let last: string[] = [];
  await waitFor(
    () => {
      last = saved();
      return last.join('\n') === want.join('\n');
    },
    { what, timeoutMs: 60_000, stepMs: 100 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; ipvsadm -Sn: ${last.join(' | ')}`);
  });
}

test(
  'a service group: every address a kernel service with the real servers; failures and reloads apply to the whole group',
  { timeout: 300_000 },
  async () => {
    lab = await createDrTopology({ tag: 'grp', realServers: 2, port: PORT });
    const [rs1, rs2] = lab.realServers;
    const four = ['10.6.2.195', '10.6.2.196', '10.6.2.197', '10.6.2.198'];
    writeFileSync(configPath, config('10.6.2.195-198'));
    const agent = spawn('ip', ['netns', 'exec', lab.director.name, process.execPath, cli, 'run', '--config', configPath], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    agents.push(agent);
    const logs: string[] = [];
    createInterface({ input: agent.stderr }).on('line', (l) => logs.push(l));
    try {
      await tableBecomes(expected(four, ['10.6.2.191 1', '10.6.2.192 1']), 'four kernel services, each with both real servers');

      rs1!.ns.ip('link', 'set', 'eth0', 'down');
      await tableBecomes(expected(four, ['10.6.2.191 0', '10.6.2.192 1']), 'rs1 (on_failure: inhibit) at weight 0 in every service');
      rs1!.ns.ip('link', 'set', 'eth0', 'up');
      await tableBecomes(expected(four, ['10.6.2.191 1', '10.6.2.192 1']), 'rs1 back in every service');
      rs2!.ns.ip('link', 'set', 'eth0', 'down');
      await tableBecomes(expected(four, ['10.6.2.191 1']), 'rs2 (the service on_failure: remove) gone from every service');
      rs2!.ns.ip('link', 'set', 'eth0', 'up');
      await tableBecomes(expected(four, ['10.6.2.191 1', '10.6.2.192 1']), 'rs2 back in every service');

      const status = spawnSync(process.execPath, [cli, 'status', '--json', '--socket', apiSocket], { encoding: 'utf8' });
      assert.equal(status.status, 0, status.stderr);
      const services = (
        JSON.parse(status.stdout) as { services: Array<{ name: string; key: string; keys?: string[]; realServers: unknown[] }> }
      ).services;
      assert.deepEqual(
        services.map((s) => [s.name, s.key, s.keys, s.realServers.length]),
        [['web', `tcp:10.6.2.195:${PORT} … tcp:10.6.2.198:${PORT} (4 services)`, four.map((v) => `tcp:${v}:${PORT}`), 2]],
        'one service with its addresses',
      );

      // Traffic through the first address, so its destinations have counters a re-creation would reset.
      for (let i = 0; i < 4; i++) {
        const conn = await lab.connect(PORT);
        assert.match(await conn.ask(`hello ${i}`), /^rs[12]: hello/);
        conn.close();
      }
      // The kernel copies its counters out every 2 s: wait for all four.
      const counters = () => destinationConnections(lab!.director.exec('ipvsadm', ['-Ln', '--stats', '-t', `${DR_VIP}:${PORT}`]));
      const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
      let before = counters();
      await waitFor(
        () => {
          before = counters();
          return total(before) === 4;
        },
        { what: `four connections counted on ${DR_VIP}`, timeoutMs: 30_000, stepMs: 250 },
      ).catch((err: Error) => {
        throw new Error(`${err.message}: ${JSON.stringify([...before])}`);
      });

      writeFileSync(configPath, config('10.6.2.195-197'));
      agent.kill('SIGHUP');
      await tableBecomes(expected(four.slice(0, 3), ['10.6.2.191 1', '10.6.2.192 1']), 'the reload removed 10.6.2.198 only');
      const afterReload = destinationConnections(lab.director.exec('ipvsadm', ['-Ln', '--stats', '-t', `${DR_VIP}:${PORT}`]));
      assert.deepEqual([...afterReload], [...before], `${DR_VIP}'s service was kept, not re-created, by the reload`);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nfailoverd said:\n${logs.slice(-20).join('\n')}`);
    } finally {
      agent.kill('SIGTERM');
    }
  },
);
