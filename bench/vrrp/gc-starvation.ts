// Why vrrp_realtime wants node's --single-threaded-gc (docs/vrrp.md, run T). A main
// thread made real-time as the agent makes its VRRP thread, with a director's heap
// and a 20 ms timer (gc-starvation-child.ts), pinned to one CPU beside a busy loop at
// normal scheduling, as the subsecond bench pins a master: with V8's default GC, each
// full collection leaves it turning its event loop without sleeping until
// RLIMIT_RTTIME demotes it (V8's helper threads, at normal scheduling on the same
// CPU, get no CPU beside it); with --single-threaded-gc the collector's work is its
// own. Both run in turn, in the same run. Needs root (SCHED_RR) and the native addon.
//   node dist/bench/vrrp/gc-starvation.js [--seconds 45] [--rounds 2] [--burst 200] [--cpu 0] [--out FILE]
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { GapStats } from '../../test/netns/robustness/gaps.js';

const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '45' },
    rounds: { type: 'string', default: '2' },
    burst: { type: 'string', default: '200' },
    cpu: { type: 'string', default: '0' },
    out: { type: 'string' },
  },
});
const SECONDS = Number(opts.seconds);
const ROUNDS = Number(opts.rounds);
const CPU = opts.cpu;
const here = fileURLToPath(new URL('.', import.meta.url));
const VARIANTS: { label: string; flags: string[] }[] = [
  { label: "V8's default GC (helper threads)", flags: [] },
  { label: '--single-threaded-gc', flags: ['--single-threaded-gc'] },
];

interface ChildResult {
  realtime: boolean;
  fullCollections: number;
  demotions: number;
  gaps: GapStats;
}

function runOnce(flags: string[]): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const hog = spawn('taskset', ['-c', CPU, process.execPath, '-e', 'for (;;) {}'], { stdio: 'ignore' });
    const child = spawn(
      'taskset',
      ['-c', CPU, process.execPath, ...flags, join(here, 'gc-starvation-child.js'), '--seconds', String(SECONDS), '--burst', opts.burst],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const limit = setTimeout(() => child.kill('SIGKILL'), (SECONDS + 120) * 1000);
    child.on('close', (code) => {
      clearTimeout(limit);
      hog.kill('SIGKILL');
      try {
        if (code !== 0) throw new Error(`the workload exited with ${code}`);
        const result = JSON.parse(out.trim()) as ChildResult;
        if (!result.realtime) throw new Error('the workload could not go real-time (run as root)');
        resolve(result);
      } catch (err) {
        reject(err);
      }
    });
  });
}

const header =
  `Real-time main thread and V8's GC: ${SECONDS} s per run, ${ROUNDS} rounds; main thread SCHED_RR 50, cpu_burst_limit ${opts.burst} ms, ` +
  `pinned to CPU ${CPU} with a busy loop at normal scheduling; node ${process.version}; load average at start ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;
console.log(header);
const rows: string[] = [];
for (let round = 1; round <= ROUNDS; round++) {
  for (const variant of VARIANTS) {
    const r = await runOnce(variant.flags);
    const row = `| ${variant.label} | ${round} | ${r.fullCollections} | ${r.demotions} | ${r.gaps.p50Ms} / ${r.gaps.p99Ms} / ${r.gaps.maxMs} |`;
    rows.push(row);
    console.log(row);
  }
}
const table = [
  header,
  '',
  '| GC | round | full collections | demotions (RLIMIT_RTTIME) | 20 ms timer gap p50 / p99 / max ms |',
  '|---|---:|---:|---:|---|',
  ...rows,
].join('\n');
if (opts.out) writeFileSync(opts.out, `${table}\n`);
console.log(`\n${table}`);
