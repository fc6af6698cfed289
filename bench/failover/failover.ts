// Failover time, failoverd vs keepalived, in network namespaces: a master (200)
// and a backup (100) on a bridge, an observer running tcpdump. Each run stops
// the master — kill -9 (crash) or SIGTERM (graceful, priority 0) — and measures
// from the signal to the first gratuitous ARP from the backup's MAC as seen by
// the observer. Bound: crash 3 × advert + skew, graceful skew (priority 100).
// The master is stopped just after the observer saw one of its adverts.
//   node dist-vrrp/bench/failover/failover.js [--runs 5] [--only v3] [--out file.md]
import { writeFileSync } from 'node:fs';
import { Lab, type Observer, type RouterProcess } from '../../test/netns/vrrp/lab.js';
import { masterDownIntervalMs, skewMs } from '../../src/vrrp/fsm.js';

interface Mode {
  name: string;
  version: 2 | 3;
  intervalMs: number;
}
const MODES: Mode[] = [
  { name: 'v2, advert 1 s', version: 2, intervalMs: 1000 },
  { name: 'v3, advert 100 ms', version: 3, intervalMs: 100 },
];
type Impl = 'failoverd' | 'keepalived';
type Scenario = 'crash' | 'graceful';
const VIP = '192.0.2.195';

const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const RUNS = Number(flag('--runs') ?? 5);
const only = flag('--only');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function start(lab: Lab, impl: Impl, node: string, mode: Mode, priority: number): RouterProcess {
  if (impl === 'failoverd') {
    return lab.failoverd(node, {
      name: 'web',
      vrid: 51,
      priority,
      version: mode.version,
      advertIntervalMs: mode.intervalMs,
      vips: [`${VIP}/32`],
      garp: { count: 5, intervalMs: 100, refreshMs: 60_000 },
    });
  }
  return lab.keepalived(
    node,
    'web',
    [
      '  state BACKUP',
      '  virtual_router_id 51',
      `  priority ${priority}`,
      `  advert_int ${mode.intervalMs / 1000}`,
      `  version ${mode.version}`,
      `  virtual_ipaddress {\n    ${VIP}/32\n  }`,
    ].join('\n'),
  );
}

/** Stops the master the way the scenario says; returns the time of the signal. */
function stopMaster(lab: Lab, impl: Impl, master: RouterProcess, scenario: Scenario): number {
  if (scenario === 'graceful') {
    const t = Date.now();
    master.kill('SIGTERM');
    return t;
  }
  if (impl === 'keepalived') {
    // The VRRP child first: killed after its parent, it would get PR_SET_PDEATHSIG's
    // SIGTERM and resign gracefully. The parent right after, before it can respawn it.
    const child = lab.keepalivedVrrpPid(master);
    const t = Date.now();
    if (child)
      try {
        process.kill(child, 'SIGKILL');
      } catch {
        /* gone */
      }
    master.kill('SIGKILL');
    return t;
  }
  const t = Date.now();
  master.kill('SIGKILL');
  return t;
}

async function firstGarp(observer: Observer, mac: string, since: number, timeoutMs: number): Promise<number | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const e = observer.announcements().find((x) => x.srcMac === mac && x.t >= since);
    if (e) return e.t;
    if (Date.now() > end) return undefined;
    await sleep(5);
  }
}

interface Samples {
  /** Signal to the master → first GARP from the new master. */
  fromSignal: number[];
  /** The old master's last advert on the wire (priority 0 when graceful) → first GARP: no phase noise. */
  fromLastAdvert: number[];
}

