// What real servers changing state cost the agent's main thread, the thread that
// also times and sends the VRRP adverts. The real Agent (config file, health
// monitor, pools, drains, reconciler, event bus, pino JSON logs) with its I/O in
// memory (the unit tests' harness: MemoryIpvsTable, a fake VRRP segment), on the
// real clock: 100 services × 100 real servers checked every second. Each 2 s round,
// --flap real servers stop and the previous round's come back. The main thread's
// CPU (its own /proc entry, not the process's) is read per round, with and without
// flapping; the difference over the state changes seen is the cost of one change.
//   --checks main: a check on the main thread whose answer the bench sets (no
//     network), so that every state change is a pool change of its own;
//   --checks worker: the tcp check in the checks worker against a fleet of loopback
//     listeners (../checks/fleet.ts) that stop and start: pool changes coalesced over
//     50 ms, logs and events forwarded from the worker;
//   --before DIR: also DIR's build (e.g. `git worktree add` + `npx tsc` there),
//     alternating with this one in the same run.
//
//   node dist/bench/agent/state-changes.js [--checks main,worker] [--flap 200]
//        [--rounds 5] [--runs 2] [--before DIR]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { z } from 'zod';
import type { Agent as AgentClass } from '../../src/agent.js';
import type * as CheckIndex from '../../checks/index.js';
import type * as ClockModule from '../../src/clock.js';
import type * as Harness from '../../test/unit/agent/harness.js';
import { fleetAddress } from '../checks/addresses.js';
import { Fleet } from '../checks/fleet-client.js';

const { values: opts } = parseArgs({
  options: {
    checks: { type: 'string', default: 'main,worker' },
    flap: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '5' },
    runs: { type: 'string', default: '2' },
    before: { type: 'string' },
    child: { type: 'string' },
    root: { type: 'string' },
  },
});
const SERVICES = 100;
const PER_SERVICE = 100;
const ROUND_MS = 2000;
const here = fileURLToPath(new URL('.', import.meta.url));
/** This build's root (dist/), as `--before` names another's. */
const THIS_BUILD = join(here, '../..');

interface Round {
  mainMs: number;
  changes: number;
}

