// IPVS apply benchmark, failoverd vs ipvsadm --restore, same run, same kernel.
// Run inside the UML kernel (it has IPVS):
//   npx tsc -p tsconfig.json --outDir dist-ipvs
//   bash test/harness/uml-run.sh -- node dist-ipvs/bench/ipvs/apply.js [services] [destinations] [runs]
// Each measurement starts from a fresh network namespace (an empty IPVS table).
// Prints one table: median (min–max) over the runs, in milliseconds.
import { execFileSync, spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { silentLogger } from '../../src/log.js';
import { systemClock } from '../../src/clock.js';
import { IpvsClient } from '../../src/ipvs/client.js';
import { Reconciler } from '../../src/ipvs/reconciler.js';
import type { DesiredService, DestinationSpec, ServiceSpec } from '../../src/ipvs/types.js';
import { ipvsadmDestinationRule, toIpvsadmRules } from '../../test/helpers/ipvsadm.js';

const SERVICES = Number(process.argv[2] ?? 1000);
const DESTS = Number(process.argv[3] ?? 10);
const RUNS = Number(process.argv[4] ?? 3);

const svc = (i: number): ServiceSpec => ({
  key: { kind: 'address', family: 'inet', protocol: 'tcp', address: `10.100.${i >> 8}.${i & 255}`, port: 80 },
  scheduler: 'wlc', flags: {}, persistenceTimeoutSec: 0, netmask: '255.255.255.255',
});
const rs = (i: number, j: number, weight = 1): DestinationSpec => ({ address: `10.200.${j}.${(i % 250) + 1}`, port: 80, weight, forwarding: 'dr', upperThreshold: 0, lowerThreshold: 0 });
const full: DesiredService[] = Array.from({ length: SERVICES }, (_, i) => ({ service: svc(i), destinations: Array.from({ length: DESTS }, (_, j) => rs(i, j)) }));

/** 1% of the real servers change: half get a new weight, a quarter are removed, a quarter added. */
function onePercent(table: DesiredService[]): { desired: DesiredService[]; rules: string } {
  const changes = Math.max(4, Math.round((SERVICES * DESTS) / 100));
  const desired = structuredClone(table);
  const rules: string[] = [];
  for (let c = 0; c < changes; c++) {
    const i = Math.floor((c * SERVICES) / changes);
    const d = desired[i]!;
    const kind = c % 4;
    if (kind < 2) {
      const j = c % d.destinations.length;
      d.destinations[j] = { ...d.destinations[j]!, weight: 5 };
      rules.push(ipvsadmDestinationRule(d.service.key, d.destinations[j]!, '-e'));
    } else if (kind === 2) {
      const removed = d.destinations.pop()!;
      rules.push(`-d -t ${d.service.key.kind === 'address' ? d.service.key.address : ''}:80 -r ${removed.address}:80`);
    } else {
      const added = rs(i, DESTS + 1);
      d.destinations.push(added);
      rules.push(ipvsadmDestinationRule(d.service.key, added));
    }
  }
  return { desired, rules: `${rules.join('\n')}\n` };
}

let nsCounter = 0;
function freshNetns(): { name: string; path: string; remove(): void } {
  const name = `fo-bench-${process.pid}-${nsCounter++}`;
  execFileSync('ip', ['netns', 'add', name]);
  const sh = (cmd: string) => execFileSync('ip', ['netns', 'exec', name, 'sh', '-c', cmd]);
  sh('ip link set lo up; ip link add rs0 type dummy; ip link set rs0 up; ip addr add 10.255.255.254/8 dev rs0');
  return { name, path: `/run/netns/${name}`, remove: () => { spawnSync('ip', ['netns', 'delete', name]); } };
}

function ipvsadmRestore(ns: string, rules: string): number {
  const t0 = performance.now();
  const r = spawnSync('ip', ['netns', 'exec', ns, 'ipvsadm', '-R'], { input: rules, encoding: 'utf8', maxBuffer: 1 << 28 });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`ipvsadm -R failed: ${r.stderr}`);
  return ms;
}