async function measure(impl: Impl, mode: Mode, scenario: Scenario, runs: number): Promise<Samples> {
  const lab = new Lab(`b${impl[0]}${mode.version}${scenario[0]}`);
  const samples: Samples = { fromSignal: [], fromLastAdvert: [] };
  try {
    lab.setup([
      { name: 'a', ipv4: '192.0.2.1' },
      { name: 'b', ipv4: '192.0.2.2' },
    ]);
    const observer = await lab.observe();
    const macB = lab.node('b').mac;
    const downMs = masterDownIntervalMs(mode.version, 100, mode.intervalMs / 10);
    let a = start(lab, impl, 'a', mode, 200);
    await a.waitForState('master', downMs + 5000);
    const b = start(lab, impl, 'b', mode, 100);
    await b.waitForState('backup', 5000);
    for (let run = 0; run < runs; run++) {
      // Let the pair settle, then stop the master right after one of its adverts
      // (as seen by the observer), so every run and both implementations are
      // measured at the same phase: the backup's timer was just reset.
      await sleep(2 * mode.intervalMs);
      const seen = observer.adverts(51).length;
      await b.waitFor(
        () =>
          observer
            .adverts(51)
            .slice(seen)
            .some((e) => e.source === '192.0.2.1' && (e.priority ?? 0) > 0),
        3 * mode.intervalMs,
        'an advert from the master',
      );
      const t0 = stopMaster(lab, impl, a, scenario);
      const garp = await firstGarp(observer, macB, t0, downMs + 3000);
      if (garp === undefined) throw new Error(`${impl} ${mode.name} ${scenario}: no GARP from the backup`);
      const lastAdvert = observer
        .adverts(51)
        .filter((e) => e.source === '192.0.2.1' && e.t <= garp)
        .at(-1)!;
      samples.fromSignal.push(garp - t0);
      samples.fromLastAdvert.push(garp - lastAdvert.t);
      process.stderr.write(
        `${impl} ${mode.name} ${scenario} run ${run + 1}: ${(garp - t0).toFixed(1)} ms from the signal, ${(garp - lastAdvert.t).toFixed(1)} ms from the last advert (priority ${lastAdvert.priority})\n`,
      );
      await Promise.race([a.exited, sleep(3000)]);
      // The old master returns and preempts; wait until the backup is backup again.
      const before = b.events.length;
      a = start(lab, impl, 'a', mode, 200);
      await a.waitForState('master', downMs + 5000);
      await b.waitFor(() => b.events.slice(before).some((e) => e.to === 'backup') && b.state === 'backup', downMs + 3000, 'backup again');
    }
  } finally {
    await lab.cleanup();
  }
  return samples;
}

function stats(xs: number[]): { median: number; min: number; max: number } {
  const s = [...xs].sort((p, q) => p - q);
  const mid = s.length / 2;
  const median = s.length % 2 ? s[Math.floor(mid)]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s.at(-1)! };
}

const rows: string[] = [];
const n = (x: number): string => x.toFixed(1);
const cell = (xs: number[]): string => {
  const st = stats(xs);
  return `${n(st.median)} [${n(st.min)}–${n(st.max)}]`;
};
rows.push(
  '| mode | stop | bound | failoverd: signal → GARP | keepalived: signal → GARP | failoverd: last advert → GARP | keepalived: last advert → GARP |',
);
rows.push('|---|---|---:|---:|---:|---:|---:|');
for (const mode of MODES.filter((m) => !only || m.name.startsWith(only))) {
  for (const scenario of ['crash', 'graceful'] as Scenario[]) {
    const bound =
      scenario === 'crash'
        ? masterDownIntervalMs(mode.version, 100, mode.intervalMs / 10)
        : skewMs(mode.version, 100, mode.intervalMs / 10);
    const f = await measure('failoverd', mode, scenario, RUNS);
    const k = await measure('keepalived', mode, scenario, RUNS);
    rows.push(
      `| ${mode.name} | ${scenario === 'crash' ? 'kill -9' : 'graceful (prio 0)'} | ${n(bound)} | ${cell(f.fromSignal)} | ${cell(k.fromSignal)} | ${cell(f.fromLastAdvert)} | ${cell(k.fromLastAdvert)} |`,
    );
  }
}
const table = `Failover time in ms, median [min–max] of ${RUNS} runs each; GARP = the first gratuitous ARP from the new master as seen by the observer\n\n${rows.join('\n')}\n`;
console.log(table);
const out = flag('--out');
if (out) writeFileSync(out, table);
