// The dsr check in the lab's topology (src/lab/topology.ts: lvs-a, rs1, rs2 on one
// bridge) with IPVS: the real servers set up by `failoverd realserver setup --vip`,
// the director's HealthMonitor applying pools to the kernel (test/uml/health/director.js).
// Two services on the VIP: port 80 checked with dsr, port 81 with a plain tcp check
// to the real server's own address. Removing the VIP from rs1's lo takes rs1 out of
// the dsr service in `ipvsadm -Ln` while the plain service keeps it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CHECK_DEFAULTS, type HealthServiceConfig } from '../../../src/health/types.js';
import { SERVICE_PORT, Topology, VIP } from '../../../src/lab/topology.js';
import { LineProcess } from '../../netns/checks/lab.js';
import { run } from '../../helpers/shell.js';
import { waitFor } from '../../helpers/wait.js';

assert.equal(process.env['FAILOVERD_IN_UML'], '1', 'this test needs IPVS: run it in the uml tier');

const cli = fileURLToPath(new URL('../../../src/cli.js', import.meta.url));
const directorScript = fileURLToPath(new URL('../health/director.js', import.meta.url));
const httpServer = fileURLToPath(new URL('../../../src/lab/realserver-http.js', import.meta.url));
const PLAIN_PORT = 81;
const topology = new Topology(`d${process.pid}-`);
const servers: ChildProcess[] = [];
let director: LineProcess | undefined;

const sh = (...cmd: string[]): string => run(cmd[0]!, cmd.slice(1));

const rs = (name: string): { ns: string; address: string } => topology.host(name);

/** "VIP:port rs:port" → weight, from ipvsadm in lvs-a. */
function ipvsTable(): Map<string, number> {
  const table = new Map<string, number>();
  let service = '';
  for (const line of sh('ip', 'netns', 'exec', topology.host('lvs-a').ns, 'ipvsadm', '-Ln').split('\n')) {
    const s = /^TCP\s+(\S+)/.exec(line);
    if (s) service = s[1]!;
    const d = /->\s+(\d+\.\d+\.\d+\.\d+:\d+)\s+Route\s+(\d+)/.exec(line);
    if (d) table.set(`${service} ${d[1]}`, Number(d[2]));
  }
  return table;
}

/** Waits, bounded, until the ipvsadm table in lvs-a meets cond; the table in the error when it does not. */
async function tableMeets(what: string, cond: (t: Map<string, number>) => boolean, limitMs = 30_000): Promise<void> {
  await waitFor(() => cond(ipvsTable()), {
    what,
    timeoutMs: limitMs,
    stepMs: 100,
    detail: () => `table: ${JSON.stringify([...ipvsTable()])}`,
  });
}

function service(name: string, port: number, check: { type: string; options: Record<string, unknown> }): HealthServiceConfig {
  return {
    name,
    spec: {
      key: { kind: 'address', family: 'inet', protocol: 'tcp', address: VIP, port },
      scheduler: 'wlc',
      flags: {},
      persistenceTimeoutSec: 0,
      netmask: '255.255.255.255',
    },
    forwarding: 'dr',
    quorum: 1,
    hysteresis: 0,
    onFailure: 'remove',
    realServers: ['rs1', 'rs2'].map((h) => ({
      address: rs(h).address,
      port,
      weight: 1,
      checks: [{ ...CHECK_DEFAULTS, ...check, intervalMs: 500, timeoutMs: 400, rise: 2, fall: 2, initial: 'down' as const }],
    })),
  };
}

const dsrIn = (t: Map<string, number>, h: string): number | undefined => t.get(`${VIP}:${SERVICE_PORT} ${rs(h).address}:${SERVICE_PORT}`);
const plainIn = (t: Map<string, number>, h: string): number | undefined => t.get(`${VIP}:${PLAIN_PORT} ${rs(h).address}:${PLAIN_PORT}`);

before(async () => {
  topology.build();
  for (const h of ['rs1', 'rs2']) {
    sh('ip', 'netns', 'exec', rs(h).ns, process.execPath, cli, 'realserver', 'setup', '--vip', VIP);
    const child = spawn(
      'ip',
      ['netns', 'exec', rs(h).ns, process.execPath, httpServer, '--name', h, '--address', rs(h).address, '--port', String(SERVICE_PORT)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    servers.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', (c) => reject(new Error(`${h}'s HTTP server exited ${c}`)));
    });
  }
  // lvs-a as the MASTER: the VIP on its eth0, IPVS services on it.
  sh('ip', '-n', topology.host('lvs-a').ns, 'addr', 'add', `${VIP}/24`, 'dev', 'eth0');
  const services = [
    service('dsr', SERVICE_PORT, { type: 'dsr', options: { vip: VIP, arp_check: true } }),
    service('plain', PLAIN_PORT, { type: 'tcp', options: { connect_port: SERVICE_PORT } }),
  ];
  director = new LineProcess(
    spawn('ip', ['netns', 'exec', topology.host('lvs-a').ns, process.execPath, directorScript, JSON.stringify(services)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
  await director.next((l) => l.includes('"ready"'), 30_000);
});

after(async () => {
  if (director) {
    director.child.stdin!.end();
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        director!.kill();
        resolve();
      }, 5000);
      director!.child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
  for (const s of servers) if (s.pid && s.exitCode === null) s.kill('SIGKILL');
  topology.destroy();
});

test(
  "lab (UML): the VIP removed from rs1's lo takes rs1 out of the dsr service while the plain check keeps it; back when restored",
  { timeout: 180_000 },
  async () => {
    await tableMeets('both real servers up in both services', (t) => ['rs1', 'rs2'].every((h) => dsrIn(t, h) === 1 && plainIn(t, h) === 1));
    sh('ip', '-n', rs('rs1').ns, 'addr', 'del', `${VIP}/32`, 'dev', 'lo');
    await tableMeets(
      'rs1 out of the dsr service only',
      (t) => !dsrIn(t, 'rs1') && dsrIn(t, 'rs2') === 1 && plainIn(t, 'rs1') === 1 && plainIn(t, 'rs2') === 1,
    );
    const down = JSON.parse(await director!.next((l) => l.includes('"realserver.down"'))) as { event: { object: string; reason: string } };
    assert.equal(down.event.object, `service/dsr/${rs('rs1').address}:${SERVICE_PORT}`);
    // Silence after the SYN: the scheduler delivers its own timeout result at once (src/health/scheduler.ts).
    assert.equal(down.event.reason, 'dsr: timeout after 400ms (2 failures in a row)');
    console.log(`# rs1 without the VIP on lo: ${down.event.reason}`);
    // Still out a while later: the plain check never takes it out, the dsr check never lets it in.
    await new Promise((r) => setTimeout(r, 2000));
    const later = ipvsTable();
    assert.deepEqual([dsrIn(later, 'rs1'), plainIn(later, 'rs1')], [undefined, 1]);

    sh('ip', 'netns', 'exec', rs('rs1').ns, process.execPath, cli, 'realserver', 'setup', '--vip', VIP);
    await tableMeets('rs1 back in the dsr service', (t) => dsrIn(t, 'rs1') === 1 && plainIn(t, 'rs1') === 1);
  },
);
