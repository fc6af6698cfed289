// The status API in a network namespace: `failoverd status` over the Unix socket from
// the host and over loopback inside the namespace, and Prometheus scraping /metrics
// from a second namespace across a veth pair.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { Netns, vethPair } from '../../helpers/netns.js';
import { parsePrometheus, sample } from '../../unit/api/prom-text.js';
import { EXPECTED_FAMILIES } from '../../unit/metrics/families.js';
import { run } from '../../helpers/shell.js';

const here = new URL('.', import.meta.url).pathname;
const cli = new URL('../../../src/cli.js', import.meta.url).pathname;

test('status API and metrics served from inside a namespace', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'failoverd-netns-api-'));
  const agentNs = Netns.create('fo-api');
  const promNs = Netns.create('fo-prom');
  t.after(() => {
    agentNs.delete();
    promNs.delete();
    rmSync(dir, { recursive: true, force: true });
  });
  const suffix = String(process.pid % 100000);
  vethPair({ ns: agentNs, name: `foa${suffix}` }, { ns: promNs, name: `fop${suffix}` });
  agentNs.ip('addr', 'add', '10.77.0.1/24', 'dev', `foa${suffix}`);
  promNs.ip('addr', 'add', '10.77.0.2/24', 'dev', `fop${suffix}`);

  const socket = join(dir, 'run', 'failoverd.sock');
  const server = agentNs.spawn(process.execPath, [join(here, 'fake-agent-server.js'), socket, '127.0.0.1:9595', '10.77.0.1:9596']);
  let stderr = '';
  server.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const lines = createInterface({ input: server.stdout! });
  let readyTimer: NodeJS.Timeout | undefined;
  const ready = await Promise.race([
    once(lines, 'line').then(([line]) => line as string),
    new Promise<string>((_, reject) => {
      readyTimer = setTimeout(() => reject(new Error(`server not ready in 10 s: ${stderr}`)), 10_000);
    }),
  ]).finally(() => clearTimeout(readyTimer));
  assert.equal(ready, 'ready ["' + socket + '","127.0.0.1:9595","10.77.0.1:9596"]');
  assert.equal(statSync(socket).mode & 0o777, 0o660);

  // From the host namespace, through the socket file.
  const viaSocket = JSON.parse(run(process.execPath, [cli, 'status', '--json', '--socket', socket]));
  assert.equal(viaSocket.node, 'lvs-a');
  assert.equal(viaSocket.instances[0].state, 'MASTER');
  const tables = run(process.execPath, [cli, 'status', '--socket', socket]);
  assert.match(tables, /web +MASTER +150/);
  assert.match(tables, /-> 10\.6\.2\.191:80 +dr +1 +2 +5 +20/);

  // Inside the namespace, over its loopback.
  const viaLoopback = JSON.parse(agentNs.exec(process.execPath, [cli, 'status', '--json', '--address', '127.0.0.1:9595']));
  assert.deepEqual(viaLoopback, viaSocket);
  // Admin over the socket changes what status shows.
  assert.equal(
    run(process.execPath, [cli, 'status', 'drain', 'web-80', '10.6.2.191', '--socket', socket]),
    'drained 10.6.2.191 in web-80\n',
  );
  const drained = JSON.parse(agentNs.exec(process.execPath, [cli, 'status', '--json', '--address', '127.0.0.1:9595']));
  assert.equal(drained.services[0].realServers[0].weight, 0);
  assert.throws(
    () => agentNs.exec(process.execPath, [cli, 'status', 'undrain', 'web-80', '10.6.2.191', '--address', '127.0.0.1:9595']),
    /only accepted on the unix socket/,
  );

  // Prometheus in another namespace scrapes across the veth.
  const scraped = promNs.exec(process.execPath, [cli, 'status', 'metrics', '--address', '10.77.0.1:9596']);
  const families = parsePrometheus(scraped);
  const missing = EXPECTED_FAMILIES.filter((f) => !families.has(f));
  assert.deepEqual(missing, []);
  assert.equal(sample(families, 'failoverd_vrrp_state', { instance: 'web', state: 'MASTER' }), 1);
  assert.equal(sample(families, 'failoverd_vrrp_transitions_total', { instance: 'web', from: 'BACKUP', to: 'MASTER' }), 1);
  assert.equal(sample(families, 'failoverd_realserver_weight', { service: 'web-80', real_server: '10.6.2.191:80' }), 0);
  assert.equal(sample(families, 'failoverd_check_results_total', { type: 'tcp', result: 'fail' }), 1);
  assert.equal(sample(families, 'failoverd_ipvs_packets_in_total', { service: 'web-80', destination: '' }), 300);
  assert.ok((sample(families, 'nodejs_eventloop_lag_seconds') ?? -1) >= 0);
  // The metrics listener has nothing else.
  assert.throws(() => promNs.exec(process.execPath, [cli, 'status', '--address', '10.77.0.1:9596']), /only \/metrics \(HTTP 404\)/);
  // The status listener is loopback-only: unreachable from the other namespace.
  assert.throws(
    () => promNs.exec(process.execPath, [cli, 'status', '--address', '10.77.0.1:9595', '--timeout', '2000']),
    /cannot reach failoverd|ECONNREFUSED/,
  );

  server.kill('SIGTERM');
  await once(server, 'exit');
});
