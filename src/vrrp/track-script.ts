// keepalived's vrrp_script: run a command every interval; `rise` successes in a
// row make it up, `fall` failures make it down. Runs without a shell; a command
// that outlives its timeout is killed (with its process group) and counts as a
// failure. The script sees only the allow-listed environment (src/children.ts).
import { childEnvironment, runChild } from '../children.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { TrackScript } from './config.js';

export type ScriptRun = (command: string[], timeoutMs: number) => Promise<boolean>;

export const runCommand: ScriptRun = async (command, timeoutMs) => {
  const run = await runChild(command[0]!, { args: command.slice(1), env: childEnvironment({}), timeoutMs });
  return run.exitCode === 0 && !run.timedOut && run.error === undefined;
};

export class TrackScriptRunner {
  private timer: TimerHandle | undefined;
  private successes = 0;
  private failures = 0;
  private stopped = false;
  /** keepalived starts a script as up (it goes down after `fall` failures), or with init_fail as down (up after `rise` successes). */
  up: boolean;

  constructor(
    readonly script: TrackScript,
    private readonly clock: Clock,
    private readonly onChange: (up: boolean) => void,
    private readonly run: ScriptRun = runCommand,
  ) {
    this.up = script.initial !== 'down';
  }

  start(): void {
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimer(delayMs, () => {
      void this.run(this.script.command, this.script.timeoutMs).then((ok) => {
        if (this.stopped) return;
        this.record(ok);
        this.schedule(this.script.intervalMs);
      });
    });
  }

  record(ok: boolean): void {
    if (ok) {
      this.successes++;
      this.failures = 0;
    } else {
      this.failures++;
      this.successes = 0;
    }
    const next = this.up ? !(this.failures >= Math.max(1, this.script.fall)) : this.successes >= Math.max(1, this.script.rise);
    if (next !== this.up) {
      this.up = next;
      this.onChange(next);
    }
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }
}
