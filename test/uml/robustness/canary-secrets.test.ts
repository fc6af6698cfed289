// Secret hygiene, end to end: a canary secret in every secret-bearing key of the
// config (VRRP auth.password, a webhook URL's userinfo, path and query, webhook
// secrets, an Authorization header, values substituted from ${ENV}) and in the agent's
// environment (as systemd's EnvironmentFile= puts it there). A real agent runs with it
// and then rejects a reload whose errors would quote the canaries; every output is
// grepped: the agent's log, /metrics, /status, the bodies a webhook receiver got, what a
// notify program got (arguments, environment, stdin), an exec check's environment, and
// `failoverd check` on the broken config. In the UML tier: exec checks need IPVS.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Netns } from '../../helpers/netns.js';
import { AgentProcess, CLI } from '../../netns/robustness/agent-process.js';
import { waitFor } from '../../helpers/wait.js';

assert.equal(process.env['FAILOVERD_IN_UML'], '1', 'this test needs IPVS: run it in the uml tier (node dist/test/runner/tiers.js uml)');

const HOOK_PORT = 18_091;
const canary = (length = 16): string => randomBytes(length).toString('hex').slice(0, length);
const CANARIES = {
  vrrpPassword: canary(8), // auth.password holds at most 8 characters
  urlUser: canary(),
  urlPassword: canary(),
  urlPath: canary(24),
  urlQuery: canary(),
  rawSecret: canary(),
  whsecKey: randomBytes(24).toString('base64'),
  authorization: canary(),
  fromEnv: canary(),
  environmentFile: canary(),
  tooLongPassword: canary(12),
};

const work = mkdtempSync(join(tmpdir(), 'failoverd-canary-'));
const ns = Netns.create('canary');
let agent: AgentProcess | undefined;
let receiver: ChildProcess | undefined;
after(async () => {
  await agent?.stop();
  if (receiver?.pid && receiver.exitCode === null) receiver.kill('SIGKILL');
  ns.delete();
  rmSync(work, { recursive: true, force: true });
});

/** A receiver in the agent's namespace: one JSON line per request ({ body }) on stdout. */
function startReceiver(): { bodies: string[]; ready: Promise<void> } {
  const script = `require('node:http').createServer((req, res) => {
  const chunks = []; req.on('data', (c) => chunks.push(c));
  req.on('end', () => { console.log(JSON.stringify({ body: Buffer.concat(chunks).toString() })); res.end('ok'); });
}).listen(${HOOK_PORT}, '127.0.0.1', () => console.log('listening'));`;
  receiver = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const bodies: string[] = [];
  let listening!: () => void;
  const ready = new Promise<void>((resolve) => {
    listening = resolve;
  });
  createInterface({ input: receiver.stdout! }).on('line', (line) => {
    if (line === 'listening') listening();
    else bodies.push((JSON.parse(line) as { body: string }).body);
  });
  return { bodies, ready };
}

function config(notify: string, execOut: string, socket: string, broken: boolean): string {
  const url = broken
    ? `ftp://\${HOOK_USER}:${CANARIES.urlPassword}@127.0.0.1:${HOOK_PORT}/hook/${CANARIES.urlPath}?token=${CANARIES.urlQuery}`
    : `http://\${HOOK_USER}:${CANARIES.urlPassword}@127.0.0.1:${HOOK_PORT}/hook/${CANARIES.urlPath}?token=${CANARIES.urlQuery}`;
  return `node: { name: lvs-canary }
vrrp:
  - name: web
    interface: eth0
    vrid: 81
    priority: 150
    version: 2
    advert_interval: 1s
    vips: [10.6.2.195/32]
    auth: { password: "${broken ? '${LONG_PASSWORD}' : CANARIES.vrrpPassword}" }
services:
  - name: web-80
    vip: 10.6.2.195
    port: 80
    check: { type: exec, command: "cat /proc/$$/environ > ${execOut}.tmp && mv ${execOut}.tmp ${execOut}", interval: 500ms, timeout: 5s }
    real_servers: [{ address: 192.0.2.99 }]
alerts:
  webhooks:
    - url: "${url}"
      secret: "raw-${CANARIES.rawSecret}"
      secrets: ["whsec_${CANARIES.whsecKey}", "\${HOOK_SECRET}"]
      headers: { Authorization: "Bearer ${CANARIES.authorization}" }
      retries: ${broken ? '"${HOOK_SECRET}"' : '0'}
  notify:
    - { program: ${notify} }
api: { listen: ${socket}, metrics: 127.0.0.1:9595 }
logging: { format: json }
`;
}

