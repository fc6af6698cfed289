// The one way tests run a program: synchronously, bounded by a timeout, with its
// stderr in the error when it fails.
import { spawnSync } from 'node:child_process';

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a program and returns status and output; never throws. */
export function tryRun(command: string, args: string[], options: RunOptions = {}): RunResult {
  const r = spawnSync(command, args, {
    encoding: 'utf8',
    input: options.input ?? '',
    timeout: options.timeoutMs ?? 60_000,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

/** Runs a program and returns its stdout; throws with its stderr when it fails. */
export function run(command: string, args: string[], options: RunOptions = {}): string {
  const r = tryRun(command, args, options);
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** `run` over one argv array; with `check: false` a failure returns stdout instead of throwing. */
export function sh(argv: string[], options: RunOptions & { check?: boolean } = {}): string {
  const [command, ...args] = argv;
  if (command === undefined) throw new Error('sh: empty command');
  return options.check === false ? tryRun(command, args, options).stdout : run(command, args, options);
}
