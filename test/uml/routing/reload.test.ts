// Routing mode's reload (SIGHUP) in a kernel with IPVS, watched by iproute2: `ip monitor
// route` records every change to the announcement table while reloads add an
// announcement (with sloppy turned on), remove another, and one is refused; the
// announcement both configs keep is never withdrawn and announced again; the removed
// one's VIP leaves lo after its converge time. SIGTERM then withdraws what is left.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Netns } from '../../helpers/netns.js';
import { waitFor } from '../../helpers/wait.js';

const cli = fileURLToPath(new URL('../../../src/cli.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'failoverd-uml-routing-'));
const dir = Netns.create('fo-route');
const agents: ChildProcess[] = [];
after(() => {
  for (const a of agents) if (a.exitCode === null && a.signalCode === null) a.kill('SIGKILL');
  dir.delete();
  rmSync(work, { recursive: true, force: true });
});
const configPath = join(work, 'failoverd.yaml');

const service = (name: string, vip: string, scheduler = 'mh'): string => `  - name: ${name}
    vip: ${vip}
    port: 80
    scheduler: ${scheduler}
    forwarding: dr
    real_servers: [{ address: 10.9.1.21 }]
`;
function config(o: { services: string; announce: string[]; top?: string }): string {
  return `node: { name: d1 }
services:
${o.services}routing:
${o.top ?? ''}  announce:
${o.announce.map((a) => `    - ${a}\n`).join('')}api: { listen: ${join(work, 'api.sock')}, metrics: false }
logging: { format: json }
health: { checks_thread: main }
`;
}
const A = '{ name: a, vips: [10.9.9.1], converge: 1s }';
const B = '{ name: b, vips: [10.9.9.2], converge: 1s }';

/** Host prefixes in failoverd's table (200, proto 200), as iproute2 shows them. */
const announced = (): string[] => {
  // The kernel has no table 200 until its first route: nothing announced.
  const r = dir.tryExec('ip', ['-j', 'route', 'show', 'table', '200', 'proto', '200']);
  if (r.status !== 0) return [];
  return (JSON.parse(r.stdout || '[]') as { dst: string }[]).map((x) => x.dst).sort();
};
const onLo = (): string[] =>
  dir.ipJson<{ addr_info: { local: string }[] }[]>('addr', 'show', 'dev', 'lo')[0]!.addr_info.map((a) => a.local);

test('reloads add and remove announcements without flapping the kept one; sloppy is applied; a refused reload changes nothing', async () => {
  dir.exec('modprobe', ['ip_vs']);
  dir.exec('sysctl', ['-qw', 'net.ipv4.vs.sloppy_tcp=0', 'net.ipv4.vs.sloppy_sctp=0']);
  writeFileSync(
    configPath,
    config({ services: service('a-80', '10.9.9.1'), announce: [A], top: '  sloppy: false\n  allow_flow_resets: true\n' }),
  );
  const agent = dir.spawn(process.execPath, [cli, 'run', '--config', configPath]);
  agents.push(agent);
  const logs: string[] = [];
  createInterface({ input: agent.stderr! }).on('line', (l) => logs.push(l));
  const exited = new Promise<number | null>((r) => agent.on('exit', (code) => r(code)));
  await waitFor(() => announced().join() === '10.9.9.1', { what: '10.9.9.1 announced in table 200', timeoutMs: 60_000, stepMs: 100 });
  assert.equal(dir.sysctl('net.ipv4.vs.sloppy_tcp'), '0', 'sloppy: false: 0');

  // Every change to table 200 from here on, as the kernel reports it.
  const monitor = dir.spawn('ip', ['monitor', 'route']);
  const seen: string[] = [];
  let probed = false;
  createInterface({ input: monitor.stdout! }).on('line', (l) => {
    if (/table 200/.test(l)) seen.push(l.trim());
    if (/10\.255\.0\.1 table 201/.test(l)) probed = true;
  });
  // The monitor is listening once it reports a probe route in another table; the probe
  // is made again at each poll, since one made before the monitor subscribed is not seen.
  await waitFor(
    () => {
      if (probed) return true;
      dir.tryExec('ip', ['route', 'del', 'blackhole', '10.255.0.1/32', 'table', '201']);
      dir.ip('route', 'add', 'blackhole', '10.255.0.1/32', 'table', '201');
      return false;
    },
    { what: 'ip monitor reports the probe route', timeoutMs: 30_000, stepMs: 200 },
  );

  writeFileSync(configPath, config({ services: service('a-80', '10.9.9.1') + service('b-80', '10.9.9.2'), announce: [A, B] }));
  agent.kill('SIGHUP');
  await waitFor(() => announced().join() === '10.9.9.1,10.9.9.2', { what: 'b announced after the reload', timeoutMs: 60_000, stepMs: 100 });
  await waitFor(() => dir.sysctl('net.ipv4.vs.sloppy_tcp') === '1' && dir.sysctl('net.ipv4.vs.sloppy_sctp') === '1', {
    what: 'sloppy_tcp and sloppy_sctp set by the reload',
    timeoutMs: 30_000,
    stepMs: 100,
  });
  assert.ok(onLo().includes('10.9.9.2'), 'the new VIP is held on lo');

  writeFileSync(configPath, config({ services: service('b-80', '10.9.9.2'), announce: [B] }));
  agent.kill('SIGHUP');
  await waitFor(() => announced().join() === '10.9.9.2', { what: 'a withdrawn after the reload', timeoutMs: 60_000, stepMs: 100 });
  // Held for a's converge time (1 s) after the withdraw, then released.
  await waitFor(() => !onLo().includes('10.9.9.1'), { what: "a's VIP 10.9.9.1 released from lo", timeoutMs: 30_000, stepMs: 100 });
  assert.ok(onLo().includes('10.9.9.2'), "b's VIP is still held");

  // Refused: wlc on an announced VIP. Nothing moves.
  writeFileSync(configPath, config({ services: service('b-80', '10.9.9.2', 'wlc'), announce: [B] }));
  agent.kill('SIGHUP');
  await waitFor(() => logs.some((l) => l.includes('services[0].scheduler') && l.includes('scheduler wlc')), {
    what: 'the refusal in the log',
    timeoutMs: 30_000,
    stepMs: 100,
  });
  await new Promise((r) => setTimeout(r, 1000));
  assert.deepEqual(announced(), ['10.9.9.2'], 'the refused reload left b announced');

  monitor.kill('SIGTERM');
  console.log(`# ip monitor route, table 200, during the reloads:\n${seen.map((l) => `#   ${l}`).join('\n')}`);
  assert.equal(seen.length, 2, `two changes to table 200: ${seen.join(' | ')}`);
  assert.match(seen[0]!, /^blackhole 10\.9\.9\.2 table 200 proto 200/);
  assert.match(seen[1]!, /^Deleted blackhole 10\.9\.9\.1 table 200 proto 200/);

  agent.kill('SIGTERM');
  await waitFor(() => announced().length === 0, { what: 'SIGTERM withdraws b', timeoutMs: 30_000, stepMs: 50 });
  assert.equal(await exited, 0);
});
