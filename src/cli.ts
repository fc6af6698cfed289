#!/usr/bin/env node
import type { Command } from './commands/command.js';

// Loaded lazily so `--help` and small commands start fast.
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  version: { summary: 'print the version', load: async () => (await import('./commands/version.js')).command },
  run: { summary: 'run the agent in the foreground (what systemd starts)', load: async () => (await import('./commands/run.js')).command },
  check: { summary: 'validate a config file and summarize it', load: async () => (await import('./commands/check.js')).command },
  'import-keepalived': { summary: 'convert a keepalived.conf into a failoverd config', load: async () => (await import('./commands/import-keepalived.js')).command },
  realserver: { summary: 'set up or check a DR real server (VIP on lo, ARP sysctls)', load: async () => (await import('./commands/realserver.js')).command },
  status: { summary: 'show the running agent\'s state; drain, force backup', load: async () => (await import('./commands/status.js')).command },
  genhash: { summary: 'print the MD5 of a URL\'s body, for an http check\'s digest', load: async () => (await import('./commands/genhash.js')).command },
  lab: { summary: 'the seed\'s two-director DR lab in UML: a narrated failover scenario', load: async () => (await import('./commands/lab.js')).command },
};

function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `failoverd — health-checking failover agent for Linux IPVS directors (LVS, VRRP)

Usage: failoverd <command> [options]

Commands:
${lines.join('\n')}

Run "failoverd <command> --help" for a command's options.
`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp());
    return 0;
  }
  if (name === '--version' || name === '-V') return main(['version']);
  const entry = COMMANDS[name];
  if (!entry) {
    process.stderr.write(`failoverd: unknown command "${name}"\n\n${mainHelp()}`);
    return 2;
  }
  const command = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.usage.endsWith('\n') ? command.usage : `${command.usage}\n`);
    return 0;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`failoverd: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
