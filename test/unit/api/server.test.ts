import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'undici';
import { ApiClient } from '../../../src/api/client.js';
import { parseDurationArgument } from '../../../src/config/duration.js';
import { formatStatus } from '../../../src/api/format.js';
import { parseListenAddress } from '../../../src/api/listen.js';
import { ApiServer, FORCE_BACKUP_RANGE } from '../../../src/api/server.js';
import { EventBus, type AgentEvent } from '../../../src/events.js';
import { Metrics } from '../../../src/metrics/metrics.js';
import { fakeAgent } from './fake-agent.js';
import { parsePrometheus } from './prom-text.js';

const cli = new URL('../../../src/cli.js', import.meta.url).pathname;

async function startApi(t: { after(fn: () => unknown): void }, extra: { adminOverTcp?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'failoverd-api-'));
  const socket = join(dir, 'run', 'failoverd.sock');
  const agent = fakeAgent();
  const bus = new EventBus('lvs-a');
  const events: AgentEvent[] = [];
  bus.subscribe('admin.*', (e) => events.push(e));
  const metrics = new Metrics(bus, agent.sources, { defaultMetrics: false });
  const server = new ApiServer(
    { socket, loopback: '127.0.0.1:0', metrics: '127.0.0.1:0', ...extra },
    { status: agent.status, admin: agent.admin, metrics: metrics.registry, bus },
  );
  await server.start();
  t.after(async () => {
    await server.stop();
    metrics.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const [, loopback, metricsAddr] = server.listening();
  return {
    dir,
    socket,
    agent,
    events,
    server,
    loopback: loopback!,
    metricsAddr: metricsAddr!,
    client: new ApiClient({ kind: 'unix', path: socket }),
  };
}

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

test('status over the unix socket (mode 0660) and the loopback listener', async (t) => {
  const api = await startApi(t);
  t.after(() => api.client.close());
  assert.equal(statSync(api.socket).mode & 0o777, 0o660);
  assert.ok(statSync(api.socket).isSocket());
  assert.deepEqual(await api.client.status(), api.agent.snapshot);
  const tcp = new ApiClient(parseListenAddress(api.loopback));
  t.after(() => tcp.close());
  assert.equal((await tcp.status()).node, 'lvs-a');
  // Admin actions are refused on the loopback listener unless enabled.
  await assert.rejects(
    tcp.admin('drain', { service: 'web-80', real_server: '10.6.2.191' }),
    /only accepted on the unix socket \(HTTP 403\)/,
  );
  assert.deepEqual(api.agent.calls, []);
});

test('resign: POST /admin/resign steps a master down and says whether it was master; admin.resign is published', async (t) => {
  const api = await startApi(t);
  t.after(() => api.client.close());
  assert.deepEqual(await api.client.admin('resign', { instance: 'web' }), { ok: true, action: 'resign', instance: 'web', wasMaster: true });
  assert.equal((await api.client.status()).instances[0]?.state, 'BACKUP');
  assert.deepEqual(await api.client.admin('resign', { instance: 'web' }), {
    ok: true,
    action: 'resign',
    instance: 'web',
    wasMaster: false,
  });
  await assert.rejects(api.client.admin('resign', {}), /"instance" is required \(a string\) \(HTTP 400\)/);
  await assert.rejects(api.client.admin('resign', { instance: 'nope' }), /no VRRP instance nope \(HTTP 404\)/);
  assert.deepEqual(api.agent.calls, ['resign web', 'resign web', 'resign nope']);
  assert.deepEqual(
    api.events.map((e) => `${e.type} ${e.object} ${e.to ?? '-'}`),
    ['admin.resign vrrp/web BACKUP', 'admin.resign vrrp/web -'],
  );
});

test('maintenance: POST /admin/maintenance drains a whole service and back; "on" must be a boolean', async (t) => {
  const api = await startApi(t);
  t.after(() => api.client.close());
  assert.deepEqual(await api.client.admin('maintenance', { service: 'web-80', on: true }), {
    ok: true,
    action: 'maintenance',
    service: 'web-80',
    on: true,
  });
  const svc = (await api.client.status()).services[0]!;
  assert.equal(svc.maintenanceSince, '2026-05-01T13:00:00.000Z');
  assert.deepEqual(
    svc.realServers.map((r) => [r.weight, r.drained]),
    [
      [0, true],
      [0, true],
    ],
  );
  await api.client.admin('maintenance', { service: 'web-80', on: false });
  await assert.rejects(
    api.client.admin('maintenance', { service: 'web-80', on: 'yes' }),
    /"on" is required \(true or false\) \(HTTP 400\)/,
  );
  await assert.rejects(api.client.admin('maintenance', { service: 'nope', on: true }), /no service nope \(HTTP 404\)/);
  assert.deepEqual(api.agent.calls, ['maintenance web-80 true', 'maintenance web-80 false', 'maintenance nope true']);
  assert.deepEqual(
    api.events.map((e) => `${e.type} ${e.object} ${e.to ?? '-'}`),
    ['admin.maintenance service/web-80 on', 'admin.maintenance service/web-80 off'],
  );
});

test('admin actions go through AdminActions, publish admin.* events, and bad requests get clear errors', async (t) => {
  const api = await startApi(t);
  t.after(() => api.client.close());
  assert.deepEqual(await api.client.admin('drain', { service: 'web-80', real_server: '10.6.2.191' }), {
    ok: true,
    action: 'drain',
    service: 'web-80',
    real_server: '10.6.2.191',
  });
  const rs = (await api.client.status()).services[0]!.realServers[0]!;
  assert.equal(rs.weight, 0);
  assert.equal(rs.drained, true);
  await api.client.admin('force-backup', { instance: 'web', for: '90s' });
  await api.client.admin('release', { instance: 'web' });
  await api.client.admin('undrain', { service: 'web-80', real_server: '10.6.2.191' });
  assert.deepEqual(api.agent.calls, [
    'drain web-80 10.6.2.191 true',
    'forceBackup web 90000',
    'forceBackup web 0',
    'drain web-80 10.6.2.191 false',
  ]);
  assert.deepEqual(
    api.events.map((e) => `${e.type} ${e.object}`),
    [
      'admin.drain service/web-80/10.6.2.191',
      'admin.force-backup vrrp/web',
      'admin.release vrrp/web',
      'admin.undrain service/web-80/10.6.2.191',
    ],
  );

  await assert.rejects(api.client.admin('drain', { service: 'web-80' }), /"real_server" is required \(a string\) \(HTTP 400\)/);
  await assert.rejects(
    api.client.admin('drain', { service: 'nope', real_server: '10.6.2.191' }),
    /no real server 10.6.2.191 in service nope \(HTTP 404\)/,
  );
  await assert.rejects(api.client.admin('force-backup', { instance: 'web', for: 'soon' }), /invalid duration "soon".*\(HTTP 400\)/);
  const raw = new Client('http://localhost', { socketPath: api.socket });
  t.after(() => raw.close());
  const bad = await raw.request({ method: 'POST', path: '/admin/drain', body: '{not json' });
  assert.equal(bad.statusCode, 400);
  assert.deepEqual(await bad.body.json(), { error: 'request body must be a JSON object' });
  const unknown = await raw.request({ method: 'GET', path: '/nope' });
  assert.equal(unknown.statusCode, 404);
  await unknown.body.dump();
  const get = await raw.request({ method: 'GET', path: '/admin/drain' });
  assert.equal(get.statusCode, 405);
  await get.body.dump();
});

test('the metrics listener serves only /metrics; the socket serves it too', async (t) => {
  const api = await startApi(t);
  t.after(() => api.client.close());
  const m = new Client(`http://${api.metricsAddr}`);
  t.after(() => m.close());
  const res = await m.request({ method: 'GET', path: '/metrics' });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  assert.ok(parsePrometheus(await res.body.text()).has('failoverd_vrrp_state'));
  const status = await m.request({ method: 'GET', path: '/status' });
  assert.equal(status.statusCode, 404);
  await status.body.dump();
  assert.ok(parsePrometheus(await api.client.metrics()).has('failoverd_ipvs_connections_total'));
});

test('a stale socket file is removed at start; a live one or a regular file is never replaced', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'failoverd-stale-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'a.sock');
  // A process that dies without cleaning up leaves its socket file behind.
  const crashed = spawnSync(process.execPath, [
    '-e',
    `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`,
  ]);
  assert.equal(crashed.signal, 'SIGKILL');
  assert.ok(statSync(path).isSocket());
  const agent = fakeAgent();
  const first = new ApiServer({ socket: path }, { status: agent.status });
  await first.start();
  t.after(() => first.stop());
  const second = new ApiServer({ socket: path }, { status: agent.status });
  await assert.rejects(second.start(), /another process is serving .*a\.sock \(is failoverd already running\?\)/);
  const file = join(dir, 'file');
  writeFileSync(file, 'keep me');
  await assert.rejects(
    new ApiServer({ socket: file }, { status: agent.status }).start(),
    /exists and is not a socket; refusing to replace it/,
  );
  await assert.rejects(
    new ApiServer({ socket: false, loopback: '0.0.0.0:0' }, { status: agent.status }).start(),
    /must be a loopback HOST:PORT/,
  );
});

