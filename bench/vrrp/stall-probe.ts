// Where a process's main thread is while it is silent: samples the thread's state
// and current system call (/proc/PID/task/PID/stat, /syscall and /schedstat's count
// of times scheduled) every 2 ms and prints every run of the same state (not scheduled
// again in between) longer than --min ms, with how much CPU each of
// the process's threads got during that run. Run it real-time above the process it
// watches (chrt -f 90), or a starved probe sees nothing:
//   chrt -f 90 node dist/bench/vrrp/stall-probe.js PID [--min 100] [--seconds 600]
import { readdirSync, readFileSync } from 'node:fs';

const [pidText] = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
};
const pid = Number(pidText);
if (!pid) throw new Error('usage: stall-probe.js PID [--min MS] [--seconds S]');
const MIN_MS = Number(arg('min', '100'));
const END = Date.now() + Number(arg('seconds', '600')) * 1000;
const SYSCALLS: Record<string, string> = {
  '0': 'read',
  '1': 'write',
  '7': 'poll',
  '202': 'futex',
  '232': 'epoll_wait',
  '281': 'epoll_pwait',
  '441': 'epoll_pwait2',
  '24': 'sched_yield',
  '35': 'nanosleep',
  '230': 'clock_nanosleep',
  running: 'running',
};

/** CPU ticks (utime + stime) and state of every thread of the process. */
function threads(): Map<number, { ticks: number; state: string }> {
  const out = new Map<number, { ticks: number; state: string }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), { ticks: Number(f[11]) + Number(f[12]), state: f[0]! });
    } catch {
      /* gone */
    }
  }
  return out;
}

function mainState(): string {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  let call = '';
  try {
    const nr = readFileSync(`/proc/${pid}/task/${pid}/syscall`, 'utf8').trim().split(' ')[0]!;
    call = SYSCALLS[nr] ?? `syscall ${nr}`;
  } catch {
    /* permission or gone */
  }
  // The number of times it was scheduled: a change means it woke (or was preempted) since the last look.
  const slices = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').trim().split(' ')[2];
  return `${state} ${call} #${slices}`;
}

/** The main thread's kernel stack (root only), read once a run has lasted 40 ms: where it waits. */
function kernelStack(): string {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/stack`, 'utf8')
      .split('\n')
      .map((l) => l.replace(/^\[<[0-9a-f]+>\] /, '').replace(/\+0x.*$/, ''))
      .filter(Boolean)
      .slice(0, 8)
      .join(' < ');
  } catch {
    return '';
  }
}

let since = performance.now();
let current = '';
let stack = '';
let before = threads();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
for (let i = 0; Date.now() < END && i < 10_000_000; i++) {
  let now: string;
  try {
    now = mainState();
  } catch {
    break;
  }
  const t = performance.now();
  if (now !== current) {
    const after = threads();
    if (t - since >= MIN_MS && current) {
      const cpu = [...after]
        .map(([tid, x]) => ({ tid, ms: (x.ticks - (before.get(tid)?.ticks ?? x.ticks)) * 10 }))
        .filter((x) => x.ms > 0)
        .map((x) => `${x.tid === pid ? 'main' : x.tid}:${x.ms}`);
      console.log(
        `${new Date().toISOString()} main thread ${(t - since).toFixed(0)} ms in "${current}"; thread CPU ms during it: ${cpu.join(' ') || 'none'}${stack ? `; kernel stack: ${stack}` : ''}`,
      );
    }
    before = after;
    since = t;
    current = now;
    stack = '';
  } else if (!stack && t - since > 40 && !now.startsWith('R')) stack = kernelStack() || '-';
  await sleep(2);
}
