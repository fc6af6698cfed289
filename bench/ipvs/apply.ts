// IPVS apply benchmark, failoverd vs ipvsadm --restore, same run, same kernel.
// Run inside the UML kernel (it has IPVS):
//   npx tsc -p tsconfig.json --outDir dist-ipvs
//   bash test/harness/uml-run.sh -- node dist-ipvs/bench/ipvs/apply.js [services] [destinations] [runs]
// Each measurement starts from a fresh network namespace (an empty IPVS table).
// Prints one table: median (min–max) over the runs, in milliseconds. Every figure
// is checked: the kernel table after each step is compared with the one declared,
// and op counts with what the step needs; a run that does not verify aborts.
import { execFileSync, spawnSync } from 'node:child_process';
import { Netns } from '../../test/helpers/netns.js';
import { addRoutableDummy } from '../../test/uml/ipvs/netns.js';
import { performance } from 'node:perf_hooks';
import { silentLogger } from '../../src/log.js';
import { systemClock } from '../../src/clock.js';
import { EventBus } from '../../src/events.js';
import { IpvsClient } from '../../src/ipvs/client.js';
import { Reconciler } from '../../src/ipvs/reconciler.js';
import { serviceKeyId, type ActualService, type DesiredService, type DestinationSpec, type ServiceSpec } from '../../src/ipvs/types.js';
import { ipvsadmDestinationRule, toIpvsadmRules } from '../../test/helpers/ipvsadm.js';

const SERVICES = Number(process.argv[2] ?? 1000);
const DESTS = Number(process.argv[3] ?? 10);
const RUNS = Number(process.argv[4] ?? 3);

const svc = (i: number): ServiceSpec => ({
  key: { kind: 'address', family: 'inet', protocol: 'tcp', address: `10.100.${i >> 8}.${i & 255}`, port: 80 },
  scheduler: 'wlc',
  flags: {},
  persistenceTimeoutSec: 0,
  netmask: '255.255.255.255',
});
const rs = (i: number, j: number, weight = 1): DestinationSpec => ({
  address: `10.200.${j}.${(i % 250) + 1}`,
  port: 80,
  weight,
  forwarding: 'dr',
  upperThreshold: 0,
  lowerThreshold: 0,
});
const full: DesiredService[] = Array.from({ length: SERVICES }, (_, i) => ({
  service: svc(i),
  destinations: Array.from({ length: DESTS }, (_, j) => rs(i, j)),
}));

/** 1% of the real servers change: half get a new weight, a quarter are removed, a quarter added. */
function onePercent(table: DesiredService[]): { desired: DesiredService[]; rules: string; removed: number; services: number } {
  const changes = Math.max(4, Math.round((SERVICES * DESTS) / 100));
  const desired = structuredClone(table);
  const rules: string[] = [];
  const touched = new Set<number>();
  let removed = 0;
  for (let c = 0; c < changes; c++) {
    const i = Math.floor((c * SERVICES) / changes);
    const d = desired[i]!;
    touched.add(i);
    const kind = c % 4;
    if (kind < 2) {
      const j = c % d.destinations.length;
      d.destinations[j] = { ...d.destinations[j]!, weight: 5 };
      rules.push(ipvsadmDestinationRule(d.service.key, d.destinations[j], '-e'));
    } else if (kind === 2) {
      const gone = d.destinations.pop()!;
      removed++;
      rules.push(`-d -t ${d.service.key.kind === 'address' ? d.service.key.address : ''}:80 -r ${gone.address}:80`);
    } else {
      const added = rs(i, DESTS + 1);
      d.destinations.push(added);
      rules.push(ipvsadmDestinationRule(d.service.key, added));
    }
  }
  return { desired, rules: `${rules.join('\n')}\n`, removed, services: touched.size };
}

