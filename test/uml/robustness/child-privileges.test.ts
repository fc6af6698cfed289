// Least privilege for children: a real agent started as an unprivileged user that holds
// CAP_NET_ADMIN and CAP_NET_RAW as ambient capabilities (what systemd's
// AmbientCapabilities= gives a User= service). The agent itself must still use them
// (raw VRRP socket, VIP, IPVS: it reaches MASTER), while an exec check it starts from
// the health worker thread must hold no capability at all and see none of the agent's
// environment beyond the allow-list. In the UML tier: exec checks need a service, and a
// service needs IPVS.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isInheritedVariable } from '../../../src/children.js';
import { Lab } from '../../netns/vrrp/lab.js';

import { AgentProcess } from '../../netns/robustness/agent-process.js';
import { sh } from '../../helpers/shell.js';
import { waitFor } from '../../helpers/wait.js';

assert.equal(process.env['FAILOVERD_IN_UML'], '1', 'this test needs IPVS: run it in the uml tier (node dist/test/runner/tiers.js uml)');

const NOBODY = 65534;
const CAP_NET_ADMIN = 12;
const CAP_NET_RAW = 13;
const UNPRIVILEGED_WITH_AMBIENT_CAPS = [
  'setpriv',
  `--reuid=${NOBODY}`,
  `--regid=${NOBODY}`,
  '--clear-groups',
  '--inh-caps=+net_admin,+net_raw',
  '--ambient-caps=+net_admin,+net_raw',
];

const work = mkdtempSync(join(tmpdir(), 'failoverd-child-privileges-'));
chmodSync(work, 0o755); // the agent runs as nobody and reads its config here
// The API socket and the check's output on the guest's own /run: on hostfs (/tmp) the
// agent and its check, running as nobody, cannot chmod or create files.
const runDir = mkdtempSync('/run/failoverd-cp-');
chmodSync(runDir, 0o777);
const lab = new Lab('cp');
let agent: AgentProcess | undefined;
after(async () => {
  await agent?.stop();
  await lab.cleanup();
  rmSync(work, { recursive: true, force: true });
  rmSync(runDir, { recursive: true, force: true });
});

function capabilities(status: string): Record<string, bigint> {
  return Object.fromEntries([...status.matchAll(/^(Cap\w+):\s+([0-9a-f]+)$/gm)].map((m) => [m[1]!, BigInt(`0x${m[2]!}`)]));
}

test('an exec check started by an agent holding ambient CAP_NET_ADMIN/CAP_NET_RAW gets no capabilities and no foreign environment', async (t) => {
  if (!existsSync('/usr/bin/setpriv') && !existsSync('/bin/setpriv')) assert.fail('setpriv (util-linux) is required');
  lab.setup([{ name: 'a', ipv4: '192.0.2.51' }]);
  const capsOut = join(runDir, 'check.status');
  const envOut = join(runDir, 'check.environ');
  const configPath = join(work, 'a.yaml');
  const socket = join(runDir, 'a.sock');
  writeFileSync(
    configPath,
    `node: { name: a }
vrrp:
  - { name: web, interface: eth0, vrid: 71, priority: 150, advert_interval: 100ms, vips: [10.6.2.195/32], garp: { count: 1 } }
services:
  - name: web-80
    vip: 10.6.2.195
    port: 80
    check: { type: exec, command: "cat /proc/$$/status > ${capsOut}.tmp && mv ${capsOut}.tmp ${capsOut}; cat /proc/$$/environ > ${envOut}.tmp && mv ${envOut}.tmp ${envOut}", interval: 1s, timeout: 1s }
    real_servers: [{ address: 192.0.2.99 }]
api: { listen: ${socket}, metrics: false }
health: { checks_thread: worker }
logging: { format: json }
`,
  );
  chmodSync(configPath, 0o644);
  const canary = { FAILOVERD_TEST_CANARY: 'canary-5b2c', DATABASE_PASSWORD: 'canary-91fe', NOTIFY_SOCKET: '/nonexistent/notify' };
  agent = AgentProcess.start(lab.node('a').ns, configPath, socket, canary, 'info', UNPRIVILEGED_WITH_AMBIENT_CAPS);

  // The agent used its capabilities: the raw VRRP socket and the VIP (MASTER adds it), IPVS.
  const ns = lab.node('a').ns;
  const problems = (): string =>
    agent!.logs
      .filter((l) => Number(l['level']) >= 40)
      .slice(0, 5)
      .map((l) => JSON.stringify(l))
      .join('\n');
  await agent.waitForState('web', 'MASTER', 150_000, 250).catch((err: Error) => {
    throw new Error(
      `${err.message}; the agent's problems: ${problems()}; last lines: ${agent!.logs
        .slice(-10)
        .map((l) => JSON.stringify(l))
        .join('\n')}`,
    );
  });
  assert.match(sh(['ip', '-n', ns, '-4', 'addr', 'show', 'dev', 'eth0']), /10\.6\.2\.195\/32/, 'MASTER holds the VIP');
  assert.match(sh(['ip', 'netns', 'exec', ns, 'ipvsadm', '-Ln']), /10\.6\.2\.195:80/, 'the agent programmed IPVS');
  const own = capabilities(readFileSync(`/proc/${agent.pid}/status`, 'utf8'));
  const agentUid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${agent.pid}/status`, 'utf8'))![1];
  assert.equal(agentUid, String(NOBODY), 'the agent runs unprivileged');
  const needed = (1n << BigInt(CAP_NET_ADMIN)) | (1n << BigInt(CAP_NET_RAW));
  assert.equal(
    own['CapEff']! & needed,
    needed,
    `the agent keeps its effective capabilities: ${JSON.stringify(own, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v))}`,
  );

  await waitFor(() => existsSync(capsOut) && existsSync(envOut), { what: 'the exec check to have run', timeoutMs: 60_000 }).catch(
    async (err: Error) => {
      const status = await agent!.status().catch((e: Error) => e.message);
      throw new Error(
        `${err.message}; status ${JSON.stringify(status)}; log ${agent!.logs
          .slice(-15)
          .map((l) => JSON.stringify(l))
          .join('\n')}`,
      );
    },
  );
  const child = capabilities(readFileSync(capsOut, 'utf8'));
  t.diagnostic(
    `agent CapEff=${own['CapEff']!.toString(16)} CapAmb=${own['CapAmb']!.toString(16)}; check CapAmb=${child['CapAmb']!.toString(16)} CapEff=${child['CapEff']!.toString(16)} CapPrm=${child['CapPrm']!.toString(16)}`,
  );
  assert.equal(child['CapAmb'], 0n, 'ambient');
  assert.equal(child['CapEff'], 0n, 'effective');
  assert.equal(child['CapPrm'], 0n, 'permitted');

  const names = readFileSync(envOut, 'utf8')
    .split('\0')
    .filter(Boolean)
    .map((entry) => entry.slice(0, entry.indexOf('=')));
  const foreign = names.filter((name) => !isInheritedVariable(name) && !/^FAILOVERD_(SERVICE|ADDRESS|PORT|FAMILY)$/.test(name));
  assert.deepEqual(foreign, [], `the check saw ${foreign.join(', ')}`);
  assert.ok(names.includes('FAILOVERD_ADDRESS'));
  assert.ok(agent.running, 'the agent is still up');
  assert.equal(problems(), '', 'the agent logged no warning or error');
});
