// Runs a program as the check: exit 0 = up, anything else = down; with
// misc_dynamic (keepalived's convention) exit 2..255 = up with weight code − 2.
// The program runs in its own process group so a timeout kills everything it
// started, and the check resolves only after the program has been reaped.
import { spawn } from 'node:child_process';
import { z } from 'zod';
import type { CheckPlugin, CheckResult, CheckTarget } from '../src/health/check.js';
import { abortText, clip, elapsedSince, errorText } from '../src/health/check-helpers.js';

const options = z.object({
  /** A shell command line (run by /bin/sh -c) or an argv array (run directly). */
  command: z.union([z.string().min(1), z.array(z.string()).min(1)]),
  /** keepalived's misc_dynamic: exit 2..255 sets the real server's weight to code − 2. */
  misc_dynamic: z.boolean().default(false),
  /** Extra environment; FAILOVERD_* variables describe the target. */
  env: z.record(z.string(), z.string()).default({}),
  /** Working directory for the program. */
  cwd: z.string().optional(),
}).strict();

export type ExecCheckOptions = z.infer<typeof options>;

const OUTPUT_CAP = 4096;

function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: the group is already gone.
  }
}

function runExec(target: CheckTarget, o: ExecCheckOptions, signal: AbortSignal): Promise<CheckResult> {
  const started = performance.now();
  const [file, args] = typeof o.command === 'string' ? ['/bin/sh', ['-c', o.command]] : [o.command[0]!, o.command.slice(1)];
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve({ ok: false, reason: `not started: ${abortText(signal)}`, latencyMs: 0 });
      return;
    }
    let output = '';
    let abortedBy: string | undefined;
    let spawnError: string | undefined;
    const child = spawn(file, args, {
      detached: true, // own session and process group, so kill(-pid) reaches every descendant
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: o.cwd,
      env: {
        ...process.env,
        ...o.env,
        FAILOVERD_SERVICE: target.service,
        FAILOVERD_ADDRESS: target.address,
        FAILOVERD_PORT: String(target.port),
        FAILOVERD_FAMILY: target.address.includes(':') ? 'inet6' : 'inet',
      },
    });
    const collect = (chunk: Buffer): void => {
      if (output.length < OUTPUT_CAP) output += chunk.toString('utf8').slice(0, OUTPUT_CAP - output.length);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    const onAbort = (): void => {
      abortedBy = abortText(signal);
      killGroup(child.pid);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    let settled = false;
    child.on('error', (err) => {
      spawnError = errorText(err);
      // A program that could not start has no exit to wait for.
      if (child.pid === undefined) finish(null, null);
    });
    // 'close' comes after the exit status is reaped and both pipes closed. The rest
    // of the group dies with the program; a descendant that escaped into its own
    // session may still hold a pipe, so the pipes are dropped shortly after exit.
    child.on('exit', () => {
      killGroup(child.pid);
      setTimeout(() => { child.stdout!.destroy(); child.stderr!.destroy(); }, 100).unref();
    });
    child.on('close', (code, sig) => finish(code, sig));
    function finish(code: number | null, sig: NodeJS.Signals | null): void {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      const latencyMs = elapsedSince(started);
      const said = clip(output.trim().split('\n').pop() ?? '', 120);
      const tail = said ? `: ${said}` : '';
      if (spawnError) return resolve({ ok: false, reason: `cannot run ${file}: ${spawnError}`, latencyMs });
      if (abortedBy) return resolve({ ok: false, reason: `killed (process group) after ${abortedBy}`, latencyMs });
      if (code === null) return resolve({ ok: false, reason: `killed by ${sig}${tail}`, latencyMs });
      if (code === 0) return resolve({ ok: true, reason: `exit 0${tail}`, latencyMs });
      if (o.misc_dynamic && code >= 2) return resolve({ ok: true, reason: `exit ${code}: weight ${code - 2}${tail}`, latencyMs, weight: code - 2 });
      resolve({ ok: false, reason: `exit ${code}${tail}`, latencyMs });
    }
  });
}

export const plugin: CheckPlugin<ExecCheckOptions> = {
  type: 'exec',
  description: 'Runs a program with FAILOVERD_ADDRESS/PORT/SERVICE set; exit 0 = up (misc_dynamic: 2..255 = weight code-2)',
  options,
  run: runExec,
};
