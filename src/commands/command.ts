import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseDurationArgument, type DurationRange } from '../config/duration.js';

/** One CLI subcommand; each lives in its own file under src/commands/. */
export interface Command {
  name: string;
  /** One line for `failoverd --help`; cli.ts reads it from here, so it cannot drift. */
  summary: string;
  /** Its flags, for parseCommandLine; the usage documents each (a unit test holds them together). */
  options: CommandOptions;
  /** Full help text, printed for `failoverd NAME --help`. */
  usage: string;
  /** Returns the process exit code. */
  run(argv: string[]): Promise<number>;
}

/** A command line the command cannot run: cli.ts prints it with the command's usage and exits 2. */
export class UsageError extends Error {}

export type CommandOptions = NonNullable<ParseArgsConfig['options']>;

/**
 * The one flag parser: node:util parseArgs in strict mode, so an unknown flag, a flag
 * without its value (or with an empty one), or a value given to a boolean flag is a
 * UsageError.
 */
export function parseCommandLine<const O extends CommandOptions>(argv: string[], options: O, allowPositionals = false) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (err) {
    const e = err as Error & { code?: string };
    if (!e.code?.startsWith('ERR_PARSE_ARGS_')) throw err;
    throw new UsageError(usageProblem(e.code, e.message));
  }
  for (const [name, value] of Object.entries(parsed.values)) {
    if (value === '') throw new UsageError(`--${name} needs a value`);
  }
  return parsed;
}

/** parseArgs' message, which goes on with advice about "--", as one line in our words. */
function usageProblem(code: string, message: string): string {
  const quoted = /'([^' ]+)/.exec(message)?.[1] ?? '';
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${quoted}`;
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return `unexpected argument "${quoted}"`;
  if (/does not take an argument/.test(message)) return `${quoted} takes no value`;
  if (/ambiguous/.test(message)) return `${quoted} needs a value (one that starts with "-" is written ${quoted}=-VALUE)`;
  if (/argument missing/.test(message)) return `${quoted} needs a value`;
  return message.split('\n')[0]!;
}

/** A whole number of `flag`'s value, or a UsageError naming the flag and the range. */
export function integerFlag(flag: string, value: string, min: number, max: number): number {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${flag}: expected a whole number from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

/** Milliseconds of `flag`'s duration value (text with units, or digits of ms), or a UsageError. */
export function durationFlag(flag: string, value: string, range: DurationRange): number {
  try {
    return parseDurationArgument(value, range);
  } catch (err) {
    throw new UsageError(`--${flag}: ${(err as Error).message}`);
  }
}

/** `value` when it is one of `choices`, or a UsageError listing them. */
export function choiceFlag<T extends string>(flag: string, value: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value))
    throw new UsageError(`--${flag}: expected one of ${choices.join(', ')}, got "${value}"`);
  return value as T;
}