function ipvsadmSave(ns: string): number {
  const t0 = performance.now();
  const r = spawnSync('ip', ['netns', 'exec', ns, 'ipvsadm', '-S', '-n'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`ipvsadm -S failed: ${r.stderr}`);
  return performance.now() - t0;
}

/** Time to start `ip netns exec NS true`: part of every ipvsadm figure, shown so it can be subtracted. */
function spawnOverhead(ns: string): number {
  const t0 = performance.now();
  spawnSync('ip', ['netns', 'exec', ns, 'true']);
  return performance.now() - t0;
}

async function withReconciler<T>(ns: { path: string }, fn: (r: Reconciler, c: IpvsClient) => Promise<T>): Promise<T> {
  const client = await IpvsClient.open({ netns: ns.path });
  const reconciler = new Reconciler({ table: client, clock: systemClock, logger: silentLogger(), auditIntervalMs: 0, drainTimeoutMs: 0 });
  try {
    reconciler.start();
    await reconciler.settled();
    return await fn(reconciler, client);
  } finally {
    await reconciler.stop();
    client.close();
  }
}

const results: Record<string, number[]> = {};
const note = (name: string, ms: number): void => { (results[name] ??= []).push(ms); };

const rules = toIpvsadmRules(full);
const change = onePercent(full);
const changeOps = change.rules.trim().split('\n').length;

for (let run = 0; run < RUNS; run++) {
  {
    const ns = freshNetns();
    try {
      await withReconciler(ns, async (reconciler, client) => {
        let t0 = performance.now();
        const report = await reconciler.setDesired(full);
        note('fo.full', performance.now() - t0);
        if (!report.converged || report.ops !== SERVICES * (DESTS + 1)) throw new Error(`full apply: ${JSON.stringify(report)}`);
        t0 = performance.now();
        const diff = await reconciler.setDesired(change.desired);
        note('fo.diff', performance.now() - t0);
        note('fo.diff.read', diff.timings!.readMs);
        note('fo.diff.diff', diff.timings!.diffMs);
        note('fo.diff.apply', diff.timings!.applyMs);
        if (!diff.converged || diff.ops !== changeOps) throw new Error(`1% change: ${JSON.stringify(diff)}`);
        t0 = performance.now();
        const audit = await reconciler.audit();
        note('fo.audit', performance.now() - t0);
        if (!audit.converged || audit.ops !== 0 || audit.drift !== 0) throw new Error(`audit: ${JSON.stringify(audit)}`);
        t0 = performance.now();
        const listed = await client.listServices();
        note('fo.read', performance.now() - t0);
        if (listed.reduce((n, s) => n + s.destinations.length, 0) !== SERVICES * DESTS) throw new Error('table size after the change');
      });
    } finally {
      ns.remove();
    }
  }
  {
    const ns = freshNetns();
    try {
      note('spawn', spawnOverhead(ns.name));
      note('adm.full', ipvsadmRestore(ns.name, rules));
      note('adm.diff', ipvsadmRestore(ns.name, change.rules));
      note('adm.read', ipvsadmSave(ns.name));
    } finally {
      ns.remove();
    }
  }
}

const stat = (name: string): string => {
  const v = [...(results[name] ?? [])].sort((a, b) => a - b);
  const median = v[Math.floor(v.length / 2)]!;
  return `${median.toFixed(1)} (${v[0]!.toFixed(1)}–${v.at(-1)!.toFixed(1)})`;
};
const rows: [string, string, string][] = [
  [`full apply, empty → ${SERVICES} services × ${DESTS} real servers (${SERVICES * (DESTS + 1)} ops)`, stat('fo.full'), `${stat('adm.full')}  ipvsadm -R`],
  [`1% change: ${changeOps} real servers edited/added/removed`, stat('fo.diff'), `${stat('adm.diff')}  ipvsadm -R of the ${changeOps} commands`],
  ['  of which: refresh counters of services with removals', stat('fo.diff.read'), '—'],
  ['  of which: diff (whole table)', stat('fo.diff.diff'), '—'],
  ['  of which: apply ops (pipelined)', stat('fo.diff.apply'), '—'],
  ['audit pass: read whole table + diff, no change', stat('fo.audit'), '—'],
  [`read whole table (${SERVICES} dumps of ${DESTS})`, stat('fo.read'), `${stat('adm.read')}  ipvsadm -S -n`],
  ['process start (ip netns exec … true), included in ipvsadm figures', '—', stat('spawn')],
];
const w0 = Math.max(...rows.map((r) => r[0].length), 9), w1 = Math.max(...rows.map((r) => r[1].length), 16);
console.log(`IPVS apply benchmark, UML kernel ${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}, ${RUNS} runs, median (min–max) ms, fresh netns per run`);
console.log(`| ${'scenario'.padEnd(w0)} | ${'failoverd'.padEnd(w1)} | ipvsadm |`);
console.log(`|${'-'.repeat(w0 + 2)}|${'-'.repeat(w1 + 2)}|---------|`);
for (const [a, b, c] of rows) console.log(`| ${a.padEnd(w0)} | ${b.padEnd(w1)} | ${c} |`);