const CLK_TCK = 100;
/** CPU ms of this process's main thread alone (its task's utime + stime). */
function mainThreadMs(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One agent, `rounds` rounds; prints its rounds as JSON on stdout. */
async function child(root: string, checks: 'main' | 'worker', flap: number, rounds: number): Promise<void> {
  const load = async <T>(path: string): Promise<T> => (await import(pathToFileURL(join(root, path)).href)) as T;
  const { testAgentOptions } = await load<typeof Harness>('test/unit/agent/harness.js');
  const { Agent } = await load<{ Agent: typeof AgentClass }>('src/agent.js');
  const { systemClock } = await load<typeof ClockModule>('src/clock.js');
  const { loadCheckPlugins } = await load<typeof CheckIndex>('checks/index.js');

  const total = SERVICES * PER_SERVICE;
  const down = new Set<string>();
  const switchCheck = {
    type: 'switch',
    description: 'up unless the bench says down',
    options: z.object({}).strict(),
    run: async (target: { address: string }) =>
      down.has(target.address) ? { ok: false, reason: 'refused', latencyMs: 0 } : { ok: true, latencyMs: 0 },
  };
  const services: string[] = [];
  for (let s = 0; s < SERVICES; s++) {
    const rs = Array.from({ length: PER_SERVICE }, (_, k) => `      - { address: ${fleetAddress(s * PER_SERVICE + k)} }`);
    services.push(
      `  - name: svc-${s}\n    vip: 10.99.${s >> 8}.${s & 255}\n    port: 8080\n    scheduler: wlc\n    forwarding: dr\n    vip_standalone: true\n` +
        `    check: { type: ${checks === 'main' ? 'switch' : 'tcp'}, interval: 1s, timeout: 500ms, rise: 1, fall: 2 }\n    real_servers:\n${rs.join('\n')}`,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'failoverd-state-changes-'));
  const configPath = join(dir, 'failoverd.yaml');
  writeFileSync(
    configPath,
    `node: { name: bench }
vrrp:
  - { name: web, interface: eth0, vrid: 51, priority: 150, advert_interval: 20ms, preempt: true, vips: [10.6.2.195/32], garp: { count: 1, delay: 0s } }
services:
${services.join('\n')}
api: { listen: ${join(dir, 'api.sock')}, metrics: false }
health: { checks_thread: ${checks} }
logging: { format: json, level: info }
`,
  );
  const fleet = checks === 'worker' ? Fleet.start(total) : undefined;
  try {
    if (fleet && (await fleet.line()) !== 'ready') throw new Error('fleet failed to start');
    const rig = testAgentOptions(configPath, systemClock as never);
    // As under systemd: pino JSON written asynchronously (here to /dev/null).
    const logger = pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: false }));
    const plugins = checks === 'main' ? new Map([['switch', switchCheck]]) : await loadCheckPlugins();
    const agent = await Agent.create({ ...rig.options, clock: systemClock, logger, plugins } as never);
    let changes = 0;
    agent.bus.subscribe(['realserver.up', 'realserver.down'], () => {
      changes++;
    });
    await agent.start();
    await sleep(2 * ROUND_MS);
    const out: Round[] = [];
    let cursor = 0;
    for (let round = 0; round < rounds; round++) {
      const next = Array.from({ length: flap }, (_, i) => (cursor + i) % total);
      const previous = next.map((i) => (i - flap + total) % total);
      if (flap && fleet) {
        if (round > 0) await fleet.command('start', previous);
        await fleet.command('stop', next);
      } else if (flap) {
        down.clear();
        for (const i of next) down.add(fleetAddress(i));
      }
      cursor += flap;
      changes = 0;
      const cpu0 = mainThreadMs();
      await sleep(ROUND_MS);
      out.push({ mainMs: mainThreadMs() - cpu0, changes });
    }
    await agent.stop();
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    fleet?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function runChild(root: string, checks: string, flap: number, rounds: number): Promise<Round[]> {
  return new Promise((resolve, reject) => {
    const args = [fileURLToPath(import.meta.url), '--child', checks, '--root', root, '--flap', String(flap), '--rounds', String(rounds)];
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    p.stdout.on('data', (d: Buffer) => (text += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000 + rounds * ROUND_MS * 3);
    p.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`bench child (${root}, ${checks}, flap ${flap}) exited with ${code}`));
      resolve(JSON.parse(text.trim().split('\n').pop()!) as Round[]);
    });
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const flap = Number(opts.flap);
  const rounds = Number(opts.rounds);
  const builds = [...(opts.before ? [['before', opts.before] as const] : []), ['this', THIS_BUILD] as const];
  console.log(
    `Real-server state changes on the main thread: ${SERVICES} services × ${PER_SERVICE} real servers, checks every 1 s (rise 1, fall 2); ` +
      `each ${ROUND_MS / 1000} s round ${flap} stop and the previous round's come back; main thread CPU per round (its /proc task); ` +
      `${opts.runs} runs of ${rounds} rounds per row, builds alternating; node ${process.version}`,
  );
  console.log(
    '| checks | build | main thread ms per round, idle | same, flapping | state changes per round | main thread ms per state change |',
  );
  console.log('|---|---|---:|---:|---:|---:|');
  for (const checks of opts.checks.split(',')) {
    const idle = new Map<string, number[]>();
    const busy = new Map<string, number[]>();
    const seen = new Map<string, number[]>();
    for (let run = 0; run < Number(opts.runs); run++)
      for (const [name, root] of builds) {
        // The first round starts with the agent warm but the flap half a round old: left out.
        const quiet = (await runChild(root, checks, 0, rounds)).slice(1);
        const flapping = (await runChild(root, checks, flap, rounds)).slice(1);
        idle.set(name, [...(idle.get(name) ?? []), ...quiet.map((r) => r.mainMs)]);
        busy.set(name, [...(busy.get(name) ?? []), ...flapping.map((r) => r.mainMs)]);
        seen.set(name, [...(seen.get(name) ?? []), ...flapping.map((r) => r.changes)]);
      }
    for (const [name] of builds) {
      const i = median(idle.get(name)!);
      const b = median(busy.get(name)!);
      const c = median(seen.get(name)!);
      console.log(`| ${checks} | ${name} | ${i.toFixed(0)} | ${b.toFixed(0)} | ${c.toFixed(0)} | ${c ? ((b - i) / c).toFixed(2) : '–'} |`);
    }
  }
}

if (opts.child) await child(opts.root ?? THIS_BUILD, opts.child as 'main' | 'worker', Number(opts.flap), Number(opts.rounds));
else await main();
