// Soak: two directors (failoverd run, VRRP + IPVS) and two real servers in
// network namespaces on one bridge, inside a UML kernel (IPVS), for at least
// ten minutes: real servers flap, the master's link goes down and up, the
// master is forced to BACKUP over the API. Reports each agent's RSS, heap and
// file descriptors after warm-up and at the end, and accounts for every event:
// each one the agent published (its log) reached the test's webhook receiver
// exactly once, and the caused transitions are all there.
//
//   bash test/harness/uml-run.sh --mem 2G --timeout 1500 -- node dist-robust/bench/soak/soak.js [--minutes 10] [--out FILE] [--warmup 60] [--slot 40]
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Netns } from '../../test/helpers/netns.js';
import { parseIpvsadmList } from '../../test/helpers/ipvsadm.js';
import { AgentProcess, sumOf } from '../../test/netns/robustness/agent-process.js';
import { run } from '../../test/helpers/shell.js';
import { waitFor } from '../../test/helpers/wait.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const MINUTES = Number(arg('minutes', '10'));
const OUT = arg('out', '');
const WARMUP_S = Number(arg('warmup', '60'));
const SLOT_S = Number(arg('slot', '40'));
const SLOTS = Math.max(3, Math.ceil((MINUTES * 60 - WARMUP_S) / SLOT_S));
const LINK_SLOT = Math.floor(SLOTS * 0.3);
const FORCE_SLOT = Math.floor(SLOTS * 0.7);
const SAMPLE_S = 10;
/** Where to keep the heap snapshots taken after warm-up and at the end (for diffing); none if empty. */
const KEEP_SNAPSHOTS = arg('keep-snapshots', '');

const work = mkdtempSync(join(tmpdir(), 'failoverd-soak-'));
const t0 = Date.now();
const log = (msg: string): void => {
  process.stderr.write(`[soak ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${msg}\n`);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- topology -------------------------------------------------------------
const bridge = Netns.create('soak-br');
const names = { a: 'lvs-a', b: 'lvs-b' } as const;
const dirs = { a: Netns.create('soak-a'), b: Netns.create('soak-b') };
const rs = [Netns.create('soak-rs1'), Netns.create('soak-rs2')];
const rsAddress = ['10.6.2.191', '10.6.2.192'];
const children: ChildProcess[] = [];
const agents: AgentProcess[] = [];

bridge.ip('link', 'add', 'br0', 'type', 'bridge');
bridge.ip('link', 'set', 'br0', 'up');
let port = 0;
function attach(ns: Netns, address: string): void {
  const p = `p${port++}`;
  run('ip', ['link', 'add', 'eth0', 'netns', ns.name, 'type', 'veth', 'peer', 'name', p, 'netns', bridge.name]);
  bridge.ip('link', 'set', p, 'master', 'br0', 'up');
  ns.ip('addr', 'add', `${address}/24`, 'dev', 'eth0');
  ns.ip('link', 'set', 'eth0', 'up');
}
attach(dirs.a, '10.6.2.181');
attach(dirs.b, '10.6.2.182');
rs.forEach((ns, i) => attach(ns, rsAddress[i]!));

// ---- real servers that can flap ---------------------------------------------
const servers: (ChildProcess | undefined)[] = [undefined, undefined];
function startServer(i: number): void {
  servers[i] = rs[i]!.spawn(process.execPath, [
    '-e',
    `require('node:net').createServer((c) => { c.on('error', () => {}); c.end(); }).listen(80, '${rsAddress[i]}')`,
  ]);
}
function stopServer(i: number): void {
  servers[i]?.kill('SIGKILL');
  servers[i] = undefined;
}

// ---- webhook receivers (one per director, on its loopback) -------------------
interface Received {
  at: number;
  event: { id: string; type: string; object: string; from?: string; to?: string };
}
const received: Record<'a' | 'b', Received[]> = { a: [], b: [] };
function startReceiver(key: 'a' | 'b'): Promise<void> {
  const proc = dirs[key].spawn(process.execPath, [
    '-e',
    `
    require('node:http').createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => { process.stdout.write(body.replace(/\\n/g, ' ') + '\\n'); res.end('ok'); });
    }).listen(9000, '127.0.0.1', () => process.stdout.write('READY\\n'));`,
  ]);
  children.push(proc);
  return new Promise((ready) =>
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line === 'READY') return ready();
      try {
        received[key].push({ at: Date.now(), event: JSON.parse(line) as Received['event'] });
      } catch {
        /* not an event */
      }
    }),
  );
}

