// Runs a program as the check: exit 0 = up, anything else = down; with
// misc_dynamic (keepalived's convention) exit 2..255 = up with weight code − 2.
// The program runs through src/children.ts: its own process group (a timeout kills
// everything it started), an allow-listed environment plus FAILOVERD_* and `env:`,
// and the check resolves only after the program has been reaped.
import * as z from 'zod';
import type { CheckPlugin, CheckResult, CheckTarget } from '../src/health/check.js';
import { childEnvironment, runChild } from '../src/children.js';
import { abortText, clip, elapsedSince } from '../src/health/check-helpers.js';

const options = z
  .object({
    /** A shell command line (run by /bin/sh -c) or an argv array (run directly). */
    command: z.union([z.string().min(1), z.array(z.string()).min(1)]),
    /** keepalived's misc_dynamic: exit 2..255 sets the real server's weight to code − 2. */
    misc_dynamic: z.boolean().default(false),
    /** Extra environment, on top of the allow-listed one (docs/health.md); FAILOVERD_* variables describe the target. */
    env: z.record(z.string(), z.string()).default({}),
    /** Working directory for the program. */
    cwd: z.string().optional(),
  })
  .strict();

export type ExecCheckOptions = z.infer<typeof options>;

function runExec(target: CheckTarget, o: ExecCheckOptions, signal: AbortSignal): Promise<CheckResult> {
  const started = performance.now();
  const [file, args] = typeof o.command === 'string' ? ['/bin/sh', ['-c', o.command]] : [o.command[0]!, o.command.slice(1)];
  if (signal.aborted) return Promise.resolve({ ok: false, reason: `not started: ${abortText(signal)}`, latencyMs: 0 });
  const env = childEnvironment({
    ...o.env,
    FAILOVERD_SERVICE: target.service,
    FAILOVERD_ADDRESS: target.address,
    FAILOVERD_PORT: String(target.port),
    FAILOVERD_FAMILY: target.address.includes(':') ? 'inet6' : 'inet',
  });
  return runChild(file, { args, env, signal, ...(o.cwd !== undefined ? { cwd: o.cwd } : {}) }).then((run) => {
    const latencyMs = elapsedSince(started);
    const said = clip(run.output.trim().split('\n').pop() ?? '', 120);
    const tail = said ? `: ${said}` : '';
    const code = run.exitCode;
    if (run.error !== undefined) return { ok: false, reason: `cannot run ${file}: ${run.error}`, latencyMs };
    if (run.aborted) return { ok: false, reason: `killed (process group) after ${abortText(signal)}`, latencyMs };
    if (code === null) return { ok: false, reason: `killed by ${run.signal}${tail}`, latencyMs };
    if (code === 0) return { ok: true, reason: `exit 0${tail}`, latencyMs };
    if (o.misc_dynamic && code >= 2) return { ok: true, reason: `exit ${code}: weight ${code - 2}${tail}`, latencyMs, weight: code - 2 };
    return { ok: false, reason: `exit ${code}${tail}`, latencyMs };
  });
}

export const plugin: CheckPlugin<ExecCheckOptions> = {
  type: 'exec',
  description: 'Runs a program with FAILOVERD_ADDRESS/PORT/SERVICE set; exit 0 = up (misc_dynamic: 2..255 = weight code-2)',
  options,
  run: runExec,
};