test('a canary in every secret-bearing key and in the environment reaches no output', async (t) => {
  ns.ip('link', 'add', 'eth0', 'type', 'dummy');
  ns.ip('addr', 'add', '192.0.2.61/24', 'dev', 'eth0');
  ns.ip('link', 'set', 'eth0', 'up');
  const hook = startReceiver();
  await hook.ready;

  const notifyOut = join(work, 'notify.out');
  const notify = join(work, 'notify.sh');
  writeFileSync(notify, `#!/bin/sh\n{ echo "args: $*"; tr '\\0' '\\n' < /proc/$$/environ; cat; } >> ${notifyOut}\n`);
  chmodSync(notify, 0o755);
  const execOut = join(work, 'exec.environ');
  const socket = join(work, 'api.sock');
  const configPath = join(work, 'failoverd.yaml');
  writeFileSync(configPath, config(notify, execOut, socket, false), { mode: 0o600 });
  const env = {
    HOOK_USER: CANARIES.urlUser,
    HOOK_SECRET: CANARIES.fromEnv,
    LONG_PASSWORD: CANARIES.tooLongPassword,
    DATABASE_PASSWORD: CANARIES.environmentFile,
  };
  agent = AgentProcess.start(ns.name, configPath, socket, env, 'debug');
  const problems = (): string =>
    agent!.logs
      .filter((l) => Number(l['level']) >= 40 || JSON.stringify(l).includes('webhook'))
      .slice(0, 8)
      .map((l) => JSON.stringify(l))
      .join('\n');
  const explain = async (err: Error): Promise<never> => {
    const alerts = await agent!.status().then(
      (s) => JSON.stringify(s.alerts),
      (e: Error) => e.message,
    );
    throw new Error(`${err.message}; ${hook.bodies.length} bodies; alerts ${alerts}; log ${problems()}`);
  };
  await agent.waitForState('web', 'MASTER', 120_000, 250).catch((err: Error) => {
    throw new Error(`${err.message}; ${problems()}`);
  });
  await waitFor(() => existsSync(execOut), { what: 'the exec check to have run', timeoutMs: 60_000, stepMs: 100 });
  await waitFor(() => hook.bodies.some((b) => b.includes('"to":"master"')), {
    what: 'the MASTER event at the receiver',
    timeoutMs: 30_000,
    stepMs: 100,
  }).catch(explain);

  // A reload whose errors would quote the canaries: rejected, and reported everywhere.
  writeFileSync(configPath, config(notify, execOut, socket, true), { mode: 0o600 });
  agent.kill('SIGHUP');
  await waitFor(() => hook.bodies.some((b) => b.includes('config.rejected')), {
    what: 'config.rejected at the receiver',
    timeoutMs: 30_000,
    stepMs: 100,
  }).catch(explain);
  await waitFor(() => existsSync(notifyOut) && readFileSync(notifyOut, 'utf8').includes('config.rejected'), {
    what: 'config.rejected at the notify program',
    timeoutMs: 30_000,
    stepMs: 100,
  });
  const rejected = JSON.parse(hook.bodies.find((b) => b.includes('config.rejected'))!) as { data: { errors: string[] } };
  assert.ok(rejected.data.errors.length >= 3, `the reload was rejected for each planted problem: ${rejected.data.errors.join('\n')}`);

  const check = spawnSync(process.execPath, [CLI, 'check', '--config', configPath], { encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(check.status, 1, 'failoverd check rejects the broken config');

  const outputs: Record<string, string> = {
    'agent log': agent.logs.map((l) => JSON.stringify(l)).join('\n'),
    '/metrics': await agent.api.metrics(),
    '/status': JSON.stringify(await agent.status()),
    'webhook bodies': hook.bodies.join('\n'),
    'notify program (args, environment, stdin)': readFileSync(notifyOut, 'utf8'),
    'exec check environment': readFileSync(execOut, 'utf8').split('\0').join('\n'),
    'failoverd check': `${check.stdout}\n${check.stderr}`,
  };
  t.diagnostic(
    `grepped ${Object.entries(outputs)
      .map(([k, v]) => `${k} ${v.length} B`)
      .join(', ')}; ${hook.bodies.length} webhook bodies`,
  );
  const leaks: string[] = [];
  for (const [where, text] of Object.entries(outputs)) {
    for (const [key, secret] of Object.entries(CANARIES)) if (text.includes(secret)) leaks.push(`${key} in ${where}`);
  }
  assert.deepEqual(leaks, []);
  // And the outputs are really there: the check names the key, the webhook delivered under its redacted name.
  assert.match(outputs['failoverd check']!, /auth\.password/, 'the check output names the key');
  assert.match(outputs['/metrics']!, /failoverd_webhook_deliveries_total\{endpoint="http:\/\/127\.0\.0\.1:18091\/…"\} [1-9]/);
});