function config(key: 'a' | 'b'): string {
  return `node: { name: ${names[key]} }
vrrp:
  - name: web
    interface: eth0
    vrid: 51
    priority: ${key === 'a' ? 150 : 100}
    advert_interval: 500ms
    vips: [10.6.2.195/32]
    garp: { count: 2, interval: 100ms }
services:
  - name: web-80
    vip: 10.6.2.195
    port: 80
    scheduler: rr
    forwarding: dr
    quorum: 1
    drain_timeout: 0s
    check: { type: tcp, interval: 1s, timeout: 500ms, rise: 2, fall: 2 }
    real_servers:
      - { address: ${rsAddress[0]}, weight: 1 }
      - { address: ${rsAddress[1]}, weight: 1 }
alerts:
  webhooks:
    - { url: "http://127.0.0.1:9000/hook", events: ["*"] }
api: { listen: ${join(work, `${key}.sock`)}, metrics: false }
logging: { format: json }
# Two real servers are few enough for auto's main thread; the soak watches the worker's heap too.
health: { checks_thread: worker }
`;
}

/** heapUsed: the main thread's; workerHeapUsed: the health-check thread's, as it last reported. */
interface Sample {
  t: number;
  rssKb: number;
  heapUsed: number;
  workerHeapUsed: number;
  fds: number;
  cpuMs: number;
}
const samples: Record<'a' | 'b', Sample[]> = { a: [], b: [] };
const states: { t: number; a: string; b: string }[] = [];

async function sample(key: 'a' | 'b', agent: AgentProcess): Promise<void> {
  const r = agent.resources();
  const metrics = await agent.metrics();
  const heapUsed = sumOf(metrics, 'nodejs_heap_size_used_bytes');
  samples[key].push({ t: Date.now(), ...r, heapUsed, workerHeapUsed: sumOf(metrics, 'failoverd_health_worker_heap_used_bytes') });
}

/**
 * Heap used after a full collection: a heap snapshot (SIGUSR2, --heapsnapshot-signal)
 * collects garbage first, so the heap measured right after it holds only live objects —
 * the number to compare for a leak, unlike RSS or heap used between collections.
 */
async function liveHeap(key: 'a' | 'b', agent: AgentProcess, label: string): Promise<Sample> {
  const dir = join(work, key);
  const before = new Set(readdirSync(dir));
  process.kill(agent.pid, 'SIGUSR2');
  let file = '';
  for (let i = 0; i < 600 && !file; i++) {
    await sleep(100);
    file = readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f)) ?? '';
  }
  if (!file) throw new Error(`no heap snapshot from ${names[key]}`);
  // Written when its size stops changing.
  let size = -1;
  for (let i = 0; i < 600; i++) {
    await sleep(200);
    const now = statSync(join(dir, file)).size;
    if (now === size && now > 0) break;
    size = now;
  }
  if (KEEP_SNAPSHOTS) copyFileSync(join(dir, file), join(KEEP_SNAPSHOTS, `soak-${names[key]}-${label}.heapsnapshot`));
  rmSync(join(dir, file));
  const r = agent.resources();
  const metrics = await agent.metrics();
  return {
    t: Date.now(),
    ...r,
    heapUsed: sumOf(metrics, 'nodejs_heap_size_used_bytes'),
    workerHeapUsed: sumOf(metrics, 'failoverd_health_worker_heap_used_bytes'),
  };
}

/**
 * The worker's heap cannot be collected on demand from outside: the lowest of its
 * samples in the minute before `at` is the nearest to its live heap.
 */
function workerHeapFloor(key: 'a' | 'b', at: number): number {
  const recent = samples[key].filter((x) => x.t <= at + 5000 && x.t >= at - 65_000 && x.workerHeapUsed > 0);
  return Math.min(...recent.map((x) => x.workerHeapUsed));
}