/** A fresh namespace where IPVS accepts 10/8 real servers. */
function freshNetns(): Netns {
  const ns = Netns.create('fo-bench');
  addRoutableDummy(ns);
  return ns;
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

/** The kernel table, as "service: real server weight ..." lines, to compare with what was declared. */
const shapeOf = (services: readonly (ActualService | DesiredService)[]): string =>
  services
    .map(
      (s) =>
        `${serviceKeyId(s.service.key)}: ${s.destinations
          .map((d) => `${d.address}:${d.port} w${d.weight}`)
          .sort()
          .join(' ')}`,
    )
    .sort()
    .join('\n');

async function expectTable(client: IpvsClient, declared: DesiredService[], step: string): Promise<void> {
  if (shapeOf(await client.listServices()) !== shapeOf(declared)) throw new Error(`${step}: the kernel table is not the declared one`);
}

async function withReconciler<T>(ns: { path: string }, fn: (r: Reconciler, c: IpvsClient) => Promise<T>): Promise<T> {
  const client = await IpvsClient.open({ netns: ns.path });
  // Drain timeout 0: a removed real server is deleted at once, as `ipvsadm -d` does.
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
const note = (name: string, ms: number): void => {
  (results[name] ??= []).push(ms);
};

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
        await expectTable(client, full, 'full apply');
        t0 = performance.now();
        const pending = reconciler.setDesired(change.desired);
        note('fo.diff.normalize', performance.now() - t0);
        const diff = await pending;
        note('fo.diff', performance.now() - t0);
        note('fo.diff.diff', diff.timings!.diffMs);
        note('fo.diff.apply', diff.timings!.applyMs);
        if (!diff.converged || diff.ops !== changeOps) throw new Error(`1% change: ${JSON.stringify(diff)}`);
        await expectTable(client, change.desired, '1% change');
        t0 = performance.now();
        const audit = await reconciler.audit();
        note('fo.audit', performance.now() - t0);
        if (!audit.converged || audit.ops !== 0 || audit.drift !== 0) throw new Error(`audit: ${JSON.stringify(audit)}`);
        t0 = performance.now();
        const listed = await client.listServices();
        note('fo.read', performance.now() - t0);
        if (listed.reduce((n, s) => n + s.destinations.length, 0) !== SERVICES * DESTS) throw new Error('table size after the change');
        await reconciler.stop();

        // The same kind of change with draining, as failoverd runs by default: the
        // change back to the full table, by a reconciler with a 60 s drain timeout.
        // Removed real servers go to weight 0 at once; the drain pass that follows
        // reads the connection counters of their services (and only those) and,
        // none being connected here, deletes them. Timed until they are deleted.
        const events = new EventBus('bench');
        const draining = new Reconciler({
          table: client,
          clock: systemClock,
          logger: silentLogger(),
          events,
          auditIntervalMs: 0,
          drainTimeoutMs: 60_000,
        });
        try {
          draining.start();
          const adopt = await draining.setDesired(change.desired);
          if (!adopt.converged || adopt.ops !== 0) throw new Error(`adopting the table: ${JSON.stringify(adopt)}`);
          let done = 0;
          const drained = new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`drains not done in 10 s (${done} of ${change.removed})`)), 10_000);
            events.subscribe('ipvs.drain', (e) => {
              if (e.to === 'done' && ++done === change.removed) {
                clearTimeout(timer);
                resolve();
              }
            });
          });
          t0 = performance.now();
          const applied = await draining.setDesired(full);
          const weightZero = performance.now() - t0;
          await drained;
          await draining.settled();
          note('fo.drain', performance.now() - t0);
          note('fo.drain.apply', weightZero);
          const drainPass = draining.lastPass()!;
          note('fo.drain.read', drainPass.timings!.readMs);
          if (!applied.converged || applied.ops !== changeOps) throw new Error(`1% change back, draining: ${JSON.stringify(applied)}`);
          if (
            !drainPass.kinds.includes('drain') ||
            !drainPass.converged ||
            drainPass.ops !== change.removed ||
            draining.draining().length !== 0
          )
            throw new Error(`drain pass: ${JSON.stringify(drainPass)}`);
          await expectTable(client, full, '1% change back, drained');
        } finally {
          await draining.stop();
        }
      });
    } finally {
      ns.delete();
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
      ns.delete();
    }
  }
}

const stat = (name: string): string => {
  const v = [...(results[name] ?? [])].sort((a, b) => a - b);
  const median = v[Math.floor(v.length / 2)]!;
  return `${median.toFixed(1)} (${v[0]!.toFixed(1)}–${v.at(-1)!.toFixed(1)})`;
};
const rows: [string, string, string][] = [
  [
    `full apply, empty → ${SERVICES} services × ${DESTS} real servers (${SERVICES * (DESTS + 1)} ops)`,
    stat('fo.full'),
    `${stat('adm.full')}  ipvsadm -R`,
  ],
  [
    `1% change: ${changeOps} real servers edited/added/removed (removed ones deleted at once, drain timeout 0)`,
    stat('fo.diff'),
    `${stat('adm.diff')}  ipvsadm -R of the ${changeOps} commands`,
  ],
  ['  of which: setDesired: validate + normalize the table (sync)', stat('fo.diff.normalize'), '—'],
  [`  of which: diff (the ${change.services} changed services, no read)`, stat('fo.diff.diff'), '—'],
  ['  of which: apply ops (batched)', stat('fo.diff.apply'), '—'],
  [`1% change with draining (60 s timeout), until the ${change.removed} removed are deleted`, stat('fo.drain'), '—'],
  ['  of which: apply pass (removed ones at weight 0)', stat('fo.drain.apply'), '—'],
  [`  of which: drain pass: counters of the ${change.removed} services with removals`, stat('fo.drain.read'), '—'],
  ['audit pass: read whole table + diff, no change', stat('fo.audit'), '—'],
  [`read whole table (${SERVICES} dumps of ${DESTS})`, stat('fo.read'), `${stat('adm.read')}  ipvsadm -S -n`],
  ['process start (ip netns exec … true), included in ipvsadm figures', '—', stat('spawn')],
];
const w0 = Math.max(...rows.map((r) => r[0].length), 9),
  w1 = Math.max(...rows.map((r) => r[1].length), 16);
console.log(
  `IPVS apply benchmark, UML kernel ${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}, ${RUNS} runs, median (min–max) ms, fresh netns per run`,
);
console.log(`| ${'scenario'.padEnd(w0)} | ${'failoverd'.padEnd(w1)} | ipvsadm |`);
console.log(`|${'-'.repeat(w0 + 2)}|${'-'.repeat(w1 + 2)}|---------|`);
for (const [a, b, c] of rows) console.log(`| ${a.padEnd(w0)} | ${b.padEnd(w1)} | ${c} |`);
