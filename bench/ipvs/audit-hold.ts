// How long an IPVS audit holds the event loop, the thread that also sends the VRRP
// adverts: a reconciler over N real servers (1,000 per service unless --per-service) on the kernel's table
// (run it in UML: this host has no IPVS) or the in-memory one the VRRP benches use,
// then audits back to back with 20 ms of idle between them; a 1 ms timer measures the
// loop's longest hold during each. The first third are warm-up and not counted.
//   node dist/bench/ipvs/audit-hold.js [--real-servers 10000] [--per-service 1000] [--audits 40] [--table memory|kernel]
//   bash test/harness/uml-run.sh -- node dist/bench/ipvs/audit-hold.js --table kernel
import { parseArgs } from 'node:util';
import { systemClock } from '../../src/clock.js';
import { IpvsClient } from '../../src/ipvs/client.js';
import { MemoryIpvsTable } from '../../src/ipvs/memory-table.js';
import { Reconciler } from '../../src/ipvs/reconciler.js';
import type { IpvsTable } from '../../src/ipvs/table.js';
import type { DesiredService } from '../../src/ipvs/types.js';
import { silentLogger } from '../../src/log.js';

const { values } = parseArgs({
  options: {
    'real-servers': { type: 'string', default: '10000' },
    'per-service': { type: 'string', default: '1000' },
    audits: { type: 'string', default: '40' },
    table: { type: 'string', default: 'memory' },
  },
});
const REAL_SERVERS = Number(values['real-servers']);
const PER_SERVICE = Number(values['per-service']);
const AUDITS = Number(values.audits);
const TABLE = values.table;
if (TABLE !== 'memory' && TABLE !== 'kernel') throw new Error('--table is memory or kernel');

const desired: DesiredService[] = [];
for (let s = 0; s * PER_SERVICE < REAL_SERVERS; s++) {
  const destinations = [];
  for (let i = 0; i < Math.min(PER_SERVICE, REAL_SERVERS - s * PER_SERVICE); i++) {
    const k = s * PER_SERVICE + i;
    destinations.push({
      address: `10.8.${Math.floor(k / 250)}.${(k % 250) + 1}`,
      port: 80,
      weight: 1,
      forwarding: 'dr' as const,
      upperThreshold: 0,
      lowerThreshold: 0,
    });
  }
  desired.push({
    service: {
      key: { kind: 'address', family: 'inet', protocol: 'tcp', address: '10.6.2.195', port: 80 + s },
      scheduler: 'wlc',
      flags: {},
      persistenceTimeoutSec: 0,
      netmask: '255.255.255.255',
    },
    destinations,
  });
}

const table: IpvsTable = TABLE === 'kernel' ? await IpvsClient.open() : new MemoryIpvsTable();
const reconciler = new Reconciler({ table, clock: systemClock, logger: silentLogger(), drainTimeoutMs: 30_000, auditIntervalMs: 0 });
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
try {
  reconciler.start();
  const applied = await reconciler.setDesired(desired);
  if (!applied.converged) throw new Error(`the table did not converge: ${applied.error ?? 'unknown'}`);
  const audits: number[] = [];
  const holds: number[] = [];
  const reads: number[] = [];
  const diffs: number[] = [];
  for (let i = 0; i < AUDITS; i++) {
    let last = performance.now();
    let hold = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      hold = Math.max(hold, now - last);
      last = now;
    }, 1);
    await sleep(20);
    const started = performance.now();
    const report = await reconciler.audit();
    audits.push(performance.now() - started);
    reads.push(report.timings?.readMs ?? NaN);
    diffs.push(report.timings?.diffMs ?? NaN);
    await sleep(20);
    clearInterval(ticker);
    holds.push(hold);
    if (report.error || report.drift) throw new Error(`audit ${i}: ${report.error ?? `${report.drift} drift`}`);
  }
  const counted = Math.floor(AUDITS / 3);
  console.log(
    `IPVS audit, ${TABLE} table, ${REAL_SERVERS} real servers in ${desired.length} services, ${AUDITS - counted} audits counted (node ${process.version}):`,
  );
  console.log(
    `audit median ${median(audits.slice(counted)).toFixed(1)} ms (max ${Math.max(...audits.slice(counted)).toFixed(1)}); ` +
      `event loop held median ${median(holds.slice(counted)).toFixed(1)} ms (max ${Math.max(...holds.slice(counted)).toFixed(1)}); ` +
      `of an audit, reading the table median ${median(reads.slice(counted)).toFixed(1)} ms, the diff ${median(diffs.slice(counted)).toFixed(1)} ms`,
  );
} finally {
  await reconciler.removeOwned();
  await reconciler.stop();
  if (table instanceof IpvsClient) table.close();
}
