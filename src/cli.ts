#!/usr/bin/env node
import { UsageError, type Command } from './commands/command.js';

// Loaded lazily so small commands start fast; each command owns its summary.
const COMMANDS: Record<string, () => Promise<Command>> = {
  version: async () => (await import('./commands/version.js')).command,
  run: async () => (await import('./commands/run.js')).command,
  check: async () => (await import('./commands/check.js')).command,
  'import-keepalived': async () => (await import('./commands/import-keepalived.js')).command,
  realserver: async () => (await import('./commands/realserver.js')).command,
  status: async () => (await import('./commands/status.js')).command,
  maintenance: async () => (await import('./commands/maintenance.js')).command,
  genhash: async () => (await import('./commands/genhash.js')).command,
  lab: async () => (await import('./commands/lab.js')).command,
};

async function mainHelp(): Promise<string> {
  const commands = await Promise.all(Object.values(COMMANDS).map((load) => load()));
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `failoverd — health-checking failover agent for Linux IPVS directors (LVS, VRRP)

Usage: failoverd <command> [options]

Commands:
${lines.join('\n')}

Run "failoverd <command> --help" for a command's options.
`;
}

/** The exit code; what a command prints goes to stdout/stderr. */
async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(await mainHelp());
    return 0;
  }
  if (name === '--version' || name === '-V') return main(['version']);
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`failoverd: unknown command "${name}"\n\n${await mainHelp()}`);
    return 2;
  }
  const command = await load();
  const usage = command.usage.replace(/\n?$/, '\n');
  // After "--" everything belongs to the command (lab exec -- CMD --help).
  const end = rest.indexOf('--');
  const options = end < 0 ? rest : rest.slice(0, end);
  if (options.includes('--help') || options.includes('-h')) {
    process.stdout.write(usage);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`failoverd ${command.name}: ${err.message}\n\n${usage}`);
    return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`failoverd: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
