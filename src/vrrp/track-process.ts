// keepalived's vrrp_track_process: enough processes matching a name or a command line
// are running (quorum..quorum_max), after a delay when the count crosses. The matching is
// pure (matchesProcess, trackedProcessUp); reading /proc is one bounded scan per poll,
// shared by every tracker of an instance.
import { readdir, readFile } from 'node:fs/promises';
import type { Clock, TimerHandle } from '../clock.js';
import type { TrackProcess } from './config.js';
import { Debounced } from './debounce.js';

/** One running process as /proc shows it. */
export interface ProcessEntry {
  pid: number;
  /** /proc/PID/comm (at most 15 bytes: the kernel truncates it). */
  name: string;
  /** /proc/PID/cmdline split at NULs; only read when some tracker needs it. */
  argv?: string[];
}

/** How a tracker compares arguments (keepalived's param_match). */
export type ParamMatch = 'exact' | 'partial' | 'initial';

/** The process name is compared with comm, which the kernel truncates to 15 bytes. */
const COMM_MAX = 15;

/**
 * keepalived's rule: without arguments (and without full_command) the process name is
 * compared exactly with comm (no regular expression: "ssh" does not match sshd).
 * With arguments or full_command, argv[0] must equal the name, and the arguments match
 * exactly (the same count), `partial`ly (the first n equal), or `initial`ly (the first
 * n-1 equal and the last one starts with the configured one). Without arguments, the
 * arguments are not compared, unless param_match is given: then there must be none.
 */
export function matchesProcess(t: Pick<TrackProcess, 'process' | 'args' | 'paramMatch' | 'fullCommand'>, p: ProcessEntry): boolean {
  if (!usesCommandLine(t)) {
    const name = Buffer.from(t.process).subarray(0, COMM_MAX).toString();
    return p.name === name;
  }
  const argv = p.argv;
  if (!argv || argv[0] !== t.process) return false;
  const want = t.args ?? [];
  const have = argv.slice(1);
  // keepalived: param_match with no arguments configured means "no arguments at all".
  if (want.length === 0) return t.paramMatch === undefined || have.length === 0;
  const mode = t.paramMatch ?? 'exact';
  if (mode === 'exact' && have.length !== want.length) return false;
  if (have.length < want.length) return false;
  return want.every((w, i) => (mode === 'initial' && i === want.length - 1 ? have[i]!.startsWith(w) : have[i] === w));
}

export function usesCommandLine(t: Pick<TrackProcess, 'args' | 'paramMatch' | 'fullCommand'>): boolean {
  return Boolean(t.fullCommand) || (t.args?.length ?? 0) > 0 || t.paramMatch !== undefined;
}

/** Up while quorum ≤ matching processes ≤ quorum_max. */
export function trackedProcessUp(t: Pick<TrackProcess, 'quorum' | 'quorumMax'>, count: number): boolean {
  return count >= t.quorum && (t.quorumMax === undefined || count <= t.quorumMax);
}

export type ProcessScan = (withCommandLines: boolean) => Promise<ProcessEntry[]>;

/** At most this many /proc entries per scan: a fork bomb must not stall the agent. */
export const PROC_SCAN_LIMIT = 32_768;

/** Reads /proc: comm and state from /proc/PID/stat (zombies are skipped, as keepalived does). */
export async function scanProc(withCommandLines: boolean, root = '/proc'): Promise<ProcessEntry[]> {
  const pids = (await readdir(root)).filter((d) => /^[1-9]\d*$/.test(d)).slice(0, PROC_SCAN_LIMIT);
  const out: ProcessEntry[] = [];
  for (const pid of pids) {
    try {
      const stat = await readFile(`${root}/${pid}/stat`, 'utf8');
      const open = stat.indexOf('(');
      const close = stat.lastIndexOf(')');
      if (open < 0 || close < open) continue;
      const state = stat.slice(close + 2, close + 3);
      if (state === 'Z' || state === 'X') continue;
      const entry: ProcessEntry = { pid: Number(pid), name: stat.slice(open + 1, close) };
      if (withCommandLines) {
        const cmdline = await readFile(`${root}/${pid}/cmdline`, 'utf8');
        entry.argv = cmdline.split('\0');
        if (entry.argv.at(-1) === '') entry.argv.pop();
      }
      out.push(entry);
    } catch {
      // The process exited between readdir and read.
    }
  }
  return out;
}

/**
 * Polls /proc for a set of trackers; each settles through its own delays (fork_delay /
 * terminate_delay) before onChange hears of it.
 */
export class TrackProcessWatcher {
  private timer: TimerHandle | undefined;
  private stopped = false;
  private readonly debounced = new Map<string, Debounced>();

  constructor(
    private readonly trackers: readonly TrackProcess[],
    private readonly clock: Clock,
    private readonly onChange: (name: string, up: boolean) => void,
    private readonly pollMs = 1000,
    private readonly scan: ProcessScan = scanProc,
  ) {}

  /** Scans once and returns each tracker's state, settled at once (no delay at start). */
  async start(): Promise<Map<string, boolean>> {
    const initial = await this.counts().then(
      (c) => this.states(c),
      () => new Map(this.trackers.map((t) => [t.name, false])),
    );
    for (const t of this.trackers) {
      this.debounced.set(
        t.name,
        new Debounced(initial.get(t.name)!, { upMs: t.delayUpMs, downMs: t.delayDownMs }, this.clock, (up) => this.onChange(t.name, up)),
      );
    }
    this.schedule();
    return initial;
  }

  /** Matching processes per tracker. */
  private async counts(): Promise<Map<string, number>> {
    const processes = await this.scan(this.trackers.some(usesCommandLine));
    return new Map(this.trackers.map((t) => [t.name, processes.filter((p) => matchesProcess(t, p)).length]));
  }

  private states(counts: Map<string, number>): Map<string, boolean> {
    return new Map(this.trackers.map((t) => [t.name, trackedProcessUp(t, counts.get(t.name) ?? 0)]));
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimer(this.pollMs, () => {
      void this.counts()
        .then(
          (counts) => {
            if (this.stopped) return;
            for (const [name, up] of this.states(counts)) this.debounced.get(name)?.report(up);
          },
          () => undefined,
        )
        .finally(() => this.schedule());
    });
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    for (const d of this.debounced.values()) d.cancel();
  }
}
