// In-process stall probe for the sub-second bench's directors (BENCH_PROBE=1): a
// 10 ms timer that reports, whenever it fires more than 100 ms late (BENCH_PROBE_MS), the garbage
// collections that overlapped the hole (PerformanceObserver 'gc') and how much CPU
// each of the process's threads got during it; and every 10 s the event loop's
// delay percentiles (monitorEventLoopDelay).
import { readdirSync, readFileSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver, performance, constants } from 'node:perf_hooks';
import type { Logger } from 'pino';

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

function threadTicks(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task'))
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, Number(f[11]) + Number(f[12]));
    } catch {
      /* gone */
    }
  return out;
}

/** The main thread's minor page faults and its voluntary / involuntary context switches so far. */
function mainCounters(): { faults: number; voluntary: number; involuntary: number } {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = readFileSync(`/proc/self/task/${process.pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { faults: Number(f[7]), voluntary: field('voluntary_ctxt_switches'), involuntary: field('nonvoluntary_ctxt_switches') };
}

export function startLoopProbe(logger: Logger, reportOverMs = 100): void {
  const gcs: { start: number; end: number; kind: string }[] = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = GC_KINDS[(e as unknown as { detail?: { kind?: number } }).detail?.kind ?? -1] ?? 'gc';
      gcs.push({ start: e.startTime, end: e.startTime + e.duration, kind });
      if (gcs.length > 1000) gcs.splice(0, 500);
    }
  }).observe({ entryTypes: ['gc'] });
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const mainTid = String(process.pid);
  let last = performance.now();
  let ticks = threadTicks();
  let counters = mainCounters();
  setInterval(() => {
    const now = performance.now();
    const late = now - last - 10;
    const c = mainCounters();
    const main = {
      faults: c.faults - counters.faults,
      voluntary: c.voluntary - counters.voluntary,
      involuntary: c.involuntary - counters.involuntary,
    };
    counters = c;
    if (late > reportOverMs) {
      const after = threadTicks();
      const cpu = [...after]
        .map(([tid, t]) => [tid === mainTid ? 'main' : tid, (t - (ticks.get(tid) ?? t)) * 10] as const)
        .filter(([, ms]) => ms > 0)
        .map(([tid, ms]) => `${tid}:${ms}`)
        .join(' ');
      const inHole = gcs.filter((g) => g.end > last && g.start < now).map((g) => `${g.kind} ${(g.end - g.start).toFixed(1)} ms`);
      logger.warn(
        { probe: 'stall', lateMs: Math.round(late), gcs: inHole, threadCpuMs: cpu, main },
        `probe: event loop ${Math.round(late)} ms late`,
      );
      ticks = after;
    } else if (Math.floor(now / 2000) !== Math.floor(last / 2000)) ticks = threadTicks();
    last = now;
  }, 10);
  setInterval(() => {
    const maxGc = gcs.reduce((m, g) => Math.max(m, g.end - g.start), 0);
    logger.info(
      { probe: 'loop', p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6, maxGcMs: maxGc },
      'probe: event loop delay',
    );
    delay.reset();
  }, 10_000);
}