async function cleanup(): Promise<void> {
  for (const a of agents) await a.stop().catch(() => undefined);
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (let i = 0; i < servers.length; i++) stopServer(i);
  for (const ns of [dirs.a, dirs.b, ...rs, bridge]) ns.delete();
  rmSync(work, { recursive: true, force: true });
}

async function main(): Promise<void> {
  startServer(0);
  startServer(1);
  await Promise.all([startReceiver('a'), startReceiver('b')]);
  for (const key of ['a', 'b'] as const) writeFileSync(join(work, `${key}.yaml`), config(key));
  const nodeOptions = (key: 'a' | 'b'): NodeJS.ProcessEnv => {
    const dir = join(work, key);
    run('mkdir', ['-p', dir]);
    return { NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${dir}` };
  };
  const agent = {
    a: AgentProcess.start(dirs.a.name, join(work, 'a.yaml'), join(work, 'a.sock'), nodeOptions('a')),
    b: AgentProcess.start(dirs.b.name, join(work, 'b.yaml'), join(work, 'b.sock'), nodeOptions('b')),
  };
  agents.push(agent.a, agent.b);
  const statesNow = async (): Promise<{ a: string; b: string }> => ({
    a: (await agent.a.states().catch((): Record<string, string> => ({})))['web'] ?? '?',
    b: (await agent.b.states().catch((): Record<string, string> => ({})))['web'] ?? '?',
  });
  await waitFor(
    async () => {
      const s = await statesNow();
      return s.a === 'MASTER' && s.b === 'BACKUP';
    },
    { what: 'lvs-a MASTER, lvs-b BACKUP', timeoutMs: 60_000, stepMs: 250 },
  );
  log(
    `both agents up (pids ${agent.a.pid}, ${agent.b.pid}); warm-up ${WARMUP_S} s, then ${SLOTS} slots of ${SLOT_S} s (link down in slot ${LINK_SLOT}, forced backup in slot ${FORCE_SLOT})`,
  );

  let stopSampling = false;
  const sampler = (async () => {
    for (let i = 0; !stopSampling && i < 100_000; i++) {
      states.push({ t: Date.now(), ...(await statesNow()) });
      if (i % SAMPLE_S === 0) for (const key of ['a', 'b'] as const) await sample(key, agent[key]).catch(() => undefined);
      await sleep(1000);
    }
  })();

  await sleep(WARMUP_S * 1000);
  const liveBaseline = { a: await liveHeap('a', agent.a, 'warm'), b: await liveHeap('b', agent.b, 'warm') };
  // Taking the snapshot raises RSS to a new high-water mark: the RSS baseline is taken after it.
  await sleep(2000);
  for (const key of ['a', 'b'] as const) await sample(key, agent[key]);
  const baseline = { a: samples.a.at(-1)!, b: samples.b.at(-1)! };
  const windowStart = Date.now();
  const caused = { flaps: 0, linkDowns: 0, forced: 0 };
  const failovers: { kind: string; bMasterMs: number | undefined; aBackMs: number | undefined }[] = [];

  for (let slot = 0; slot < SLOTS; slot++) {
    const slotStart = Date.now();
    await sleep(2000);
    if (slot === LINK_SLOT || slot === FORCE_SLOT) {
      const kind = slot === LINK_SLOT ? 'lvs-a eth0 down 15 s' : 'lvs-a forced to BACKUP for 15 s (API)';
      const began = Date.now();
      if (slot === LINK_SLOT) {
        dirs.a.ip('link', 'set', 'eth0', 'down');
        caused.linkDowns++;
      } else {
        await agent.a.api.admin('force-backup', { instance: 'web', for: '15s' });
        caused.forced++;
      }
      log(`failover: ${kind}`);
      let bMasterMs: number | undefined;
      await waitFor(async () => (await statesNow()).b === 'MASTER', { what: 'lvs-b MASTER', timeoutMs: 10_000, stepMs: 50 }).then(
        () => {
          bMasterMs = Date.now() - began;
        },
        () => undefined,
      );
      if (slot === LINK_SLOT) {
        await sleep(15_000 - (Date.now() - began));
        dirs.a.ip('link', 'set', 'eth0', 'up');
      }
      let aBackMs: number | undefined;
      await waitFor(
        async () => {
          const s = await statesNow();
          return s.a === 'MASTER' && s.b === 'BACKUP';
        },
        { what: 'lvs-a MASTER again', timeoutMs: 30_000, stepMs: 50 },
      ).then(
        () => {
          aBackMs = Date.now() - began;
        },
        () => undefined,
      );
      failovers.push({ kind, bMasterMs, aBackMs });
      log(`  lvs-b MASTER after ${bMasterMs ?? 'never'} ms, lvs-a back after ${aBackMs ?? 'never'} ms`);
    } else {
      const i = slot % 2;
      stopServer(i);
      caused.flaps++;
      await sleep(14_000);
      startServer(i);
      log(`flap: ${rsAddress[i]} down 14 s, up again`);
    }
    await sleep(Math.max(0, SLOT_S * 1000 - (Date.now() - slotStart)));
  }
  await sleep(3000);
  const windowEnd = Date.now();
  for (const key of ['a', 'b'] as const) await sample(key, agent[key]);
  stopSampling = true;
  await sampler;
  const end = { a: samples.a.at(-1)!, b: samples.b.at(-1)! };
  const liveEnd = { a: await liveHeap('a', agent.a, 'end'), b: await liveHeap('b', agent.b, 'end') };

  // ---- accounting -------------------------------------------------------------
  const report: Record<string, unknown> = { minutes: (windowEnd - t0) / 60_000, slots: SLOTS, caused, failovers };
  const lines: string[] = [];
  let ok = true;
  const check = (what: string, pass: boolean): void => {
    lines.push(`- ${pass ? 'ok  ' : 'FAIL'} ${what}`);
    ok &&= pass;
  };
  for (const key of ['a', 'b'] as const) {
    const published = agent[key].logs
      .map((l) => l['event'] as Received['event'] | undefined)
      .filter((e): e is Received['event'] => Boolean(e?.id));
    const got = received[key].map((r) => r.event);
    const gotIds = new Map<string, number>();
    for (const e of got) gotIds.set(e.id, (gotIds.get(e.id) ?? 0) + 1);
    const missing = published.filter((e) => !gotIds.has(e.id));
    const duplicates = [...gotIds.values()].filter((n) => n > 1).length;
    check(
      `${names[key]}: ${published.length} events published, ${got.length} received by the webhook receiver, ${missing.length} missing, ${duplicates} duplicated`,
      missing.length === 0 && got.length === published.length,
    );
    const inWindow = received[key].filter((r) => r.at >= windowStart && r.at <= windowEnd).map((r) => r.event);
    const count = (type: string, to?: string): number =>
      inWindow.filter((e) => e.type === type && (to === undefined || e.to === to)).length;
    // lvs-a's own checks fail while its link is down: both real servers go down and up once more there.
    const expectedFlaps = caused.flaps + (key === 'a' ? 2 * caused.linkDowns : 0);
    check(
      `${names[key]}: realserver.down ${count('realserver.down')} / realserver.up ${count('realserver.up')} (caused ${expectedFlaps} each)`,
      count('realserver.down') === expectedFlaps && count('realserver.up') === expectedFlaps,
    );
    const toMaster = count('vrrp.state', 'master');
    check(
      `${names[key]}: ${count('vrrp.state')} vrrp.state events, ${toMaster} to MASTER (caused ${caused.linkDowns + caused.forced})`,
      toMaster === caused.linkDowns + caused.forced,
    );
    const webhookFailures =
      sumOf(await agent[key].metrics(), 'failoverd_webhook_failures_total') +
      sumOf(await agent[key].metrics(), 'failoverd_webhook_dropped_total');
    check(`${names[key]}: webhook failures + drops ${webhookFailures}`, webhookFailures === 0);
    const table = parseIpvsadmList(dirs[key].exec('ipvsadm', ['-Ln']));
    check(
      `${names[key]}: IPVS table at the end ${JSON.stringify(table.map((s) => [s.id, s.destinations.map((d) => `${d.id} w${d.columns[1]}`)]))}`,
      table.length === 1 && table[0]!.destinations.length === 2,
    );
    const b = baseline[key],
      e = end[key];
    const rssGrowth = (e.rssKb - b.rssKb) / b.rssKb;
    check(
      `${names[key]}: RSS ${(b.rssKb / 1024).toFixed(1)} → ${(e.rssKb / 1024).toFixed(1)} MiB (${(rssGrowth * 100).toFixed(1)}%, bound < 10%)`,
      rssGrowth < 0.1,
    );
    check(`${names[key]}: fds ${b.fds} → ${e.fds} (bound: no growth)`, e.fds <= b.fds);
    const lb = liveBaseline[key],
      le = liveEnd[key];
    const liveGrowth = (le.heapUsed - lb.heapUsed) / lb.heapUsed;
    check(
      `${names[key]}: live heap (after a full GC) ${(lb.heapUsed / 1048576).toFixed(2)} → ${(le.heapUsed / 1048576).toFixed(2)} MiB (${(liveGrowth * 100).toFixed(1)}%, bound < 10%)`,
      liveGrowth < 0.1,
    );
    const wb = workerHeapFloor(key, windowStart),
      we = workerHeapFloor(key, windowEnd);
    lines.push(
      `  health-check thread heap (lowest of the minute before): ${(wb / 1048576).toFixed(2)} → ${(we / 1048576).toFixed(2)} MiB (${(((we - wb) / wb) * 100).toFixed(1)}%)`,
    );
    lines.push(
      `  heap used ${(b.heapUsed / 1048576).toFixed(1)} → ${(e.heapUsed / 1048576).toFixed(1)} MiB; CPU ${((e.cpuMs - b.cpuMs) / 1000).toFixed(1)} s over ${((e.t - b.t) / 1000).toFixed(0)} s`,
    );
    report[key] = {
      baseline: b,
      end: e,
      liveBaseline: lb,
      liveEnd: le,
      published: published.length,
      received: got.length,
      missing: missing.length,
      duplicates,
      inWindow: Object.fromEntries(
        ['realserver.down', 'realserver.up', 'vrrp.state', 'quorum.lost', 'quorum.regained'].map((t) => [t, count(t)]),
      ),
    };
  }
  const dual = states.filter((s) => s.a === 'MASTER' && s.b === 'MASTER').length;
  check(`both MASTER in ${dual} of ${states.length} one-second state samples`, dual === 0);
  report['samples'] = samples;
  const table = [
    '| agent | RSS after warm-up | RSS at end | growth | main heap used (warm-up → end) | main live heap after full GC (warm-up → end) | health thread heap, lowest of the minute before (warm-up → end) | fds (warm-up → end) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...(['a', 'b'] as const).map((k) => {
      const b = baseline[k],
        e = end[k];
      return `| ${names[k]} | ${(b.rssKb / 1024).toFixed(1)} MiB | ${(e.rssKb / 1024).toFixed(1)} MiB | ${(((e.rssKb - b.rssKb) / b.rssKb) * 100).toFixed(1)}% | ${(b.heapUsed / 1048576).toFixed(1)} → ${(e.heapUsed / 1048576).toFixed(1)} MiB | ${(liveBaseline[k].heapUsed / 1048576).toFixed(2)} → ${(liveEnd[k].heapUsed / 1048576).toFixed(2)} MiB | ${(workerHeapFloor(k, windowStart) / 1048576).toFixed(2)} → ${(workerHeapFloor(k, windowEnd) / 1048576).toFixed(2)} MiB | ${b.fds} → ${e.fds} |`;
    }),
  ];
  process.stdout.write(
    `\nSoak: ${((windowEnd - t0) / 60_000).toFixed(1)} min, ${caused.flaps} real-server flaps, ${caused.linkDowns + caused.forced} failovers and failbacks\n\n${table.join('\n')}\n\n${lines.join('\n')}\n\nfailovers: ${JSON.stringify(failovers)}\n${ok ? 'PASS' : 'FAIL'}\n`,
  );
  if (OUT) writeFileSync(OUT, JSON.stringify({ ...report, table, checks: lines, pass: ok }, null, 1));
  process.exitCode = ok ? 0 : 1;
}

try {
  await main();
} catch (err) {
  process.stderr.write(`soak failed: ${(err as Error).stack}\n`);
  process.exitCode = 2;
} finally {
  await cleanup();
}