test('failoverd status: tables, --json, --config api.listen, admin subcommands, and an unreachable agent', async (t) => {
  const api = await startApi(t);
  t.after(() => api.client.close());
  const tables = await runCli(['status', '--socket', api.socket]);
  assert.equal(tables.code, 0, tables.stderr);
  assert.match(tables.stdout, /^node lvs-a — failoverd 0\.1\.0, pid 4242/);
  assert.match(tables.stdout, /VRRP instances\nNAME +STATE +PRIO +MASTER +VIPS/);
  assert.match(tables.stdout, /\nweb +MASTER +150 +10\.6\.2\.1 +10\.6\.2\.195\/32/);
  assert.match(tables.stdout, /web-80 +tcp:10\.6\.2\.195:80 +2\/1 +10\.6\.2\.191:80 +up +1 +http ok/);
  assert.match(tables.stdout, /tcp:10\.6\.2\.195:80 +wlc .*\n +-> 10\.6\.2\.191:80 +dr +1 +2 +5 +20/);
  assert.match(tables.stdout, /Maintenance schedules\n.*\nsunday +drain +service\/web-80\/10\.6\.2\.191/);
  assert.match(tables.stdout, /https:\/\/hooks\.example\/lvs +0 +7 +1 +0 +HTTP 500/);

  const json = await runCli(['status', '--json', '--socket', api.socket]);
  assert.deepEqual(JSON.parse(json.stdout), api.agent.snapshot);

  const config = join(api.dir, 'failoverd.yaml');
  writeFileSync(config, `node: { name: lvs-a }\napi:\n  listen: ${api.socket}\n  metrics: 127.0.0.1:9595\n`);
  const viaConfig = await runCli(['status', '--json', '--config', config]);
  assert.equal(JSON.parse(viaConfig.stdout).node, 'lvs-a');
  const viaTcp = await runCli(['status', '--json', '--address', api.loopback]);
  assert.equal(JSON.parse(viaTcp.stdout).node, 'lvs-a');

  const drain = await runCli(['status', 'drain', 'web-80', '10.6.2.192', '--socket', api.socket]);
  assert.equal(drain.stdout, 'drained 10.6.2.192 in web-80\n');
  const force = await runCli(['status', 'force-backup', 'web', '--for', '2m', '--socket', api.socket]);
  assert.equal(force.stdout, 'web forced to BACKUP for 120s\n');
  const audit = await runCli(['status', 'audit', '--socket', api.socket]);
  assert.equal(audit.stdout, 'IPVS table audited: 1 entries differed; 1 operations repaired them (0 failed)\n');
  assert.deepEqual(api.agent.calls, ['drain web-80 10.6.2.192 true', 'forceBackup web 120000', 'auditIpvs']);
  const unknown = await runCli(['status', 'drain', 'web-80', '10.9.9.9', '--socket', api.socket]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no real server 10\.9\.9\.9 in service web-80 \(HTTP 404\)/);

  const missing = await runCli(['status', '--socket', join(api.dir, 'nothing.sock')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot reach failoverd at .*nothing\.sock \(ENOENT\); is it running\?/);
});

test('small parsers and the human format', () => {
  assert.deepEqual(parseListenAddress('/run/failoverd/failoverd.sock'), { kind: 'unix', path: '/run/failoverd/failoverd.sock' });
  assert.deepEqual(parseListenAddress('127.0.0.1:9595'), { kind: 'tcp', host: '127.0.0.1', port: 9595 });
  assert.deepEqual(parseListenAddress('[::1]:9595'), { kind: 'tcp', host: '::1', port: 9595 });
  assert.deepEqual(parseListenAddress(':9595'), { kind: 'tcp', host: '0.0.0.0', port: 9595 });
  assert.throws(() => parseListenAddress('example.com:80'), /invalid listen host "example.com"/);
  assert.throws(() => parseListenAddress('127.0.0.1'), /invalid listen address/);
  assert.equal(parseDurationArgument('1h30m', FORCE_BACKUP_RANGE), 5_400_000);
  assert.equal(parseDurationArgument('1500ms', FORCE_BACKUP_RANGE), 1500);
  assert.equal(parseDurationArgument('2.5s', FORCE_BACKUP_RANGE), 2500);
  assert.equal(parseDurationArgument('250', FORCE_BACKUP_RANGE), 250);
  assert.throws(() => parseDurationArgument('5 minutes', FORCE_BACKUP_RANGE), /invalid duration/);
  const { snapshot } = fakeAgent();
  snapshot.services[0]!.quorum = { required: 2, up: 1, met: false };
  snapshot.services[0]!.realServers[1] = {
    ...snapshot.services[0]!.realServers[1]!,
    state: 'down',
    weight: 0,
    lastCheck: { ok: false, reason: 'connect ECONNREFUSED', latencyMs: 0.2, at: '2026-05-01T12:04:58.000Z' },
  };
  const text = formatStatus(snapshot, Date.parse('2026-05-01T12:05:00Z'));
  assert.match(text, /1\/2 LOST/);
  assert.match(text, /10\.6\.2\.192:80 +down +0 \(1\) +tcp fail 2s ago +0\.2ms +connect ECONNREFUSED/);
});

test('audit: POST /admin/audit runs an IPVS audit and returns what it found', async (t) => {
  const api = await startApi(t);
  t.after(() => api.client.close());
  assert.deepEqual(await api.client.admin('audit', {}), { ok: true, action: 'audit', drift: 1, ops: 1, failed: 0, converged: true });
  assert.deepEqual(api.agent.calls, ['auditIpvs']);
});
