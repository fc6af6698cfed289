// The one way tests run a program: synchronously, bounded by a timeout, with its
// stderr in the error when it fails. The implementation ships (src/lab/namespace.ts,
// for the ECMP lab); this names it for tests and adds `sh`.
import { exec, tryExec, type ExecOptions, type ExecResult } from '../../src/lab/namespace.js';

export type RunOptions = ExecOptions;
export type RunResult = ExecResult;

/** Runs a program and returns status and output; never throws. */
export const tryRun: (command: string, args: string[], options?: RunOptions) => RunResult = tryExec;

/** Runs a program and returns its stdout; throws with its stderr when it fails. */
export const run: (command: string, args: string[], options?: RunOptions) => string = exec;

/** `run` over one argv array; with `check: false` a failure returns stdout instead of throwing. */
export function sh(argv: string[], options: RunOptions & { check?: boolean } = {}): string {
  const [command, ...args] = argv;
  if (command === undefined) throw new Error('sh: empty command');
  return options.check === false ? tryRun(command, args, options).stdout : run(command, args, options);
}
