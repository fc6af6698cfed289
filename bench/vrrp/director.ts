// One director of the sub-second bench: `failoverd run` as src/commands/run.ts
// composes it (real config file, check plugins, health-check worker, VRRP raw
// sockets in the namespace, status API), except that the IPVS table is the
// in-memory one: this host's kernel has no ip_vs, and the bench measures VRRP
// under check load, not IPVS. Logs are pino JSON on stderr, as under systemd.
//   node director.js CONFIG NETNS_PATH
import { hostname } from 'node:os';
import { loadCheckPlugins } from '../../checks/index.js';
import { Agent } from '../../src/agent.js';
import { systemdNotifier } from '../../src/agent/io.js';
import { ApiServer } from '../../src/api/server.js';
import { MemoryIpvsTable } from '../../src/ipvs/memory-table.js';
import { createLogger } from '../../src/log.js';
import { systemVrrpIo } from '../../src/vrrp/io.js';
import { startHeapProfile } from './heap-profile.js';
import { startLoopProbe } from './loop-probe.js';

const [configPath, netns] = process.argv.slice(2);
if (!configPath || !netns) throw new Error('usage: director.js CONFIG NETNS_PATH');
const logger = createLogger({ level: 'info', pretty: false });
if (process.env['BENCH_PROBE'] === '1') startLoopProbe(logger, Number(process.env['BENCH_PROBE_MS'] ?? 100));
const heapProfile = process.env['BENCH_HEAP_PROFILE'];
if (heapProfile)
  startHeapProfile(
    logger,
    heapProfile,
    Number(process.env['BENCH_HEAP_PROFILE_FROM_S'] ?? 30),
    Number(process.env['BENCH_HEAP_PROFILE_TO_S'] ?? 90),
  );
const agent = await Agent.create({
  configPath,
  logger,
  plugins: await loadCheckPlugins(),
  hostname: hostname(),
  openIpvsTable: () => Promise.resolve(new MemoryIpvsTable()),
  openVrrpIo: (onSocketEvent) => systemVrrpIo({ netns, onSocketEvent }),
  openApi: (config, deps) => new ApiServer(config, deps),
  systemd: systemdNotifier,
  netns,
  onFatal: (err) => {
    logger.fatal({ err }, 'health checks failed');
    process.exit(1);
  },
});
process.on('SIGTERM', () => {
  void agent.stop().finally(() => process.exit(0));
});
await agent.start();
logger.info('director started');
