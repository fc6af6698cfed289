/** One CLI subcommand; each lives in its own file under src/commands/. */
export interface Command {
  name: string;
  summary: string;
  /** Full help text, printed for `failoverd NAME --help`. */
  usage: string;
  /** Returns the process exit code. */
  run(argv: string[]): Promise<number>;
}

export function wantsHelp(argv: string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

/** Minimal flag parser: --name value, --name=value, --flag (boolean). */
export function parseFlags(argv: string[], booleans: string[] = []): { flags: Record<string, string | boolean>; rest: string[] } {
  const flags: Record<string, string | boolean> = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) { rest.push(arg); continue; }
    const eq = arg.indexOf('=');
    if (eq > 0) { flags[arg.slice(2, eq)] = arg.slice(eq + 1); continue; }
    const name = arg.slice(2);
    if (booleans.includes(name) || i + 1 >= argv.length || argv[i + 1]!.startsWith('--')) flags[name] = true;
    else flags[name] = argv[++i]!;
  }
  return { flags, rest };
}
