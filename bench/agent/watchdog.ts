// The systemd watchdog pings of `failoverd run`, as systemd would receive them:
// the gaps between WATCHDOG=1 datagrams on NOTIFY_SOCKET against the nominal
// WATCHDOG_USEC/2 (the reference, in the same run). The netns lifecycle test asserts
// that the pings come; how regularly they come is reported here, not asserted.
// Root: the agent runs in a namespace of its own, with a veth eth0.
//
//   node dist/bench/agent/watchdog.js [--usec 400000] [--pings 30]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AF_UNIX, SOCK_DGRAM } from '../../src/net/constants.js';
import { sockaddrUnix } from '../../src/net/sockaddr.js';
import { DatagramSocket } from '../../src/net/socket.js';
import { Netns } from '../../test/helpers/netns.js';
import { waitFor } from '../../test/helpers/wait.js';
import { stats } from '../../test/netns/robustness/gaps.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
};
const USEC = Number(arg('usec', '400000'));
const PINGS = Number(arg('pings', '30'));
const cli = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

const work = mkdtempSync(join(tmpdir(), 'failoverd-watchdog-'));
const ns = Netns.create('fo-wd');
try {
  ns.ip('link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p');
  ns.ip('link', 'set', 'eth0p', 'up');
  ns.ip('link', 'set', 'eth0', 'up');
  ns.ip('addr', 'add', '192.0.2.10/24', 'dev', 'eth0');
  const configPath = join(work, 'failoverd.yaml');
  writeFileSync(
    configPath,
    `node: { name: lvs-a }
vrrp:
  - { name: web, interface: eth0, vrid: 51, priority: 150, version: 3, advert_interval: 100ms, vips: [10.6.2.195/32] }
services: []
api: { listen: ${join(work, 'api.sock')}, metrics: false }
logging: { format: json }
`,
  );
  const notifyPath = join(work, 'notify.sock');
  const notify = new DatagramSocket(AF_UNIX, SOCK_DGRAM, 0).bind(sockaddrUnix(notifyPath));
  const pings: number[] = [];
  notify
    .on('message', (m) => {
      if (m.data.toString() === 'WATCHDOG=1') pings.push(performance.now());
    })
    .receive();
  const agent = ns.spawn(process.execPath, [cli, 'run', '--config', configPath], 'ignore', {
    ...process.env,
    NOTIFY_SOCKET: notifyPath,
    WATCHDOG_USEC: String(USEC),
  });
  await waitFor(() => pings.length >= PINGS + 1, { what: `${PINGS + 1} watchdog pings`, timeoutMs: 30_000 + (PINGS * USEC) / 500 });
  agent.kill('SIGTERM');
  notify.close();
  const gaps = pings.slice(1, PINGS + 1).map((t, i) => t - pings[i]!);
  const s = stats(gaps);
  console.log(`failoverd run, WATCHDOG_USEC=${USEC}: ${gaps.length} gaps between WATCHDOG=1 pings, ms`);
  console.log('| | p50 | p99 | max | min |');
  console.log('|---|---:|---:|---:|---:|');
  console.log(`| failoverd | ${s.p50Ms} | ${s.p99Ms} | ${s.maxMs} | ${Math.min(...gaps).toFixed(2)} |`);
  console.log(`| nominal (WATCHDOG_USEC/2) | ${USEC / 2000} | ${USEC / 2000} | ${USEC / 2000} | ${USEC / 2000} |`);
  console.log(`systemd kills the service after a gap of WATCHDOG_USEC = ${USEC / 1000} ms`);
} finally {
  ns.delete();
  rmSync(work, { recursive: true, force: true });
}
