// The workload of gc-starvation.ts: a main thread made real-time the way the agent
// makes its VRRP thread (applyVrrpRealtime over systemScheduling), a timer every 20 ms
// like the adverts', a live heap of the size a director with 10,000 real servers keeps,
// and garbage that lives about two seconds, so that full collections come every
// 10–20 s. Prints one JSON line: full collections, demotions, and the timer's gaps.
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { applyVrrpRealtime, systemScheduling } from '../../src/vrrp/realtime.js';
import { gapStats } from '../../test/netns/robustness/gaps.js';

const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '45' },
    burst: { type: 'string', default: '200' },
    garbage: { type: 'string', default: '3000' },
    live: { type: 'string', default: '400000' },
  },
});
const SECONDS = Number(opts.seconds);
const GARBAGE_PER_TICK = Number(opts.garbage);
const TICK_MS = 20;
const GARBAGE_TICKS = 100;

const live: unknown[] = [];
for (let i = 0; i < Number(opts.live); i++)
  live.push({ id: i, name: `server-${i}`, state: { up: true, n: i, history: [i, i + 1, i + 2] } });

let fullCollections = 0;
const gcObserver = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if ((entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)
      fullCollections++;
  }
});
gcObserver.observe({ entryTypes: ['gc'] });

let demotions = 0;
const logger = pino(
  { level: 'info' },
  {
    write(line: string) {
      const entry = JSON.parse(line) as { level: number; msg: string };
      if (entry.level >= 50) process.stderr.write(`${entry.msg}\n`);
      if (entry.level === 40 && entry.msg.includes('RLIMIT_RTTIME')) demotions++;
    },
  },
);
const realtime = applyVrrpRealtime({ priority: 50, cpu_burst_limit: Number(opts.burst) }, { scheduling: systemScheduling() }, logger);

const ring: unknown[][] = [];
const started = performance.now();
const ticks: number[] = [started];
const timer = setInterval(() => {
  const now = performance.now();
  ticks.push(now);
  const garbage: unknown[] = [];
  for (let i = 0; i < GARBAGE_PER_TICK; i++) garbage.push({ a: i, b: `x${i}`, c: [i] });
  ring[ticks.length % GARBAGE_TICKS] = garbage;
  if (now - started < SECONDS * 1000) return;
  clearInterval(timer);
  gcObserver.disconnect();
  const result = { realtime, fullCollections, demotions, gaps: gapStats(ticks), live: live.length };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}, TICK_MS);
