// `sync_daemon` group, port, maxlen and ttl, and `ipvs.timeouts`, reach the kernel
// through `failoverd run` (issue 13: the first were accepted and ignored, the second
// missing), read back by an independent reader, `ipvsadm -L --daemon` and
// `ipvsadm -L --timeout`. A reload that changes them applies the new settings; SIGTERM
// stops the daemon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { directorLab } from '../director.js';
import { waitFor } from '../../helpers/wait.js';
import { parseIpvsadmDaemons, parseIpvsadmTimeouts } from '../../helpers/ipvsadm.js';

const cli = fileURLToPath(new URL('../../../src/cli.js', import.meta.url));
const { dir, work, startAgent } = directorLab('syncd');

const configPath = join(work, 'failoverd.yaml');

function config(syncDaemon: string, timeouts: string): string {
  return `node: { name: lvs-a }
vrrp:
  - name: web
    interface: eth0
    vrid: 51
    priority: 150
    advert_interval: 100ms
    vips: [10.6.2.195/32]
    sync_daemon: { interface: eth0, sync_id: 51${syncDaemon} }
services:
  - name: web-80
    vip: 10.6.2.195
    port: 80
    real_servers: [{ address: 10.6.2.191 }]
ipvs: { timeouts: { ${timeouts} } }
api: { listen: ${join(work, 'api.sock')}, metrics: false }
logging: { format: json }
`;
}

const daemons = () => parseIpvsadmDaemons(dir.exec('ipvsadm', ['-L', '--daemon']));

test('sync_daemon group, port, maxlen and ttl, and ipvs.timeouts: set by the agent, read by ipvsadm; a reload changes them; SIGTERM stops the daemon', async () => {
  writeFileSync(configPath, config(', group: 224.0.0.99, port: 8900, maxlen: 1400, ttl: 3', 'tcp: 15m1s, tcpfin: 2m1s, udp: 5m1s'));
  const agent = startAgent(configPath);

  // Alone on the segment: MASTER, so the master daemon.
  await waitFor(() => daemons().some((d) => d.state === 'master'), {
    what: 'the master sync daemon in ipvsadm',
    timeoutMs: 90_000,
    stepMs: 500,
  }).catch((err: Error) => {
    const status = spawnSync(process.execPath, [cli, 'status', '--socket', join(work, 'api.sock')], { encoding: 'utf8' });
    throw new Error(
      `${err.message}\nipvsadm --daemon: ${dir.exec('ipvsadm', ['-L', '--daemon'])}\nstatus: ${status.stdout}${status.stderr}\nlogs: ${agent.logs
        .slice(-20)
        .map((l) => JSON.stringify(l))
        .join('\n')}`,
    );
  });
  const first = daemons();
  assert.deepEqual(first, [{ state: 'master', interface: 'eth0', syncId: 51, maxLength: 1400, group: '224.0.0.99', port: 8900, ttl: 3 }]);

  const timeouts = parseIpvsadmTimeouts(dir.exec('ipvsadm', ['-L', '--timeout']));
  assert.deepEqual(timeouts, { tcp: 901, tcpFin: 121, udp: 301 });

  writeFileSync(configPath, config(', group: 224.0.0.98, port: 8901, ttl: 7', 'tcp: 1h, udp: 30s'));
  agent.kill('SIGHUP');
  await waitFor(() => daemons()[0]?.ttl === 7, { what: 'the reloaded daemon in ipvsadm', timeoutMs: 60_000, stepMs: 500 });
  const second = daemons();
  assert.deepEqual(
    second.map((d) => [d.state, d.group, d.port, d.ttl]),
    [['master', '224.0.0.98', 8901, 7]],
  );
  // maxlen left out: the kernel's default from eth0's MTU (1500 − IP and UDP headers).
  assert.equal(second[0]!.maxLength, 1472);

  // tcpfin, left out, keeps what the kernel had.
  await waitFor(() => parseIpvsadmTimeouts(dir.exec('ipvsadm', ['-L', '--timeout'])).tcp === 3600, {
    what: 'the reloaded timeouts in ipvsadm',
    timeoutMs: 30_000,
    stepMs: 500,
  });
  assert.deepEqual(parseIpvsadmTimeouts(dir.exec('ipvsadm', ['-L', '--timeout'])), { tcp: 3600, tcpFin: 121, udp: 30 });

  agent.kill('SIGTERM');
  await agent.exited;
  assert.deepEqual(daemons(), [], 'SIGTERM stopped the daemon');
  process.stdout.write(
    `# ipvsadm --daemon after start: ${JSON.stringify(first)}; after reload: ${JSON.stringify(second)}; --timeout after start: ${JSON.stringify(timeouts)}\n`,
  );
});
